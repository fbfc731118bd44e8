/* io_in.h — private: byte input over files, globs, archives and compressed files
 * (archive.c), CSV records (csv.c).  Not a public header. */
#ifndef SAETOX_IO_IN_H
#define SAETOX_IO_IN_H

#include <stdint.h>
#include <stdio.h>

#include "io.h"

enum { IO_PLAIN = 0, IO_ARCHIVE = 1, IO_COMPRESSED = 2 };
enum { IO_EOF = -1, IO_ERR = -2 };

typedef struct io_buf {
    char *p;
    size_t len, cap;
} io_buf;
int io_buf_add(io_buf *s, const char *p, size_t n); /* keeps p NUL-terminated; -1 = OOM */

typedef struct io_in {
    char **paths; /* the glob's matches, sorted */
    int npaths, ipath;
    char *member; /* fnmatch pattern inside archives, or NULL for every regular member */
    int kind, matched_any;
    FILE *fp;
    struct archive *a;
    char name[8192]; /* "path" or "archive//member", for messages */
    uint64_t cap, nread;
    unsigned char *buf; /* store, or the caller's bytes for io_in_mem */
    unsigned char store[1 << 16];
    size_t pos, len;
    int eof;
    int64_t line; /* maintained by the parsers: line number of the current record */
} io_in;

int io_path_kind(const char *path);
int io_in_open(io_in *in, const char *pattern, const char *member, uint64_t cap, sx_err *err);
/* Advance to the next file / member: 1, 0 when all are done, -1 on error. */
int io_in_next_file(io_in *in, sx_err *err);
void io_in_close(io_in *in);
/* Read len bytes of memory as one member called name (no copy: data must outlive in). */
void io_in_mem(io_in *in, const char *name, const char *data, size_t len);
int io_in_getc_slow(io_in *in, sx_err *err);
/* next byte of the current member, IO_EOF at its end, IO_ERR on error */
static inline int io_in_getc(io_in *in, sx_err *err) {
    return in->pos < in->len ? in->buf[in->pos++] : io_in_getc_slow(in, err);
}
int io_in_getline(io_in *in, io_buf *s, sx_err *err);
int io_in_slurp(io_in *in, io_buf *s, sx_err *err);

/* CSV (RFC 4180): one record into fields (offsets into rec, each NUL-terminated); flags 0
 * (strict) or SX_CSV_LENIENT, as io.h describes.
 * 1 = a record, 0 = end of member, -1 = error (unterminated quote...). in->line counts
 * physical lines, *start_line gets the record's first line. */
typedef struct io_csv_rec {
    io_buf text;      /* field bytes, NUL-separated */
    size_t *off;      /* field offsets into text.p */
    int n, cap;
} io_csv_rec;
int io_csv_read(io_in *in, io_csv_rec *r, int flags, int64_t *start_line, sx_err *err);
void io_csv_free(io_csv_rec *r);
static inline const char *io_csv_field(const io_csv_rec *r, int i) { return r->text.p + r->off[i]; }

#endif
