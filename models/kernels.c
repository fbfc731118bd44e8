/* kernels.c — row-wise and elementwise pieces of the transformer blocks, plus the matmul
 * (few rows here, more through core/gemm.h).  Everything here is memory bound (a few flops
 * per byte) except sx__matmul, which carries ~all of the 2*params flops per token. */
#include "models_isa.h"

#include <math.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "gemm.h"
#include "model_internal.h"

/* Few rows (KV-cached decoding): sgemm would repack the whole weight matrix for a handful of
 * rows, so stream W once instead, with the rows' accumulators in registers (the row count
 * is a compile-time constant in each specialisation).  Memory bound: in*out*4 bytes read
 * (F32 W) or in*out*2 (BF16 W, widened in registers: a shift per element; floor 2*n FLOP per
 * 2 bytes). */
#define SMALL_ROWS 8

/* Decoding steps are memory bound: a second thread gains <2x on an idle machine but each
 * parallel region waits for a descheduled partner on a busy one (measured 5x slower).
 * sx_generate turns the small-row parallelism off when the load average exceeds the CPUs
 * (sx__small_parallel sets sx__g_small_par, in dispatch.c: one flag for every kernel path). */
#define VB 16  /* one AVX-512 vector */
#define VBN 64 /* four vectors: 256 contiguous bytes of each W row per block (prefetch friendly) */

/* element i of W: F32 or BF16 (bf is a constant in each inlined copy, so the branch goes) */
static inline __attribute__((always_inline)) float wat(const void *w, int bf, size_t i) {
    if (!bf) return ((const float *)w)[i];
    uint32_t u = (uint32_t)((const uint16_t *)w)[i] << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void small_nt(int n, const float *x, int in, const void *w, int bf,
                                                           int out, float beta, float *y) {
    /* W [in, out]: outputs in blocks of VBN, rows in registers */
    int nb = out / VBN;
#pragma omp parallel for schedule(static) if (sx__g_small_par && (size_t)in * out > 65536)
    for (int b = 0; b < nb; b++) {
        int o0 = b * VBN;
        float acc[SMALL_ROWS][VBN] = {{0}};
        for (int i = 0; i < in; i++) {
            size_t wi = (size_t)i * out + o0;
            for (int r = 0; r < n; r++) {
                float xv = x[(size_t)r * in + i];
#pragma omp simd
                for (int k = 0; k < VBN; k++) acc[r][k] += xv * wat(w, bf, wi + k);
            }
        }
        for (int r = 0; r < n; r++)
            for (int k = 0; k < VBN; k++) {
                float *yo = y + (size_t)r * out + o0 + k;
                *yo = beta == 0.0f ? acc[r][k] : *yo * beta + acc[r][k];
            }
    }
    for (int o = nb * VBN; o < out; o++) /* tail */
        for (int r = 0; r < n; r++) {
            float s = 0;
            for (int i = 0; i < in; i++) s += x[(size_t)r * in + i] * wat(w, bf, (size_t)i * out + o);
            float *yo = y + (size_t)r * out + o;
            *yo = beta == 0.0f ? s : *yo * beta + s;
        }
}

static inline __attribute__((always_inline)) void small_t(int n, const float *x, int in, const void *w, int bf,
                                                          int out, float beta, float *y) {
    /* W [out, in]: one pass over each weight row, n vector accumulators */
    int ni = in / VB * VB;
#pragma omp parallel for schedule(static) if (sx__g_small_par && (size_t)in * out > 65536)
    for (int o = 0; o < out; o++) {
        size_t wo = (size_t)o * in;
        float acc[SMALL_ROWS][VB] = {{0}};
        for (int i = 0; i < ni; i += VB)
            for (int r = 0; r < n; r++) {
                const float *xr = x + (size_t)r * in + i;
#pragma omp simd
                for (int k = 0; k < VB; k++) acc[r][k] += xr[k] * wat(w, bf, wo + i + k);
            }
        for (int r = 0; r < n; r++) {
            float s = 0;
            for (int k = 0; k < VB; k++) s += acc[r][k];
            for (int i = ni; i < in; i++) s += x[(size_t)r * in + i] * wat(w, bf, wo + i);
            float *yo = y + (size_t)r * out + o;
            *yo = beta == 0.0f ? s : *yo * beta + s;
        }
    }
}

static void matmul_small(const float *x, int n, int in, const void *w, int bf, int out, int trans_w, float beta,
                         float *y) {
#define SMALL_CASE(N)                                                                              \
    case N:                                                                                        \
        if (trans_w) {                                                                             \
            if (bf) small_t(N, x, in, w, 1, out, beta, y);                                         \
            else small_t(N, x, in, w, 0, out, beta, y);                                            \
        } else {                                                                                   \
            if (bf) small_nt(N, x, in, w, 1, out, beta, y);                                        \
            else small_nt(N, x, in, w, 0, out, beta, y);                                           \
        }                                                                                          \
        break;
    switch (n) {
        SMALL_CASE(1) SMALL_CASE(2) SMALL_CASE(3) SMALL_CASE(4)
        SMALL_CASE(5) SMALL_CASE(6) SMALL_CASE(7) SMALL_CASE(8)
    }
#undef SMALL_CASE
}

void sx__matmul(const float *x, int n, int in, sx_wmat w, int out, int trans_w, float beta, float *y) {
    if (n <= 0) return;
    int bf = w.h != NULL;
    const void *wp = bf ? (const void *)w.h : (const void *)w.f;
    if (n <= SMALL_ROWS) {
        matmul_small(x, n, in, wp, bf, out, trans_w, beta, y);
        return;
    }
    /* 2*n*in*out flops over (n*in + in*out + n*out)*4 bytes: compute bound for n >~ 16; the
     * own AVX-512 kernel or OpenBLAS by shape (core/gemm.c) */
    sx__gemm(0, trans_w, n, out, in, 1.0f, x, in, wp, bf ? SX_GEMM_BF16 : SX_GEMM_F32, trans_w ? in : out, beta, y,
             out);
}

/* sum_j exp((l[j] - sub) * scale) over j < n, each term also stored in out[j] when out is not
 * NULL.  16 float lanes (the compiler vectorises the fixed-width inner loop; GCC 12 leaves
 * `omp simd` reductions scalar), flushed into a double every 1024 terms. */
double sx__sum_exp(const float *l, int n, float sub, float scale, float *out) {
    double total = 0;
    int j = 0;
    while (j + 16 <= n) {
        float acc[16] = {0};
        for (int blk = 0; blk < 64 && j + 16 <= n; blk++, j += 16)
            for (int q = 0; q < 16; q++) {
                float e = sx__fast_expf((l[j + q] - sub) * scale);
                if (out) out[j + q] = e;
                acc[q] += e;
            }
        for (int q = 0; q < 16; q++) total += acc[q];
    }
    for (; j < n; j++) {
        float e = sx__fast_expf((l[j] - sub) * scale);
        if (out) out[j] = e;
        total += e;
    }
    return total;
}

/* The indices j (ascending) with p[j] > 0 and (bits of p[j]) >> 21 == bin, or with
 * p[j] <= 0 / NaN when bin == 0: the sampler's level-0 radix bin (generate.c, pkey).  A pass
 * over n floats, memory bound (n*4 bytes read, 4 per member written); AVX-512 compresses 16
 * lanes per step (the scalar branch-free append was ~4% of an evaluation's CPU). */
int sx__bin_members(const float *p, int n, int bin, int *idx) {
    int m = 0, j = 0;
#ifdef __AVX512F__
    const __m512i vb = _mm512_set1_epi32(bin), step = _mm512_set1_epi32(16);
    __m512i ji = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; j + 16 <= n; j += 16, ji = _mm512_add_epi32(ji, step)) {
        __m512 v = _mm512_loadu_ps(p + j);
        __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512i key = _mm512_maskz_mov_epi32(pos, _mm512_castps_si512(v)); /* pkey: 0 unless p > 0 */
        __mmask16 hit = _mm512_cmpeq_epi32_mask(_mm512_srli_epi32(key, 21), vb);
        _mm512_mask_compressstoreu_epi32(idx + m, hit, ji);
        m += __builtin_popcount((unsigned)hit);
    }
#endif
    for (; j < n; j++) {
        uint32_t u;
        memcpy(&u, p + j, sizeof u);
        idx[m] = j;
        m += (int)((p[j] > 0 ? u : 0u) >> 21) == bin;
    }
    return m;
}

void sx__layernorm(const float *x, float *y, int n, int d, const float *w, const float *b, float eps) {
#pragma omp parallel for schedule(static) if (n > 16)
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        float mean = sx__sum(xr, d) / (float)d;
        float var = sx__sum_sq_dev(xr, d, mean) / (float)d;
        float inv = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < d; i++) yr[i] = (xr[i] - mean) * inv * w[i] + b[i];
    }
}

void sx__rmsnorm(const float *x, float *y, int n, int d, const float *w1, float eps) {
#pragma omp parallel for schedule(static) if (n > 16)
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        float ss = sx__sum_sq_dev(xr, d, 0.0f);
        float inv = 1.0f / sqrtf(ss / (float)d + eps);
        for (int i = 0; i < d; i++) yr[i] = xr[i] * inv * w1[i];
    }
}

/* gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3) */
static inline float gelu_tanh1(float x) {
    float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.0f + sx__fast_expf(-2.0f * u));
}

void sx__gelu_tanh(float *x, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] = gelu_tanh1(x[i]);
}

void sx__gelu_erf(float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void sx__relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

void sx__geglu(float *g, const float *u, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) g[i] = gelu_tanh1(g[i]) * u[i];
}

/* cap * tanh(x / cap), with the same branch-free tanh as the attention softcap (~2 ulp
 * relative; the 1 - 2 / (1 + exp(2y)) form loses small values to cancellation). */
void sx__softcap(float *x, size_t n, float cap) {
    float inv = 1.0f / cap;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] = cap * sx__tanhf(x[i] * inv);
}

void sx__fill_rows(float *y, int n, int d, const float *b) {
#pragma omp parallel for schedule(static) if ((size_t)n * d > 65536)
    for (int r = 0; r < n; r++) memcpy(y + (size_t)r * d, b, (size_t)d * sizeof(float));
}

void sx__add_bias(float *y, int n, int d, const float *b) {
#pragma omp parallel for schedule(static) if ((size_t)n * d > 65536)
    for (int r = 0; r < n; r++) {
        float *yr = y + (size_t)r * d;
        for (int i = 0; i < d; i++) yr[i] += b[i];
    }
}
