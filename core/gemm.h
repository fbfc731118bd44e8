/* gemm.h — saetox's matrix product (internal to the library: models/ and train/ call it).
 *
 *   C[M, N] = alpha * op(A) op(B) + beta * C, row-major, F32 accumulation.
 *   op(A) = A [M, K] (ta 0) or A^T with A [K, M] (ta 1); op(B) = B [K, N] (tb 0) or B^T with
 *   B [N, K] (tb 1).  A and C are F32; B is F32 or BF16 (raw uint16 bits, SX_GEMM_BF16).
 *
 * Which code runs (core/gemm.c, compiled once per kernel path; gemm_dispatch.c):
 *   avx512: saetox's own packed 8 x 48 register-tile kernel where it beats OpenBLAS for the
 *           shape (OpenBLAS runs its Haswell AVX2 kernels here), else cblas_sgemm; BF16 B is
 *           widened to F32 while it is packed, or, where the start-up probe finds the
 *           AVX512-BF16 dot product faster, packed as BF16 pairs and multiplied with
 *           vdpbf16ps against A split into three BF16 parts (hi + mid + lo: 2^-26 relative, so
 *           the result is as accurate as the widened path's);
 *   avx2, generic: cblas_sgemm; BF16 B widened to F32 one column block at a time.
 * beta 0 never reads C (it may hold NaN).  Threads: OpenMP over column blocks (one thread
 * inside an enclosing parallel region). */
#ifndef SAETOX_GEMM_H
#define SAETOX_GEMM_H

#include <stdint.h>

#include "core.h"

enum { SX_GEMM_F32 = 0, SX_GEMM_BF16 = 1 };

void sx__gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const void *B,
              int btype, int ldb, float beta, float *C, int ldc);

/* The own packed kernel regardless of shape (tests and benchmarks; on paths without it, the
 * same as sx__gemm).  bf16dot: 1 = BF16 B through vdpbf16ps, 0 = widened, -1 = the probe's
 * choice. */
void sx__gemm_own(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const void *B,
                  int btype, int ldb, float beta, float *C, int ldc, int bf16dot);

/* 1 when OpenBLAS's active core has AVX-512 sgemm kernels (core/blas_coretype.c). */
int sx__blas_avx512(void);

/* Which engine sx__gemm uses for F32 products: 0 by shape (default), 1 always the own
 * kernel, 2 always cblas (SAETOX_GEMM=auto|own|blas; read once). */
int sx__gemm_engine(void);

/* 1 (default): the own kernel reads an F32 B [K, N] (tb 0) whose column panels are all full
 * in place instead of packing it (the same bits); SAETOX_GEMM_DIRECT=0 packs (A/B runs). */
int sx__gemm_direct(void);

/* BF16 dot product: 1 when this CPU has AVX512-BF16 and the start-up probe measured it faster
 * than widening (SAETOX_BF16=dot|widen overrides; read once). */
int sx__gemm_bf16dot(void);
/* the probe (gemm.c, avx512 path): seconds of the dot and the widened kernels on one tile
 * workload; returns 0 when the CPU cannot run vdpbf16ps. */
int sx__bf16_probe(double *t_dot, double *t_widen);

#endif
