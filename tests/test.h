/* test.h — the tiny check harness used by every C test.  A test's main() ends with
 * `return TEST_DONE();`; tests needing ../shared call test_shared_or_skip() (exit 77 =
 * skipped under CTest). */
#ifndef SAETOX_TEST_H
#define SAETOX_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int t_pass, t_fail;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (cond) {                                                                          \
            t_pass++;                                                                        \
        } else {                                                                             \
            t_fail++;                                                                        \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                            \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol, what)                                                          \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", what,       \
          (double)(a), (double)(b), (double)(tol))

#define TEST_DONE() (printf("%d checks passed, %d failed\n", t_pass, t_fail), t_fail ? 1 : 0)

/* SAETOX_SIMD forces a kernel path (tests/simd_run.sh): one this CPU lacks skips the test,
 * an unknown name fails it, before any check runs. */
__attribute__((constructor)) static void test_simd_init(void) {
    sx_err err;
    if (sx_simd_init(&err) == 0) return;
    const char *e = getenv("SAETOX_SIMD");
    for (int l = SX_SIMD_GENERIC; l <= SX_SIMD_NATIVE; l++)
        if (e && strcmp(e, sx_simd_name((sx_simd_level)l)) == 0) {
            printf("SKIP: %s\n", err.msg);
            exit(77);
        }
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
}

static inline const char *test_shared_or_skip(const char *what) {
    const char *d = sx_shared_dir();
    if (!d) {
        printf("SKIP: ../shared not found; needed for %s\n", what);
        exit(77);
    }
    return d;
}

/* A per-test scratch directory under the build tree (created if needed). */
static inline const char *test_tmpdir(const char *name) {
    static char buf[4096];
    const char *base = getenv("SAETOX_TMP");
    snprintf(buf, sizeof buf, "%s/%s", base && *base ? base : "/tmp", name);
    sx_err err;
    if (sx_mkdir_p(buf, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return buf;
}

/* Max |a-b| over n floats. */
static inline double test_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

#endif
