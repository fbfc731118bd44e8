/* kernels.c — row-wise and elementwise pieces of the transformer blocks, plus the matmul
 * (few rows here, more through core/gemm.h).  Everything here is memory bound (a few flops
 * per byte) except sx__matmul, which carries ~all of the 2*params flops per token. */
#include "models_isa.h"

#include <math.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
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

/* The sampler's radix layout (generate.c, "nucleus sampling in sorted order"): the key of p
 * is its bits when p > 0 (positive floats order like their bits), 0 for NaN, zeros and
 * negatives; level-0 bins are key >> 19 (the exponent and 4 mantissa bits: 16 per binade). */

/* The indices j (ascending) with p[j] > 0 and (bits of p[j]) >> 19 == bin, or with
 * p[j] <= 0 / NaN when bin == 0.  A pass over n floats, memory bound (n*4 bytes read, 4 per
 * member written).  AVX-512 compresses 16 lanes in a register and stores the whole vector
 * (in bounds: m <= j, so idx + m + 16 <= idx + n; compressing straight to memory was ~1.3x
 * slower on Zen 5, and branching past the blocks without a member was slower in
 * bench_sample on near-flat rows, where the branch is a coin toss); AVX2 and SSE2 (the generic path on x86-64) write the
 * hits of 8 or 4 lanes one by one (a bin holds a few percent of the vocabulary at most, and
 * the scalar branch-free append took ~1 ns per element); the scalar loop is the rest. */
int sx__bin_members(const float *p, int n, int bin, int *idx) {
    int m = 0, j = 0;
#if defined(__AVX512F__)
    const __m512i vb = _mm512_set1_epi32(bin), step = _mm512_set1_epi32(16);
    __m512i ji = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; j + 16 <= n; j += 16, ji = _mm512_add_epi32(ji, step)) {
        __m512 v = _mm512_loadu_ps(p + j);
        __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512i key = _mm512_maskz_mov_epi32(pos, _mm512_castps_si512(v)); /* 0 unless p > 0 */
        __mmask16 hit = _mm512_cmpeq_epi32_mask(_mm512_srli_epi32(key, 19), vb);
        _mm512_storeu_si512(idx + m, _mm512_maskz_compress_epi32(hit, ji));
        m += __builtin_popcount((unsigned)hit);
    }
#elif defined(__AVX2__)
    const __m256i vb = _mm256_set1_epi32(bin);
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(p + j);
        __m256i pos = _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ));
        __m256i key = _mm256_and_si256(pos, _mm256_castps_si256(v));
        __m256i eq = _mm256_cmpeq_epi32(_mm256_srli_epi32(key, 19), vb);
        for (unsigned hit = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(eq)); hit; hit &= hit - 1)
            idx[m++] = j + __builtin_ctz(hit);
    }
#elif defined(__SSE2__)
    const __m128i vb = _mm_set1_epi32(bin);
    for (; j + 4 <= n; j += 4) {
        __m128 v = _mm_loadu_ps(p + j);
        __m128i key = _mm_and_si128(_mm_castps_si128(_mm_cmpgt_ps(v, _mm_setzero_ps())), _mm_castps_si128(v));
        __m128i eq = _mm_cmpeq_epi32(_mm_srli_epi32(key, 19), vb);
        for (unsigned hit = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(eq)); hit; hit &= hit - 1)
            idx[m++] = j + __builtin_ctz(hit);
    }
#endif
    for (; j < n; j++) {
        uint32_t u;
        memcpy(&u, p + j, sizeof u);
        idx[m] = j;
        m += (int)((p[j] > 0 ? u : 0u) >> 19) == bin;
    }
    return m;
}

/* The sampler's level-0 histogram (model_internal.h). */

/* S[s], s < 1011: the sum of a(p[j]) over the j in slot s.  Slot 0: keys below 2^29
 * (p < 2^-63, mass 0); slot 1..1009: key >> 19 == 1023 + s (p in [2^-63, 1]); slot 1010:
 * p > 1 (+inf too).  a(p) = floor(q(p) / 2^sh) with q(p) = floor(min(p, 1) * 2^63) and
 * sh = max(min(E, 127) - 87, 0) (E: the slot's biased exponent), computed as
 * (int)(min(p, 1) * 2^(150 - max(E, 87))): a power-of-two scale of a float, exact, whose
 * result is below 2^24, truncated (generate.c turns the sums into the slots' masses).
 * The keys are computed a chunk at a time in vector lanes (no branches: the compiler
 * vectorises the loop on every path), then scattered by scalar adds into four interleaved
 * copies of the table: near-flat rows put most elements into a few slots, and one copy
 * would chain every add on the previous store to the same slot.  The scatter is the floor,
 * ~0.35 ns per element on Zen 5 (two loads and a read-modify-write). */
#define NH_SLOTS 1011
/* the copies' stride: 1152 * 8 bytes puts them 128, 256 and 384 slots apart modulo 4 KB, so
 * a load from one copy is never taken for a store to a nearby (hot) slot of another (4K
 * aliasing: a stride of 1011 was ~12% slower in bench_sample at V = 50257) */
#define NH_STRIDE 1152
#define NH_CHUNK 1024
static inline void nh_chunk(const float *pc, int c, uint64_t *w) {
    uint32_t slot[NH_CHUNK], add[NH_CHUNK];
    for (int i = 0; i < c; i++) {
        float f = pc[i], fc, fs;
        int32_t u;
        memcpy(&u, &f, sizeof u);
        int32_t k = u & -(int32_t)(f > 0);             /* the key */
        int32_t kc = k < 0x3f800000 ? k : 0x3f800000; /* min(p, 1) */
        int32_t e = kc >> 23, s = k >> 19;
        e = e > 87 ? e : 87;
        int32_t sc = (277 - e) << 23; /* 2^(150 - max(E, 87)) */
        memcpy(&fc, &kc, sizeof fc);
        memcpy(&fs, &sc, sizeof fs);
        s = s > 1023 ? s : 1023;
        s = s < 2032 ? s : 2032;
        slot[i] = (uint32_t)(k > 0x3f800000 ? NH_SLOTS - 1 : s - 1023);
        add[i] = (uint32_t)(int32_t)(fc * fs);
    }
    int i = 0;
    for (; i + 4 <= c; i += 4) {
        w[slot[i]] += add[i];
        w[NH_STRIDE + slot[i + 1]] += add[i + 1];
        w[2 * NH_STRIDE + slot[i + 2]] += add[i + 2];
        w[3 * NH_STRIDE + slot[i + 3]] += add[i + 3];
    }
    for (; i < c; i++) w[slot[i]] += add[i];
}

static inline void nh_sum(const uint64_t *w, uint64_t *S) {
    for (int s = 0; s < NH_SLOTS; s++) S[s] = w[s] + w[NH_STRIDE + s] + w[2 * NH_STRIDE + s] + w[3 * NH_STRIDE + s];
}

void sx__nucleus_hist(const float *p, int n, uint64_t *S) {
    uint64_t w[4 * NH_STRIDE];
    memset(w, 0, sizeof w);
    for (int j = 0; j < n; j += NH_CHUNK) nh_chunk(p + j, n - j < NH_CHUNK ? n - j : NH_CHUNK, w);
    nh_sum(w, S);
}

/* sx__fast_expf with its clamp as a bit select: the same bits for every input (checked over
 * all 2^32 floats, NaNs too; test_sample_ref compares the p it writes with sx__sum_exp's),
 * but the nested ?: of sx__fast_expf keeps GCC 12 from vectorising it on AVX2 and SSE2
 * (3.5 ns per element there; 0.6 ns on AVX2 and 1.3 on SSE2 like this, 0.33 on AVX-512
 * either way). */
static inline float nh_expf(float x) {
    uint32_t xb, lo = 0u - (x < -87.0f), hi = 0u - (x > 88.0f);
    memcpy(&xb, &x, sizeof xb);
    xb = (xb & ~(lo | hi)) | (lo & 0xc2ae0000u) | (hi & 0x42b00000u); /* -87.0f, 88.0f */
    memcpy(&x, &xb, sizeof x);
    return sx__expf_clamped(x);
}

/* p[j] = exp((l[j] - sub) * scale), as sx__sum_exp writes it (no sum), and the histogram of
 * p in the same pass: each chunk of p is histogrammed while it is in L1. */
void sx__nucleus_exp_hist(const float *l, int n, float sub, float scale, float *p, uint64_t *S) {
    uint64_t w[4 * NH_STRIDE];
    memset(w, 0, sizeof w);
    for (int j = 0; j < n; j += NH_CHUNK) {
        int c = n - j < NH_CHUNK ? n - j : NH_CHUNK;
        for (int i = 0; i < c; i++) p[j + i] = nh_expf((l[j + i] - sub) * scale);
        nh_chunk(p + j, c, w);
    }
    nh_sum(w, S);
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
