/* model_internal.h — private layout of sx_model shared by the models/ source files
 * (config.c, weights.c, kernels.c, forward.c, generate.c, hooks.c).  Not a public header. */
#ifndef SAETOX_MODEL_INTERNAL_H
#define SAETOX_MODEL_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h" /* sx__alloc_big (core) */
#include "models.h"

typedef enum { SX_ACT_GELU_TANH = 0, SX_ACT_GELU_ERF = 1, SX_ACT_RELU = 2 } sx_act;

/* A weight matrix, row-major: F32 (f) or BF16 (h, the raw bits) — exactly one is set.  Both
 * point straight into the safetensors mapping when the file's dtype is F32 (4-byte aligned)
 * or BF16 (2-byte aligned): a BF16 checkpoint stays BF16 in memory (Gemma-2-2B: 5.2 GB, not
 * 10.5 GB as F32) and the products widen it on the fly (core/gemm.h).  F16 and unaligned
 * tensors become owned F32 copies. */
typedef struct sx_wmat {
    const float *f;
    const uint16_t *h;
} sx_wmat;

/* element i of a weight matrix as F32 */
static inline float sx__wget(sx_wmat w, size_t i) {
    if (w.f) return w.f[i];
    uint32_t u = (uint32_t)w.h[i] << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Vectors (norms, biases) are F32; matrices are sx_wmat. */
typedef struct sx_layer_w {
    /* GPT-2 (Conv1D: [in, out], y = x W + b) */
    const float *ln1_w, *ln1_b, *attn_b, *proj_b;
    const float *ln2_w, *ln2_b, *fc_b, *fc2_b;
    sx_wmat attn_w, proj_w, fc_w, fc2_w;
    /* Gemma-2 (Linear: [out, in], y = x W^T); norm weights stored as (1 + w) */
    const float *in_norm, *post_attn_norm, *pre_ffw_norm, *post_ffw_norm;
    sx_wmat q_w, k_w, v_w, o_w, gate_w, up_w, down_w;
} sx_layer_w;

#define SX__BIG_SLOTS 8
struct sx_model {
    sx_model_config cfg;
    sx_act act;
    char dir[4096];
    sx_safetensors *shards;
    int n_shards;
    sx_wmat embed;        /* [vocab, d]: wte / embed_tokens */
    sx_wmat unembed;      /* [vocab, d]: lm_head.weight or == embed (tied) */
    const float *unembed_f32; /* F32 copy made by sx_model_unembed_weights for a BF16 model */
    const float *wpe;     /* GPT-2 [n_ctx, d] */
    const float *lnf_w, *lnf_b; /* ln_f (GPT-2) or (1 + model.norm.weight) (Gemma-2) */
    sx_layer_w *layers;
    float *rope_cos, *rope_sin; /* Gemma-2 [n_rope_pos, head_dim/2] */
    int n_rope_pos;
    float embed_scale;          /* Gemma-2: sqrt(hidden) in fp32; GPT-2: 1 */
    /* owned F32 copies */
    float **owned;
    int n_owned, cap_owned;
    /* grow-only scratch (the model is not thread safe) */
    float *ws[12];
    size_t ws_cap[12];
    int *iws[4];
    size_t iws_cap[4];
    /* big blocks (sx__big_take/give) kept between calls: see model.c */
    void *big[SX__BIG_SLOTS];
    size_t big_cap[SX__BIG_SLOTS];
};

/* The same, cached by the model between calls (KV slots, logits rows of the batched
 * generation and scoring): take returns a cached block of at least `bytes` (contents
 * arbitrary) or a new one (NULL when out of memory); give hands it back (NULL is a no-op).
 * sx_model_trim and sx_model_free release them. */
void *sx__big_take(sx_model *m, size_t bytes);
void sx__big_give(sx_model *m, void *p, size_t bytes);

/* scratch slots */
enum { WS_X, WS_H, WS_QKV, WS_K, WS_V, WS_ATT, WS_FF, WS_FF2, WS_TMP, WS_SCORES, WS_SEL, WS_LOGIT };
float *sx__ws(sx_model *m, int slot, size_t n, sx_err *err);
int *sx__iws(sx_model *m, int slot, size_t n, sx_err *err);

/* config.c */
int sx__config_load(const char *dir, sx_model_config *cfg, sx_act *act, sx_err *err);

/* weights.c */
int sx__weights_load(sx_model *m, sx_err *err);
void sx__weights_free(sx_model *m);

/* A set of rows run through the blocks together: each row is one token of sequence seq[r]
 * at absolute position pos[r]. */
typedef struct sx_rowset {
    int n;
    const int32_t *tok;
    const int *seq;
    const int *pos;
} sx_rowset;

/* Where keys/values live.  Key of (layer l, sequence s, position j), kv head g:
 *   k + l*layer_stride + row*row_stride + g*head_dim, row = seq_off[s] + j;
 * with pre_len set (batched sampling: a prompt's samples share its prefix), positions
 * j < pre_len[s] are at row pre_off[s] + j and the others at row seq_off[s] + j - pre_len[s].
 * cache != 0: the rows' K/V are copied in before attention (generation); cache == 0: the
 * pointers are set by the forward pass to its own packed buffers (one pass over whole
 * sequences). */
typedef struct sx_kv {
    float *k, *v;
    int64_t layer_stride, row_stride;
    const int *seq_off;
    int cache;
    const int *pre_off, *pre_len; /* NULL: no shared prefixes */
} sx_kv;

/* forward.c: run rows through the model.  kv NULL = rows are whole sequences packed in order
 * (sequence s starts at the row where seq changes, positions 0..len-1).  Hooks are called at
 * every block boundary.  stop_after >= 0 stops after that block.  If n_logit_rows > 0,
 * logits[n_logit_rows, vocab] receives the logits of rows logit_rows[]. */
int sx__run(sx_model *m, const sx_rowset *rs, sx_kv *kv, const sx_hook *hooks, int n_hooks,
            int stop_after, const int *logit_rows, int n_logit_rows, float *logits, sx_err *err);

/* exp(x) for x already in [-87, 88] (or NaN): the polynomial and scale shared by
 * sx__fast_expf and the sampler's vectorisable copy of it (kernels.c, nh_expf), which only
 * clamps differently.  A NaN takes exponent 0 before the int conversion (converting a NaN
 * is undefined in C; the result is NaN either way). */
static inline float sx__expf_clamped(float x) {
    float t = x * 1.44269504089f;
    float fn = t + 12582912.0f - 12582912.0f; /* round to nearest */
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t fb, nan = 0u - (fn != fn);
    memcpy(&fb, &fn, sizeof fb);
    fb &= ~nan;
    memcpy(&fn, &fb, sizeof fn);
    int32_t ei = ((int32_t)fn + 127) << 23; /* fn in [-126, 127] */
    float sc;
    memcpy(&sc, &ei, sizeof sc);
    return p * sc;
}

/* exp(x) for x <= 0 or moderate x, branch-free so the loops vectorise (Cephes-style
 * polynomial, ~1-2 ulp on [-87, 88]). */
static inline float sx__fast_expf(float x) {
    return sx__expf_clamped(x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x));
}

/* sum of x[i] and sum of (x[i] - c)^2 over i < n in 16 float lanes (vectorised; the
 * summation order depends on n only). */
static inline float sx__sum(const float *x, int n) {
    float acc[16] = {0}, s = 0;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int q = 0; q < 16; q++) acc[q] += x[i + q];
    for (int q = 0; q < 16; q++) s += acc[q];
    for (; i < n; i++) s += x[i];
    return s;
}
static inline float sx__sum_sq_dev(const float *x, int n, float c) {
    float acc[16] = {0}, s = 0;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int q = 0; q < 16; q++) acc[q] += (x[i + q] - c) * (x[i + q] - c);
    for (int q = 0; q < 16; q++) s += acc[q];
    for (; i < n; i++) s += (x[i] - c) * (x[i] - c);
    return s;
}

/* sum_j exp((l[j] - sub) * scale) over j < n, each term also stored in out[j] when out is not
 * NULL (kernels.c; ~1-2 ulp per term). */
double sx__sum_exp(const float *l, int n, float sub, float scale, float *out);
/* indices of p's level-0 radix bin `bin`, ascending (generate.c's sampler); returns the count */
int sx__bin_members(const float *p, int n, int bin, int *idx);
/* the sampler's level-0 slot sums of p (kernels.c: slots and addends there, masses in
 * generate.c); the second also writes p[j] = exp((l[j] - sub) * scale) in the same pass */
void sx__nucleus_hist(const float *p, int n, uint64_t *S);
void sx__nucleus_exp_hist(const float *l, int n, float sub, float scale, float *p, uint64_t *S);

/* tanh(x), branch-free, relative error ~2 ulp like tanhf (Cephes tanhf: an odd polynomial
 * below 0.625, where 1 - 2 / (1 + exp(2x)) would lose the small values to cancellation). */
static inline float sx__tanhf(float x) {
    float z = fabsf(x);
    float big = 1.0f - 2.0f / (sx__fast_expf(2.0f * z) + 1.0f);
    float x2 = x * x;
    float small = ((((-5.70498872745e-3f * x2 + 2.06390887954e-2f) * x2 - 5.37397155531e-2f) * x2 +
                    1.33314422036e-1f) * x2 - 3.33332819422e-1f) * x2 * z + z;
    float t = z > 0.625f ? big : small;
    return x < 0 ? -t : t;
}

/* Decoding rows (chunks of one row) take decode_row, a task per row over all heads, when
 * this is 1 (the default); 0: the per-head path.  Same bits either way (test_attention);
 * the switch exists for that test and for A/B timing. */
extern int sx__att_decode_rows;
#define SX__ATT_MAX_HEADS 128
/* attention.c: att[r, h*hd..] = causal softmax attention of the rows' queries (q[r*q_stride +
 * h*hd..], RoPE already applied) over the keys/values of kv for `layer` (global, or the
 * Gemma-2 sliding window on even layers; grouped-query heads; Gemma-2 scale and logit
 * softcap).  ws: sx__attention_ws(c, rs) floats of scratch (depends on the threads). */
size_t sx__attention_ws(const sx_model_config *c, const sx_rowset *rs);
void sx__attention(const sx_model_config *c, int layer, const sx_rowset *rs, const float *q, int q_stride,
                   const sx_kv *kv, float *out, float *ws);

/* hooks.c */
int sx__hooks_check(const sx_model *m, const sx_hook *hooks, int n_hooks, sx_err *err);
int sx__hooks_call(const sx_hook *hooks, int n_hooks, int layer, sx_hook_point pt,
                   const sx_rowset *rs, int d, float *x, sx_err *err);

/* kernels.c: the elementwise / row-wise pieces (all OpenMP over rows). */
void sx__layernorm(const float *x, float *y, int n, int d, const float *w, const float *b, float eps);
void sx__rmsnorm(const float *x, float *y, int n, int d, const float *w1, float eps); /* w1 = 1+w */
void sx__gelu_tanh(float *x, size_t n);
void sx__gelu_erf(float *x, size_t n);
void sx__relu(float *x, size_t n);
void sx__geglu(float *g, const float *u, size_t n); /* g = gelu_tanh(g) * u */
void sx__softcap(float *x, size_t n, float cap);
void sx__add_bias(float *y, int n, int d, const float *b);
void sx__fill_rows(float *y, int n, int d, const float *b); /* every row of y = b */
/* y[n, out] = x[n, in] W + beta y; trans_w: W is [out, in] (HF Linear), else [in, out]
 * (Conv1D); W F32 or BF16. */
void sx__matmul(const float *x, int n, int in, sx_wmat w, int out, int trans_w, float beta, float *y);

/* Allow OpenMP in the few-row matmul path (default on; per thread; dispatch.c). */
void sx__small_parallel(int on);
extern _Thread_local int sx__g_small_par;

/* generate.c helpers exposed for tests */
int sx__sample(float *logits, int vocab, float temperature, float top_p, int top_k, sx_rng *rng,
               int *scratch_idx, float *scratch_p);

#endif
