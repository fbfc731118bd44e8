/* sae_eval.c — SAE quality as the field measures it: the model's next-token loss and KL with
 * the SAE's reconstruction spliced in at its hook (SAELens ce_loss_score / kl_div_score),
 * beside the reconstruction metrics (L0, MSE, explained variance, dead / dense latents).
 *
 * Cost: one clean pass (all blocks + unembedding) per batch of windows, then per SAE the
 * blocks from its hook on (sx_forward_from_hook) and per distinct hook the same once more
 * with zeros.  The clean residual at every needed hook is captured by hooks in the clean
 * pass, so nothing before a hook is recomputed.  Memory: the clean next-token probabilities
 * and one modified logits buffer, each [rows of a batch, vocab] floats — never all tokens.
 *
 * KL without a second [rows, vocab] buffer of clean logits: with p the stored clean softmax,
 *   KL(p || q) = sum_v p_v (l_v - m_v) + P (lse(m) - lse(l)),   P = sum_v p_v,
 * l the clean and m the modified logits; S_c = sum p_v l_v, P and lse(l) are kept per row from
 * the clean pass, so a modified row needs lse(m) and one dot product sum p_v m_v.  When the
 * modified logits equal the clean ones bit for bit (an exact SAE) the same code on the same
 * numbers gives exactly 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ana_internal.h"
#include "sx_json.h"
#include "export.h"

#define EV_ROWS 256 /* rows per SAE encode/decode block: bounds the [rows, d_sae] scratch */

typedef struct hookpt {
    int layer;
    sx_hook_point point;
    float *cap; /* [rows, d] the clean residual here, captured in the clean pass */
    double ce_zero, kl_zero; /* sums over CE positions with zeros spliced in */
} hookpt;

typedef struct sae_acc {
    int hook;            /* index into the hook points */
    int64_t *fires;      /* [d_sae] spliced positions where the latent is nonzero */
    double nnz, sq_err;  /* sum of nonzero latents, sum of (x - x_hat)^2 */
    double *sum_dx;      /* [d] sum of (x - x0) over spliced positions (x0: the first one) */
    double sum_dx2;      /* sum of ||x - x0||^2 */
    float *x0;           /* [d] */
    int have_x0;
    int64_t n_spl;
    double ce, kl;       /* sums over CE positions with the reconstruction spliced in */
} sae_acc;

typedef struct ev {
    sx_model *m;
    const sx_sae_eval_opts *o;
    int V, d, C, bos, n_hooks, nthreads;
    hookpt hp[64];
    sae_acc *acc;
    /* per batch */
    int32_t *toks;       /* [B*C] packed real tokens */
    int *lens, *pos;     /* [B], [B*C] */
    int nb, nr;
    float *probs;        /* [B*C, V] clean softmax (rows that are CE positions) */
    float *lmod;         /* [B*C, V] modified logits */
    double *lse_c, *s_c, *p_c, *ce_c; /* [B*C] per clean row */
    double *row_ce, *row_kl;          /* [B*C] per modified row */
    float *xs;           /* [B*C, d] the residual handed to the from-hook pass */
    float *xb, *rb, *acts; /* [EV_ROWS, d], [EV_ROWS, d], [EV_ROWS, max d_sae] */
    int *spl;            /* [B*C] rows that are spliced (token is not BOS) */
    float *tmp;          /* [nthreads, V] */
    double ce_clean;
    int64_t n_ce, n_tok;
    sx_sae_eval_info *info; /* time split */
} ev;

static int capture(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    hookpt *h = user;
    memcpy(h->cap, x, (size_t)ctx->n_rows * ctx->d * sizeof(float));
    return 0;
}

/* Rows t < T-1 of each window: their next token is in the same window. */
static int is_ce_row(const ev *e, int r) {
    return r + 1 < e->nr && e->pos[r + 1] == e->pos[r] + 1;
}

static double dot_fd(const float *a, const float *b, int n) {
    double acc[8] = {0}, s = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int q = 0; q < 8; q++) acc[q] += (double)a[i + q] * b[i + q];
    for (int q = 0; q < 8; q++) s += acc[q];
    for (; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Clean logits (in e->probs) -> softmax in place, plus lse, S_c, P and -log p(next) per row. */
static void clean_rows(ev *e) {
    const int V = e->V;
#pragma omp parallel for schedule(dynamic, 8) num_threads(e->nthreads)
    for (int r = 0; r < e->nr; r++) {
        if (!is_ce_row(e, r)) continue;
#ifdef _OPENMP
        float *t = e->tmp + (size_t)omp_get_thread_num() * V;
#else
        float *t = e->tmp;
#endif
        float *l = e->probs + (size_t)r * V;
        double lse = sx_logsumexp(l, V, t);
        e->lse_c[r] = lse;
        e->ce_c[r] = lse - l[e->toks[r + 1]];
        e->s_c[r] = dot_fd(t, l, V);
        double P = 0;
        for (int j = 0; j < V; j++) P += t[j];
        e->p_c[r] = P;
        memcpy(l, t, (size_t)V * sizeof(float));
    }
    for (int r = 0; r < e->nr; r++)
        if (is_ce_row(e, r)) e->ce_clean += e->ce_c[r], e->n_ce++;
}

/* Modified logits (e->lmod) -> CE and KL sums over the CE rows (summed in row order, so the
 * result does not depend on the thread count). */
static void modified_rows(ev *e, double *ce_sum, double *kl_sum) {
    const int V = e->V;
#pragma omp parallel for schedule(dynamic, 8) num_threads(e->nthreads)
    for (int r = 0; r < e->nr; r++) {
        if (!is_ce_row(e, r)) continue;
        const float *l = e->lmod + (size_t)r * V;
        double lse = sx_logsumexp(l, V, NULL);
        e->row_ce[r] = lse - l[e->toks[r + 1]];
        e->row_kl[r] = e->s_c[r] - dot_fd(e->probs + (size_t)r * V, l, V) + e->p_c[r] * (lse - e->lse_c[r]);
    }
    for (int r = 0; r < e->nr; r++)
        if (is_ce_row(e, r)) *ce_sum += e->row_ce[r], *kl_sum += e->row_kl[r];
}

/* Splice SAE i into e->xs (a copy of its hook's capture) and accumulate its reconstruction
 * metrics over the batch's non-BOS rows. */
static int splice_sae(ev *e, int i, sx_err *err) {
    const sx_sae *sae = e->o->saes[i];
    sae_acc *a = &e->acc[i];
    const int d = e->d, ms = sae->d_sae;
    const float *cap = e->hp[a->hook].cap;
    memcpy(e->xs, cap, (size_t)e->nr * d * sizeof(float));
    int n_spl = 0;
    for (int r = 0; r < e->nr; r++)
        if (e->toks[r] != e->bos) e->spl[n_spl++] = r;
    for (int s0 = 0; s0 < n_spl; s0 += EV_ROWS) {
        int n = n_spl - s0 < EV_ROWS ? n_spl - s0 : EV_ROWS;
        for (int k = 0; k < n; k++) memcpy(e->xb + (size_t)k * d, cap + (size_t)e->spl[s0 + k] * d, (size_t)d * sizeof(float));
        if (sx_sae_encode(sae, e->xb, n, e->acts, NULL, err)) return -1;
        sx_sae_decode(sae, e->acts, n, e->rb);
        if (!a->have_x0) {
            memcpy(a->x0, e->xb, (size_t)d * sizeof(float));
            a->have_x0 = 1;
        }
        for (int k = 0; k < n; k++) {
            const float *x = e->xb + (size_t)k * d, *y = e->rb + (size_t)k * d, *z = e->acts + (size_t)k * ms;
            double se = 0, dx2 = 0;
            for (int j = 0; j < d; j++) {
                double df = (double)x[j] - y[j], dx = (double)x[j] - a->x0[j];
                se += df * df;
                dx2 += dx * dx;
                a->sum_dx[j] += dx;
            }
            a->sq_err += se;
            a->sum_dx2 += dx2;
            int64_t nz = 0;
            for (int j = 0; j < ms; j++)
                if (z[j] != 0.0f) a->fires[j]++, nz++;
            a->nnz += (double)nz;
            memcpy(e->xs + (size_t)e->spl[s0 + k] * d, y, (size_t)d * sizeof(float));
        }
    }
    a->n_spl += n_spl;
    return 0;
}

static int from_hook(ev *e, int h, sx_err *err) {
    sx_forward_opts fo = {NULL, 0, -1, 1};
    return sx_forward_from_hook(e->m, e->toks, e->lens, e->nb, e->hp[h].layer, e->hp[h].point, e->xs, &fo,
                                e->lmod, err);
}

/* The batch in e->toks / e->lens: clean pass, every SAE spliced, every hook zeroed. */
static int run_batch(ev *e, sx_err *err) {
    sx_hook hooks[64];
    for (int h = 0; h < e->n_hooks; h++) hooks[h] = (sx_hook){e->hp[h].layer, e->hp[h].point, capture, &e->hp[h]};
    sx_forward_opts fo = {hooks, e->n_hooks, -1, 1};
    int r = 0;
    for (int s = 0; s < e->nb; s++)
        for (int p = 0; p < e->lens[s]; p++) e->pos[r++] = p;
    e->nr = r;
    sx_sae_eval_info *in = e->info;
    double t = sx_now();
    if (sx_forward(e->m, e->toks, e->lens, e->nb, &fo, e->probs, err)) return -1;
    in->clean_seconds += sx_now() - t, t = sx_now();
    clean_rows(e);
    in->loss_seconds += sx_now() - t;
    for (int i = 0; i < e->o->n_saes; i++) {
        t = sx_now();
        if (splice_sae(e, i, err)) return -1;
        in->sae_seconds += sx_now() - t, t = sx_now();
        if (from_hook(e, e->acc[i].hook, err)) return -1;
        in->from_hook_seconds += sx_now() - t, t = sx_now();
        modified_rows(e, &e->acc[i].ce, &e->acc[i].kl);
        in->loss_seconds += sx_now() - t;
    }
    for (int h = 0; h < e->n_hooks; h++) {
        memcpy(e->xs, e->hp[h].cap, (size_t)e->nr * e->d * sizeof(float));
        for (int q = 0; q < e->nr; q++)
            if (e->toks[q] != e->bos) memset(e->xs + (size_t)q * e->d, 0, (size_t)e->d * sizeof(float));
        t = sx_now();
        if (from_hook(e, h, err)) return -1;
        in->from_hook_seconds += sx_now() - t, t = sx_now();
        modified_rows(e, &e->hp[h].ce_zero, &e->hp[h].kl_zero);
        in->loss_seconds += sx_now() - t;
    }
    e->n_tok += e->nr;
    return 0;
}

static void ev_free(ev *e) {
    for (int h = 0; h < e->n_hooks; h++) free(e->hp[h].cap);
    if (e->acc)
        for (int i = 0; i < e->o->n_saes; i++) free(e->acc[i].fires), free(e->acc[i].sum_dx), free(e->acc[i].x0);
    free(e->acc);
    free(e->toks), free(e->lens), free(e->pos), free(e->probs), free(e->lmod);
    free(e->lse_c), free(e->s_c), free(e->p_c), free(e->ce_c), free(e->row_ce), free(e->row_kl);
    free(e->xs), free(e->xb), free(e->rb), free(e->acts), free(e->spl), free(e->tmp);
}

/* Hooks and SAEs: each SAE's hook must exist in the model and its d_in match d_model. */
static int setup_hooks(ev *e, sx_err *err) {
    const sx_sae_eval_opts *o = e->o;
    const sx_model_config *c = sx_model_cfg(e->m);
    for (int i = 0; i < o->n_saes; i++) {
        const sx_sae *sae = o->saes[i];
        const char *name = o->names && o->names[i] ? o->names[i] : "SAE";
        int layer;
        sx_hook_point pt;
        const char *hn = sae->hook_name[0] ? sae->hook_name : o->default_hook;
        if (!hn || !*hn) return sx_failc(err, SX_ENOTFOUND, "%s: the SAE names no hook_name (give the hook)", name);
        sx_err e2 = {0};
        if (sx_hook_parse(hn, &layer, &pt, &e2)) return sx_failc(err, (sx_code)e2.code, "%s: %s", name, e2.msg);
        if (layer >= c->n_layers)
            return sx_failc(err, SX_EINVAL, "%s: the SAE's hook %s is not in the model, which has %d layers (0..%d)", name,
                           hn, c->n_layers, c->n_layers - 1);
        if (sae->d_in != c->d_model)
            return sx_failc(err, SX_EINVAL, "%s: SAE d_in %d differs from the model's d_model %d", name, sae->d_in, c->d_model);
        int h = 0;
        while (h < e->n_hooks && !(e->hp[h].layer == layer && e->hp[h].point == pt)) h++;
        if (h == e->n_hooks) {
            if (e->n_hooks == 64) return sx_failc(err, SX_EINVAL, "eval-sae: more than 64 distinct hooks");
            e->hp[e->n_hooks++] = (hookpt){layer, pt, NULL, 0, 0};
        }
        e->acc[i].hook = h;
    }
    return 0;
}

static int ev_alloc(ev *e, int B, int C, sx_err *err) {
    size_t rows = (size_t)B * C, V = (size_t)e->V, d = (size_t)e->d;
    int max_sae = 1;
    for (int i = 0; i < e->o->n_saes; i++) {
        sae_acc *a = &e->acc[i];
        int ms = e->o->saes[i]->d_sae;
        if (ms > max_sae) max_sae = ms;
        a->fires = calloc((size_t)ms, sizeof *a->fires);
        a->sum_dx = calloc(d, sizeof *a->sum_dx);
        a->x0 = calloc(d, sizeof *a->x0);
        if (!a->fires || !a->sum_dx || !a->x0) return sx_failc(err, SX_ENOMEM, "eval-sae: out of memory");
    }
    for (int h = 0; h < e->n_hooks; h++)
        if (!(e->hp[h].cap = malloc(rows * d * sizeof(float)))) return sx_failc(err, SX_ENOMEM, "eval-sae: out of memory");
    e->toks = malloc(rows * sizeof *e->toks);
    e->lens = malloc((size_t)B * sizeof *e->lens);
    e->pos = malloc(rows * sizeof *e->pos);
    e->probs = malloc(rows * V * sizeof(float));
    e->lmod = malloc(rows * V * sizeof(float));
    e->lse_c = malloc(rows * sizeof(double)), e->s_c = malloc(rows * sizeof(double));
    e->p_c = malloc(rows * sizeof(double)), e->ce_c = malloc(rows * sizeof(double));
    e->row_ce = malloc(rows * sizeof(double)), e->row_kl = malloc(rows * sizeof(double));
    e->xs = malloc(rows * d * sizeof(float));
    e->xb = malloc((size_t)EV_ROWS * d * sizeof(float)), e->rb = malloc((size_t)EV_ROWS * d * sizeof(float));
    e->acts = malloc((size_t)EV_ROWS * max_sae * sizeof(float));
    e->spl = malloc(rows * sizeof *e->spl);
    e->tmp = malloc((size_t)e->nthreads * V * sizeof(float));
    if (!e->toks || !e->lens || !e->pos || !e->probs || !e->lmod || !e->lse_c || !e->s_c || !e->p_c ||
        !e->ce_c || !e->row_ce || !e->row_kl || !e->xs || !e->xb || !e->rb || !e->acts || !e->spl || !e->tmp)
        return sx_failc(err, SX_ENOMEM, "eval-sae: out of memory (batch %d x %d tokens x vocab %d needs %.0f MB)", B, C, e->V,
                       2.0 * (double)rows * (double)V * 4 / 1e6);
    return 0;
}

static double ratio(double num, double den) { return den != 0 ? num / den : NAN; }

static void finish_rows(const ev *e, sx_sae_eval_row *rows) {
    for (int i = 0; i < e->o->n_saes; i++) {
        const sx_sae *sae = e->o->saes[i];
        const sae_acc *a = &e->acc[i];
        const hookpt *h = &e->hp[a->hook];
        sx_sae_eval_row *w = &rows[i];
        memset(w, 0, sizeof *w);
        snprintf(w->sae, sizeof w->sae, "%s", e->o->names && e->o->names[i] ? e->o->names[i] : "");
        snprintf(w->hook, sizeof w->hook, "blocks.%d.%s", h->layer,
                 h->point == SX_HOOK_RESID_PRE ? "hook_resid_pre" : "hook_resid_post");
        w->d_sae = sae->d_sae;
        w->n_tokens = e->n_tok, w->n_spliced = a->n_spl, w->n_ce = e->n_ce;
        double n = (double)a->n_spl;
        w->l0 = ratio(a->nnz, n);
        w->mse = ratio(a->sq_err, n * e->d);
        /* sum ||x - mean||^2 = sum ||x - x0||^2 - n ||mean - x0||^2 (shifted by x0 against
         * cancellation: residuals can have a large common offset) */
        double m2 = 0;
        for (int j = 0; j < e->d; j++) m2 += a->sum_dx[j] * a->sum_dx[j];
        double tss = a->sum_dx2 - (n > 0 ? m2 / n : 0);
        w->explained_variance = n > 0 ? 1.0 - ratio(a->sq_err, tss) : NAN;
        w->fvu = 1.0 - w->explained_variance;
        double nce = (double)e->n_ce;
        w->ce_clean = ratio(e->ce_clean, nce);
        w->ce_spliced = ratio(a->ce, nce);
        w->ce_zero = ratio(h->ce_zero, nce);
        w->ce_loss_score = ratio(w->ce_zero - w->ce_spliced, w->ce_zero - w->ce_clean);
        w->kl_spliced = ratio(a->kl, nce);
        w->kl_zero = ratio(h->kl_zero, nce);
        w->kl_div_score = ratio(w->kl_zero - w->kl_spliced, w->kl_zero);
        int64_t dead = 0, dense = 0;
        for (int j = 0; j < sae->d_sae; j++) {
            dead += a->fires[j] == 0;
            dense += (double)a->fires[j] > 0.1 * n;
        }
        w->dead_frac = n > 0 ? (double)dead / sae->d_sae : NAN;
        w->dense_frac = n > 0 ? (double)dense / sae->d_sae : NAN;
    }
}

/* Text windows as `saetox cache` packs them, a batch at a time, cut at o->tokens positions. */
static int run_source(ev *e, const sx_tokenizer *tok, sx_sae_eval_info *info, sx_err *err) {
    const sx_sae_eval_opts *o = e->o;
    int C = o->pack.context_size, B = o->batch, rc = -1;
    sx_text_source *src = NULL;
    sx_packer *pk = NULL;
    int32_t *win = malloc((size_t)C * sizeof *win);
    int64_t *docs = malloc((size_t)C * sizeof *docs);
    sx_progress prog;
    int prog_on = 0;
    if (!win || !docs) {
        sx_failc(err, SX_ENOMEM, "eval-sae: out of memory");
        goto out;
    }
    if (sx_source_open(o->data, &o->src, &src, err) || sx_packer_new(tok, src, &o->pack, &pk, err)) goto out;
    if (o->progress) sx_progress_start(&prog, "eval-sae", (double)o->tokens, "tok"), prog_on = 1;
    int64_t done = 0;
    int exhausted = 0;
    while (done < o->tokens && !exhausted) {
        int k = 0;
        e->nb = 0;
        while (e->nb < B && done + k < o->tokens) {
            int len, r = sx_packer_next(pk, win, docs, &len, err);
            if (r < 0) goto out;
            if (r == 0) {
                exhausted = 1;
                break;
            }
            if (len > o->tokens - done - k) len = (int)(o->tokens - done - k);
            if (len <= 0) continue;
            memcpy(e->toks + k, win, (size_t)len * sizeof *win); /* per-doc: only the real tokens */
            e->lens[e->nb++] = len;
            k += len;
            info->n_windows++;
        }
        if (e->nb == 0) break;
        if (run_batch(e, err)) goto out;
        done += k;
        if (prog_on) sx_progress_update(&prog, (double)done);
    }
    if (done == 0) {
        sx_failc(err, SX_EINVAL, "%s: no tokens to evaluate (empty source)", o->data);
        goto out;
    }
    info->exhausted = done < o->tokens;
    rc = 0;
out:
    if (prog_on) sx_progress_finish(&prog);
    sx_packer_free(pk);
    sx_source_close(src);
    free(win), free(docs);
    return rc;
}

int sx_sae_eval_run(sx_model *m, const sx_tokenizer *tok, const sx_sae_eval_opts *o, sx_sae_eval_row *rows,
                    sx_sae_eval_info *info, sx_err *err) {
    memset(info, 0, sizeof *info);
    if (!o || o->n_saes <= 0 || !o->saes) return sx_failc(err, SX_EINVAL, "eval-sae: no SAE given");
    if (!o->ids == !o->data) return sx_failc(err, SX_EINVAL, "eval-sae: give either token ids or a text source");
    const sx_model_config *c = sx_model_cfg(m);
    ev e;
    memset(&e, 0, sizeof e);
    e.m = m, e.o = o, e.V = c->vocab_size, e.d = c->d_model, e.bos = c->bos_id, e.info = info;
#ifdef _OPENMP
    e.nthreads = omp_get_max_threads();
#else
    e.nthreads = 1;
#endif
    int B, C, rc = -1;
    if (o->ids) {
        if (o->n_ids <= 0) return sx_failc(err, SX_EINVAL, "eval-sae: no token ids given");
        if (o->n_ids > c->n_ctx)
            return sx_failc(err, SX_EINVAL, "%s: %d token ids, more than the model's context of %d",
                           o->model_name ? o->model_name : "model", o->n_ids, c->n_ctx);
        for (int i = 0; i < o->n_ids; i++)
            if (o->ids[i] < 0 || o->ids[i] >= c->vocab_size)
                return sx_failc(err, SX_EINVAL, "%s: token id %d (position %d of the ids) is beyond the vocabulary of %d",
                               o->model_name ? o->model_name : "model", (int)o->ids[i], i, c->vocab_size);
        B = 1, C = o->n_ids;
    } else {
        B = o->batch, C = o->pack.context_size;
        if (B <= 0 || C < 2 || o->tokens <= 0) return sx_failc(err, SX_EINVAL, "eval-sae: bad batch, context size or tokens");
        if (C > c->n_ctx)
            return sx_failc(err, SX_EINVAL, "eval-sae: context size %d exceeds the model's context of %d", C, c->n_ctx);
    }
    e.acc = calloc((size_t)o->n_saes, sizeof *e.acc);
    if (!e.acc) return sx_failc(err, SX_ENOMEM, "eval-sae: out of memory");
    double t0 = sx_now();
    if (setup_hooks(&e, err) || ev_alloc(&e, B, C, err)) goto out;
    if (o->ids) {
        memcpy(e.toks, o->ids, (size_t)o->n_ids * sizeof *e.toks);
        e.lens[0] = o->n_ids, e.nb = 1;
        info->n_windows = 1;
        if (run_batch(&e, err)) goto out;
    } else if (run_source(&e, tok, info, err)) {
        goto out;
    }
    info->n_tokens = e.n_tok;
    info->seconds = sx_now() - t0;
    finish_rows(&e, rows);
    rc = 0;
out:
    ev_free(&e);
    return rc;
}

/* ---------- output ---------- */
static void json_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

int sx_sae_eval_write(const char *dir, const sx_sae_eval_row *rows, int n, sx_err *err) {
    char pc[4200], pj[4200];
    snprintf(pc, sizeof pc, "%s/sae_eval.csv", dir);
    snprintf(pj, sizeof pj, "%s/sae_eval.jsonl", dir);
    if (sx_mkdir_p(dir, err)) return -1;
    sx_csv_writer w;
    sx_atomic_file af;
    if (sx_csv_open_schema(&w, pc, &SX_SCHEMA_SAE_EVAL, err)) return -1;
    if (sx_atomic_open(&af, pj, err)) {
        sx_csv_abort(&w);
        return -1;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const sx_sae_eval_row *r = &rows[i];
        const double v[] = {r->l0, r->mse, r->explained_variance, r->fvu, r->ce_clean, r->ce_spliced, r->ce_zero,
                            r->ce_loss_score, r->kl_spliced, r->kl_zero, r->kl_div_score, r->dead_frac,
                            r->dense_frac};
        static const char *const vn[] = {"l0", "mse", "explained_variance", "fvu", "ce_clean", "ce_spliced",
                                         "ce_zero", "ce_loss_score", "kl_spliced", "kl_zero", "kl_div_score",
                                         "dead_frac", "dense_frac"};
        sx_csv_str(&w, r->sae);
        sx_csv_int(&w, r->d_sae);
        sx_csv_int(&w, r->n_tokens);
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) sx_csv_num(&w, v[k]);
        sx_csv_str(&w, r->hook);
        sx_csv_int(&w, r->n_spliced);
        sx_csv_int(&w, r->n_ce);
        sx_csv_row(&w);
        cJSON *j = cJSON_CreateObject();
        if (!j) {
            bad = 1;
            break;
        }
        cJSON_AddStringToObject(j, "sae", r->sae);
        cJSON_AddStringToObject(j, "hook", r->hook);
        cJSON_AddNumberToObject(j, "d_sae", r->d_sae);
        cJSON_AddNumberToObject(j, "n_tokens", (double)r->n_tokens);
        cJSON_AddNumberToObject(j, "n_spliced", (double)r->n_spliced);
        cJSON_AddNumberToObject(j, "n_ce", (double)r->n_ce);
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) json_num(j, vn[k], v[k]);
        char *s = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!s || fprintf(af.f, "%s\n", s) < 0) bad = 1;
        free(s);
        if (bad) break;
    }
    if (bad) {
        sx_csv_abort(&w);
        sx_atomic_abort(&af);
        return sx_failc(err, SX_EIO, "%s: write failed", pj);
    }
    if (sx_csv_close(&w, err)) {
        sx_atomic_abort(&af);
        return -1;
    }
    return sx_atomic_commit(&af, err);
}
