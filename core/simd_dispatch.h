/* simd_dispatch.h — compile a kernel file once per instruction set and call the chosen one
 * (internal to the modules; the ggml pattern: one translation unit per ISA, a switch on the
 * path chosen at start-up).
 *
 * A kernel file is listed in CMakeLists.txt (saetox_isa_sources); the build compiles it
 * three times with -DSX_ISA=generic|avx2|avx512 and that ISA's -m flags (once with
 * -DSX_ISA=native in a -DSAETOX_NATIVE=ON build).  The file's first include is its module's
 * rename header, which maps each external function name f to f_<isa> when SX_ISA is set:
 *
 *     #ifdef SX_ISA
 *     #define sx__layernorm SX_ISA_NAME(sx__layernorm)
 *     #endif
 *
 * so the module header's prototypes, the definitions and the calls inside the file all use
 * the suffixed names (the compiler checks each variant against the one prototype).  One
 * file compiled once (the module's dispatch.c) then defines the plain names:
 *
 *     SX_DISPATCH_V(sx__layernorm, (const float *x, ...), (x, ...))     void functions
 *     SX_DISPATCH_R(int, sx_step_dense, (sx_tsae *t, ...), (t, ...))   the others
 *
 * A name missing from either list is a link error, never a silent fallback.  The cost is
 * one predictable switch per kernel call; every kernel does at least a row's work. */
#ifndef SAETOX_SIMD_DISPATCH_H
#define SAETOX_SIMD_DISPATCH_H

#include "core.h"

#define SX_ISA_CAT2_(a, b) a##_##b
#define SX_ISA_CAT_(a, b) SX_ISA_CAT2_(a, b)
#define SX_ISA_NAME(f) SX_ISA_CAT_(f, SX_ISA)

/* Builds with one path (-DSAETOX_NATIVE=ON: native; not x86-64: generic) call it directly. */
#if defined(SX_SIMD_NATIVE_BUILD)
#define SX_ONE_PATH_ native
#elif !defined(SX_SIMD_X86)
#define SX_ONE_PATH_ generic
#endif

#if defined(SX_ONE_PATH_)
#define SX_DISPATCH_V(name, params, args)                                                                  \
    void SX_ISA_CAT_(name, SX_ONE_PATH_) params;                                                           \
    void name params { SX_ISA_CAT_(name, SX_ONE_PATH_) args; }
#define SX_DISPATCH_R(ret, name, params, args)                                                             \
    ret SX_ISA_CAT_(name, SX_ONE_PATH_) params;                                                            \
    ret name params { return SX_ISA_CAT_(name, SX_ONE_PATH_) args; }
#else
#define SX_DISPATCH_V(name, params, args)                                                                  \
    void name##_generic params;                                                                            \
    void name##_avx2 params;                                                                               \
    void name##_avx512 params;                                                                             \
    void name params {                                                                                     \
        switch (sx_simd()) {                                                                               \
        case SX_SIMD_AVX512: name##_avx512 args; break;                                                    \
        case SX_SIMD_AVX2: name##_avx2 args; break;                                                        \
        default: name##_generic args; break;                                                               \
        }                                                                                                  \
    }
#define SX_DISPATCH_R(ret, name, params, args)                                                             \
    ret name##_generic params;                                                                             \
    ret name##_avx2 params;                                                                                \
    ret name##_avx512 params;                                                                              \
    ret name params {                                                                                      \
        switch (sx_simd()) {                                                                               \
        case SX_SIMD_AVX512: return name##_avx512 args;                                                    \
        case SX_SIMD_AVX2: return name##_avx2 args;                                                        \
        default: return name##_generic args;                                                               \
        }                                                                                                  \
    }
#endif

#endif
