/* attention.c — causal softmax attention over packed rows (GPT-2 and Gemma-2 blocks).
 *
 * out[r, h*hd..] = sum_j softmax_j(softcap(scale * q_r . k_j)) v_j over the visible keys j of
 * row r (sequence s, position p): 0..p (global) or p-W+1..p (Gemma-2 sliding window).
 * Grouped-query attention: query head h reads kv head h / (n_heads / n_kv_heads).
 *
 * Cost floor: 4 * keys * head_dim flops per (row, head) (q.k and p.v), i.e. ~2 T^2 d per
 * sequence of T tokens and layer; bytes: K and V of one kv head (2 T hd floats) per task,
 * which stay in L1/L2 while every query row of the task streams over them.
 *
 * Work split: a task is (kv head, chunk of up to CHUNK consecutive rows of one sequence at
 * consecutive positions).  A task copies the keys it needs transposed ([hd][keys], so the
 * q.K products vectorise across keys), then walks its rows in tiles of up to 4 rows and the
 * group's query heads: scores (register tile 4 rows x 64 keys), softmax (branch-free exp),
 * P.V (register tile 4 rows x 64 output columns).  Chunks of fewer than 4 rows (decoding:
 * one row per sequence) skip the transpose and use direct dot products.  Every output is
 * computed by exactly one task in a fixed order, so results do not depend on the thread
 * count.  Scratch per thread: the transposed keys of the longest sequence (hd * n_ctx floats
 * at most, like the old per-thread score rows times hd).
 * Measured (GPT-2-small shape, 8 x 128 tokens, 2 threads): 15 -> 80-100 GFLOP/s. */
#include "models_isa.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
/* Kernel paths, one per build of this file (models_isa.h): AVX-512 intrinsics; else GNU C
 * vector extensions with 8-float vectors (the avx2 build, GCC or Clang); else plain loops
 * (8-float vectors lowered to SSE ran 4x slower than these).  SAETOX_SIMD picks one. */
#if defined(__AVX512F__)
#define ATT_AVX512 1
#include <immintrin.h>
#elif defined(__GNUC__) && defined(__AVX__)
#define ATT_VEC 1
#endif

#include "model_internal.h"

#define CHUNK 128 /* rows per task: they share one transpose of the keys; long sequences still split */
#define TILE 4    /* query rows per register tile */
#define VL 16     /* floats per vector (and the alignment unit of the scratch) */

static inline size_t round_vl(size_t x) { return (x + VL - 1) / VL * VL; }

/* The keys (or values) of one task, relative to its first visible position: rows j < split
 * at a + j*stride (a prompt prefix shared by the prompt's samples, sx_kv.pre_off), the rest at
 * b + (j - split)*stride (the sequence's own rows).  split 0: one contiguous run at b. */
typedef struct seg2 {
    const float *a, *b;
    int split;
} seg2;
static inline const float *seg_row(seg2 g, int j, int64_t stride) {
    return j < g.split ? g.a + j * stride : g.b + (j - g.split) * stride;
}

typedef struct att_args {
    const sx_rowset *rs;
    const float *q, *kb, *vb;
    float *out;
    const int *seq_off, *pre_off, *pre_len;
    int64_t kv_stride; /* floats between consecutive positions in K/V */
    int q_stride, nh, hd, grp, window;
    float scale, cap;
} att_args;

/* ---------- kernels: scores S[r][ja..jb) = scale * q_r . KT[.][j] and O_r = sum_j S[r][j] V_j ---------- */
#if defined(__GNUC__)
#define AI static inline __attribute__((always_inline))
#else
#define AI static inline
#endif

#if defined(ATT_AVX512)

/* R rows x NV*16 keys; KT columns and S rows 64-byte aligned. */
AI void qk_k(const int R, const int NV, const float *const *qp, const float *kt, size_t ld, int hd, float scale,
             float *s, size_t lds) {
    __m512 acc[TILE][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int i = 0; i < hd; i++) {
        const float *k = kt + (size_t)i * ld;
        __m512 kv[4];
        for (int v = 0; v < NV; v++) kv[v] = _mm512_load_ps(k + VL * v);
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(qp[r][i]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(b, kv[v], acc[r][v]);
        }
    }
    __m512 sc = _mm512_set1_ps(scale);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) _mm512_store_ps(s + r * lds + VL * v, _mm512_mul_ps(acc[r][v], sc));
}

#define QK_NV(RR)                                                                 \
    switch (nv) {                                                                 \
    case 1: qk_k(RR, 1, qp, KT + j, ld, hd, scale, S + j, ld); break;             \
    case 2: qk_k(RR, 2, qp, KT + j, ld, hd, scale, S + j, ld); break;             \
    case 3: qk_k(RR, 3, qp, KT + j, ld, hd, scale, S + j, ld); break;             \
    default: qk_k(RR, 4, qp, KT + j, ld, hd, scale, S + j, ld); break;            \
    }

/* ja, jb multiples of 16 */
static void qk_tile(int R, const float *const *qp, const float *KT, size_t ld, int hd, float scale, int ja, int jb,
                    float *S) {
    for (int j = ja; j < jb;) {
        int nv = (jb - j) / VL;
        nv = nv > 4 ? 4 : nv;
        switch (R) {
        case 1: QK_NV(1); break;
        case 2: QK_NV(2); break;
        case 3: QK_NV(3); break;
        default: QK_NV(4); break;
        }
        j += VL * nv;
    }
}

/* R rows x NV*16 output columns starting at column c; keys ja..jb inclusive.  mask != 0xffff
 * only with NV == 1 (the head_dim % 16 tail). */
AI void pv_k(const int R, const int NV, __mmask16 mask, const float *S, size_t lds, seg2 V, int64_t vs,
             int ja, int jb, const float *inv, float *const *op, int c) {
    __m512 acc[TILE][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int j = ja; j <= jb; j++) {
        const float *vr = seg_row(V, j, vs) + c;
        __m512 vv[4];
        for (int v = 0; v < NV; v++) vv[v] = _mm512_maskz_loadu_ps(mask, vr + VL * v);
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(S[r * lds + j]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(b, vv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++) {
        __m512 w = _mm512_set1_ps(inv[r]);
        for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(op[r] + c + VL * v, mask, _mm512_mul_ps(acc[r][v], w));
    }
}

#define PV_R(NV, MASK)                                                                      \
    switch (R) {                                                                            \
    case 1: pv_k(1, NV, MASK, S, ld, V0, vs, ja, jb, inv, op, c); break;                    \
    case 2: pv_k(2, NV, MASK, S, ld, V0, vs, ja, jb, inv, op, c); break;                    \
    case 3: pv_k(3, NV, MASK, S, ld, V0, vs, ja, jb, inv, op, c); break;                    \
    default: pv_k(4, NV, MASK, S, ld, V0, vs, ja, jb, inv, op, c); break;                   \
    }

static void pv_tile(int R, const float *S, size_t ld, seg2 V0, int64_t vs, int ja, int jb, int hd,
                    const float *inv, float *const *op) {
    int c = 0;
    for (; c + 4 * VL <= hd; c += 4 * VL) PV_R(4, 0xffff);
    for (; c + VL <= hd; c += VL) PV_R(1, 0xffff);
    if (c < hd) {
        __mmask16 m = (__mmask16)((1u << (hd - c)) - 1);
        PV_R(1, m);
    }
}

/* KT[i][j] = K[j][i] for j < nk, 0 for nk <= j < ld (ld = round_vl(nk)): gathers of 16 keys. */
static void transpose_keys(seg2 K, int64_t ks, int nk, int hd, float *KT, size_t ld) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)ks));
    for (int j = 0; j < nk; j += VL) {
        int m = nk - j;
        __mmask16 mk = m >= VL ? (__mmask16)0xffff : (__mmask16)((1u << m) - 1);
        /* lanes before the split gather from the prefix, the others from the own rows */
        __mmask16 ma = _mm512_mask_cmplt_epi32_mask(mk, lane, _mm512_set1_epi32(K.split - j)), mb = mk & ~ma;
        const float *ba = K.a + j * ks, *bb = K.b + (j - K.split) * ks;
        for (int i = 0; i < hd; i++) {
            __m512 x = _mm512_setzero_ps();
            if (ma) x = _mm512_mask_i32gather_ps(x, ma, idx, ba + i, 4);
            if (mb) x = _mm512_mask_i32gather_ps(x, mb, idx, bb + i, 4);
            _mm512_store_ps(KT + (size_t)i * ld + j, x);
        }
    }
}

#elif defined(ATT_VEC)
/* GNU vector extensions: the same register tiles as the AVX-512 kernels, with 8-float
 * vectors (two per 16 keys) and tiles of 4 rows x 16 keys / columns, which fit 16 registers. */
typedef float v8 __attribute__((vector_size(32)));
static inline v8 ld8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

AI void qk_g(const int R, const float *const *qp, const float *kt, size_t ld, int hd, float scale, float *s,
             size_t lds) {
    v8 acc[TILE][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = (v8){0};
    for (int i = 0; i < hd; i++) {
        v8 k0 = ld8(kt + (size_t)i * ld), k1 = ld8(kt + (size_t)i * ld + 8);
        for (int r = 0; r < R; r++) {
            float b = qp[r][i];
            acc[r][0] += b * k0;
            acc[r][1] += b * k1;
        }
    }
    for (int r = 0; r < R; r++) {
        st8(s + r * lds, acc[r][0] * scale);
        st8(s + r * lds + 8, acc[r][1] * scale);
    }
}

static void qk_tile(int R, const float *const *qp, const float *KT, size_t ld, int hd, float scale, int ja, int jb,
                    float *S) {
    for (int j = ja; j < jb; j += VL) switch (R) {
        case 1: qk_g(1, qp, KT + j, ld, hd, scale, S + j, ld); break;
        case 2: qk_g(2, qp, KT + j, ld, hd, scale, S + j, ld); break;
        case 3: qk_g(3, qp, KT + j, ld, hd, scale, S + j, ld); break;
        default: qk_g(4, qp, KT + j, ld, hd, scale, S + j, ld); break;
        }
}

/* R rows x NV*8 columns from column c */
AI void pv_g(const int R, const int NV, const float *S, size_t lds, seg2 V, int64_t vs, int ja, int jb,
             const float *inv, float *const *op, int c) {
    v8 acc[TILE][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = (v8){0};
    for (int j = ja; j <= jb; j++) {
        const float *vr = seg_row(V, j, vs) + c;
        v8 v0 = ld8(vr), v1 = NV > 1 ? ld8(vr + 8) : (v8){0};
        for (int r = 0; r < R; r++) {
            float b = S[r * lds + j];
            acc[r][0] += b * v0;
            if (NV > 1) acc[r][1] += b * v1;
        }
    }
    for (int r = 0; r < R; r++) {
        st8(op[r] + c, acc[r][0] * inv[r]);
        if (NV > 1) st8(op[r] + c + 8, acc[r][1] * inv[r]);
    }
}

#define PVG_R(NV)                                                                   \
    switch (R) {                                                                    \
    case 1: pv_g(1, NV, S, ld, V0, vs, ja, jb, inv, op, c); break;                  \
    case 2: pv_g(2, NV, S, ld, V0, vs, ja, jb, inv, op, c); break;                  \
    case 3: pv_g(3, NV, S, ld, V0, vs, ja, jb, inv, op, c); break;                  \
    default: pv_g(4, NV, S, ld, V0, vs, ja, jb, inv, op, c); break;                 \
    }

static void pv_tile(int R, const float *S, size_t ld, seg2 V0, int64_t vs, int ja, int jb, int hd,
                    const float *inv, float *const *op) {
    int c = 0;
    for (; c + 16 <= hd; c += 16) PVG_R(2);
    for (; c + 8 <= hd; c += 8) PVG_R(1);
    for (int r = 0; r < R && c < hd; r++) { /* the last head_dim % 8 columns */
        for (int i = c; i < hd; i++) {
            float o = 0;
            for (int j = ja; j <= jb; j++) o += S[r * ld + j] * seg_row(V0, j, vs)[i];
            op[r][i] = o * inv[r];
        }
    }
}

static void transpose_keys(seg2 K, int64_t ks, int nk, int hd, float *KT, size_t ld) {
    for (int j = 0; j < nk; j++) {
        const float *kj = seg_row(K, j, ks);
        for (int i = 0; i < hd; i++) KT[(size_t)i * ld + j] = kj[i];
    }
    for (int i = 0; i < hd; i++)
        for (size_t j = (size_t)nk; j < ld; j++) KT[(size_t)i * ld + j] = 0;
}

#else /* plain C: the same data flow, loops left to the compiler's vectoriser */

static void qk_tile(int R, const float *const *qp, const float *KT, size_t ld, int hd, float scale, int ja, int jb,
                    float *S) {
    for (int r = 0; r < R; r++) {
        float *s = S + (size_t)r * ld;
        for (int j = ja; j < jb; j++) s[j] = 0;
        for (int i = 0; i < hd; i++) {
            float b = qp[r][i];
            const float *k = KT + (size_t)i * ld;
#pragma omp simd
            for (int j = ja; j < jb; j++) s[j] += b * k[j];
        }
#pragma omp simd
        for (int j = ja; j < jb; j++) s[j] *= scale;
    }
}

static void pv_tile(int R, const float *S, size_t ld, seg2 V0, int64_t vs, int ja, int jb, int hd,
                    const float *inv, float *const *op) {
    for (int r = 0; r < R; r++) {
        float *o = op[r];
        const float *s = S + (size_t)r * ld;
        for (int i = 0; i < hd; i++) o[i] = 0;
        for (int j = ja; j <= jb; j++) {
            const float *vr = seg_row(V0, j, vs);
            float w = s[j];
#pragma omp simd
            for (int i = 0; i < hd; i++) o[i] += w * vr[i];
        }
        for (int i = 0; i < hd; i++) o[i] *= inv[r];
    }
}

static void transpose_keys(seg2 K, int64_t ks, int nk, int hd, float *KT, size_t ld) {
    for (int j = 0; j < nk; j++) {
        const float *kj = seg_row(K, j, ks);
        for (int i = 0; i < hd; i++) KT[(size_t)i * ld + j] = kj[i];
    }
    for (int i = 0; i < hd; i++)
        for (size_t j = (size_t)nk; j < ld; j++) KT[(size_t)i * ld + j] = 0;
}
#endif

#if defined(ATT_AVX512)
/* sx__fast_expf on 16 lanes (scalef applies the 2^n exactly). */
static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504089f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, fn);
}

/* max and exp passes over s[a..b] with masked tails (the scalar epilogues cost as much as
 * the vector body for rows of ~64 keys) */
static float max_exp_row(float *s, int a, int b) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int j = a; j <= b; j += VL) {
        int m = b - j + 1;
        __mmask16 k = m >= VL ? (__mmask16)0xffff : (__mmask16)((1u << m) - 1);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, s + j));
    }
    __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
    for (int j = a; j <= b; j += VL) {
        int m = b - j + 1;
        __mmask16 k = m >= VL ? (__mmask16)0xffff : (__mmask16)((1u << m) - 1);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), vm));
        _mm512_mask_storeu_ps(s + j, k, e);
        sum = _mm512_mask_add_ps(sum, k, sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}
#else
static float max_exp_row(float *s, int a, int b) {
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = a; j <= b; j++) mx = s[j] > mx ? s[j] : mx;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = a; j <= b; j++) {
        float e = sx__fast_expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    return sum;
}
#endif

/* q . k over head_dim floats, for run_chunk's few-row chunks.  AVX-512: a fixed order (the
 * one GCC gave the old omp-simd loop here, so the outputs did not move, and one that does
 * not depend on the compiler): 16 lane sums over the whole vectors, the head_dim % 16 tail
 * into lane 0, then the lanes added in order.  Other paths: the compiler's reduction, in one
 * out-of-line copy.  decode_row calls the same function, so both compute the same bits. */
#if defined(ATT_AVX512)
static inline float dot_hd(const float *q, const float *k, int hd) {
    __m512 acc = _mm512_setzero_ps();
    int i = 0;
    for (; i + VL <= hd; i += VL)
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(k + i)));
    float l[VL], d = 0;
    _mm512_storeu_ps(l, acc);
    for (; i < hd; i++) l[0] = l[0] + q[i] * k[i];
    for (int j = 0; j < VL; j++) d = d + l[j];
    return d;
}
#else
static __attribute__((noinline)) float dot_hd(const float *q, const float *k, int hd) {
    float d = 0;
#pragma omp simd reduction(+ : d)
    for (int i = 0; i < hd; i++) d += q[i] * k[i];
    return d;
}
#endif

/* o[0..hd) += w * v[0..hd): one key's share of P.V for one head, the same operation per
 * element as pv_tile's register tiles (so decode_row matches run_chunk bit for bit).  hd: a
 * multiple of 16 (AVX-512) or 8 (vectors); any (plain C). */
static inline void pv_axpy(float *o, float w, const float *v, int hd) {
#if defined(ATT_AVX512)
    __m512 b = _mm512_set1_ps(w);
    for (int c = 0; c < hd; c += VL)
        _mm512_storeu_ps(o + c, _mm512_fmadd_ps(b, _mm512_loadu_ps(v + c), _mm512_loadu_ps(o + c)));
#elif defined(ATT_VEC)
    for (int c = 0; c < hd; c += 8) {
        v8 acc = ld8(o + c);
        acc += w * ld8(v + c);
        st8(o + c, acc);
    }
#else
#pragma omp simd
    for (int i = 0; i < hd; i++) o[i] += w * v[i];
#endif
}

static inline void scale_hd(float *o, float w, int hd) {
#if defined(ATT_AVX512)
    for (int c = 0; c < hd; c += VL) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), _mm512_set1_ps(w)));
#elif defined(ATT_VEC)
    for (int c = 0; c < hd; c += 8) st8(o + c, ld8(o + c) * w);
#else
    for (int i = 0; i < hd; i++) o[i] *= w;
#endif
}

/* Row softmax over keys a..b of s (in place, unnormalised exp; returns 1/sum), softcap
 * first; zeros in [ta, a) and (b, tb] so a tile's P.V can sweep ta..tb for all its rows. */
static float softmax_row(float *s, int a, int b, int ta, int tb, float cap) {
    if (cap > 0) {
        float inv = 1.0f / cap;
#pragma omp simd
        for (int j = a; j <= b; j++) s[j] = cap * sx__tanhf(s[j] * inv);
    }
    float sum = max_exp_row(s, a, b);
    for (int j = ta; j < a; j++) s[j] = 0;
    for (int j = b + 1; j <= tb; j++) s[j] = 0;
    return 1.0f / sum;
}

/* One task: kv head g, rows r0..r1-1 (one sequence, consecutive positions).  tw: this
 * thread's scratch, 64-byte aligned, hd*ld + TILE*ld floats. */
static void run_chunk(const att_args *A, int r0, int r1, int g, float *tw) {
    const sx_rowset *rs = A->rs;
    int hd = A->hd, W = A->window, nr = r1 - r0, p0 = rs->pos[r0];
    int lo = W > 0 && p0 - W + 1 > 0 ? p0 - W + 1 : 0;
    int nk = p0 + nr - 1 - lo + 1;
    size_t ld = round_vl((size_t)nk);
    int64_t ks = A->kv_stride, gh = (int64_t)g * hd;
    int sq = rs->seq[r0], pl = A->pre_len ? A->pre_len[sq] : 0; /* positions < pl: the shared prefix */
    seg2 K0, V0;                                                  /* keys/values from position lo */
    if (lo >= pl) {
        int64_t o = ((int64_t)A->seq_off[sq] + lo - pl) * ks + gh;
        K0 = (seg2){A->kb + o, A->kb + o, 0}, V0 = (seg2){A->vb + o, A->vb + o, 0};
    } else {
        int64_t oa = ((int64_t)A->pre_off[sq] + lo) * ks + gh, ob = (int64_t)A->seq_off[sq] * ks + gh;
        K0 = (seg2){A->kb + oa, A->kb + ob, pl - lo}, V0 = (seg2){A->vb + oa, A->vb + ob, pl - lo};
    }
    float *KT = tw, *S = tw + (size_t)hd * ld;
    int transposed = nr >= TILE;
    if (transposed) transpose_keys(K0, ks, nk, hd, KT, ld);
    for (int i0 = 0; i0 < nr; i0 += TILE) {
        int R = nr - i0 < TILE ? nr - i0 : TILE, a[TILE], b[TILE];
        for (int r = 0; r < R; r++) {
            int p = p0 + i0 + r;
            a[r] = (W > 0 && p - W + 1 > lo ? p - W + 1 : lo) - lo; /* visible keys, relative to lo */
            b[r] = p - lo;
        }
        int ta = a[0], tb = b[R - 1];
        for (int t = 0; t < A->grp; t++) {
            int h = g * A->grp + t;
            const float *qp[TILE];
            float *op[TILE], inv[TILE];
            for (int r = 0; r < R; r++) {
                qp[r] = A->q + (size_t)(r0 + i0 + r) * A->q_stride + (size_t)h * hd;
                op[r] = A->out + (size_t)(r0 + i0 + r) * A->nh * hd + (size_t)h * hd;
            }
            if (transposed) {
                qk_tile(R, qp, KT, ld, hd, A->scale, ta / VL * VL, (int)round_vl((size_t)tb + 1), S);
            } else {
                for (int r = 0; r < R; r++) {
                    float *s = S + (size_t)r * ld;
                    for (int j = a[r]; j <= b[r]; j++) s[j] = dot_hd(qp[r], seg_row(K0, j, ks), hd) * A->scale;
                }
            }
            for (int r = 0; r < R; r++) inv[r] = softmax_row(S + (size_t)r * ld, a[r], b[r], ta, tb, A->cap);
            pv_tile(R, S, ld, V0, ks, ta, tb, hd, inv, op);
        }
    }
}

/* One decoding row (a chunk of one row), all heads: the same arithmetic per (head, key) as
 * run_chunk's few-row path (dot_hd, softmax_row, pv_axpy in key order), in key-major order.
 * Why: a row's keys and values are whole rows of the cache (kd floats per position, the
 * sequence's positions contiguous), so walking keys outer and heads inner streams them
 * sequentially, where a task per head reads hd floats of every kd and the prefetchers miss;
 * at the evaluation's shape (200 rows x ~25 keys x 12 layers per step, 3 KB per key and
 * value) attention was latency bound: ~1 GFLOP/s.  Floor: bandwidth, 2 * keys * kd * 4 bytes
 * per row and layer; at the sweep's shape it runs near it (loads of K and V rows take most
 * of its samples).  Scratch: S, n_heads x ld scores; the output accumulates in place. */
static void decode_row(const att_args *A, int r, float *tw) {
    const sx_rowset *rs = A->rs;
    int hd = A->hd, nh = A->nh, grp = A->grp, W = A->window, p = rs->pos[r];
    int lo = W > 0 && p - W + 1 > 0 ? p - W + 1 : 0, nk = p - lo + 1;
    size_t ld = round_vl((size_t)nk);
    int64_t ks = A->kv_stride;
    int sq = rs->seq[r], pl = A->pre_len ? A->pre_len[sq] : 0;
    seg2 K0, V0; /* keys/values from position lo, kv head 0 */
    if (lo >= pl) {
        int64_t o = ((int64_t)A->seq_off[sq] + lo - pl) * ks;
        K0 = (seg2){A->kb + o, A->kb + o, 0}, V0 = (seg2){A->vb + o, A->vb + o, 0};
    } else {
        int64_t oa = ((int64_t)A->pre_off[sq] + lo) * ks, ob = (int64_t)A->seq_off[sq] * ks;
        K0 = (seg2){A->kb + oa, A->kb + ob, pl - lo}, V0 = (seg2){A->vb + oa, A->vb + ob, pl - lo};
    }
    const float *q = A->q + (size_t)r * A->q_stride;
    float *S = tw, *out = A->out + (size_t)r * nh * hd;
    for (int j = 0; j < nk; j++) {
        const float *kj = seg_row(K0, j, ks);
        for (int h = 0; h < nh; h++)
            S[(size_t)h * ld + j] = dot_hd(q + (size_t)h * hd, kj + (size_t)(h / grp) * hd, hd) * A->scale;
    }
    float inv[SX__ATT_MAX_HEADS];
    for (int h = 0; h < nh; h++) inv[h] = softmax_row(S + (size_t)h * ld, 0, nk - 1, 0, nk - 1, A->cap);
    memset(out, 0, (size_t)nh * hd * sizeof *out);
    for (int j = 0; j < nk; j++) {
        const float *vj = seg_row(V0, j, ks);
        for (int h = 0; h < nh; h++)
            pv_axpy(out + (size_t)h * hd, S[(size_t)h * ld + j], vj + (size_t)(h / grp) * hd, hd);
    }
    for (int h = 0; h < nh; h++) scale_hd(out + (size_t)h * hd, inv[h], hd);
}

/* decode_row's preconditions: whole vectors per head, heads that fit its table */
static int decode_rows_ok(const att_args *A) {
#if defined(ATT_AVX512)
    int unit = VL;
#elif defined(ATT_VEC)
    int unit = 8;
#else
    int unit = 1;
#endif
    return sx__att_decode_rows && A->hd % unit == 0 && A->nh <= SX__ATT_MAX_HEADS;
}

/* Scratch layout: chunk table (n+1 ints), then per thread [hd][ld] transposed keys and
 * [TILE][ld] scores (run_chunk) or [n_heads][ld] scores (decode_row), ld = keys of the
 * longest chunk rounded up to 16. */
static size_t per_thread(const sx_model_config *c, const sx_rowset *rs) {
    int maxp = 0;
    for (int r = 0; r < rs->n; r++) maxp = rs->pos[r] > maxp ? rs->pos[r] : maxp;
    size_t ld = round_vl((size_t)maxp + 1);
    size_t a = ((size_t)c->head_dim + TILE) * ld, b = (size_t)c->n_heads * ld;
    return round_vl(a > b ? a : b);
}

size_t sx__attention_ws(const sx_model_config *c, const sx_rowset *rs) {
    return round_vl((size_t)rs->n + 1) + VL + (size_t)sx_get_threads() * per_thread(c, rs);
}

void sx__attention(const sx_model_config *c, int layer, const sx_rowset *rs, const float *q, int q_stride,
                   const sx_kv *kv, float *out, float *ws) {
    int n = rs->n;
    if (n <= 0) return;
    att_args A = {rs,
                  q,
                  kv->k + layer * kv->layer_stride,
                  kv->v + layer * kv->layer_stride,
                  out,
                  kv->seq_off,
                  kv->pre_off,
                  kv->pre_len,
                  kv->row_stride,
                  q_stride,
                  c->n_heads,
                  c->head_dim,
                  c->n_heads / c->n_kv_heads,
                  (c->arch == SX_ARCH_GEMMA2 && layer % 2 == 0) ? c->sliding_window : 0,
                  c->arch == SX_ARCH_GEMMA2 ? 1.0f / sqrtf(c->query_pre_attn_scalar) : 1.0f / sqrtf((float)c->head_dim),
                  c->arch == SX_ARCH_GEMMA2 ? c->attn_softcap : 0.0f};
    /* chunks: runs of consecutive positions of one sequence, cut every CHUNK rows */
    int *cs = (int *)ws, nch = 0;
    double work = 0; /* ~ multiply-adds, to keep small (decoding) calls out of a parallel region */
    for (int r = 0; r < n;) {
        int s = r++;
        while (r < n && r - s < CHUNK && rs->seq[r] == rs->seq[s] && rs->pos[r] == rs->pos[r - 1] + 1) r++;
        cs[nch++] = s;
        int plast = rs->pos[r - 1];
        work += (double)(r - s) * (A.window > 0 && A.window < plast + 1 ? A.window : plast + 1);
    }
    cs[nch] = n;
    work *= (double)A.nh * A.hd;
    size_t per = per_thread(c, rs);
    float *tws = ws + round_vl((size_t)n + 1);
    tws += (VL - ((uintptr_t)tws / sizeof(float)) % VL) % VL; /* 64-byte align */
    /* decoding (every chunk one row): a task per row, all heads (decode_row); else a task per
     * (chunk, kv head), later chunks of a sequence (more keys) handed out first */
    int rows1 = nch == n && decode_rows_ok(&A);
    int nkv = rows1 ? 1 : c->n_kv_heads, ntask = nch * nkv, nthr = sx_get_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthr) if (work > 2e5 && ntask > 1)
    for (int t = 0; t < ntask; t++) {
        int ci = nch - 1 - t / nkv, g = t % nkv;
#ifdef _OPENMP
        float *tw = tws + (size_t)omp_get_thread_num() * per;
#else
        float *tw = tws;
#endif
        if (rows1) decode_row(&A, cs[ci], tw);
        else run_chunk(&A, cs[ci], cs[ci + 1], g, tw);
    }
}
