/* blas_coretype.c — make a DYNAMIC_ARCH OpenBLAS use its AVX-512/AVX2 kernels on CPUs it does
 * not recognise.
 *
 * Debian's OpenBLAS 0.3.21 does not know this machine's Xeon (family 6 model 207 under KVM)
 * and falls back to the "Prescott" (SSE3) kernels: sgemm runs at ~6 GFLOP/s instead of
 * ~35-100+.  When the user has not chosen a core (OPENBLAS_CORETYPE unset) and OpenBLAS
 * picked Prescott although the CPU has AVX-512 (or AVX2+FMA), re-run OpenBLAS's core
 * selection with OPENBLAS_CORETYPE=SkylakeX (or Haswell).  It runs once, from sx_init() or
 * lazily from the loaders and sx_set_threads (before their first BLAS call); never as a
 * constructor, so a program that links libsaetox and never calls it keeps OpenBLAS as it
 * was and its environment untouched.  The OpenBLAS entry points are weak so a
 * non-DYNAMIC_ARCH OpenBLAS still links (then nothing happens). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "gemm.h"

extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));

static void fix_once(void) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || !openblas_get_corename) return;
    if (getenv("OPENBLAS_CORETYPE")) return; /* the user's choice wins */
    const char *cur = openblas_get_corename();
    if (!cur || strcasecmp(cur, "prescott") != 0) return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
}

void sx_blas_fix_coretype(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fix_once);
}

/* Whether OpenBLAS runs AVX-512 sgemm kernels (core SkylakeX, Cooperlake or SapphireRapids in
 * OpenBLAS's names): then its sgemm is the faster engine for F32 products (core/gemm.c).  An
 * OpenBLAS without openblas_get_corename counts as not. */
static int g_blas512;
static void blas512_once(void) {
    sx_blas_fix_coretype();
    const char *c = openblas_get_corename ? openblas_get_corename() : NULL;
    g_blas512 = c && (!strcasecmp(c, "skylakex") || !strcasecmp(c, "cooperlake") ||
                      !strcasecmp(c, "sapphirerapids"));
}
int sx__blas_avx512(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas512_once);
    return g_blas512;
}

#ifndef SAETOX_VERSION
#define SAETOX_VERSION "unknown"
#endif
const char *sx_version(void) { return SAETOX_VERSION; }

int sx_init(sx_err *err) {
    sx_blas_fix_coretype();
    return sx_simd_init(err);
}
