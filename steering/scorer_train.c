/* scorer_train.c — logistic regression over hashed n-gram features, trained with AdaGrad
 * SGD and L2 on the weights an example touches (lazy L2), deterministic given the seed:
 * feature extraction runs in parallel (each text independently), the SGD pass is serial in a
 * seeded shuffled order.  Cost per epoch: ~nnz multiply-adds (a few hundred per text), so
 * the whole training on ~20k texts takes seconds; no need for a parallel optimiser.
 *
 * Labels: Perspective-scored sources use toxicity >= 0.5 as the positive class (optionally
 * the score itself as a soft target), Davidson classes 0/1 are toxic and 2 clean.  The
 * held-out split is a hash of the text (sx_text_is_holdout), so it does not depend on the
 * seed and duplicates never straddle it. */
#include "steering.h"
#include "sx_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sx_scorer_train_defaults(sx_scorer_train_opts *o) {
    *o = (sx_scorer_train_opts){
        .cfg = {.log2_buckets = 16, .word_ngrams = 2, .char_min = 3, .char_max = 5},
        .seed = 1234, .epochs = 8, .lr = 0.2, .l2 = 1e-6, .holdout_frac = 0.2,
        .balance = 1, .f16 = 1};
}

static void eval_group(const sx_labelled *d, const double *p, const char *is_ho,
                       int (*pick)(const sx_labelled *, int64_t, const void *), const void *arg,
                       cJSON *report, const char *name) {
    int64_t n = 0;
    double *s = malloc(sizeof(double) * (size_t)(d->n + 1));
    int *y = malloc(sizeof(int) * (size_t)(d->n + 1));
    if (!s || !y) goto out;
    for (int64_t i = 0; i < d->n; i++)
        if (is_ho[i] && pick(d, i, arg)) {
            s[n] = p[i];
            y[n] = d->score[i] >= 0.5f;
            n++;
        }
    if (n) {
        sx_binary_metrics m;
        sx_binary_eval(s, y, n, 0.5, &m);
        cJSON_AddItemToObject(report, name, sx_binary_metrics_json(&m));
    }
out:
    free(s);
    free(y);
}

static int pick_persp(const sx_labelled *d, int64_t i, const void *a) {
    (void)a;
    return d->src[d->source[i]].perspective;
}
static int pick_davidson(const sx_labelled *d, int64_t i, const void *a) {
    (void)a;
    return d->src[d->source[i]].fmt == SX_LAB_DAVIDSON;
}
static int pick_rtp(const sx_labelled *d, int64_t i, const void *a) {
    (void)a;
    return d->src[d->source[i]].fmt == SX_LAB_RTP;
}
static int pick_src(const sx_labelled *d, int64_t i, const void *a) {
    return d->source[i] == *(const int *)a;
}
static int pick_all(const sx_labelled *d, int64_t i, const void *a) {
    (void)d, (void)i, (void)a;
    return 1;
}

int sx_scorer_train(const sx_labelled *d, const sx_scorer_train_opts *o, sx_scorer **out,
                    cJSON *report, sx_err *err) {
    if (d->n == 0) return sx_failc(err, SX_EINVAL, "no training data");
    if (o->epochs < 1) return sx_failc(err, SX_EINVAL, "epochs must be >= 1");
    if (!(o->holdout_frac >= 0 && o->holdout_frac < 1)) return sx_failc(err, SX_EINVAL, "holdout fraction must be in [0,1)");
    sx_scorer *s = sx_scorer_new(&o->cfg, err);
    if (!s) return -1;
    const int64_t n = d->n;
    const size_t nb = (size_t)1 << o->cfg.log2_buckets;
    sx_feats *F = calloc((size_t)n, sizeof *F);
    char *is_ho = calloc((size_t)n, 1);
    float *wt = calloc((size_t)n, sizeof(float));
    double *G = calloc(nb + 1, sizeof(double)), *W = calloc(nb, sizeof(double));
    int64_t *order = malloc(sizeof(int64_t) * (size_t)n);
    double *p = malloc(sizeof(double) * (size_t)n);
    int ret = 0;
    if (!F || !is_ho || !wt || !G || !W || !order || !p) {
        ret = sx_failc(err, SX_ENOMEM, "out of memory training the scorer");
        goto done;
    }
    int fail = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(| : fail)
    for (int64_t i = 0; i < n; i++) {
        fail |= sx_scorer_features(&o->cfg, d->text[i], strlen(d->text[i]), &F[i]) != 0;
        is_ho[i] = (char)sx_text_is_holdout(d->text[i], o->holdout_frac);
    }
    if (fail) {
        ret = sx_failc(err, SX_ENOMEM, "out of memory extracting features");
        goto done;
    }
    /* per-example weights: source weight x (optional) class balance within the source */
    int64_t npos[SX_LAB_MAX_SOURCES] = {0}, ntot[SX_LAB_MAX_SOURCES] = {0}, ntrain = 0;
    for (int64_t i = 0; i < n; i++)
        if (!is_ho[i]) {
            ntot[d->source[i]]++;
            npos[d->source[i]] += d->score[i] >= 0.5f;
        }
    for (int64_t i = 0; i < n; i++) {
        int k = d->source[i], y = d->score[i] >= 0.5f;
        double cw = 1;
        if (o->balance && npos[k] > 0 && npos[k] < ntot[k])
            cw = (double)ntot[k] / (2.0 * (double)(y ? npos[k] : ntot[k] - npos[k]));
        wt[i] = (float)(d->src[k].weight * cw);
        if (!is_ho[i]) order[ntrain++] = i;
    }
    if (ntrain == 0) {
        ret = sx_failc(err, SX_EINVAL, "every example fell in the held-out split");
        goto done;
    }
    sx_rng rng;
    sx_rng_seed(&rng, o->seed);
    double bias = 0;
    for (int e = 0; e < o->epochs; e++) {
        for (int64_t i = ntrain - 1; i > 0; i--) { /* Fisher-Yates, seeded */
            int64_t j = (int64_t)sx_rng_below(&rng, (uint64_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int64_t r = 0; r < ntrain; r++) {
            int64_t i = order[r];
            const sx_feats *f = &F[i];
            double z = bias;
            for (int k = 0; k < f->n; k++) z += W[f->idx[k]] * f->val[k];
            double pr = 1 / (1 + exp(-z));
            double y = d->score[i] >= 0.5f ? 1.0 : 0.0;
            double g = (pr - y) * wt[i];
            for (int k = 0; k < f->n; k++) {
                uint32_t j = f->idx[k];
                double gj = g * f->val[k] + o->l2 * W[j];
                G[j] += gj * gj;
                W[j] -= o->lr * gj / (sqrt(G[j]) + 1e-8);
            }
            G[nb] += g * g;
            bias -= o->lr * g / (sqrt(G[nb]) + 1e-8);
        }
    }
    s->bias = (float)bias;
    for (size_t j = 0; j < nb; j++) s->w[j] = (float)W[j];
    if (o->f16) { /* evaluate exactly what will be shipped */
        for (size_t j = 0; j < nb; j++) s->w[j] = sx_f16_to_f32(sx_f32_to_f16(s->w[j]));
    }
    for (int64_t i = 0; i < n; i++) p[i] = sx_scorer_score_feats(s, &F[i]);
    if (report) {
        cJSON_AddNumberToObject(report, "n_train", (double)ntrain);
        cJSON_AddNumberToObject(report, "n_holdout", (double)(n - ntrain));
        cJSON_AddNumberToObject(report, "holdout_frac", o->holdout_frac);
        cJSON_AddNumberToObject(report, "seed", (double)o->seed);
        cJSON_AddNumberToObject(report, "epochs", o->epochs);
        cJSON_AddNumberToObject(report, "log2_buckets", o->cfg.log2_buckets);
        cJSON_AddStringToObject(report, "weights_dtype", o->f16 ? "F16" : "F32");
        cJSON_AddStringToObject(report, "label_rule", "Perspective toxicity >= 0.5; Davidson class 0/1 toxic, 2 clean");
        eval_group(d, p, is_ho, pick_persp, NULL, report, "perspective");
        eval_group(d, p, is_ho, pick_rtp, NULL, report, "rtp");
        eval_group(d, p, is_ho, pick_davidson, NULL, report, "davidson");
        eval_group(d, p, is_ho, pick_all, NULL, report, "all");
        char *trained = calloc((size_t)n, 1);
        if (trained) {
            for (int64_t i = 0; i < n; i++) trained[i] = !is_ho[i];
            eval_group(d, p, trained, pick_persp, NULL, report, "perspective_train");
            free(trained);
        }
        cJSON *srcs = cJSON_AddArrayToObject(report, "sources");
        for (int k = 0; k < d->n_src; k++) {
            cJSON *one = cJSON_CreateObject();
            cJSON_AddStringToObject(one, "path", d->src[k].path);
            cJSON_AddNumberToObject(one, "weight", d->src[k].weight);
            eval_group(d, p, is_ho, pick_src, &k, one, "holdout");
            cJSON_AddItemToArray(srcs, one);
        }
    }
done:
    if (F)
        for (int64_t i = 0; i < n; i++) sx_feats_free(&F[i]);
    free(F);
    free(is_ho);
    free(wt);
    free(G);
    free(W);
    free(order);
    free(p);
    if (ret) sx_scorer_free(s);
    else *out = s;
    return ret;
}
