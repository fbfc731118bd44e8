/* test_gemm.c — sx__gemm (core/gemm.h) on every engine of the running kernel path against a
 * float64 reference: both layouts of A and B, F32 and BF16 B (the reference uses the BF16
 * values exactly), alpha, beta 0 (C not read: it holds NaN) / 1 / 0.5, leading dimensions
 * larger than the rows, and shapes on and off the 8 x 48 tile and the 256-deep K blocks.
 * Error bound per element: (K + 2) 2^-23 sum |alpha a b| + |beta c| (F32 accumulation), plus
 * 2^-24 of it for the BF16 dot kernel (A split into three BF16 parts).  Also: the own kernel
 * (avx512 path) gives bit-identical results on 1 and 2 threads. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "gemm.h"
#include "test.h"

static uint64_t g_s = 88172645463325252ull;
static float rnd(void) {
    g_s ^= g_s << 13, g_s ^= g_s >> 7, g_s ^= g_s << 17;
    return (float)((double)(g_s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct {
    int ta, tb, bt, M, N, K;
    float alpha, beta;
} shape;

/* engine: 0 sx__gemm, 1 own widened, 2 own BF16 dot (skipped without AVX512-BF16); B starts
 * boff floats past a 64-byte boundary (an F32 B [K, N] on a boundary, with ldb a multiple of
 * 16, is read in place by the own kernel; elsewhere it is packed) */
static double run(const shape *s, int engine, int pad, int boff) {
    int M = s->M, N = s->N, K = s->K;
    int lda = (s->ta ? M : K) + pad, ldb = (s->tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(s->ta ? K : M) * lda + 1, nb = (size_t)(s->tb ? N : K) * ldb + 1, nc = (size_t)M * ldc + 1;
    float *A = malloc(na * sizeof *A), *Bmem = aligned_alloc(64, ((nb + 16) * sizeof(float) + 63) / 64 * 64);
    float *Bf = Bmem + boff, *C = malloc(nc * sizeof *C);
    float *C0 = malloc(nc * sizeof *C0);
    uint16_t *Bh = malloc(nb * sizeof *Bh);
    for (size_t i = 0; i < na; i++) A[i] = rnd();
    for (size_t i = 0; i < nb; i++) {
        Bh[i] = sx_f32_to_bf16(rnd());
        Bf[i] = s->bt == SX_GEMM_BF16 ? sx_bf16_to_f32(Bh[i]) : rnd();
    }
    for (size_t i = 0; i < nc; i++) C0[i] = s->beta == 0.0f ? NAN : rnd();
    memcpy(C, C0, nc * sizeof *C);
    const void *B = s->bt == SX_GEMM_BF16 ? (const void *)Bh : (const void *)Bf;
    if (engine == 0) sx__gemm(s->ta, s->tb, M, N, K, s->alpha, A, lda, B, s->bt, ldb, s->beta, C, ldc);
    else sx__gemm_own(s->ta, s->tb, M, N, K, s->alpha, A, lda, B, s->bt, ldb, s->beta, C, ldc, engine == 2);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double a = s->ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = s->tb ? Bf[(size_t)j * ldb + k] : Bf[(size_t)k * ldb + j];
                ref += s->alpha * a * b;
                mag += fabs(s->alpha * a * b);
            }
            if (s->beta != 0.0f) {
                ref += (double)s->beta * C0[(size_t)i * ldc + j];
                mag += fabs((double)s->beta * C0[(size_t)i * ldc + j]);
            }
            double tol = (K + 2) * ldexp(1.0, -23) * mag + (engine == 2 ? ldexp(1.0, -24) * mag : 0) + 1e-30;
            double e = fabs(C[(size_t)i * ldc + j] - ref);
            if (!(e <= tol)) {
                CHECK(0, "ta%d tb%d bt%d %dx%dx%d alpha %g beta %g engine %d: C[%d,%d] = %.9g, reference %.9g (tol %g)",
                      s->ta, s->tb, s->bt, M, N, K, s->alpha, s->beta, engine, i, j, C[(size_t)i * ldc + j], ref, tol);
                i = M;
                break;
            }
            if (mag > 0 && e / mag > worst) worst = e / mag;
        }
    /* the padding between rows of C is left alone */
    for (int i = 0; i < M && pad; i++)
        for (int j = N; j < ldc && i * ldc + j < (int)nc - 1; j++)
            if (memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], sizeof(float))) {
                CHECK(0, "engine %d wrote C[%d, %d] past N = %d", engine, i, j, N);
                i = M;
                break;
            }
    free(A), free(Bmem), free(Bh), free(C), free(C0);
    return worst;
}

/* own kernel on 1 and on 2 threads: the same bits */
static void thread_invariance(int bt, int dot) {
    int M = 70, N = 300, K = 600;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
    uint16_t *Bh = malloc(sizeof(uint16_t) * N * K);
    float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) A[i] = rnd();
    for (int i = 0; i < N * K; i++) B[i] = rnd(), Bh[i] = sx_f32_to_bf16(B[i]);
    const void *b = bt ? (const void *)Bh : (const void *)B;
    int nt = sx_get_threads();
    sx_set_threads(1);
    sx__gemm_own(0, 1, M, N, K, 1.0f, A, K, b, bt, K, 0.0f, C1, N, dot);
    sx_set_threads(2);
    sx__gemm_own(0, 1, M, N, K, 1.0f, A, K, b, bt, K, 0.0f, C2, N, dot);
    sx_set_threads(nt);
    CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0, "bt%d dot%d: 1 and 2 threads differ", bt, dot);
    free(A), free(B), free(Bh), free(C1), free(C2);
}

/* An F32 B [K, N] read in place (on a 64-byte boundary) and packed (4 floats past one): the
 * kernel sees the same values in the same order, so the same bits, at a decoding step's shape. */
static void direct_vs_packed(void) {
    int M = 200, N = 2304, K = 768;
    float *A = malloc(sizeof(float) * M * K), *Bm = aligned_alloc(64, sizeof(float) * ((size_t)N * K + 64));
    float *Ba = Bm, *Bu = (float *)aligned_alloc(64, sizeof(float) * ((size_t)N * K + 64)) + 4;
    float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) A[i] = rnd();
    for (int i = 0; i < N * K; i++) Ba[i] = Bu[i] = rnd();
    sx__gemm_own(0, 0, M, N, K, 1.0f, A, K, Ba, SX_GEMM_F32, N, 0.0f, C1, N, 0);
    sx__gemm_own(0, 0, M, N, K, 1.0f, A, K, Bu, SX_GEMM_F32, N, 0.0f, C2, N, 0);
    CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0, "B read in place and packed differ");
    free(A), free(Bm), free(Bu - 4), free(C1), free(C2);
}

int main(void) {
    static const int Ms[] = {1, 7, 8, 9, 16, 33, 130};
    static const int Ns[] = {1, 17, 48, 50, 97, 1600};
    static const int Ks[] = {0, 1, 3, 255, 256, 257, 600};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
#if defined(__x86_64__)
    __builtin_cpu_init();
    int has_dot = sx_simd() == SX_SIMD_AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    int has_dot = 0;
#endif
    double worst[3] = {0};
    int n = 0;
    for (int mi = 0; mi < 7; mi++)
        for (int ni = 0; ni < 6; ni++)
            for (int ki = 0; ki < 7; ki++) {
                int id = mi * 42 + ni * 7 + ki;
                if (Ns[ni] == 1600 && (Ms[mi] > 16 || Ks[ki] > 257)) continue; /* keep the reference cheap */
                shape s = {id & 1, (id >> 1) & 1, (id >> 2) & 1, Ms[mi], Ns[ni], Ks[ki], id % 5 == 0 ? -0.75f : 1.0f,
                           betas[id % 3]};
                for (int e = 0; e < 3; e++) {
                    if (e == 2 && (!has_dot || s.bt != SX_GEMM_BF16)) continue;
                    double w = run(&s, e, id % 4 == 0 ? 3 : 0, id % 3 == 0 ? 5 : 0);
                    if (w > worst[e]) worst[e] = w;
                    n++;
                }
            }
    /* the shapes the model runs (prefill and decoding rows) */
    static const shape big[] = {{0, 0, 0, 128, 768, 768, 1, 1}, {0, 1, 1, 64, 2304, 256, 1, 0},
                                {0, 0, 1, 200, 3072, 768, 1, 1}, {1, 0, 0, 96, 768, 130, 1, 1}};
    for (int i = 0; i < 4; i++)
        for (int e = 0; e < 3; e++) {
            if (e == 2 && (!has_dot || big[i].bt != SX_GEMM_BF16)) continue;
            for (int boff = 0; boff < (big[i].bt == SX_GEMM_F32 ? 2 : 1); boff++) { /* in place, packed */
                double w = run(&big[i], e, 0, 4 * boff);
                if (w > worst[e]) worst[e] = w;
                n++;
            }
        }
    if (sx_simd() == SX_SIMD_AVX512) { /* elsewhere "own" is OpenBLAS, which promises no such thing */
        direct_vs_packed();
        thread_invariance(0, 0);
        thread_invariance(1, 0);
    }
    if (has_dot) thread_invariance(1, 1);
    printf("path %s: %d products; worst error / sum|terms|: auto %.3g, own widened %.3g, own BF16 dot %.3g%s\n",
           sx_simd_name(sx_simd()), n, worst[0], worst[1], worst[2], has_dot ? "" : " (no AVX512-BF16 here)");
    return TEST_DONE();
}
