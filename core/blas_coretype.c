/* blas_coretype.c — make a DYNAMIC_ARCH OpenBLAS use its AVX-512/AVX2 kernels on CPUs it does
 * not recognise.
 *
 * Debian's OpenBLAS 0.3.21 does not know this machine's Xeon (family 6 model 207 under KVM)
 * and falls back to the "Prescott" (SSE3) kernels: sgemm runs at ~6 GFLOP/s instead of
 * ~35-100+.  When the user has not chosen a core (OPENBLAS_CORETYPE unset) and OpenBLAS
 * picked Prescott although the CPU has AVX-512 (or AVX2+FMA), re-run OpenBLAS's core
 * selection with OPENBLAS_CORETYPE=SkylakeX (or Haswell).  This runs as a constructor, after
 * libopenblas's own, before any BLAS call.  The OpenBLAS entry points are weak so a
 * non-DYNAMIC_ARCH OpenBLAS still links (then nothing happens). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));

void sx_blas_fix_coretype(void) {
    static int done;
    if (done) return;
    done = 1;
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

__attribute__((constructor)) static void sx_blas_fix_ctor(void) { sx_blas_fix_coretype(); }
