/* csv_write.c — the RFC 4180 writer every module writes its tables with (io.h), and the
 * schema-driven open (schema.h). */
#include "io.h"
#include "schema.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- writer ---------------- */

static int needs_quotes(const char *s, size_t n) {
    if (n == 0) return 0;
    if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t') return 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
    return 0;
}

void sx_csv_write_field(FILE *f, const char *s, size_t n) {
    if (!needs_quotes(s, n)) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"') {
            fwrite(s + start, 1, i + 1 - start, f); /* includes this quote ... */
            fputc('"', f);                           /* ... and doubles it */
            start = i + 1;
        }
    fwrite(s + start, 1, n - start, f);
    fputc('"', f);
}

static void write_header(sx_csv_writer *w, const char *const *cols, int ncols) {
    if (!cols) return;
    for (int i = 0; i < ncols; i++) sx_csv_str(w, cols[i]);
    sx_csv_row(w);
    w->rows = 0;
}

void sx_csv_begin(sx_csv_writer *w, FILE *f, const char *const *cols, int ncols) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->ncols = ncols;
    write_header(w, cols, ncols);
}

int sx_csv_open(sx_csv_writer *w, const char *path, const char *const *cols, int ncols,
                sx_err *err) {
    memset(w, 0, sizeof *w);
    if (sx_atomic_open(&w->af, path, err)) return -1;
    w->f = w->af.f;
    w->own = 1;
    w->ncols = ncols;
    write_header(w, cols, ncols);
    return 0;
}

void sx_csv_strn(sx_csv_writer *w, const char *s, size_t n) {
    if (w->col++) fputc(',', w->f);
    if (s) sx_csv_write_field(w->f, s, n);
}

void sx_csv_str(sx_csv_writer *w, const char *s) { sx_csv_strn(w, s, s ? strlen(s) : 0); }

void sx_csv_empty(sx_csv_writer *w) { sx_csv_strn(w, NULL, 0); }

void sx_csv_num(sx_csv_writer *w, double v) { sx_csv_num_g(w, v, 10); }

/* NaN empty, infinities inf / -inf, else printf with the given conversion and precision. */
static void put_num(sx_csv_writer *w, double v, int fixed, int prec) {
    char b[400];
    if (isnan(v)) b[0] = 0;
    else if (isinf(v)) strcpy(b, v > 0 ? "inf" : "-inf");
    else snprintf(b, sizeof b, fixed ? "%.*f" : "%.*g", prec, v);
    sx_csv_str(w, b);
}

void sx_csv_num_g(sx_csv_writer *w, double v, int digits) { put_num(w, v, 0, digits); }

void sx_csv_numf(sx_csv_writer *w, double v, int decimals) { put_num(w, v, 1, decimals); }

void sx_csv_int(sx_csv_writer *w, int64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, v);
    sx_csv_str(w, b);
}

void sx_csv_row(sx_csv_writer *w) {
    if (w->ncols && w->col != w->ncols) w->bad = 1;
    fputc('\n', w->f);
    w->col = 0;
    w->rows++;
}

int sx_csv_close(sx_csv_writer *w, sx_err *err) {
    const char *name = w->own ? w->af.path : "csv stream";
    if (w->bad) {
        sx_csv_abort(w);
        return sx_fail(err, "%s: internal error: a row did not have %d fields", name, w->ncols);
    }
    if (!w->own) {
        if (fflush(w->f) || ferror(w->f)) return sx_failc(err, SX_EIO, "%s: write failed", name);
        return 0;
    }
    w->f = NULL;
    return sx_atomic_commit(&w->af, err);
}

void sx_csv_abort(sx_csv_writer *w) {
    if (w->own) sx_atomic_abort(&w->af);
    w->f = NULL;
}
