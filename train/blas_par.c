/* blas_par.c — dense products split over the OpenMP threads, each running a single-threaded
 * sgemm on its own slice of the output.  One thread pool (OpenMP) instead of two (OpenMP +
 * the pthreads OpenBLAS's own workers): with both, idle workers spin while the other pool's
 * threads want the same cores, which on a 2-core (or shared) box costs more than the
 * product.  (The build prefers the OpenMP OpenBLAS, which is single-threaded inside a
 * parallel region by itself; the split still decides how the work is cut.)  Each slice goes
 * through core/gemm.h: the own AVX-512 kernel where it beats OpenBLAS for the shape. */
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gemm.h"
#include "train_internal.h"

void sx_blas_single(int on) {
    static int saved = 0;
    /* The OpenMP build of OpenBLAS already runs single-threaded inside a parallel region, and
     * its openblas_set_num_threads would also set OpenMP's own thread count. */
    if (openblas_get_parallel() == 2) return;
    if (on) {
        saved = sx_get_threads();
        openblas_set_num_threads(1);
    } else if (saved > 0) {
        openblas_set_num_threads(saved);
    }
}

void sx_par_sgemm(int split_rows, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    int T = sx_get_threads();
    int64_t work = (int64_t)M * N * K;
    if (T <= 1 || work < ((int64_t)1 << 22)) {
        sx__gemm(ta, tb, M, N, K, alpha, A, lda, B, SX_GEMM_F32, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel num_threads(T)
    {
        int th = 0, nt = 1;
#ifdef _OPENMP
        th = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
        if (split_rows) { /* rows of C: rows of op(A) */
            int r0 = (int)((int64_t)M * th / nt), r1 = (int)((int64_t)M * (th + 1) / nt);
            const float *a = ta ? A + r0 : A + (int64_t)r0 * lda;
            if (r1 > r0)
                sx__gemm(ta, tb, r1 - r0, N, K, alpha, a, lda, B, SX_GEMM_F32, ldb, beta, C + (int64_t)r0 * ldc, ldc);
        } else { /* columns of C: columns of op(B), in multiples of 16 */
            int nb = (N + 15) / 16;
            int c0 = (int)((int64_t)nb * th / nt) * 16, c1 = (int)((int64_t)nb * (th + 1) / nt) * 16;
            if (c1 > N) c1 = N;
            const float *b = tb ? B + (int64_t)c0 * ldb : B + c0;
            if (c1 > c0)
                sx__gemm(ta, tb, M, c1 - c0, K, alpha, A, lda, b, SX_GEMM_F32, ldb, beta, C + c0, ldc);
        }
    }
}
