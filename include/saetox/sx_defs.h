/* sx_defs.h — what every public saetox header starts with: C linkage for C++ callers and the
 * export rule of libsaetox.
 *
 * The library is compiled with -fvisibility=hidden: a function is part of the shared
 * library's ABI exactly when it is declared between SX_BEGIN_DECLS and SX_END_DECLS in a
 * header under include/saetox/ (the pragma gives those declarations default visibility).
 * Everything declared in a module's private headers stays internal, whatever its name.
 * tests/core/test_install.sh checks that `nm -D libsaetox.so` lists only sx_/SX_ names. */
#ifndef SAETOX_SX_DEFS_H
#define SAETOX_SX_DEFS_H

#ifdef __cplusplus
#define SX_EXTERN_C_BEGIN extern "C" {
#define SX_EXTERN_C_END }
#else
#define SX_EXTERN_C_BEGIN
#define SX_EXTERN_C_END
#endif

/* A per-ISA kernel object (compiled with -DSX_ISA=..., core/simd_dispatch.h) renames the
 * public functions it implements (sx_split_compute -> sx_split_compute_avx512); those copies
 * stay internal, only the dispatching wrapper is exported. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(SX_ISA)
#define SX_API __attribute__((visibility("default")))
#define SX_BEGIN_DECLS SX_EXTERN_C_BEGIN _Pragma("GCC visibility push(default)")
#define SX_END_DECLS _Pragma("GCC visibility pop") SX_EXTERN_C_END
#else
#define SX_API
#define SX_BEGIN_DECLS SX_EXTERN_C_BEGIN
#define SX_END_DECLS SX_EXTERN_C_END
#endif

#endif
