/* ds_in.h — private: byte input over files, globs, archives and compressed files
 * (archive.c), CSV records (csv.c).  Not a public header. */
#ifndef SAETOX_DS_IN_H
#define SAETOX_DS_IN_H

#include <stdint.h>
#include <stdio.h>

#include "datasets.h"

enum { DS_PLAIN = 0, DS_ARCHIVE = 1, DS_COMPRESSED = 2 };
enum { DS_EOF = -1, DS_ERR = -2 };

typedef struct ds_buf {
    char *p;
    size_t len, cap;
} ds_buf;
int ds_buf_add(ds_buf *s, const char *p, size_t n); /* keeps p NUL-terminated; -1 = OOM */

typedef struct ds_in {
    char **paths; /* the glob's matches, sorted */
    int npaths, ipath;
    char *member; /* fnmatch pattern inside archives, or NULL for every regular member */
    int kind, matched_any;
    FILE *fp;
    struct archive *a;
    char name[8192]; /* "path" or "archive//member", for messages */
    uint64_t cap, nread;
    unsigned char buf[1 << 16];
    size_t pos, len;
    int eof;
    int64_t line; /* maintained by the parsers: line number of the current record */
} ds_in;

int ds_path_kind(const char *path);
int ds_in_open(ds_in *in, const char *pattern, const char *member, uint64_t cap, sx_err *err);
/* Advance to the next file / member: 1, 0 when all are done, -1 on error. */
int ds_in_next_file(ds_in *in, sx_err *err);
void ds_in_close(ds_in *in);
int ds_in_getc_slow(ds_in *in, sx_err *err);
/* next byte of the current member, DS_EOF at its end, DS_ERR on error */
static inline int ds_in_getc(ds_in *in, sx_err *err) {
    return in->pos < in->len ? in->buf[in->pos++] : ds_in_getc_slow(in, err);
}
int ds_in_getline(ds_in *in, ds_buf *s, sx_err *err);
int ds_in_slurp(ds_in *in, ds_buf *s, sx_err *err);

/* CSV (RFC 4180): one record into fields (offsets into rec, each NUL-terminated).
 * 1 = a record, 0 = end of member, -1 = error (unterminated quote...). in->line counts
 * physical lines, *start_line gets the record's first line. */
typedef struct ds_csv_rec {
    ds_buf text;      /* field bytes, NUL-separated */
    size_t *off;      /* field offsets into text.p */
    int n, cap;
} ds_csv_rec;
int ds_csv_read(ds_in *in, ds_csv_rec *r, int64_t *start_line, sx_err *err);
void ds_csv_free(ds_csv_rec *r);
static inline const char *ds_csv_field(const ds_csv_rec *r, int i) { return r->text.p + r->off[i]; }

#endif
