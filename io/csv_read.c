/* csv_read.c — the one RFC 4180 parser: records streamed from any io_in (files, archive
 * members, memory) for the csv: text sources, and whole tables for saetox's own CSVs
 * (sx_csv_read).  Strict or lenient as io.h describes. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_in.h"

static int push_field(io_csv_rec *r) {
    if (r->n == r->cap) {
        int c = r->cap ? r->cap * 2 : 16;
        size_t *o = realloc(r->off, sizeof *o * (size_t)c);
        if (!o) return -1;
        r->off = o;
        r->cap = c;
    }
    r->off[r->n++] = r->text.len;
    return 0;
}

/* Terminate a field: the NUL becomes part of text so the next field starts after it. */
static int end_field(io_buf *b) {
    if (io_buf_add(b, "", 0)) return -1;
    b->len++;
    return 0;
}

int io_csv_read(io_in *in, io_csv_rec *r, int flags, int64_t *start_line, sx_err *err) {
    const int lenient = flags & SX_CSV_LENIENT;
    r->n = 0;
    r->text.len = 0;
    *start_line = in->line;
    int c = io_in_getc(in, err);
    if (c == IO_ERR) return -1;
    if (c == IO_EOF) return 0;
    char ch;
    if (push_field(r)) goto oom;
    for (;;) {
        if (c == '"') { /* quoted field */
            int64_t qline = in->line;
            for (;;) {
                c = io_in_getc(in, err);
                if (c == IO_ERR) return -1;
                if (c == IO_EOF)
                    return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": unterminated quoted field", in->name,
                                   qline);
                if (c == '"') {
                    c = io_in_getc(in, err);
                    if (c == IO_ERR) return -1;
                    if (c != '"') break; /* closing quote; c is the next byte */
                }
                if (c == '\n') in->line++;
                ch = (char)c;
                if (io_buf_add(&r->text, &ch, 1)) goto oom;
            }
            if (!lenient && c != ',' && c != '\n' && c != '\r' && c != IO_EOF)
                return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": text after a closing quote", in->name,
                               in->line);
            /* lenient: bytes between the closing quote and the delimiter are kept */
        }
        while (c != ',' && c != '\n' && c != IO_EOF) {
            if (c == IO_ERR) return -1;
            if (c == '\r') {
                if (!lenient) { /* only as part of "\r\n" */
                    c = io_in_getc(in, err);
                    if (c == IO_ERR) return -1;
                    if (c != '\n')
                        return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": bare CR outside quotes", in->name,
                                       in->line);
                    break;
                }
            } else {
                if (c == '"' && !lenient)
                    return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": quote inside an unquoted field",
                                   in->name, in->line);
                ch = (char)c;
                if (io_buf_add(&r->text, &ch, 1)) goto oom;
            }
            c = io_in_getc(in, err);
        }
        if (end_field(&r->text)) goto oom;
        if (c == ',') {
            if (push_field(r)) goto oom;
            c = io_in_getc(in, err);
            if (c == IO_ERR) return -1;
            continue;
        }
        if (c == '\n') in->line++;
        return 1;
    }
oom:
    return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": out of memory", in->name, *start_line);
}

void io_csv_free(io_csv_rec *r) {
    free(r->text.p);
    free(r->off);
    memset(r, 0, sizeof *r);
}

/* ---------------- whole tables ---------------- */

void sx_csv_free(sx_csv_table *t) {
    free(t->header);
    free(t->cells);
    free(t->line);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

/* Append the record's fields to the table's text (NUL-separated) and offsets. */
static int keep_fields(const io_csv_rec *r, io_buf *text, size_t **offs, size_t *nof,
                       size_t *cap) {
    for (int i = 0; i < r->n; i++) {
        if (*nof == *cap) {
            size_t nc = *cap ? *cap * 2 : 1024;
            size_t *no = realloc(*offs, nc * sizeof *no);
            if (!no) return -1;
            *offs = no;
            *cap = nc;
        }
        size_t a = r->off[i], b = i + 1 < r->n ? r->off[i + 1] : r->text.len; /* b - 1: NUL */
        (*offs)[(*nof)++] = text->len;
        if (io_buf_add(text, r->text.p + a, b - a - 1) || end_field(text)) return -1;
    }
    return 0;
}

int sx_csv_parse_flags(const char *name, const char *data, size_t len, int flags,
                       sx_csv_table *t, sx_err *err) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", name);
    const char *z = (flags & SX_CSV_LENIENT) ? NULL : memchr(data, 0, len);
    if (z) {
        int64_t ln = 1;
        for (const char *c = data; c < z; c++) ln += *c == '\n';
        return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": NUL byte (not a text CSV file)", name, ln);
    }
    io_in *in = malloc(sizeof *in);
    if (!in) return sx_failc(err, SX_ENOMEM, "%s: out of memory", name);
    io_in_mem(in, name, data, len);
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) in->pos = 3;
    io_csv_rec rec = {0};
    io_buf text = {0};
    size_t *offs = NULL, nof = 0, capo = 0;
    int64_t cap_rows = 0, *row_line = NULL, nrows = 0, start_line;
    int ncols = -1, r;
    while ((r = io_csv_read(in, &rec, flags, &start_line, err)) == 1) {
        /* A blank line (one empty field) is skipped, as pandas does. */
        if (rec.n == 1 && rec.text.p[0] == 0 && ncols != 1) continue;
        if (ncols >= 0 && rec.n != ncols) {
            sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": expected %d fields (as in the header), got %d", name,
                    start_line, ncols, rec.n);
            r = -1;
            break;
        }
        if (ncols >= 0 && nrows == cap_rows) {
            cap_rows = cap_rows ? cap_rows * 2 : 256;
            int64_t *nl = realloc(row_line, (size_t)cap_rows * sizeof *nl);
            if (!nl) goto oom;
            row_line = nl;
        }
        if (keep_fields(&rec, &text, &offs, &nof, &capo)) goto oom;
        if (ncols < 0) ncols = rec.n;
        else row_line[nrows++] = start_line;
    }
    io_csv_free(&rec);
    free(in);
    in = NULL;
    if (r < 0) goto fail;
    if (ncols < 0) {
        sx_failc(err, SX_EINVAL, "%s:1: empty file (no header row)", name);
        goto fail;
    }
    t->ncols = ncols;
    t->nrows = nrows;
    t->buf = text.p ? text.p : calloc(1, 1);
    t->line = row_line;
    t->header = malloc((size_t)ncols * sizeof(char *));
    t->cells = malloc((size_t)(nrows ? nrows : 1) * (size_t)ncols * sizeof(char *));
    if (!t->buf || !t->header || !t->cells) {
        sx_csv_free(t);
        free(offs);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", name);
    }
    for (int c = 0; c < ncols; c++) t->header[c] = t->buf + offs[c];
    for (int64_t i = 0; i < nrows * ncols; i++) t->cells[i] = t->buf + offs[ncols + i];
    free(offs);
    for (int c = 0; c < ncols; c++)
        for (int c2 = 0; c2 < c; c2++)
            if (strcmp(t->header[c], t->header[c2]) == 0) {
                sx_failc(err, SX_ECORRUPT, "%s:1: duplicate column '%s'", name, t->header[c]);
                sx_csv_free(t);
                return -1;
            }
    return 0;
oom:
    sx_failc(err, SX_ENOMEM, "%s: out of memory", name);
fail:
    io_csv_free(&rec);
    free(in);
    free(text.p);
    free(offs);
    free(row_line);
    return -1;
}

int sx_csv_parse(const char *name, const char *data, size_t len, sx_csv_table *t, sx_err *err) {
    return sx_csv_parse_flags(name, data, len, 0, t, err);
}

int sx_csv_read_flags(const char *path, int flags, sx_csv_table *t, sx_err *err) {
    char *data;
    size_t len;
    memset(t, 0, sizeof *t);
    if (sx_read_file(path, (size_t)4 << 30, &data, &len, err)) return -1;
    int r = sx_csv_parse_flags(path, data, len, flags, t, err);
    free(data);
    return r;
}

int sx_csv_read(const char *path, sx_csv_table *t, sx_err *err) {
    return sx_csv_read_flags(path, 0, t, err);
}

int sx_csv_col(const sx_csv_table *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->header[c], name) == 0) return c;
    return -1;
}

int sx_csv_require(const sx_csv_table *t, const char *const *cols, int n, sx_err *err) {
    for (int i = 0; i < n; i++)
        if (sx_csv_col(t, cols[i]) < 0)
            return sx_failc(err, SX_ENOTFOUND, "%s:1: missing column '%s'", t->path, cols[i]);
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
        return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": column '%s': '%.40s' is not a number", t->path,
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
        return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": column '%s': empty, an integer is needed", t->path,
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
        return sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": column '%s': '%.40s' is not an integer", t->path,
                       t->line[row], t->header[col], s);
    *out = v;
    return 0;
}
