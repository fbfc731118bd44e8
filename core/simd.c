/* simd.c — which instruction-set path the hot kernels run (see simd_dispatch.h).
 *
 * The kernels (models/kernels.c, attention, the SAE steps, Adam, ...) are compiled once per
 * path: generic (the compiler's baseline, SSE2 on x86-64), avx2 (AVX2 + FMA) and avx512
 * (AVX-512 F/BW/DQ/VL/CD + AVX2 + FMA).  The path is chosen once, on the first kernel call
 * or at sx_simd_init(): SAETOX_SIMD when set, else the best the CPU and the OS support
 * (__builtin_cpu_supports checks CPUID and, through XGETBV, that the OS saves the AVX-512
 * state; valgrind's CPUID hides AVX-512, so under valgrind the avx2 path runs).
 * A -DSAETOX_NATIVE=ON build compiles the kernels once with -march=native: one path. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static const char *const NAMES[] = {"generic", "avx2", "avx512", "native"};

const char *sx_simd_name(sx_simd_level l) {
    return (unsigned)l < sizeof NAMES / sizeof NAMES[0] ? NAMES[l] : "?";
}

int sx_simd_supported(sx_simd_level l) {
#if defined(SX_SIMD_NATIVE_BUILD)
    return l == SX_SIMD_NATIVE;
#elif defined(SX_SIMD_X86)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    switch (l) {
    case SX_SIMD_GENERIC: return 1;
    case SX_SIMD_AVX2: return avx2;
    case SX_SIMD_AVX512:
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512cd");
    default: return 0;
    }
#else
    return l == SX_SIMD_GENERIC;
#endif
}

sx_simd_level sx_simd_best(void) {
#if defined(SX_SIMD_NATIVE_BUILD)
    return SX_SIMD_NATIVE;
#else
    for (int l = SX_SIMD_AVX512; l > SX_SIMD_GENERIC; l--)
        if (sx_simd_supported((sx_simd_level)l)) return (sx_simd_level)l;
    return SX_SIMD_GENERIC;
#endif
}

/* The level SAETOX_SIMD asks for (best when unset or empty); -1 with a message otherwise. */
static int requested(sx_err *err) {
    const char *e = getenv("SAETOX_SIMD");
    if (!e || !*e) return (int)sx_simd_best();
    for (int l = 0; l < (int)(sizeof NAMES / sizeof NAMES[0]); l++)
        if (strcmp(e, NAMES[l]) == 0) {
            if (sx_simd_supported((sx_simd_level)l)) return l;
#if defined(SX_SIMD_NATIVE_BUILD)
            return sx_failc(err, SX_EINVAL, "SAETOX_SIMD=%s: this build (-DSAETOX_NATIVE=ON) has only the native path", e);
#else
            if (l == SX_SIMD_NATIVE)
                return sx_failc(err, SX_EINVAL, "SAETOX_SIMD=native: only a -DSAETOX_NATIVE=ON build has the native path");
            return sx_failc(err, SX_EINVAL, "SAETOX_SIMD=%s: this CPU does not support %s (best here: %s)", e, e,
                           sx_simd_name(sx_simd_best()));
#endif
        }
    return sx_failc(err, SX_EINVAL, "SAETOX_SIMD=%s: unknown path (generic, avx2, avx512)", e);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static sx_simd_level g_level;
static sx_err g_err;
static int g_bad;

static void init_once(void) {
    int l = requested(&g_err);
    g_bad = l < 0;
    g_level = g_bad ? sx_simd_best() : (sx_simd_level)l; /* a bad request runs the best path; init reports it */
}

int sx_simd_init(sx_err *err) {
    pthread_once(&g_once, init_once);
    if (g_bad) {
        if (err) *err = g_err;
        return -1;
    }
    return 0;
}

sx_simd_level sx_simd(void) {
    pthread_once(&g_once, init_once);
    return g_level;
}
