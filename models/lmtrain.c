/* lmtrain.c — the GPT-2 training model: parameter layout, initialisation, forward and
 * backward passes over a [B, T] batch, global gradient norm and AdamW.  Kernels are in
 * lmtrain_layers.c, files in lmtrain_io.c, data in lmtrain_data.c. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmtrain.h"
#include "lmtrain_kernels.h"

#define CLS_CHUNK 256 /* rows of logits alive at once: 256 x 50257 floats = 51 MB */

struct sx_lm_acts {
    int B, T;
    float *enc, *ln1, *ln1m, *ln1r, *qkv, *atty, *att, *res2, *ln2, *ln2m, *ln2r, *fch, *fchg,
        *res3, *lnf, *lnfm, *lnfr;
    float *dres, *dln, *dqkv, *datty, *dfch, *dlnf, *cls;
};

static const char *NAMES[SX_LM_NT] = {"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb",
                                      "apw", "apb", "ln2w", "ln2b", "fcw", "fcb",
                                      "fpw", "fpb", "lnfw", "lnfb"};

const char *sx_lm_tensor_name(int id) { return id >= 0 && id < SX_LM_NT ? NAMES[id] : "?"; }

int sx_lm_tensor_is_matrix(int id) {
    return id == SX_LM_WTE || id == SX_LM_WPE || id == SX_LM_QKVW || id == SX_LM_APW ||
           id == SX_LM_FCW || id == SX_LM_FPW;
}

int sx_lm_new(const sx_lm_cfg *cfg, sx_lm **out, sx_err *err) {
    const sx_lm_cfg *c = cfg;
    if (c->vocab < 2 || c->vocab > 65536 || c->n_ctx < 1 || c->n_layer < 1 || c->n_head < 1 ||
        c->d < 1 || c->d % c->n_head)
        return sx_failc(err, SX_EINVAL, "bad model shape: vocab %d (2..65536), n_ctx %d, n_layer %d, "
                            "n_head %d, d %d (a multiple of n_head)",
                       c->vocab, c->n_ctx, c->n_layer, c->n_head, c->d);
    sx_lm *m = calloc(1, sizeof *m);
    if (!m) return sx_failc(err, SX_ENOMEM, "out of memory");
    m->cfg = *c;
    size_t V = c->vocab, C = c->d, L = c->n_layer;
    size_t n[SX_LM_NT] = {V * C,     (size_t)c->n_ctx * C, L * C, L * C, L * C * 3 * C,
                          L * 3 * C, L * C * C,            L * C, L * C, L * C,
                          L * C * 4 * C, L * 4 * C, L * 4 * C * C, L * C, C, C};
    size_t off = 0;
    for (int i = 0; i < SX_LM_NT; i++) {
        m->off[i] = off;
        m->numel[i] = n[i];
        off += n[i];
    }
    m->n_params = off;
    m->params = calloc(off, sizeof(float));
    m->grads = calloc(off, sizeof(float));
    m->m = calloc(off, sizeof(float));
    m->v = calloc(off, sizeof(float));
    if (!m->params || !m->grads || !m->m || !m->v) {
        sx_lm_free(m);
        return sx_failc(err, SX_ENOMEM, "out of memory for %zu parameters", off);
    }
    *out = m;
    return 0;
}

static void acts_free(sx_lm_acts *a) {
    if (!a) return;
    float **p[] = {&a->enc, &a->ln1, &a->ln1m, &a->ln1r, &a->qkv, &a->atty, &a->att, &a->res2,
                   &a->ln2, &a->ln2m, &a->ln2r, &a->fch, &a->fchg, &a->res3, &a->lnf, &a->lnfm,
                   &a->lnfr, &a->dres, &a->dln, &a->dqkv, &a->datty, &a->dfch, &a->dlnf, &a->cls};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(*p[i]);
    free(a);
}

void sx_lm_free(sx_lm *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->m);
    free(m->v);
    acts_free(m->acts);
    free(m);
}

static int reserve(sx_lm *m, int B, int T, sx_err *err) {
    if (m->acts && m->acts->B == B && m->acts->T == T) return 0;
    acts_free(m->acts);
    m->acts = NULL;
    sx_lm_acts *a = calloc(1, sizeof *a);
    if (!a) return sx_failc(err, SX_ENOMEM, "out of memory");
    size_t N = (size_t)B * T, C = m->cfg.d, L = m->cfg.n_layer, H = m->cfg.n_head;
    struct {
        float **p;
        size_t n;
    } t[] = {{&a->enc, N * C},         {&a->ln1, L * N * C},      {&a->ln1m, L * N},
             {&a->ln1r, L * N},        {&a->qkv, L * N * 3 * C},  {&a->atty, L * N * C},
             {&a->att, L * B * H * T * (size_t)T}, {&a->res2, L * N * C}, {&a->ln2, L * N * C},
             {&a->ln2m, L * N},        {&a->ln2r, L * N},         {&a->fch, L * N * 4 * C},
             {&a->fchg, L * N * 4 * C}, {&a->res3, L * N * C},    {&a->lnf, N * C},
             {&a->lnfm, N},            {&a->lnfr, N},             {&a->dres, N * C},
             {&a->dln, N * C},         {&a->dqkv, N * 3 * C},     {&a->datty, N * C},
             {&a->dfch, N * 4 * C},    {&a->dlnf, N * C},
             {&a->cls, (size_t)CLS_CHUNK * m->cfg.vocab}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        *t[i].p = malloc(sizeof(float) * t[i].n);
        if (!*t[i].p) {
            acts_free(a);
            return sx_failc(err, SX_ENOMEM, "out of memory for activations of a %d x %d batch", B, T);
        }
    }
    a->B = B;
    a->T = T;
    m->acts = a;
    return 0;
}

void sx_lm_init(sx_lm *m, uint64_t seed, float std) {
    sx_rng r;
    sx_rng_seed(&r, seed);
    float proj = std / sqrtf(2.0f * m->cfg.n_layer);
    memset(m->params, 0, m->n_params * sizeof(float));
    for (int id = 0; id < SX_LM_NT; id++) {
        float *p = m->params + m->off[id];
        size_t n = m->numel[id];
        if (id == SX_LM_LN1W || id == SX_LM_LN2W || id == SX_LM_LNFW) {
            for (size_t i = 0; i < n; i++) p[i] = 1.0f;
        } else if (sx_lm_tensor_is_matrix(id)) {
            float s = (id == SX_LM_APW || id == SX_LM_FPW) ? proj : std;
            for (size_t i = 0; i < n; i++) p[i] = (float)(sx_rng_normal(&r) * s);
        }
    }
    memset(m->m, 0, m->n_params * sizeof(float));
    memset(m->v, 0, m->n_params * sizeof(float));
    m->adam_t = 0;
}

static int check_ids(const sx_lm *m, const int32_t *ids, int n, const char *what, int B, int T,
                     sx_err *err) {
    if (B < 1 || T < 1 || T > m->cfg.n_ctx)
        return sx_failc(err, SX_EINVAL, "batch %d x %d does not fit n_ctx %d", B, T, m->cfg.n_ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab)
            return sx_failc(err, SX_EINVAL, "%s id %d at %d is outside the vocabulary (%d)", what, ids[i], i,
                           m->cfg.vocab);
    return 0;
}

#define P(id) (m->params + m->off[id])
#define G(id) (m->grads + m->off[id])

/* Everything up to the final LayerNorm output a->lnf. */
static void forward_body(sx_lm *m, const int32_t *in, int B, int T) {
    sx_lm_acts *a = m->acts;
    int C = m->cfg.d, NH = m->cfg.n_head, N = B * T;
    size_t NC = (size_t)N * C;
    lmk_encoder_fwd(a->enc, in, P(SX_LM_WTE), P(SX_LM_WPE), B, T, C);
    for (int l = 0; l < m->cfg.n_layer; l++) {
        const float *res = l == 0 ? a->enc : a->res3 + (l - 1) * NC;
        float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC, *atty = a->atty + l * NC;
        float *att = a->att + (size_t)l * B * NH * T * T, *res2 = a->res2 + l * NC;
        float *ln2 = a->ln2 + l * NC, *fch = a->fch + l * 4 * NC, *fchg = a->fchg + l * 4 * NC;
        float *res3 = a->res3 + l * NC;
        lmk_layernorm_fwd(ln1, a->ln1m + (size_t)l * N, a->ln1r + (size_t)l * N, res,
                          P(SX_LM_LN1W) + l * C, P(SX_LM_LN1B) + l * C, N, C);
        lmk_matmul_fwd(qkv, ln1, P(SX_LM_QKVW) + (size_t)l * C * 3 * C, P(SX_LM_QKVB) + l * 3 * C,
                       N, C, 3 * C, 0.0f);
        lmk_attention_fwd(atty, att, qkv, B, T, C, NH);
        memcpy(res2, res, NC * sizeof(float));
        lmk_matmul_fwd(res2, atty, P(SX_LM_APW) + (size_t)l * C * C, P(SX_LM_APB) + l * C, N, C, C,
                       1.0f);
        lmk_layernorm_fwd(ln2, a->ln2m + (size_t)l * N, a->ln2r + (size_t)l * N, res2,
                          P(SX_LM_LN2W) + l * C, P(SX_LM_LN2B) + l * C, N, C);
        lmk_matmul_fwd(fch, ln2, P(SX_LM_FCW) + (size_t)l * C * 4 * C, P(SX_LM_FCB) + l * 4 * C,
                       N, C, 4 * C, 0.0f);
        lmk_gelu_fwd(fchg, fch, 4 * (int64_t)NC);
        memcpy(res3, res2, NC * sizeof(float));
        lmk_matmul_fwd(res3, fchg, P(SX_LM_FPW) + (size_t)l * 4 * C * C, P(SX_LM_FPB) + l * C, N,
                       4 * C, C, 1.0f);
    }
    lmk_layernorm_fwd(a->lnf, a->lnfm, a->lnfr, a->res3 + (size_t)(m->cfg.n_layer - 1) * NC,
                      P(SX_LM_LNFW), P(SX_LM_LNFB), N, C);
}

static void backward_body(sx_lm *m, const int32_t *in, int B, int T) {
    sx_lm_acts *a = m->acts;
    int C = m->cfg.d, NH = m->cfg.n_head, N = B * T, L = m->cfg.n_layer;
    size_t NC = (size_t)N * C;
    float *dres = a->dres;
    memset(dres, 0, NC * sizeof(float));
    lmk_layernorm_bwd(dres, G(SX_LM_LNFW), G(SX_LM_LNFB), a->dlnf, a->res3 + (L - 1) * NC,
                      P(SX_LM_LNFW), a->lnfm, a->lnfr, N, C);
    for (int l = L - 1; l >= 0; l--) {
        const float *res = l == 0 ? a->enc : a->res3 + (l - 1) * NC;
        const float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC, *atty = a->atty + l * NC;
        const float *att = a->att + (size_t)l * B * NH * T * T, *res2 = a->res2 + l * NC;
        const float *ln2 = a->ln2 + l * NC, *fch = a->fch + l * 4 * NC;
        const float *fchg = a->fchg + l * 4 * NC;
        /* MLP branch: res3 = res2 + gelu(ln2(res2) @ fcw + fcb) @ fpw + fpb */
        lmk_matmul_bwd(a->dfch, G(SX_LM_FPW) + (size_t)l * 4 * C * C, G(SX_LM_FPB) + l * C, dres,
                       fchg, P(SX_LM_FPW) + (size_t)l * 4 * C * C, N, 4 * C, C, 0.0f);
        lmk_gelu_bwd(a->dfch, fch, a->dfch, 4 * (int64_t)NC);
        lmk_matmul_bwd(a->dln, G(SX_LM_FCW) + (size_t)l * C * 4 * C, G(SX_LM_FCB) + l * 4 * C,
                       a->dfch, ln2, P(SX_LM_FCW) + (size_t)l * C * 4 * C, N, C, 4 * C, 0.0f);
        lmk_layernorm_bwd(dres, G(SX_LM_LN2W) + l * C, G(SX_LM_LN2B) + l * C, a->dln, res2,
                          P(SX_LM_LN2W) + l * C, a->ln2m + (size_t)l * N, a->ln2r + (size_t)l * N,
                          N, C);
        /* attention branch: res2 = res + attn(ln1(res)) @ apw + apb */
        lmk_matmul_bwd(a->datty, G(SX_LM_APW) + (size_t)l * C * C, G(SX_LM_APB) + l * C, dres,
                       atty, P(SX_LM_APW) + (size_t)l * C * C, N, C, C, 0.0f);
        lmk_attention_bwd(a->dqkv, a->datty, qkv, att, B, T, C, NH);
        lmk_matmul_bwd(a->dln, G(SX_LM_QKVW) + (size_t)l * C * 3 * C, G(SX_LM_QKVB) + l * 3 * C,
                       a->dqkv, ln1, P(SX_LM_QKVW) + (size_t)l * C * 3 * C, N, C, 3 * C, 0.0f);
        lmk_layernorm_bwd(dres, G(SX_LM_LN1W) + l * C, G(SX_LM_LN1B) + l * C, a->dln, res,
                          P(SX_LM_LN1W) + l * C, a->ln1m + (size_t)l * N, a->ln1r + (size_t)l * N,
                          N, C);
    }
    lmk_encoder_bwd(G(SX_LM_WTE), G(SX_LM_WPE), dres, in, B, T, C);
}

double sx_lm_loss(sx_lm *m, const int32_t *in, const int32_t *tgt, int B, int T, sx_err *err) {
    if (check_ids(m, in, B * T, "input", B, T, err) || check_ids(m, tgt, B * T, "target", B, T, err) ||
        reserve(m, B, T, err))
        return NAN;
    forward_body(m, in, B, T);
    double s = lmk_classifier(NULL, NULL, m->acts->lnf, P(SX_LM_WTE), tgt, B * T, m->cfg.d,
                              m->cfg.vocab, 1.0f, m->acts->cls, CLS_CHUNK);
    return s / (B * T);
}

double sx_lm_grad(sx_lm *m, const int32_t *in, const int32_t *tgt, int B, int T, float scale,
                  sx_err *err) {
    if (check_ids(m, in, B * T, "input", B, T, err) || check_ids(m, tgt, B * T, "target", B, T, err) ||
        reserve(m, B, T, err))
        return NAN;
    forward_body(m, in, B, T);
    double s = lmk_classifier(m->acts->dlnf, G(SX_LM_WTE), m->acts->lnf, P(SX_LM_WTE), tgt,
                              B * T, m->cfg.d, m->cfg.vocab, scale / (B * T), m->acts->cls,
                              CLS_CHUNK);
    backward_body(m, in, B, T);
    return s / (B * T);
}

int sx_lm_logits(sx_lm *m, const int32_t *in, int B, int T, float *logits, sx_err *err) {
    if (check_ids(m, in, B * T, "input", B, T, err) || reserve(m, B, T, err)) return -1;
    forward_body(m, in, B, T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B * T, m->cfg.vocab, m->cfg.d, 1.0f,
                m->acts->lnf, m->cfg.d, P(SX_LM_WTE), m->cfg.d, 0.0f, logits, m->cfg.vocab);
    return 0;
}

void sx_lm_zero_grad(sx_lm *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* Fixed chunks summed in order: the same bits for any thread count. */
double sx_lm_grad_norm(const sx_lm *m) {
    const size_t CH = 1 << 16;
    size_t nch = (m->n_params + CH - 1) / CH;
    double *part = calloc(nch, sizeof(double)), tot = 0;
    if (!part) return NAN;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nch; k++) {
        size_t e = (k + 1) * CH < m->n_params ? (k + 1) * CH : m->n_params;
        double s = 0;
        for (size_t i = k * CH; i < e; i++) s += (double)m->grads[i] * m->grads[i];
        part[k] = s;
    }
    for (size_t k = 0; k < nch; k++) tot += part[k];
    free(part);
    return sqrt(tot);
}

void sx_lm_adamw(sx_lm *m, const sx_adamw *o, float lr, float grad_scale) {
    m->adam_t++;
    float bc1 = 1.0f - powf(o->beta1, (float)m->adam_t);
    float bc2 = 1.0f - powf(o->beta2, (float)m->adam_t);
    for (int id = 0; id < SX_LM_NT; id++) {
        float wd = sx_lm_tensor_is_matrix(id) ? o->weight_decay : 0.0f;
        float *p = m->params + m->off[id], *g = m->grads + m->off[id];
        float *mm = m->m + m->off[id], *vv = m->v + m->off[id];
        int64_t n = (int64_t)m->numel[id];
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i] * grad_scale;
            mm[i] = o->beta1 * mm[i] + (1.0f - o->beta1) * gi;
            vv[i] = o->beta2 * vv[i] + (1.0f - o->beta2) * gi * gi;
            float mh = mm[i] / bc1, vh = vv[i] / bc2;
            p[i] -= lr * (mh / (sqrtf(vh) + o->eps) + wd * p[i]);
        }
    }
}

float sx_lm_lr(int64_t s, int64_t total, int64_t warmup, float lr_max, float lr_min) {
    if (s < warmup) return lr_max * (float)(s + 1) / (float)warmup;
    if (total <= warmup) return lr_max;
    double prog = (double)(s - warmup) / (double)(total - warmup);
    if (prog > 1) prog = 1;
    return lr_min + 0.5f * (lr_max - lr_min) * (float)(1.0 + cos(M_PI * prog));
}
