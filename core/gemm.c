/* gemm.c — the matrix product of gemm.h, compiled once per kernel path (core_isa.h).
 *
 * The own kernel (avx512 path) is the BLIS loop nest: for each block of NC columns of op(B)
 * and KC of the inner dimension, op(B) is packed into NR-wide panels ([kc][NR], zero padded;
 * BF16 widened here, or kept as BF16 pairs for vdpbf16ps), then for each MC-row block op(A) is
 * packed (scaled by alpha) into MR-tall panels, and every MR x NR tile of C is computed in
 * 24 zmm accumulators (8 rows x 3 vectors) over kc: per k, 3 panel loads, 8 broadcasts and
 * 24 FMAs (the FMA units, not the loads, bound it).  Threads take disjoint column ranges in
 * whole panels: each thread's sums run in the same order whatever the thread count, so the
 * result does not depend on it.
 *
 * Floor: 2*M*N*K FLOP over (M*K + K*N + M*N)*4 bytes (K*N*2 for BF16 B); at the prefill
 * shapes (1024 x 768 x 3072) that is ~380 FLOP/byte, compute bound: the ceiling is the FMA
 * rate (2 cores x 2 x 16 lanes x 2 FLOP per cycle).  The packing is O(M*K + K*N) per call;
 * an F32 B [K, N] (tb 0) with full panels is not packed but read in place (kern_f32_direct):
 * at a decoding step's 200 rows each weight (4 bytes, from memory) serves 400 FLOP. */
#include "core_isa.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gemm.h"

static inline float bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---------- paths without the own kernel: cblas, BF16 widened one column block at a time ---------- */
static void gemm_blas(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const void *B,
                      int btype, int ldb, float beta, float *C, int ldc) {
    enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (btype == SX_GEMM_F32) {
        cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, (const float *)B, ldb, beta, C, ldc);
        return;
    }
    /* BF16: widen NB columns of op(B) (~1 MB of F32) and multiply that block: the widening is
     * K*NB element copies per 2*M*K*NB FLOP */
    const uint16_t *b = B;
    int nb = (1 << 18) / (K > 0 ? K : 1);
    nb = nb < 16 ? 16 : nb > N ? N : nb;
    float *w = malloc((size_t)nb * (K > 0 ? K : 1) * sizeof *w);
    if (!w) { /* out of memory: element by element, slow but right (no error path in a product) */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float s = 0;
                for (int k = 0; k < K; k++)
                    s += (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                         bf2f(tb ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j]);
                C[(size_t)i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j]);
            }
        return;
    }
    for (int j0 = 0; j0 < N; j0 += nb) {
        int n = N - j0 < nb ? N - j0 : nb;
        if (tb) { /* rows j0.. of B [N, K]: [n][K] */
            for (int j = 0; j < n; j++)
                for (int k = 0; k < K; k++) w[(size_t)j * K + k] = bf2f(b[(size_t)(j0 + j) * ldb + k]);
            cblas_sgemm(CblasRowMajor, TA, CblasTrans, M, n, K, alpha, A, lda, w, K, beta, C + j0, ldc);
        } else { /* columns j0.. of B [K, N]: [K][n] */
            for (int k = 0; k < K; k++)
                for (int j = 0; j < n; j++) w[(size_t)k * n + j] = bf2f(b[(size_t)k * ldb + j0 + j]);
            cblas_sgemm(CblasRowMajor, TA, CblasNoTrans, M, n, K, alpha, A, lda, w, n, beta, C + j0, ldc);
        }
    }
    free(w);
}

#ifdef __AVX512F__
#define MR 8
#define NR 48
#define KC 256  /* even (BF16 pairs); the 48 KB B panel and the 8 KB A panel stay near L1 */
#define MC 128  /* an A block of MC x KC (128 KB) stays in L2 while the B panels pass */
#define NC 1536 /* a packed B block of KC x NC (1.5 MB) per thread */

/* r[i] (row i of a 16 x 16 block) -> r[k] = column k: 4 rounds of in-register shuffles,
 * 64 instructions per 256 elements (the scalar loop took ~1 cycle each; it was ~10% of a
 * full-logits forward, whose unembedding is B^T). */
static inline void tr16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 4; c++) {
            t[8 * i + c] = _mm512_shuffle_f32x4(r[8 * i + c], r[8 * i + 4 + c], 0x88);
            t[8 * i + 4 + c] = _mm512_shuffle_f32x4(r[8 * i + c], r[8 * i + 4 + c], 0xdd);
        }
    for (int c = 0; c < 8; c++) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
    }
}

/* B [N, K] rows jb..jb+47, k0..k0+k16 (a multiple of 16) -> a full panel's first k16 rows */
static void pack_bt_full(const void *B, int bt, int ldb, int jb, int k0, int k16, float *d) {
    for (int k = 0; k < k16; k += 16)
        for (int g = 0; g < 3; g++) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                size_t o = (size_t)(jb + 16 * g + i) * ldb + k0 + k;
                if (bt == SX_GEMM_F32) r[i] = _mm512_loadu_ps((const float *)B + o);
                else
                    r[i] = _mm512_castsi512_ps(_mm512_slli_epi32(
                        _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)B + o))), 16));
            }
            tr16(r);
            for (int c = 0; c < 16; c++) _mm512_store_ps(d + (size_t)(k + c) * NR + 16 * g, r[c]);
        }
}

/* op(B) rows k0..k0+kc, columns j0..j0+nc -> panels [p][kc][NR] F32 (BF16 widened).  No
 * FLOP; memory bound: kc*nc*(4 or 2) bytes read, kc*nc*4 written. */
static void pack_b(const void *B, int bt, int tb, int ldb, int k0, int kc, int j0, int nc, float *bp) {
    for (int p = 0; p * NR < nc; p++) {
        float *d = bp + (size_t)p * kc * NR;
        int jn = nc - p * NR < NR ? nc - p * NR : NR, jb = j0 + p * NR;
        if (!tb) {
            for (int k = 0; k < kc; k++) {
                float *dk = d + (size_t)k * NR;
                if (bt == SX_GEMM_F32 && jn == NR) { /* inline: a memcpy call per 192 bytes cost more */
                    const float *sk = (const float *)B + (size_t)(k0 + k) * ldb + jb;
                    _mm512_store_ps(dk, _mm512_loadu_ps(sk));
                    _mm512_store_ps(dk + 16, _mm512_loadu_ps(sk + 16));
                    _mm512_store_ps(dk + 32, _mm512_loadu_ps(sk + 32));
                    continue;
                } else if (bt == SX_GEMM_F32) {
                    memcpy(dk, (const float *)B + (size_t)(k0 + k) * ldb + jb, (size_t)jn * sizeof(float));
                } else {
                    const uint16_t *s = (const uint16_t *)B + (size_t)(k0 + k) * ldb + jb;
                    for (int j = 0; j < jn; j++) dk[j] = bf2f(s[j]);
                }
                for (int j = jn; j < NR; j++) dk[j] = 0.0f;
            }
        } else {
            int k16 = jn == NR ? kc / 16 * 16 : 0; /* whole 16 x 16 blocks transposed in registers */
            if (k16) pack_bt_full(B, bt, ldb, jb, k0, k16, d);
            for (int j = 0; j < jn; j++) {
                if (bt == SX_GEMM_F32) {
                    const float *s = (const float *)B + (size_t)(jb + j) * ldb + k0;
                    for (int k = k16; k < kc; k++) d[(size_t)k * NR + j] = s[k];
                } else {
                    const uint16_t *s = (const uint16_t *)B + (size_t)(jb + j) * ldb + k0;
                    for (int k = k16; k < kc; k++) d[(size_t)k * NR + j] = bf2f(s[k]);
                }
            }
            for (int j = jn; j < NR; j++)
                for (int k = 0; k < kc; k++) d[(size_t)k * NR + j] = 0.0f;
        }
    }
}

/* op(B) as BF16 pairs: panels [p][kc/2][NR] of uint32 = (B[2q][j], B[2q+1][j]) (kc even or
 * zero padded): the operand layout of vdpbf16ps. */
static void pack_b_pairs(const uint16_t *B, int tb, int ldb, int k0, int kc, int j0, int nc, uint32_t *bp) {
    int kp = (kc + 1) / 2;
    for (int p = 0; p * NR < nc; p++) {
        uint32_t *d = bp + (size_t)p * kp * NR;
        int jn = nc - p * NR < NR ? nc - p * NR : NR, jb = j0 + p * NR;
        for (int q = 0; q < kp; q++)
            for (int j = 0; j < NR; j++) {
                uint32_t lo = 0, hi = 0;
                if (j < jn) {
                    int k = k0 + 2 * q;
                    lo = tb ? B[(size_t)(jb + j) * ldb + k] : B[(size_t)k * ldb + jb + j];
                    if (2 * q + 1 < kc) hi = tb ? B[(size_t)(jb + j) * ldb + k + 1] : B[(size_t)(k + 1) * ldb + jb + j];
                }
                d[(size_t)q * NR + j] = lo | hi << 16;
            }
    }
}

/* alpha * op(A) rows i0..i0+mc, k0..k0+kc -> panels [q][kc][MR] (rows past mc zero).
 * A [M, K] (ta 0): two full panels (16 rows) at a time, 16 k per register transpose (the
 * low 8 lanes of column k go to the first panel, the high 8 to the second); the scalar loop
 * (one strided store per element) was ~2.5% of a batched decoding step's CPU. */
static void pack_a(const float *A, int ta, int lda, float alpha, int i0, int mc, int k0, int kc, float *ap) {
    int q0 = 0;
    if (!ta) {
        const __m512 va = _mm512_set1_ps(alpha);
        int k16 = kc / 16 * 16;
        for (; (q0 + 2) * MR <= mc; q0 += 2) {
            float *d0 = ap + (size_t)q0 * kc * MR, *d1 = d0 + (size_t)kc * MR;
            const float *s = A + (size_t)(i0 + q0 * MR) * lda + k0;
            for (int k = 0; k < k16; k += 16) {
                __m512 r[16];
                for (int i = 0; i < 16; i++) r[i] = _mm512_mul_ps(va, _mm512_loadu_ps(s + (size_t)i * lda + k));
                tr16(r);
                for (int c = 0; c < 16; c++) {
                    _mm256_store_ps(d0 + (size_t)(k + c) * MR, _mm512_castps512_ps256(r[c]));
                    _mm256_store_ps(d1 + (size_t)(k + c) * MR, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r[c]), 1)));
                }
            }
            for (int i = 0; i < 16; i++)
                for (int k = k16; k < kc; k++) (i < MR ? d0 : d1)[(size_t)k * MR + i % MR] = alpha * s[(size_t)i * lda + k];
        }
    }
    for (int q = q0; q * MR < mc; q++) {
        float *d = ap + (size_t)q * kc * MR;
        for (int r = 0; r < MR; r++) {
            int i = q * MR + r;
            if (i >= mc) {
                for (int k = 0; k < kc; k++) d[(size_t)k * MR + r] = 0.0f;
            } else if (!ta) {
                const float *s = A + (size_t)(i0 + i) * lda + k0;
                for (int k = 0; k < kc; k++) d[(size_t)k * MR + r] = alpha * s[k];
            } else {
                for (int k = 0; k < kc; k++) d[(size_t)k * MR + r] = alpha * A[(size_t)(k0 + k) * lda + i0 + i];
            }
        }
    }
}

/* x = hi + mid + lo, each BF16 (round to nearest even): |x - hi - mid - lo| <= 2^-26 |x|.
 * Two parts (2^-17) were measured not enough: gemma2-tiny's residuals then missed the
 * fixture's 2e-4 by 6x (cancellation in the sums compounds over the blocks). */
static inline uint16_t f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* A panels for the BF16 dot kernel: [q][kc/2][3][MR] uint32, the hi, mid and lo pairs of
 * (alpha*a[r][2p], alpha*a[r][2p+1]). */
static void pack_a_pairs(const float *A, int ta, int lda, float alpha, int i0, int mc, int k0, int kc, uint32_t *ap) {
    int kp = (kc + 1) / 2;
    for (int q = 0; q * MR < mc; q++) {
        uint32_t *d = ap + (size_t)q * kp * 3 * MR;
        for (int r = 0; r < MR; r++) {
            int i = q * MR + r;
            for (int p = 0; p < kp; p++) {
                uint32_t h2 = 0, m2 = 0, l2 = 0;
                for (int e = 0; e < 2; e++) {
                    int k = 2 * p + e;
                    float x = 0.0f;
                    if (i < mc && k < kc) x = alpha * (ta ? A[(size_t)(k0 + k) * lda + i0 + i] : A[(size_t)(i0 + i) * lda + k0 + k]);
                    uint16_t h = f2bf(x), md = f2bf(x - bf2f(h)), l = f2bf(x - bf2f(h) - bf2f(md));
                    h2 |= (uint32_t)h << (16 * e);
                    m2 |= (uint32_t)md << (16 * e);
                    l2 |= (uint32_t)l << (16 * e);
                }
                d[(size_t)p * 3 * MR + r] = h2;
                d[(size_t)p * 3 * MR + MR + r] = m2;
                d[(size_t)p * 3 * MR + 2 * MR + r] = l2;
            }
        }
    }
}

/* C tile (mr x nr at C, row stride ldc) = beta*C + acc (beta 0: C not read). */
static inline __attribute__((always_inline)) void store_tile(__m512 c[MR][3], float *C, int ldc, int mr, int nr,
                                                             float beta) {
    __m512 vb = _mm512_set1_ps(beta);
    if (mr == MR && nr == NR) {
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < 3; v++) {
                float *p = C + (size_t)r * ldc + 16 * v;
                _mm512_storeu_ps(p, beta == 0.0f ? c[r][v] : _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), c[r][v]));
            }
        return;
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 3; v++) {
            int lanes = nr - 16 * v;
            if (lanes <= 0) break;
            __mmask16 mk = lanes >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << lanes) - 1);
            float *p = C + (size_t)r * ldc + 16 * v;
            __m512 o = beta == 0.0f ? c[r][v] : _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, p), c[r][v]);
            _mm512_mask_storeu_ps(p, mk, o);
        }
}

/* One 8 x 48 tile over kc: 768*kc FLOP from (8 + 48)*4*kc bytes of packed panels (3.4
 * FLOP/byte, served by L1/L2; each B panel is reused by MC/8 = 16 tiles, each A panel by
 * NC/48 = 32), so the FMA ports bound it: 24 FMAs per k. */
static inline __attribute__((always_inline)) void kern_f32_ld(int kc, const float *restrict a,
                                                               const float *restrict b, size_t ldbp, float *C,
                                                               int ldc, int mr, int nr, float beta) {
    __m512 c[MR][3];
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = c[r][2] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const float *bk = b + (size_t)k * ldbp;
        /* both callers' panel rows start on cache lines (packed, or B read in place only then) */
        __m512 b0 = _mm512_load_ps(bk), b1 = _mm512_load_ps(bk + 16), b2 = _mm512_load_ps(bk + 32);
        for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(a[(size_t)k * MR + r]);
            c[r][0] = _mm512_fmadd_ps(x, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(x, b1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(x, b2, c[r][2]);
        }
    }
    store_tile(c, C, ldc, mr, nr, beta);
}

/* a packed panel ([kc][NR], aligned) */
static void kern_f32(int kc, const float *restrict a, const float *restrict b, float *C, int ldc, int mr, int nr,
                     float beta) {
    kern_f32_ld(kc, a, b, NR, C, ldc, mr, nr, beta);
}

/* B [K, N] F32 read in place: row k of the panel is 48 contiguous floats of B's row k (the
 * values and order of the packed panel, so the same bits), without packing's copy of all of
 * B per call, which was ~10% of the CPU of batched decoding steps (~200 rows; the weights
 * come from memory either way).  Full panels on 64-byte boundaries only. */
static void kern_f32_direct(int kc, const float *restrict a, const float *restrict b, int ldb, float *C, int ldc,
                            int mr, float beta) {
    kern_f32_ld(kc, a, b, (size_t)ldb, C, ldc, mr, NR, beta); /* B and ldb 64-byte aligned */
}

/* The same tile from BF16 pairs: per pair of k, 3 panel loads and, per row, the lo, mid and
 * hi pairs of A against them (9 vdpbf16ps, each 32 products into 16 F32 sums: every product
 * of two BF16 is exact in F32, one rounding per accumulate as with an FMA).  72 vdpbf16ps
 * per 2 k against the F32 kernel's 48 FMAs: it pays only where vdpbf16ps runs faster than
 * 1.5 FMA (the probe decides). */
__attribute__((target("avx512bf16"))) static void kern_dot(int kp, const uint32_t *restrict a,
                                                           const uint32_t *restrict b, float *C, int ldc, int mr,
                                                           int nr, float beta) {
    __m512 c[MR][3];
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = c[r][2] = _mm512_setzero_ps();
    for (int q = 0; q < kp; q++) {
        const uint32_t *bq = b + (size_t)q * NR;
        __m512bh b0 = (__m512bh)_mm512_load_si512(bq), b1 = (__m512bh)_mm512_load_si512(bq + 16),
                 b2 = (__m512bh)_mm512_load_si512(bq + 32);
        const uint32_t *aq = a + (size_t)q * 3 * MR;
        for (int r = 0; r < MR; r++) {
            __m512bh h = (__m512bh)_mm512_set1_epi32((int)aq[r]), md = (__m512bh)_mm512_set1_epi32((int)aq[MR + r]),
                     l = (__m512bh)_mm512_set1_epi32((int)aq[2 * MR + r]);
            c[r][0] = _mm512_dpbf16_ps(_mm512_dpbf16_ps(_mm512_dpbf16_ps(c[r][0], l, b0), md, b0), h, b0);
            c[r][1] = _mm512_dpbf16_ps(_mm512_dpbf16_ps(_mm512_dpbf16_ps(c[r][1], l, b1), md, b1), h, b1);
            c[r][2] = _mm512_dpbf16_ps(_mm512_dpbf16_ps(_mm512_dpbf16_ps(c[r][2], l, b2), md, b2), h, b2);
        }
    }
    store_tile(c, C, ldc, mr, nr, beta);
}

/* One thread's columns [j0, j1) of C.  Packing moves ~(M*K*ceil(N/NC) + K*N) floats per call
 * against 2*M*N*K FLOP: a few % at 1024 rows (13% of a forward's CPU samples before the
 * register transposes), a large share at 16 rows, where the kernel only ties OpenBLAS. */
static void own_slice(int ta, int tb, int M, int K, float alpha, const float *A, int lda, const void *B, int bt,
                      int ldb, float beta, float *C, int ldc, int j0, int j1, int dot, void *bbuf, void *abuf) {
    /* B [K, N] F32 whose column panels are all full and start on cache lines: read in place
     * (kern_f32_direct).  A misaligned B (an mmap'd file whose data is not at a multiple of 64
     * bytes: the reference writer pads to 8) is packed instead: in place, every 64-byte load
     * splits two lines, and that was no faster than packing (whole evaluate at bench_eval's
     * shape, Zen 5, 4 runs each, user CPU: weights at 32 mod 64 read in place 7.70-7.94 s,
     * packed 7.77-8.07 s, from a 64-aligned file in place 7.45-7.69 s). */
    int direct = !dot && !tb && bt == SX_GEMM_F32 && (j1 - j0) % NR == 0 && ((uintptr_t)B & 63) == 0 &&
                 ldb % 16 == 0 && sx__gemm_direct();
    for (int jc = j0; jc < j1; jc += NC) {
        int nc = j1 - jc < NC ? j1 - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC, kp = (kc + 1) / 2;
            float be = pc == 0 ? beta : 1.0f;
            if (!direct) { /* else B is read in place */
                if (dot) pack_b_pairs(B, tb, ldb, pc, kc, jc, nc, bbuf);
                else pack_b(B, bt, tb, ldb, pc, kc, jc, nc, bbuf);
            }
            for (int ic = 0; ic < M; ic += MC) {
                int mc = M - ic < MC ? M - ic : MC;
                if (dot) pack_a_pairs(A, ta, lda, alpha, ic, mc, pc, kc, abuf);
                else pack_a(A, ta, lda, alpha, ic, mc, pc, kc, abuf);
                for (int p = 0; p * NR < nc; p++) {
                    int nr = nc - p * NR < NR ? nc - p * NR : NR;
                    for (int q = 0; q * MR < mc; q++) {
                        int mr = mc - q * MR < MR ? mc - q * MR : MR;
                        float *ct = C + (size_t)(ic + q * MR) * ldc + jc + p * NR;
                        if (dot)
                            kern_dot(kp, (const uint32_t *)abuf + (size_t)q * kp * 3 * MR,
                                     (const uint32_t *)bbuf + (size_t)p * kp * NR, ct, ldc, mr, nr, be);
                        else if (direct)
                            kern_f32_direct(kc, (const float *)abuf + (size_t)q * kc * MR,
                                            (const float *)B + (size_t)pc * ldb + jc + p * NR, ldb, ct, ldc, mr, be);
                        else
                            kern_f32(kc, (const float *)abuf + (size_t)q * kc * MR,
                                     (const float *)bbuf + (size_t)p * kc * NR, ct, ldc, mr, nr, be);
                    }
                }
            }
        }
    }
}

static int own(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const void *B, int bt,
               int ldb, float beta, float *C, int ldc, int dot, int maxT) {
    int npan = (N + NR - 1) / NR, T = 1;
#ifdef _OPENMP
    if (!omp_in_parallel() && (double)M * N * K >= (double)(1 << 20)) T = omp_get_max_threads();
#endif
    if (T > maxT) T = maxT;
    if (T > npan) T = npan;
    /* per thread: a KC x NC B block and an MC x KC A block (64-byte aligned: aligned loads) */
    size_t bsz = (size_t)KC * NC * sizeof(float), asz = (size_t)MC * KC * sizeof(float) * (dot ? 2 : 1); /* 3 pairs per 2 k: 1.5 */
    char *buf = aligned_alloc(64, (bsz + asz) * (size_t)T);
    if (!buf) return -1;
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        int p0 = (int)((int64_t)npan * t / T), p1 = (int)((int64_t)npan * (t + 1) / T);
        int j0 = p0 * NR, j1 = p1 * NR < N ? p1 * NR : N;
        char *mine = buf + (bsz + asz) * (size_t)t;
        if (j1 > j0) own_slice(ta, tb, M, K, alpha, A, lda, B, bt, ldb, beta, C, ldc, j0, j1, dot, mine, mine + bsz);
    }
    free(buf);
    return 0;
}

/* C = beta * C for an empty inner dimension (the BLAS convention). */
static void scale_c(int M, int N, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
}
#endif

void sx__gemm_own(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const void *B,
                  int btype, int ldb, float beta, float *C, int ldc, int bf16dot) {
    if (M <= 0 || N <= 0) return;
#ifdef __AVX512F__
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    __builtin_cpu_init();
    int dot = btype == SX_GEMM_BF16 &&
              (bf16dot < 0 ? sx__gemm_bf16dot() : bf16dot && __builtin_cpu_supports("avx512bf16"));
    if (own(ta, tb, M, N, K, alpha, A, lda, B, btype, ldb, beta, C, ldc, dot, 1 << 20) == 0) return;
#endif
    (void)bf16dot;
    gemm_blas(ta, tb, M, N, K, alpha, A, lda, B, btype, ldb, beta, C, ldc);
}

void sx__gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const void *B, int btype,
              int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
#ifdef __AVX512F__
    /* Own kernel vs OpenBLAS (its Haswell kernels here) by shape, measured one thread at a
     * time in GFLOP per CPU-second on Zen 5 (bench/gemm_candidates.sh): at 1024 rows own
     * 139-161 vs OpenBLAS 89-93; at 200 rows 131-136 vs 76-80; at 64 rows 105 vs 64; at 16
     * rows 59 vs 55 (there packing all of B costs about as much as the few rows' product).
     * So the own kernel from 16 rows up.  BF16 B always goes through it: the widening happens
     * in its packing.
     * Where OpenBLAS runs its AVX-512 kernels (SkylakeX core on an Intel Sapphire Rapids VM,
     * 2 threads, wall GFLOP/s, gemm_candidates.sh) it is the faster engine from a few hundred
     * rows: 1024 rows 324-345 vs own 248-291 (300-312 packed), the 256-row unembedding 284 vs
     * 233, 4096-row SAE encoder 345 vs 280, 200 rows a tie (281-289 vs 278-295); the own kernel
     * keeps the fewer rows (16: 146 vs 78; 64: 268 vs 226).  Whole `evaluate` at bench_eval's
     * shape: 5.25 s with OpenBLAS vs 6.2-6.9 s own.  So there OpenBLAS from 128 rows. */
    int eng = sx__gemm_engine();
    int own_shape = M >= 16 && N >= 32 && K >= 32 && !(M >= 128 && sx__blas_avx512());
    int use_own = eng == 1 || btype == SX_GEMM_BF16 || (eng == 0 && own_shape);
    if (use_own) {
        sx__gemm_own(ta, tb, M, N, K, alpha, A, lda, B, btype, ldb, beta, C, ldc, -1);
        return;
    }
#endif
    gemm_blas(ta, tb, M, N, K, alpha, A, lda, B, btype, ldb, beta, C, ldc);
}

/* ---------- the start-up probe: the dot kernel vs the widened one on one tile workload ---------- */
int sx__bf16_probe(double *t_dot, double *t_widen) {
    *t_dot = *t_widen = 0;
#ifdef __AVX512F__
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16")) return 0;
    /* 64 x 192 x 512 four times: both kernels' packing and tiles, in L2, 50 MFLOP each (~0.4 ms
     * widened on Zen 5); best of 5 each, alternating.  Timed in this thread's CPU time, not wall
     * time: on a loaded machine (12 runnable threads on 2 cores in CI) a wall-clock rep is
     * preempted more often than not, best-of-5 does not save it, and the choice (which sets the
     * output bits) flipped between processes. */
    enum { PM = 64, PN = 192, PK = 512 };
    float *a = malloc(sizeof(float) * PM * PK), *c = malloc(sizeof(float) * PM * PN);
    uint16_t *b = malloc(sizeof(uint16_t) * PN * PK);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    for (int i = 0; i < PM * PK; i++) a[i] = (float)((i * 37) % 101) * 0.01f - 0.5f;
    for (int i = 0; i < PN * PK; i++) b[i] = f2bf((float)((i * 53) % 97) * 0.01f - 0.5f);
    double best[2] = {1e30, 1e30};
    for (int rep = 0; rep < 5; rep++)
        for (int d = 0; d < 2; d++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            for (int it = 0; it < 4; it++) own(0, 1, PM, PN, PK, 1.0f, a, PK, b, SX_GEMM_BF16, PK, 0.0f, c, PN, !d, 1); /* one thread: no hand-off noise */
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            if (s < best[d]) best[d] = s;
        }
    free(a), free(b), free(c);
    *t_dot = best[0], *t_widen = best[1];
    return 1;
#else
    return 0;
#endif
}
