/* forward.c — the transformer blocks (GPT-2 and Gemma-2) over packed rows, with hooks, a KV
 * store, the final norm / unembedding, sx_forward, sx_forward_from_hook (the same pass started
 * from a hook's residual), sx_logsumexp, sx_model_unembed and sx_loglik.
 *
 * Cost floor per token: ~2 * (params in the blocks run) flops in the matmuls (GPT-2 small:
 * 2*85M = 170 MFLOP for 12 blocks, plus 2*38.6M for the 50257-row unembedding) and
 * 4 * ctx * d flops of attention per block; everything else is O(d) per row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model_internal.h"

#define MLP_CHUNK 2048 /* MLP rows per sgemm: bounds the [rows, d_ff] scratch, still ~peak */

/* Copy the rows' K and V (row stride src_stride) into the cache at (layer, seq, pos). */
static void cache_store(const sx_rowset *rs, sx_kv *kv, int layer, const float *k, const float *v,
                        int src_stride, int kd) {
    /* in parallel: these are the first writes to fresh KV pages (page faults and zeroing, ~10%
     * of a batched evaluation's CPU on this VM), which one thread alone would serialise */
#pragma omp parallel for schedule(static) if (rs->n >= 64)
    for (int r = 0; r < rs->n; r++) {
        int sq = rs->seq[r], j = rs->pos[r], pl = kv->pre_len ? kv->pre_len[sq] : 0;
        int64_t row = j < pl ? (int64_t)kv->pre_off[sq] + j : (int64_t)kv->seq_off[sq] + j - pl;
        int64_t off = layer * kv->layer_stride + row * kv->row_stride;
        memcpy(kv->k + off, k + (size_t)r * src_stride, (size_t)kd * sizeof(float));
        memcpy(kv->v + off, v + (size_t)r * src_stride, (size_t)kd * sizeof(float));
    }
}

/* rotate_half RoPE on n_heads heads of each row, in place. */
static void rope(const sx_model *m, const sx_rowset *rs, float *x, int stride, int n_heads) {
    int hd = m->cfg.head_dim, half = hd / 2;
#pragma omp parallel for schedule(static) if (rs->n > 16)
    for (int r = 0; r < rs->n; r++) {
        const float *cs = m->rope_cos + (size_t)rs->pos[r] * half, *sn = m->rope_sin + (size_t)rs->pos[r] * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)r * stride + (size_t)h * hd;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * cs[i] - b * sn[i];
                v[i + half] = b * cs[i] + a * sn[i];
            }
        }
    }
}

static void add_into(float *x, const float *y, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* ---------- blocks ---------- */
static int gpt2_block(sx_model *m, int l, const sx_rowset *rs, sx_kv *kv, float *x, sx_err *err) {
    const sx_model_config *c = &m->cfg;
    const sx_layer_w *L = &m->layers[l];
    int n = rs->n, d = c->d_model, f = c->d_ff;
    float *h = sx__ws(m, WS_H, (size_t)n * d, err), *qkv = sx__ws(m, WS_QKV, (size_t)n * 3 * d, err);
    float *att = sx__ws(m, WS_ATT, (size_t)n * d, err);
    float *ff = sx__ws(m, WS_FF, (size_t)(n < MLP_CHUNK ? n : MLP_CHUNK) * f, err);
    float *sc = sx__ws(m, WS_SCORES, sx__attention_ws(c, rs), err);
    if (!h || !qkv || !att || !ff || !sc) return -1;
    sx__layernorm(x, h, n, d, L->ln1_w, L->ln1_b, c->norm_eps);
    /* biases are written first and the product accumulated onto them (beta 1): one pass
     * over the output instead of sgemm's zeroing pass plus a bias pass */
    sx__fill_rows(qkv, n, 3 * d, L->attn_b);
    sx__matmul(h, n, d, L->attn_w, 3 * d, 0, 1.0f, qkv);
    if (kv->cache) {
        cache_store(rs, kv, l, qkv + d, qkv + 2 * d, 3 * d, d);
    } else {
        kv->k = qkv + d;
        kv->v = qkv + 2 * d;
        kv->row_stride = 3 * d;
    }
    sx__attention(c, l, rs, qkv, 3 * d, kv, att, sc);
    sx__add_bias(x, n, d, L->proj_b);
    sx__matmul(att, n, d, L->proj_w, d, 0, 1.0f, x);
    sx__layernorm(x, h, n, d, L->ln2_w, L->ln2_b, c->norm_eps);
    for (int r0 = 0; r0 < n; r0 += MLP_CHUNK) {
        int nc = n - r0 < MLP_CHUNK ? n - r0 : MLP_CHUNK;
        sx__fill_rows(ff, nc, f, L->fc_b);
        sx__matmul(h + (size_t)r0 * d, nc, d, L->fc_w, f, 0, 1.0f, ff);
        if (m->act == SX_ACT_GELU_TANH) sx__gelu_tanh(ff, (size_t)nc * f);
        else if (m->act == SX_ACT_GELU_ERF) sx__gelu_erf(ff, (size_t)nc * f);
        else sx__relu(ff, (size_t)nc * f);
        sx__add_bias(x + (size_t)r0 * d, nc, d, L->fc2_b);
        sx__matmul(ff, nc, f, L->fc2_w, d, 0, 1.0f, x + (size_t)r0 * d);
    }
    return 0;
}

static int gemma2_block(sx_model *m, int l, const sx_rowset *rs, sx_kv *kv, float *x, sx_err *err) {
    const sx_model_config *c = &m->cfg;
    const sx_layer_w *L = &m->layers[l];
    int n = rs->n, d = c->d_model, f = c->d_ff;
    int qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
    int ch = n < MLP_CHUNK ? n : MLP_CHUNK;
    float *h = sx__ws(m, WS_H, (size_t)n * d, err), *q = sx__ws(m, WS_QKV, (size_t)n * qd, err);
    float *k = sx__ws(m, WS_K, (size_t)n * kd, err), *v = sx__ws(m, WS_V, (size_t)n * kd, err);
    float *att = sx__ws(m, WS_ATT, (size_t)n * qd, err), *tmp = sx__ws(m, WS_TMP, (size_t)n * d, err);
    float *g = sx__ws(m, WS_FF, (size_t)ch * f, err), *u = sx__ws(m, WS_FF2, (size_t)ch * f, err);
    float *sc = sx__ws(m, WS_SCORES, sx__attention_ws(c, rs), err);
    if (!h || !q || !k || !v || !att || !tmp || !g || !u || !sc) return -1;
    sx__rmsnorm(x, h, n, d, L->in_norm, c->norm_eps);
    sx__matmul(h, n, d, L->q_w, qd, 1, 0.0f, q);
    sx__matmul(h, n, d, L->k_w, kd, 1, 0.0f, k);
    sx__matmul(h, n, d, L->v_w, kd, 1, 0.0f, v);
    rope(m, rs, q, qd, c->n_heads);
    rope(m, rs, k, kd, c->n_kv_heads);
    if (kv->cache) {
        cache_store(rs, kv, l, k, v, kd, kd);
    } else {
        kv->k = k;
        kv->v = v;
        kv->row_stride = kd;
    }
    sx__attention(c, l, rs, q, qd, kv, att, sc);
    sx__matmul(att, n, qd, L->o_w, d, 1, 0.0f, tmp);
    sx__rmsnorm(tmp, tmp, n, d, L->post_attn_norm, c->norm_eps);
    add_into(x, tmp, (size_t)n * d);
    sx__rmsnorm(x, h, n, d, L->pre_ffw_norm, c->norm_eps);
    for (int r0 = 0; r0 < n; r0 += MLP_CHUNK) {
        int nc = n - r0 < MLP_CHUNK ? n - r0 : MLP_CHUNK;
        sx__matmul(h + (size_t)r0 * d, nc, d, L->gate_w, f, 1, 0.0f, g);
        sx__matmul(h + (size_t)r0 * d, nc, d, L->up_w, f, 1, 0.0f, u);
        sx__geglu(g, u, (size_t)nc * f);
        sx__matmul(g, nc, f, L->down_w, d, 1, 0.0f, tmp + (size_t)r0 * d);
    }
    sx__rmsnorm(tmp, tmp, n, d, L->post_ffw_norm, c->norm_eps);
    add_into(x, tmp, (size_t)n * d);
    return 0;
}

/* ---------- final norm and unembedding ---------- */
static void final_norm(const sx_model *m, const float *x, float *y, int n) {
    const sx_model_config *c = &m->cfg;
    if (c->arch == SX_ARCH_GPT2) sx__layernorm(x, y, n, c->d_model, m->lnf_w, m->lnf_b, c->norm_eps);
    else sx__rmsnorm(x, y, n, c->d_model, m->lnf_w, c->norm_eps);
}

/* y [n, d] already final-normed -> logits [n, vocab] (2*n*d*vocab flops). */
static void unembed_normed(const sx_model *m, const float *y, int n, float *logits) {
    const sx_model_config *c = &m->cfg;
    sx__matmul(y, n, c->d_model, m->unembed, c->vocab_size, 1, 0.0f, logits);
    if (c->arch == SX_ARCH_GEMMA2 && c->final_softcap > 0)
        sx__softcap(logits, (size_t)n * c->vocab_size, c->final_softcap);
}

int sx_model_final_norm(sx_model *m, const float *x, int n, float *out, sx_err *err) {
    if (n < 0 || (n > 0 && (!x || !out))) return sx_failc(err, SX_EINVAL, "sx_model_final_norm: bad arguments");
    final_norm(m, x, out, n);
    return 0;
}

int sx_model_unembed(sx_model *m, const float *x, int n, float *logits, sx_err *err) {
    if (n < 0 || (n > 0 && (!x || !logits))) return sx_failc(err, SX_EINVAL, "sx_model_unembed: bad arguments");
    const int chunk = 256;
    float *y = sx__ws(m, WS_SEL, (size_t)(n < chunk ? n : chunk) * m->cfg.d_model, err);
    if (!y) return -1;
    for (int r0 = 0; r0 < n; r0 += chunk) {
        int nc = n - r0 < chunk ? n - r0 : chunk;
        final_norm(m, x + (size_t)r0 * m->cfg.d_model, y, nc);
        unembed_normed(m, y, nc, logits + (size_t)r0 * m->cfg.vocab_size);
    }
    return 0;
}

/* ---------- the row runner ---------- */
static int check_rows(const sx_model *m, const sx_rowset *rs, sx_err *err) {
    for (int r = 0; r < rs->n; r++) {
        if (rs->tok[r] < 0 || rs->tok[r] >= m->cfg.vocab_size)
            return sx_failc(err, SX_EINVAL, "%s: token id %d (sequence %d, position %d) is out of range: vocab_size is %d",
                           m->dir, (int)rs->tok[r], rs->seq[r], rs->pos[r], m->cfg.vocab_size);
        if (rs->pos[r] < 0 || rs->pos[r] >= m->cfg.n_ctx)
            return sx_failc(err, SX_EINVAL, "%s: position %d of sequence %d is beyond the context of %d tokens", m->dir,
                           rs->pos[r], rs->seq[r], m->cfg.n_ctx);
    }
    return 0;
}

static void embed(const sx_model *m, const sx_rowset *rs, float *x) {
    int d = m->cfg.d_model;
    float sc = m->embed_scale;
#pragma omp parallel for schedule(static) if (rs->n > 64)
    for (int r = 0; r < rs->n; r++) {
        size_t e = (size_t)rs->tok[r] * d;
        float *xr = x + (size_t)r * d;
        if (m->wpe) {
            const float *p = m->wpe + (size_t)rs->pos[r] * d;
            for (int i = 0; i < d; i++) xr[i] = sx__wget(m->embed, e + i) + p[i];
        } else {
            for (int i = 0; i < d; i++) xr[i] = sx__wget(m->embed, e + i) * sc;
        }
    }
}

int sx_machine_busy(void) {
    const char *e = getenv("SAETOX_LOAD_ADAPT");
    if (!e || !*e || strcmp(e, "0") == 0) return 0;
    double la[1];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    return getloadavg(la, 1) == 1 && ncpu > 0 && la[0] > (double)ncpu + 0.5;
}

/* start: where the pass begins.  NULL: embed the tokens and run every block from 0.  Else
 * x_start [n, d] is the residual at hook point (start->layer, start->point): blocks before it
 * are skipped and hooks at or before that point are not called. */
typedef struct run_start {
    int layer;
    sx_hook_point point;
    const float *x;
} run_start;

static int run_rows(sx_model *m, const sx_rowset *rs, sx_kv *kv_in, const sx_hook *hooks, int n_hooks,
                    const run_start *start, int stop_after, const int *logit_rows, int n_logit_rows,
                    float *logits, sx_err *err);

/* On an overloaded machine (load average above the CPU count) every OpenMP barrier and
 * OpenBLAS hand-off waits for a descheduled partner thread: measured here, 2 threads ran a
 * GPT-2-small forward at 472 tok/s and 1 thread at 828.  So run single-threaded while the
 * machine is busy, and restore the caller's thread count afterwards. */
static int run_serial_if_busy(sx_model *m, const sx_rowset *rs, sx_kv *kv_in, const sx_hook *hooks,
                              int n_hooks, const run_start *start, int stop_after, const int *logit_rows,
                              int n_logit_rows, float *logits, sx_err *err) {
    int nt = sx_get_threads();
    int serial = nt > 1 && sx_machine_busy();
    if (serial) sx_set_threads(1);
    int rc = run_rows(m, rs, kv_in, hooks, n_hooks, start, stop_after, logit_rows, n_logit_rows, logits, err);
    if (serial) sx_set_threads(nt);
    return rc;
}

int sx__run(sx_model *m, const sx_rowset *rs, sx_kv *kv_in, const sx_hook *hooks, int n_hooks,
            int stop_after, const int *logit_rows, int n_logit_rows, float *logits, sx_err *err) {
    return run_serial_if_busy(m, rs, kv_in, hooks, n_hooks, NULL, stop_after, logit_rows, n_logit_rows, logits,
                              err);
}

static int run_rows(sx_model *m, const sx_rowset *rs, sx_kv *kv_in, const sx_hook *hooks, int n_hooks,
                    const run_start *start, int stop_after, const int *logit_rows, int n_logit_rows,
                    float *logits, sx_err *err) {
    const sx_model_config *c = &m->cfg;
    int n = rs->n, d = c->d_model;
    if (check_rows(m, rs, err) || sx__hooks_check(m, hooks, n_hooks, err)) return -1;
    float *x = sx__ws(m, WS_X, (size_t)n * d, err);
    if (!x) return -1;
    sx_kv local = {0}, *kv = kv_in;
    if (!kv) {
        /* whole sequences packed in order: sequence s starts at the row holding its position 0 */
        int n_seqs = 0;
        for (int r = 0; r < n; r++)
            if (rs->seq[r] + 1 > n_seqs) n_seqs = rs->seq[r] + 1;
        int *off = sx__iws(m, 0, (size_t)n_seqs, err);
        if (!off) return -1;
        for (int r = 0; r < n; r++)
            if (rs->pos[r] == 0) off[rs->seq[r]] = r;
        local.seq_off = off;
        kv = &local;
    }
    /* A pass from a hook: resid_pre L enters block L, resid_post L enters block L + 1 (after
     * the last block: only the final norm and unembedding remain). */
    int first = 0;
    if (start) {
        memcpy(x, start->x, (size_t)n * d * sizeof(float));
        first = start->point == SX_HOOK_RESID_PRE ? start->layer : start->layer + 1;
    } else {
        embed(m, rs, x);
    }
    int last = stop_after >= 0 && stop_after < c->n_layers ? stop_after : c->n_layers - 1;
    for (int l = first; l <= last; l++) {
        /* the given x already is resid_pre of the first block: its hooks do not run again */
        int skip_pre = start && start->point == SX_HOOK_RESID_PRE && l == first;
        if (!skip_pre && sx__hooks_call(hooks, n_hooks, l, SX_HOOK_RESID_PRE, rs, d, x, err)) return -1;
        int rc = c->arch == SX_ARCH_GPT2 ? gpt2_block(m, l, rs, kv, x, err) : gemma2_block(m, l, rs, kv, x, err);
        if (rc) return -1;
        if (sx__hooks_call(hooks, n_hooks, l, SX_HOOK_RESID_POST, rs, d, x, err)) return -1;
    }
    if (stop_after >= 0 || n_logit_rows <= 0) return 0;
    const int chunk = 2048; /* bounds the [rows, d] gather; logits go straight to the caller */
    float *y = sx__ws(m, WS_SEL, (size_t)(n_logit_rows < chunk ? n_logit_rows : chunk) * d, err);
    if (!y) return -1;
    for (int i0 = 0; i0 < n_logit_rows; i0 += chunk) {
        int nc = n_logit_rows - i0 < chunk ? n_logit_rows - i0 : chunk;
        for (int i = 0; i < nc; i++)
            memcpy(y + (size_t)i * d, x + (size_t)logit_rows[i0 + i] * d, (size_t)d * sizeof(float));
        final_norm(m, y, y, nc);
        unembed_normed(m, y, nc, logits + (size_t)i0 * c->vocab_size);
    }
    return 0;
}

/* ---------- public entry points ---------- */
static int forward_seqs(sx_model *m, const int32_t *tokens, const int *lens, int n_seqs,
                        const sx_forward_opts *opts, const run_start *start, float *logits_out, sx_err *err) {
    sx_forward_opts dflt = {NULL, 0, -1, 0};
    if (!opts) opts = &dflt;
    if (n_seqs <= 0 || !tokens || !lens) return sx_failc(err, SX_EINVAL, "%s: sx_forward: no sequences given", m->dir);
    if (opts->logits < 0 || opts->logits > 2) return sx_failc(err, SX_EINVAL, "sx_forward: logits must be 0, 1 or 2");
    if (opts->logits && opts->stop_after_layer >= 0)
        return sx_failc(err, SX_EINVAL, "sx_forward: logits requested together with stop_after_layer %d", opts->stop_after_layer);
    if (opts->stop_after_layer >= m->cfg.n_layers)
        return sx_failc(err, SX_EINVAL, "%s: stop_after_layer %d, but the model has %d layers", m->dir,
                       opts->stop_after_layer, m->cfg.n_layers);
    if (opts->logits && !logits_out) return sx_failc(err, SX_EINVAL, "sx_forward: logits requested but no output buffer");
    int64_t total = 0;
    for (int s = 0; s < n_seqs; s++) {
        if (lens[s] <= 0) return sx_failc(err, SX_EINVAL, "%s: sequence %d is empty", m->dir, s);
        if (lens[s] > m->cfg.n_ctx)
            return sx_failc(err, SX_EINVAL, "%s: sequence %d has %d tokens, more than the context of %d", m->dir, s, lens[s],
                           m->cfg.n_ctx);
        total += lens[s];
    }
    if (total > (1 << 28)) return sx_failc(err, SX_EINVAL, "sx_forward: too many rows (%lld)", (long long)total);
    int n = (int)total;
    int *seq = sx__iws(m, 1, (size_t)n, err), *pos = sx__iws(m, 2, (size_t)n, err);
    int *lrows = sx__iws(m, 3, (size_t)n, err);
    if (!seq || !pos || !lrows) return -1;
    int r = 0, nl = 0;
    for (int s = 0; s < n_seqs; s++)
        for (int j = 0; j < lens[s]; j++, r++) {
            seq[r] = s;
            pos[r] = j;
            if (opts->logits == 1 || (opts->logits == 2 && j == lens[s] - 1)) lrows[nl++] = r;
        }
    sx_rowset rs = {n, tokens, seq, pos};
    return run_serial_if_busy(m, &rs, NULL, opts->hooks, opts->n_hooks, start, opts->stop_after_layer, lrows,
                              opts->logits ? nl : 0, logits_out, err);
}

int sx_forward(sx_model *m, const int32_t *tokens, const int *lens, int n_seqs,
               const sx_forward_opts *opts, float *logits_out, sx_err *err) {
    return forward_seqs(m, tokens, lens, n_seqs, opts, NULL, logits_out, err);
}

int sx_forward_from_hook(sx_model *m, const int32_t *tokens, const int *lens, int n_seqs, int layer,
                         sx_hook_point point, const float *x_at_hook, const sx_forward_opts *opts,
                         float *logits_out, sx_err *err) {
    if (layer < 0 || layer >= m->cfg.n_layers)
        return sx_failc(err, SX_EINVAL, "%s: start hook on layer %d, but the model has %d layers (0..%d)", m->dir, layer,
                       m->cfg.n_layers, m->cfg.n_layers - 1);
    if (point != SX_HOOK_RESID_PRE && point != SX_HOOK_RESID_POST)
        return sx_failc(err, SX_ENOTFOUND, "sx_forward_from_hook: unknown hook point %d", (int)point);
    if (!x_at_hook) return sx_failc(err, SX_EINVAL, "sx_forward_from_hook: no residual given");
    int first = point == SX_HOOK_RESID_PRE ? layer : layer + 1;
    if (opts && opts->stop_after_layer >= 0 && opts->stop_after_layer < first)
        return sx_failc(err, SX_EINVAL, "sx_forward_from_hook: stop_after_layer %d is before the start block %d",
                       opts->stop_after_layer, first);
    run_start st = {layer, point, x_at_hook};
    return forward_seqs(m, tokens, lens, n_seqs, opts, &st, logits_out, err);
}

double sx_logsumexp(const float *l, int n, float *probs) {
    if (n <= 0) return -INFINITY;
    float mx = l[0];
    for (int j = 1; j < n; j++)
        if (l[j] > mx) mx = l[j];
    double z = sx__sum_exp(l, n, mx, 1.0f, probs); /* vectorised exp (~1-2 ulp) */
    if (probs) {
        float inv = (float)(1.0 / z);
        for (int j = 0; j < n; j++) probs[j] *= inv;
    }
    return (double)mx + log(z);
}

int sx_loglik(sx_model *m, const int32_t *ctx, int n_ctx, const int32_t *cont, int n_cont,
              const sx_hook *hooks, int n_hooks, double *sum_logprob, sx_err *err) {
    if (n_ctx <= 0 || !ctx) return sx_failc(err, SX_EINVAL, "%s: sx_loglik needs at least one context token", m->dir);
    if (n_cont <= 0 || !cont) return sx_failc(err, SX_EINVAL, "%s: sx_loglik: empty continuation", m->dir);
    int T = n_ctx + n_cont, V = m->cfg.vocab_size;
    if (T > m->cfg.n_ctx)
        return sx_failc(err, SX_EINVAL, "%s: context + continuation = %d tokens, more than the context of %d", m->dir, T,
                       m->cfg.n_ctx);
    int32_t *toks = malloc((size_t)T * sizeof *toks);
    int *seq = malloc((size_t)T * sizeof *seq), *pos = malloc((size_t)T * sizeof *pos);
    int *lrows = malloc((size_t)n_cont * sizeof *lrows);
    float *lg = malloc((size_t)n_cont * V * sizeof *lg);
    int rc = -1;
    if (!toks || !seq || !pos || !lrows || !lg) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory in sx_loglik", m->dir);
        goto done;
    }
    memcpy(toks, ctx, (size_t)n_ctx * sizeof *toks);
    memcpy(toks + n_ctx, cont, (size_t)n_cont * sizeof *toks);
    for (int i = 0; i < T; i++) seq[i] = 0, pos[i] = i;
    for (int i = 0; i < n_cont; i++) lrows[i] = n_ctx - 1 + i;
    sx_rowset rs = {T, toks, seq, pos};
    if (sx__run(m, &rs, NULL, hooks, n_hooks, -1, lrows, n_cont, lg, err)) goto done;
    double sum = 0;
    for (int i = 0; i < n_cont; i++) {
        const float *l = lg + (size_t)i * V;
        float mx = l[0];
        for (int j = 1; j < V; j++)
            if (l[j] > mx) mx = l[j];
        double z = sx__sum_exp(l, V, mx, 1.0f, NULL); /* vectorised exp (~1-2 ulp) */
        sum += (double)l[cont[i]] - mx - log(z);
    }
    *sum_logprob = sum;
    rc = 0;
done:
    free(toks), free(seq), free(pos), free(lrows), free(lg);
    return rc;
}
