/* fuzz_util.h — shared by the libFuzzer targets: a private scratch folder (on /dev/shm when
 * there is one: the parsers under test read files by path), files written from the input,
 * and a split of one input into two files. */
#ifndef SAETOX_FUZZ_UTIL_H
#define SAETOX_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch folder of this process, created on first use. */
static inline const char *fz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/saetox-fuzz-XXXXXX", base);
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

/* Write data to <scratch>/<name> (plain write: the atomic writer's fsync would dominate). */
static inline const char *fz_file(const char *name, const void *data, size_t len) {
    static char path[8][512];
    static int k;
    char *p = path[k++ & 7];
    snprintf(p, 512, "%s/%s", fz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (len && fwrite(data, 1, len, f) != len) abort();
    fclose(f);
    return p;
}

/* Inputs holding two files: a 4-byte little-endian length n, then n bytes of the first
 * file (cut to what is there), then the second file. */
typedef struct fz_parts {
    const uint8_t *a, *b;
    size_t na, nb;
} fz_parts;

static inline fz_parts fz_split(const uint8_t *d, size_t n) {
    fz_parts p = {d, d, 0, 0};
    if (n < 4) return p;
    size_t la = (size_t)d[0] | (size_t)d[1] << 8 | (size_t)d[2] << 16 | (size_t)d[3] << 24;
    if (la > n - 4) la = n - 4;
    p.a = d + 4, p.na = la, p.b = d + 4 + la, p.nb = n - 4 - la;
    return p;
}

/* The inverse, for the seed generator. */
static inline void fz_join(FILE *f, const void *a, size_t na, const void *b, size_t nb) {
    unsigned char h[4] = {(unsigned char)na, (unsigned char)(na >> 8), (unsigned char)(na >> 16),
                          (unsigned char)(na >> 24)};
    fwrite(h, 1, 4, f);
    fwrite(a, 1, na, f);
    fwrite(b, 1, nb, f);
}

/* Library code must fail with a message, never an empty one. */
static inline void fz_check_err(int rc, const sx_err *e) {
    if (rc && !e->msg[0]) {
        fprintf(stderr, "failure without a message\n");
        abort();
    }
}

#endif
