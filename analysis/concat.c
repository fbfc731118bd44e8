/* concat.c — per-SAE tables into one: CSV files with the same header, concatenated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

/* Append src (a CSV) to dst; the header only when with_header. */
static int append_csv(const char *src, FILE *dst, int with_header, sx_err *err) {
    char *data;
    size_t len;
    if (sx_read_file(src, (size_t)1 << 31, &data, &len, err)) return -1;
    const char *body = data;
    if (!with_header) {
        const char *nl = memchr(data, '\n', len);
        body = nl ? nl + 1 : data + len;
    }
    size_t n = len - (size_t)(body - data);
    int ok = fwrite(body, 1, n, dst) == n;
    free(data);
    return ok ? 0 : sx_failc(err, SX_EIO, "%s: write failed while merging", src);
}

int sx_ana_concat_csv(const char *const *srcs, int n, const char *dst, sx_err *err) {
    sx_atomic_file af;
    if (sx_atomic_open(&af, dst, err)) return -1;
    for (int i = 0; i < n; i++)
        if (append_csv(srcs[i], af.f, i == 0, err)) {
            sx_atomic_abort(&af);
            return -1;
        }
    return sx_atomic_commit(&af, err);
}
