/* csv.c — RFC 4180 writer and reader.  The writer is used by every module that writes a
 * report; the reader loads those reports back for the export. */
#include "export.h"

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

void sx_csv_num(sx_csv_writer *w, double v) {
    char b[64];
    if (isnan(v)) b[0] = 0;
    else if (isinf(v)) strcpy(b, v > 0 ? "inf" : "-inf");
    else snprintf(b, sizeof b, "%.10g", v);
    sx_csv_str(w, b);
}

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
        if (fflush(w->f) || ferror(w->f)) return sx_fail(err, "%s: write failed", name);
        return 0;
    }
    w->f = NULL;
    return sx_atomic_commit(&w->af, err);
}

void sx_csv_abort(sx_csv_writer *w) {
    if (w->own) sx_atomic_abort(&w->af);
    w->f = NULL;
}

/* ---------------- reader ---------------- */

/* Parse one record starting at *pos into fields (appended to a growing array of offsets into
 * out, which receives the unquoted text, NUL-separated).  Returns the number of fields, 0 at
 * the end of the data, -1 on error. */
typedef struct parser {
    const char *name, *d;
    size_t len, pos;
    int64_t line;     /* current physical line */
    char *out;        /* output buffer (len + 1 + #fields bytes is enough) */
    size_t olen;
    size_t *fields;   /* offsets into out */
    size_t nf, capf;
} parser;

static int push_field(parser *p, size_t start, sx_err *err) {
    if (p->nf == p->capf) {
        size_t nc = p->capf ? p->capf * 2 : 1024;
        size_t *nfp = realloc(p->fields, nc * sizeof *nfp);
        if (!nfp) return sx_fail(err, "%s: out of memory", p->name);
        p->fields = nfp;
        p->capf = nc;
    }
    p->fields[p->nf++] = start;
    p->out[p->olen++] = 0;
    return 0;
}

static int parse_record(parser *p, int *nfields, sx_err *err) {
    *nfields = 0;
    if (p->pos >= p->len) return 0;
    int n = 0;
    for (;;) {
        size_t start = p->olen;
        const char *d = p->d;
        if (p->pos < p->len && d[p->pos] == '"') {
            int64_t qline = p->line;
            p->pos++;
            for (;;) {
                if (p->pos >= p->len)
                    return sx_fail(err, "%s:%" PRId64 ": unterminated quoted field", p->name,
                                   qline);
                char c = d[p->pos++];
                if (c == '"') {
                    if (p->pos < p->len && d[p->pos] == '"') {
                        p->out[p->olen++] = '"';
                        p->pos++;
                        continue;
                    }
                    break;
                }
                if (c == '\n') p->line++;
                p->out[p->olen++] = c;
            }
            if (p->pos < p->len && d[p->pos] != ',' && d[p->pos] != '\n' && d[p->pos] != '\r')
                return sx_fail(err, "%s:%" PRId64 ": text after a closing quote", p->name,
                               p->line);
        } else {
            while (p->pos < p->len && d[p->pos] != ',' && d[p->pos] != '\n' && d[p->pos] != '\r') {
                if (d[p->pos] == '"')
                    return sx_fail(err, "%s:%" PRId64 ": quote inside an unquoted field",
                                   p->name, p->line);
                p->out[p->olen++] = d[p->pos++];
            }
        }
        if (push_field(p, start, err)) return -1;
        n++;
        if (p->pos >= p->len) break;
        char c = p->d[p->pos++];
        if (c == ',') continue;
        if (c == '\r') {
            if (p->pos < p->len && p->d[p->pos] == '\n') p->pos++;
            else return sx_fail(err, "%s:%" PRId64 ": bare CR outside quotes", p->name, p->line);
        }
        p->line++;
        break;
    }
    *nfields = n;
    return 1;
}

void sx_csv_free(sx_csv_table *t) {
    free(t->header);
    free(t->cells);
    free(t->line);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

int sx_csv_parse(const char *name, const char *data, size_t len, sx_csv_table *t, sx_err *err) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", name);
    parser p = {.name = name, .d = data, .len = len, .line = 1};
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    if (memchr(data, 0, len)) {
        const char *z = memchr(data, 0, len);
        int64_t ln = 1;
        for (const char *c = data; c < z; c++) ln += *c == '\n';
        return sx_fail(err, "%s:%" PRId64 ": NUL byte (not a text CSV file)", name, ln);
    }
    p.out = malloc(len + 2);
    if (!p.out) return sx_fail(err, "%s: out of memory", name);
    int64_t cap_rows = 0, *row_line = NULL;
    int nf = 0, ncols = -1;
    int64_t nrows = -1; /* header not yet read */
    for (;;) {
        int64_t start_line = p.line;
        size_t f0 = p.nf;
        int r = parse_record(&p, &nf, err);
        if (r < 0) goto fail;
        if (r == 0) break;
        /* A blank line (one empty field) is skipped, as pandas does. */
        if (nf == 1 && p.out[p.fields[f0]] == 0 && ncols != 1) {
            p.nf = f0;
            continue;
        }
        if (ncols < 0) {
            ncols = nf;
            nrows = 0;
            continue;
        }
        if (nf != ncols) {
            sx_fail(err, "%s:%" PRId64 ": expected %d fields (as in the header), got %d", name,
                    start_line, ncols, nf);
            goto fail;
        }
        if (nrows == cap_rows) {
            cap_rows = cap_rows ? cap_rows * 2 : 256;
            int64_t *nl = realloc(row_line, (size_t)cap_rows * sizeof *nl);
            if (!nl) {
                sx_fail(err, "%s: out of memory", name);
                goto fail;
            }
            row_line = nl;
        }
        row_line[nrows++] = start_line;
    }
    if (ncols < 0) {
        sx_fail(err, "%s:1: empty file (no header row)", name);
        goto fail;
    }
    t->ncols = ncols;
    t->nrows = nrows;
    t->buf = p.out;
    t->line = row_line;
    t->header = malloc((size_t)ncols * sizeof(char *));
    t->cells = malloc((size_t)(nrows ? nrows : 1) * (size_t)ncols * sizeof(char *));
    if (!t->header || !t->cells) {
        sx_csv_free(t);
        free(p.fields);
        return sx_fail(err, "%s: out of memory", name);
    }
    for (int c = 0; c < ncols; c++) t->header[c] = p.out + p.fields[c];
    for (int64_t i = 0; i < nrows * ncols; i++) t->cells[i] = p.out + p.fields[ncols + i];
    free(p.fields);
    for (int c = 0; c < ncols; c++)
        for (int c2 = 0; c2 < c; c2++)
            if (strcmp(t->header[c], t->header[c2]) == 0) {
                sx_fail(err, "%s:1: duplicate column '%s'", name, t->header[c]);
                sx_csv_free(t);
                return -1;
            }
    return 0;
fail:
    free(p.out);
    free(p.fields);
    free(row_line);
    return -1;
}

int sx_csv_read(const char *path, sx_csv_table *t, sx_err *err) {
    char *data;
    size_t len;
    if (sx_read_file(path, (size_t)4 << 30, &data, &len, err)) return -1;
    int r = sx_csv_parse(path, data, len, t, err);
    free(data);
    return r;
}

int sx_csv_col(const sx_csv_table *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->header[c], name) == 0) return c;
    return -1;
}

int sx_csv_require(const sx_csv_table *t, const char *const *cols, int n, sx_err *err) {
    for (int i = 0; i < n; i++)
        if (sx_csv_col(t, cols[i]) < 0)
            return sx_fail(err, "%s:1: missing column '%s'", t->path, cols[i]);
    return 0;
}

int sx_csv_get_num(const sx_csv_table *t, int64_t row, int col, double *out, sx_err *err) {
    *out = NAN;
    if (col < 0) return 0;
    const char *s = sx_csv_cell(t, row, col);
    while (*s == ' ' || *s == '\t') s++;
    if (!*s || strcmp(s, "nan") == 0 || strcmp(s, "NaN") == 0 || strcmp(s, "NA") == 0) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == s || *end)
        return sx_fail(err, "%s:%" PRId64 ": column '%s': '%.40s' is not a number", t->path,
                       t->line[row], t->header[col], sx_csv_cell(t, row, col));
    *out = v;
    return 0;
}

int sx_csv_get_int(const sx_csv_table *t, int64_t row, int col, int64_t *out, int allow_empty,
                   int64_t dflt, sx_err *err) {
    const char *s = col < 0 ? "" : sx_csv_cell(t, row, col);
    while (*s == ' ') s++;
    if (!*s) {
        if (allow_empty) {
            *out = dflt;
            return 0;
        }
        return sx_fail(err, "%s:%" PRId64 ": column '%s': empty, an integer is needed", t->path,
                       row < t->nrows ? t->line[row] : 1, col < 0 ? "?" : t->header[col]);
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* Accept "12.0" as pandas writes integer columns with NaNs as floats. */
    if (*end == '.') {
        char *e2;
        double dv = strtod(s, &e2);
        if (!*e2 && dv == (double)(long long)dv) {
            v = (long long)dv;
            end = e2;
        }
    }
    if (errno || end == s || *end)
        return sx_fail(err, "%s:%" PRId64 ": column '%s': '%.40s' is not an integer", t->path,
                       t->line[row], t->header[col], s);
    *out = v;
    return 0;
}
