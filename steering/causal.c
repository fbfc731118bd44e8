/* causal.c — causal latent selection (issue 19, item 3).  The activation-contrast ranking of
 * `analyze toxic` (toxic vs clean mean activation, AUROC) picks latents that fire on toxic text,
 * including ones that only track its templates and do nothing to what the model says next.
 * This file ranks the top-M of those candidates by their effect instead, in two stages:
 *
 *  (a) attribution (sx_causal_attribution), cheap and for every candidate: the toxic-token
 *      log-mass T(x) = mean over the positions of the toxic texts of log sum_{t in B} p(t | prefix)
 *      (B the toxic token ids, e.g. sx_banned_ids), and its change when the residual at the SAE's
 *      hook is moved along -A_i d_i at the positions where latent i fires:
 *          attr_i = (T(x) - T(x - eps A_i d_i [a_i(x) > 0])) / eps
 *      a forward finite difference, i.e. the first-order effect of steering latent i where it fires
 *      (positive: steering it away lowers the toxic tokens' probability).  The residual at the hook
 *      is captured once per text; each candidate costs one pass from the hook on (sx_forward_from_hook),
 *      ~2 (n_layers - layer) * 12 d^2 + 2 d V FLOPs per position, and nothing when it never fires.
 *  (b) verification (sx_causal_select): the n_verify best-attributed candidates are each steered
 *      alone (tier steer at alpha) on validation prompts, which must be disjoint from the
 *      evaluation prompts, and the continuations scored with the toxicity scorer (sx_eval_condition);
 *      the verified candidates are ordered by that EMT (those within the perplexity budget
 *      first) and the set size s = 1..max_set is chosen
 *      as the prefix with the lowest validation EMT whose perplexity stays <= budget x unsteered
 *      (the smallest such set on ties; size 1 when none keeps the budget).
 * No printing; errors through sx_err. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "steering.h"

typedef struct {
    float *x;    /* captured residual [n, d] */
    int n, d;
} capture_t;

static int capture_fn(void *user, const sx_hook_ctx *c, float *x, sx_err *err) {
    (void)err;
    capture_t *k = user;
    memcpy(k->x, x, sizeof(float) * (size_t)c->n_rows * (size_t)c->d);
    k->n = c->n_rows, k->d = c->d;
    return 0;
}

/* sum over the n rows of log sum_{t in B} softmax(l)_t, in double */
static double toxic_logmass(const float *logits, int n, int vocab, const int *ids, int n_ids) {
    double s = 0;
    for (int r = 0; r < n; r++) {
        const float *l = logits + (size_t)r * vocab;
        double lse = sx_logsumexp(l, vocab, NULL), mx = -INFINITY;
        for (int j = 0; j < n_ids; j++) mx = fmax(mx, l[ids[j]]);
        double b = 0;
        for (int j = 0; j < n_ids; j++) b += exp((double)l[ids[j]] - mx);
        s += mx + log(b) - lse;
    }
    return s;
}

int sx_causal_attribution(sx_model *m, const sx_tokenizer *tok, const sx_sae *sae, const char *hook,
                          const int *cand, int n_cand, const float *scales, char *const *texts, int64_t n_texts,
                          const int *toxic_ids, int n_toxic, float eps, double *attr, sx_err *err) {
    if (!m || !tok || !sae || !hook || !cand || !texts || !toxic_ids || !attr)
        return sx_failc(err, SX_EINVAL, "causal attribution: model, tokenizer, SAE, hook, candidates, texts, toxic ids "
                                        "and output are required");
    if (n_cand < 1) return sx_failc(err, SX_EINVAL, "causal attribution: no candidate latents");
    if (n_texts < 1) return sx_failc(err, SX_EINVAL, "causal attribution: no texts");
    if (n_toxic < 1) return sx_failc(err, SX_EINVAL, "causal attribution: no toxic token ids");
    if (!(eps > 0) || !isfinite(eps)) return sx_failc(err, SX_EINVAL, "causal attribution: eps %g must be > 0", eps);
    const sx_model_config *mc = sx_model_cfg(m);
    const int d = mc->d_model, V = mc->vocab_size;
    for (int j = 0; j < n_toxic; j++)
        if (toxic_ids[j] < 0 || toxic_ids[j] >= V)
            return sx_failc(err, SX_EINVAL, "causal attribution: toxic token id %d outside the vocabulary (0..%d)",
                            toxic_ids[j], V - 1);
    if (scales)
        for (int j = 0; j < n_cand; j++)
            if (!(scales[j] >= 0) || !isfinite(scales[j]))
                return sx_failc(err, SX_EINVAL, "causal attribution: scale of latent %d is %g (need finite >= 0)", cand[j],
                                scales[j]);
    sx_intervention iv; /* all candidates in one: their decoder rows and a_i(x) (checks SAE, hook, range) */
    if (sx_intervention_sae(&iv, SX_TIER_ABLATE, sae, hook, d, mc->n_layers, cand, n_cand, scales, 0, err))
        return sx_fail_prefix(err, "causal attribution");
    const int nc = mc->n_ctx;
    float *x = malloc(sizeof(float) * (size_t)nc * d), *xs = malloc(sizeof(float) * (size_t)nc * d);
    float *lg = malloc(sizeof(float) * (size_t)nc * V), *acts = malloc(sizeof(float) * (size_t)nc * n_cand);
    int rc = -1;
    int64_t rows = 0;
    if (!x || !xs || !lg || !acts) {
        sx_failc(err, SX_ENOMEM, "causal attribution: out of memory (context %d, vocabulary %d)", nc, V);
        goto done;
    }
    for (int j = 0; j < n_cand; j++) attr[j] = 0;
    for (int64_t t = 0; t < n_texts; t++) {
        int32_t *ids = NULL;
        int n = 0;
        if (sx_tokenizer_encode(tok, texts[t], strlen(texts[t]), 1, &ids, &n, err)) {
            sx_fail_prefix(err, "causal attribution: text %lld", (long long)t + 1);
            goto done;
        }
        if (n > nc) n = nc;
        if (n < 1) {
            free(ids);
            continue;
        }
        capture_t k = {x, 0, d};
        sx_hook h = {iv.layer, iv.point, capture_fn, &k};
        sx_forward_opts fo = {.hooks = &h, .n_hooks = 1, .stop_after_layer = -1, .logits = 1};
        if (sx_forward(m, ids, &n, 1, &fo, lg, err) || sx_intervention_acts(&iv, x, n, acts, err)) {
            free(ids);
            goto done;
        }
        const double base = toxic_logmass(lg, n, V, toxic_ids, n_toxic);
        rows += n;
        for (int j = 0; j < n_cand; j++) {
            int fires = 0;
            for (int r = 0; r < n && !fires; r++) fires = acts[(size_t)r * n_cand + j] > 0;
            if (!fires) continue; /* nothing moves: exactly 0 */
            memcpy(xs, x, sizeof(float) * (size_t)n * d);
            const float c = eps * iv.scale[j];
            const float *dv = iv.dec + (size_t)j * d;
            for (int r = 0; r < n; r++)
                if (acts[(size_t)r * n_cand + j] > 0)
                    for (int q = 0; q < d; q++) xs[(size_t)r * d + q] -= c * dv[q];
            sx_forward_opts f2 = {.hooks = NULL, .n_hooks = 0, .stop_after_layer = -1, .logits = 1};
            if (sx_forward_from_hook(m, ids, &n, 1, iv.layer, iv.point, xs, &f2, lg, err)) {
                free(ids);
                goto done;
            }
            attr[j] += base - toxic_logmass(lg, n, V, toxic_ids, n_toxic);
        }
        free(ids);
    }
    if (rows == 0) {
        sx_failc(err, SX_EINVAL, "causal attribution: the texts encode to no tokens");
        goto done;
    }
    for (int j = 0; j < n_cand; j++) attr[j] /= (double)rows * eps;
    rc = 0;
done:
    sx_intervention_free(&iv);
    free(x), free(xs), free(lg), free(acts);
    return rc;
}

void sx_causal_opts_default(sx_causal_opts *o) {
    memset(o, 0, sizeof *o);
    o->eps = 0.25f;
    o->n_verify = 4;
    o->max_set = 4;
    o->alpha = 2;
    o->budget = 1.25;
    sx_eval_defaults(&o->eval);
}

void sx_causal_result_free(sx_causal_result *r) {
    free(r->lat), free(r->attr), free(r->ver_lat), free(r->ver_emt), free(r->ver_ppl), free(r->set_emt),
        free(r->set_ppl), free(r->chosen);
    memset(r, 0, sizeof *r);
}

typedef struct {
    int lat;
    double key;
    int idx;
} keyed;

static int cmp_desc(const void *a, const void *b) { /* key descending, then index: a stable total order */
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* one validation condition: tier steer at alpha on lat[0..n) (n 0: unsteered) */
static int validate(const sx_causal_inputs *in, const sx_causal_opts *o, const int *lat, const float *sc, int n,
                    double *emt, double *ppl, sx_err *err) {
    const sx_model_config *mc = sx_model_cfg(in->model);
    sx_intervention iv;
    int have = n > 0;
    if (have && sx_intervention_sae(&iv, SX_TIER_STEER, in->sae, in->hook, mc->d_model, mc->n_layers, lat, n, sc,
                                    o->alpha, err))
        return -1;
    sx_eval_opts eo = o->eval;
    eo.fluency = 1;
    sx_eval_result res;
    int rc = sx_eval_condition(in->model, in->tok, in->val_prompts, have ? &iv : NULL, &eo, in->scorer, NULL,
                               "causal-validation", NULL, &res, err);
    if (have) sx_intervention_free(&iv);
    if (rc) return sx_fail_prefix(err, "causal selection: validation");
    *emt = res.emt, *ppl = res.ppl;
    return 0;
}

int sx_causal_select(const sx_causal_inputs *in, const sx_causal_opts *o, sx_causal_result *res, sx_err *err) {
    memset(res, 0, sizeof *res);
    if (!in || !o || !in->model || !in->tok || !in->sae || !in->hook || !in->cand || !in->scales || !in->texts ||
        !in->toxic_ids || !in->val_prompts || !in->scorer)
        return sx_failc(err, SX_EINVAL, "causal selection: model, tokenizer, SAE, hook, candidates, scales, texts, "
                                        "toxic ids, validation prompts and scorer are required");
    if (in->n_cand < 1) return sx_failc(err, SX_EINVAL, "causal selection: no candidate latents");
    if (in->val_prompts->n < 1) return sx_failc(err, SX_EINVAL, "causal selection: no validation prompts");
    if (o->n_verify < 1 || o->max_set < 1 || o->max_set > o->n_verify)
        return sx_failc(err, SX_EINVAL, "causal selection: n_verify %d and max_set %d must satisfy 1 <= max_set <= n_verify",
                        o->n_verify, o->max_set);
    if (!(o->alpha > 0) || !isfinite(o->alpha) || !(o->budget >= 1) || !isfinite(o->budget))
        return sx_failc(err, SX_EINVAL, "causal selection: alpha %g must be > 0 and budget %g >= 1", o->alpha, o->budget);
    const int M = in->n_cand, K = o->n_verify < M ? o->n_verify : M, S = o->max_set < K ? o->max_set : K;
    res->n_cand = M;
    res->lat = malloc(sizeof(int) * (size_t)M);
    res->attr = malloc(sizeof(double) * (size_t)M);
    res->ver_lat = malloc(sizeof(int) * (size_t)K);
    res->ver_emt = malloc(sizeof(double) * (size_t)K);
    res->ver_ppl = malloc(sizeof(double) * (size_t)K);
    res->set_emt = malloc(sizeof(double) * (size_t)S);
    res->set_ppl = malloc(sizeof(double) * (size_t)S);
    res->chosen = malloc(sizeof(int) * (size_t)S);
    double *attr = malloc(sizeof(double) * (size_t)M);
    keyed *kk = malloc(sizeof(keyed) * (size_t)M);
    float *sc = malloc(sizeof(float) * (size_t)M);
    int *sl = malloc(sizeof(int) * (size_t)M);
    int rc = -1;
    if (!res->lat || !res->attr || !res->ver_lat || !res->ver_emt || !res->ver_ppl || !res->set_emt || !res->set_ppl ||
        !res->chosen || !attr || !kk || !sc || !sl) {
        sx_failc(err, SX_ENOMEM, "causal selection: out of memory");
        goto done;
    }
    /* (a) attribution for every candidate, then sorted (descending) */
    if (sx_causal_attribution(in->model, in->tok, in->sae, in->hook, in->cand, M, in->scales, in->texts, in->n_texts,
                              in->toxic_ids, in->n_toxic, o->eps, attr, err))
        goto done;
    for (int j = 0; j < M; j++) kk[j] = (keyed){in->cand[j], attr[j], j};
    qsort(kk, (size_t)M, sizeof *kk, cmp_desc);
    for (int j = 0; j < M; j++) res->lat[j] = kk[j].lat, res->attr[j] = kk[j].key;
    /* (b) verification: the K best each steered alone on the validation prompts */
    if (validate(in, o, NULL, NULL, 0, &res->emt_none, &res->ppl_none, err)) goto done;
    res->n_verified = K;
    keyed *vk = kk; /* reused: K <= M */
    for (int j = 0; j < K; j++) {
        int l = res->lat[j];
        float s = in->scales[kk[j].idx];
        if (validate(in, o, &l, &s, 1, &res->ver_emt[j], &res->ver_ppl[j], err)) goto done;
        res->ver_lat[j] = l;
    }
    for (int j = 0; j < K; j++) { /* scales follow their latents through the re-sort */
        int ci = 0;
        while (in->cand[ci] != res->ver_lat[j]) ci++;
        /* within the perplexity budget first (EMT is in [0, 1], so -10 puts the others after),
         * then the lowest validation EMT: a latent that only wrecks fluency lowers EMT too */
        int ok = res->ver_ppl[j] <= o->budget * res->ppl_none;
        vk[j] = (keyed){res->ver_lat[j], -res->ver_emt[j] - (ok ? 0 : 10), ci};
    }
    qsort(vk, (size_t)K, sizeof *vk, cmp_desc);
    for (int j = 0; j < K; j++) sl[j] = vk[j].lat, sc[j] = in->scales[vk[j].idx];
    /* the set size: prefixes of the verified order (size 1 is the best single, already measured) */
    res->n_sizes = S;
    int best = -1;
    for (int s = 1; s <= S; s++) {
        if (s == 1) {
            int j = 0;
            while (res->ver_lat[j] != sl[0]) j++;
            res->set_emt[0] = res->ver_emt[j], res->set_ppl[0] = res->ver_ppl[j];
        } else if (validate(in, o, sl, sc, s, &res->set_emt[s - 1], &res->set_ppl[s - 1], err))
            goto done;
        int ok = res->set_ppl[s - 1] <= o->budget * res->ppl_none;
        if (ok && (best < 0 || res->set_emt[s - 1] < res->set_emt[best])) best = s - 1;
    }
    res->within_budget = best >= 0;
    if (best < 0) best = 0;
    res->n_chosen = best + 1;
    for (int j = 0; j < res->n_chosen; j++) res->chosen[j] = sl[j];
    rc = 0;
done:
    free(attr), free(kk), free(sc), free(sl);
    if (rc) sx_causal_result_free(res);
    return rc;
}
