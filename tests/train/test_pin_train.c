/* test_pin_train.c — the trainer's optimiser and metrics against independent float64
 * references:
 * 1. sx_adam_prepare/update over 6 steps (one with a zero gradient, some gradients of 1e-8
 *    where eps matters) = textbook Adam with bias correction, m/(1-b1^t), v/(1-b2^t);
 *    the LR schedule (warm-up 5%, linear decay over the last 20%) at hand-derived steps;
 * 2. three real training steps of every architecture (sx_step_sparse / sx_step_dense /
 *    sx_step_gated): the parameters after each step = textbook Adam applied to the exported
 *    gradient, with unit decoder rows renormalised afterwards for all but relu (matryoshka
 *    with groups M/4, M/2, M; its threshold checked as batchtopk's);
 * 3. decoder rows of SAEs saved by sx_train_run (topk, batchtopk, jumprelu) have unit norm;
 * 4. FVU: metrics.jsonl fvu = sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over the batch
 *    (checked as fvu/mse = B d / two-pass variance sum, on data with mean 3), and
 *    eval.jsonl mse / fvu / l0 recomputed from the saved SAE on a held-out cache;
 * 5. BatchTopK's inference threshold after each step = the running mean (0.99 / 0.01) of the
 *    smallest activation kept, recomputed from the pre-step parameters;
 * 6. the metrics line of a one-step TopK run (mse, fvu, l0, mean_max_act) recomputed from the
 *    initial parameters;
 * 7. the training loop numbers Adam's steps 1, 2, 3 (a three-step run = three step calls);
 * 8. lazy Adam (the sparse archs' default): latents without an entry in a step keep their
 *    parameters and moments; the rest follow textbook Adam. */
#include <unistd.h>

#include "datasets.h"
#include "sx_json.h"
#include "sae_internal.h"
#include "test.h"
#include "train_internal.h"

static const double B1 = 0.9, B2 = 0.999, EPS = 1e-8;

typedef struct {
    double *p, *m, *v;
} ref_adam;

static void ref_step(ref_adam *r, const float *g, int64_t n, double gscale, double lr, int t) {
    for (int64_t i = 0; i < n; i++) {
        double gi = g ? (double)g[i] * gscale : 0.0;
        r->m[i] = B1 * r->m[i] + (1 - B1) * gi;
        r->v[i] = B2 * r->v[i] + (1 - B2) * gi * gi;
        double mh = r->m[i] / (1 - pow(B1, t)), vh = r->v[i] / (1 - pow(B2, t));
        r->p[i] -= lr * mh / (sqrt(vh) + EPS);
    }
}

static void check_adam_unit(void) {
    enum { N = 64 };
    float p[N], m[N] = {0}, v[N] = {0}, g[N];
    double rp[N], rm[N] = {0}, rv[N] = {0};
    ref_adam r = {rp, rm, rv};
    sx_rng rng;
    sx_rng_seed(&rng, 99);
    for (int i = 0; i < N; i++) p[i] = (float)sx_rng_normal(&rng), rp[i] = p[i];
    double worst = 0, moved = 0;
    for (int t = 1; t <= 6; t++) {
        for (int i = 0; i < N; i++) g[i] = (float)(sx_rng_normal(&rng) * (i < 8 ? 1e-8 : 1.0));
        const float *gp = t == 4 ? NULL : g;
        sx_adam a;
        sx_adam_prepare(&a, 1e-2, t);
        sx_adam_update(p, m, v, gp, N, 0.7f, &a);
        ref_step(&r, gp, N, 0.7f, 1e-2, t);
        for (int i = 0; i < N; i++) {
            /* relative to the step size: float p carries ~1e-7 absolute rounding */
            double e = fabs(p[i] - rp[i]);
            if (e > worst) worst = e;
        }
    }
    for (int i = 0; i < N; i++) moved += fabs(rp[i]);
    printf("adam: 6 steps, max |p - textbook| %.3g\n", worst);
    CHECK(worst <= 2e-6, "Adam differs from the bias-corrected textbook update by %g", worst);
    CHECK(moved > 0, "reference moved");

    /* schedule: 100 steps, warm-up 5 steps (f = (step+1)/5), decay from step 80 ((100-step)/20) */
    const double want[][2] = {{0, 0.2}, {3, 0.8}, {4, 1.0}, {50, 1.0}, {80, 1.0}, {90, 0.5}, {99, 0.05}};
    for (size_t q = 0; q < sizeof want / sizeof want[0]; q++) {
        double lr = sx_lr_at((int64_t)want[q][0], 100, 2.0, 0.05, 0.2);
        CHECK(fabs(lr - 2.0 * want[q][1]) < 1e-12, "lr at step %g: %.9g, want %.9g", want[q][0], lr, 2.0 * want[q][1]);
    }
    /* decay over the last 80%: from step 20, f = (100 - step) / 80; no warm-up */
    const double want8[][2] = {{10, 1.0}, {20, 1.0}, {30, 0.875}, {60, 0.5}, {99, 0.0125}};
    for (size_t q = 0; q < sizeof want8 / sizeof want8[0]; q++) {
        double lr = sx_lr_at((int64_t)want8[q][0], 100, 2.0, 0, 0.8);
        CHECK(fabs(lr - 2.0 * want8[q][1]) < 1e-12, "lr (decay 0.8) at step %g: %.9g, want %.9g", want8[q][0], lr,
              2.0 * want8[q][1]);
    }
}

/* ---- 2: real steps ---- */
enum { D = 8, M = 24, K = 3, B = 32 };

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* BatchTopK's inference threshold after a step: the smallest activation the batch kept (the
 * B*K-th largest of the rows' top-4K positive pre-activations, from the parameters before the
 * step, in float64), folded into a running mean: thr = 0.99 thr + 0.01 kept_min (the first
 * step takes kept_min itself). */
static double bt_threshold_ref(const sx_tsae *t, const float *x, double prev) {
    enum { C = 4 * K < M ? 4 * K : M };
    double cand[B * C], pre[M];
    int n = 0;
    for (int r = 0; r < B; r++) {
        for (int j = 0; j < M; j++) {
            double z = t->b_enc[j];
            for (int i = 0; i < D; i++) z += ((double)x[r * D + i] - t->b_dec[i]) * t->WencT[j * D + i];
            pre[j] = z;
        }
        qsort(pre, M, sizeof(double), cmp_desc);
        for (int q = 0; q < C && pre[q] > 0; q++) cand[n++] = pre[q];
    }
    qsort(cand, (size_t)n, sizeof(double), cmp_desc);
    double kept_min = cand[(n > B * K ? B * K : n) - 1];
    return prev > 0 ? 0.99 * prev + 0.01 * kept_min : kept_min;
}

static int any_step(sx_tsae *t, const sx_step_ctx *c, sx_err *err) {
    if (t->arch == SX_SAE_GATED) return sx_step_gated(t, c, err);
    if (t->arch == SX_SAE_STANDARD || t->arch == SX_SAE_JUMPRELU) return sx_step_dense(t, c, err);
    return sx_step_sparse(t, c, err);
}

/* lazy (sparse archs): the step skips latents without an entry (not selected, not in AuxK);
 * the reference applies textbook Adam to the others only.  Latent SILENT fires in step 1 and
 * is then silenced (b_enc -100: in no row's top k), so dense Adam would keep moving it by its
 * momentum in steps 2 and 3; lazy must leave its parameters and moments as step 1 left them. */
enum { SILENT = 5 };
static void check_steps(sx_sae_arch arch, int lazy) {
    sx_err err = {0};
    sx_tsae t;
    sx_scratch s;
    const int dense = arch == SX_SAE_STANDARD || arch == SX_SAE_JUMPRELU || arch == SX_SAE_GATED;
    const int bt = arch == SX_SAE_BATCHTOPK || arch == SX_SAE_MATRYOSHKA;
    const int unit = arch != SX_SAE_STANDARD;
    CHECK(sx_tsae_init(&t, arch, D, M, K, dense ? 0.05 : 0, "pin", &err) == 0, "init: %s", err.msg);
    CHECK(sx_scratch_init(&s, B, D, M, K, 4, dense, bt, &err) == 0, "scratch: %s", err.msg);
    if (arch == SX_SAE_MATRYOSHKA) {
        t.n_groups = 3, t.groups[0] = M / 4, t.groups[1] = M / 2, t.groups[2] = M;
        CHECK(sx_scratch_groups(&s, 3, &err) == 0, "groups: %s", err.msg);
    }
    if (arch == SX_SAE_GATED) CHECK(sx_scratch_gated(&s, &err) == 0, "gated: %s", err.msg);
    sx_rng rng;
    sx_rng_seed(&rng, 4321 + (uint64_t)arch);
    float x[B * D];
    for (int i = 0; i < B * D; i++) x[i] = (float)sx_rng_normal(&rng);
    sx_tsae_init_params(&t, 5, 0, x, B, 0.05);
    float *g = malloc((size_t)t.np * sizeof(float));
    double *rp = malloc((size_t)t.np * sizeof(double)), *rm = calloc((size_t)t.np, sizeof(double)),
           *rv = calloc((size_t)t.np, sizeof(double));
    ref_adam r = {rp, rm, rv};
    for (int64_t i = 0; i < t.np; i++) rp[i] = t.p[i];
    double worst = 0, moved = 0, thr_prev = 0;
    const double lr = 1e-2;
    int skipped = 0;
    const int64_t md = (int64_t)M * D;
    float *silent0 = malloc((size_t)(2 * D + 1) * sizeof(float));
    for (int step = 1; step <= 3; step++) {
        if (lazy && step == 2) { /* silence latent SILENT, in the trainer and the reference */
            t.b_enc[SILENT] = -100, rp[2 * md + SILENT] = -100;
            t.wpack_fresh = 0;
            memcpy(silent0, t.WencT + SILENT * D, D * sizeof(float));
            memcpy(silent0 + D, t.W_dec + SILENT * D, D * sizeof(float));
            silent0[2 * D] = t.b_enc[SILENT];
            CHECK(fabs(t.am[2 * md + SILENT]) > 0, "arch %d lazy: latent %d got no gradient in step 1", arch, SILENT);
        }
        sx_step_ctx c = {0};
        c.B = B, c.x = x, c.s = &s, c.adam_t = step, c.lr = lr, c.sparsity_scale = 1;
        c.tokens_before = (int64_t)(step - 1) * B, c.dead_tokens = 1000000, c.aux_coef = 1.0 / 32, c.aux_k = 4;
        c.eps = 0.001, c.bt_ema = 0.99, c.want_grad = 1, c.grad_out = g;
        int rc = any_step(&t, &c, &err);
        CHECK(rc == 0, "gradient: %s", err.msg);
        c.want_grad = 0, c.grad_out = NULL, c.lazy_adam = lazy;
        /* the latents the step will skip: no entry in this step (the same selection as the
         * gradient call's: the parameters have not moved in between) */
        unsigned char skip[M];
        for (int j = 0; j < M; j++) skip[j] = lazy && s.lat_ptr[j + 1] == s.lat_ptr[j];
        double thr_want = bt ? bt_threshold_ref(&t, x, thr_prev) : 0;
        rc = any_step(&t, &c, &err);
        CHECK(rc == 0, "step: %s", err.msg);
        if (bt) {
            CHECK(fabs(t.bt_threshold - thr_want) <= 1e-5 * thr_want, "batchtopk threshold after step %d: %.9g, reference %.9g",
                  step, t.bt_threshold, thr_want);
            thr_prev = thr_want;
        }
        if (!lazy) {
            ref_step(&r, g, t.np, 1.0, lr, step);
        } else { /* textbook Adam on every parameter but the skipped latents' */
            double *keep = malloc((size_t)t.np * 3 * sizeof(double));
            memcpy(keep, rp, (size_t)t.np * sizeof(double));
            memcpy(keep + t.np, rm, (size_t)t.np * sizeof(double));
            memcpy(keep + 2 * t.np, rv, (size_t)t.np * sizeof(double));
            ref_step(&r, g, t.np, 1.0, lr, step);
            for (int j = 0; j < M; j++) {
                if (!skip[j]) continue;
                skipped++;
                const int64_t offs[3] = {(int64_t)j * D, md + (int64_t)j * D, 2 * md + j}, lens[3] = {D, D, 1};
                for (int q = 0; q < 3; q++)
                    for (int64_t i = offs[q]; i < offs[q] + lens[q]; i++)
                        rp[i] = keep[i], rm[i] = keep[t.np + i], rv[i] = keep[2 * t.np + i];
            }
            free(keep);
        }
        if (unit)
            for (int j = 0; j < M; j++) {
                double *w = rp + (int64_t)M * D + (int64_t)j * D, nn = 0;
                for (int i = 0; i < D; i++) nn += w[i] * w[i];
                for (int i = 0; i < D; i++) w[i] /= sqrt(nn);
            }
        for (int64_t i = 0; i < t.np; i++) {
            double e = fabs(t.p[i] - rp[i]);
            if (e > worst) worst = e;
        }
    }
    int same = memcmp(silent0, t.WencT + SILENT * D, D * sizeof(float)) == 0 &&
               memcmp(silent0 + D, t.W_dec + SILENT * D, D * sizeof(float)) == 0 && silent0[2 * D] == t.b_enc[SILENT];
    float *p0 = malloc((size_t)t.np * sizeof(float));
    sx_tsae_init_params(&t, 5, 0, x, B, 0.05); /* the start point again, to measure the motion */
    memcpy(p0, t.p, (size_t)t.np * sizeof(float));
    for (int64_t i = 0; i < t.np; i++)
        if (!(lazy && i == 2 * md + SILENT)) moved = fmax(moved, fabs(rp[i] - p0[i]));
    printf("arch %d%s: 3 steps, max |param - textbook Adam| %.3g (largest move %.3g)\n", arch, lazy ? " lazy" : "", worst,
           moved);
    if (lazy) {
        CHECK(skipped >= 2, "arch %d lazy: latent %d was not skipped in steps 2 and 3 (%d skips)", arch, SILENT, skipped);
        CHECK(same, "arch %d lazy: the silenced latent %d moved in steps 2-3", arch, SILENT);
    }
    free(silent0);
    CHECK(moved > 5e-3, "arch %d: the parameters moved (%g)", arch, moved);
    CHECK(worst <= 1e-5, "arch %d: parameters differ from textbook Adam by %g", arch, worst);
    free(g), free(rp), free(rm), free(rv), free(p0);
    sx_scratch_free(&s);
    sx_tsae_free(&t);
}

/* ---- 3 and 4: sx_train_run on a fixed dataset served in order ---- */
typedef struct {
    const float *x;
    int64_t n, pos;
    int d;
} fixed_src;

static int64_t fixed_next(void *ctx, float *out, int64_t rows, sx_err *err) {
    (void)err;
    fixed_src *f = ctx;
    for (int64_t r = 0; r < rows; r++, f->pos++)
        memcpy(out + r * f->d, f->x + (f->pos % f->n) * f->d, (size_t)f->d * sizeof(float));
    return rows;
}
static int fixed_skip(void *ctx, int64_t rows, sx_err *err) {
    (void)err;
    ((fixed_src *)ctx)->pos += rows;
    return 0;
}

/* two-pass sum over columns of sum_r (x_ri - mean_i)^2 */
static double var_sum(const float *x, int64_t n, int d) {
    double tot = 0;
    for (int i = 0; i < d; i++) {
        double mu = 0, ss = 0;
        for (int64_t r = 0; r < n; r++) mu += x[r * d + i];
        mu /= (double)n;
        for (int64_t r = 0; r < n; r++) ss += (x[r * d + i] - mu) * (x[r * d + i] - mu);
        tot += ss;
    }
    return tot;
}

static void make_data(float *x, int64_t n, int d, uint64_t seed) {
    sx_rng rng;
    sx_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)(3.0 + (i % d) * 0.25 + sx_rng_normal(&rng));
}

static void check_run(sx_sae_arch arch, const char *tmp) {
    enum { RD = 16, RW = 48, RB = 64, NROWS = 64 };
    static float x[NROWS * RD];
    make_data(x, NROWS, RD, 17 + (uint64_t)arch);
    char out[4200], eval_h5[4300], path[4400];
    snprintf(out, sizeof out, "%s/run-%d", tmp, arch);
    sx_err err = {0};
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = arch, o.n_widths = 1, o.widths[0] = RW, o.batch = RB, o.tokens = (int64_t)RB * 40, o.seed = 3;
    o.lr = 1e-2, o.log_every = 1, o.out_dir = out;
    if (arch != SX_SAE_JUMPRELU) o.n_k = 1, o.ks[0] = 4;
    fixed_src f = {x, NROWS, 0, RD};
    sx_batch_source src = {&f, RD, "fixed", fixed_next, fixed_skip};
    int rc = sx_train_run(&o, &src, &err);
    CHECK(rc == 0, "train arch %d: %s", arch, err.msg);
    if (rc) return;
    char name[64];
    sx_train_sae_name(&o, 0, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", out, name);
    sx_sae sae;
    CHECK(sx_sae_load(path, &sae, &err) == 0, "load %s: %s", path, err.msg);
    double worst = 0;
    for (int j = 0; j < sae.d_sae; j++) {
        double nn = 0;
        for (int i = 0; i < RD; i++) nn += (double)sae.W_dec[j * RD + i] * sae.W_dec[j * RD + i];
        worst = fmax(worst, fabs(sqrt(nn) - 1));
    }
    printf("arch %d: after 40 steps max | ||d_j|| - 1 | = %.3g\n", arch, worst);
    CHECK(worst <= 1e-5, "arch %d: decoder rows not unit norm after training (off by %g)", arch, worst);

    /* metrics.jsonl: every batch is the whole fixed dataset, so fvu / mse = B d / var, with
     * var in the training units (inputs times cfg.json's saetox.norm_scale: jumprelu
     * normalises by default) */
    double ns = 1;
    snprintf(path, sizeof path, "%s/%s/cfg.json", out, name);
    cJSON *cfg = sx_json_parse_file(path, 1 << 20, &err);
    sx_json_num(cJSON_GetObjectItem(cfg, "saetox"), "norm_scale", &ns, "cfg", NULL);
    cJSON_Delete(cfg);
    CHECK(arch == SX_SAE_JUMPRELU ? ns != 1 : ns == 1, "norm_scale %g", ns);
    const double want_ratio = (double)RB * RD / (ns * ns * var_sum(x, NROWS, RD));
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    FILE *fm = fopen(path, "r");
    CHECK(fm != NULL, "metrics.jsonl");
    int lines = 0;
    double worst_r = 0;
    char line[4096];
    while (fm && fgets(line, sizeof line, fm)) {
        cJSON *j = cJSON_Parse(line);
        double mse = NAN, fvu = NAN;
        sx_json_num(j, "mse", &mse, "metrics", NULL);
        sx_json_num(j, "fvu", &fvu, "metrics", NULL);
        cJSON_Delete(j);
        worst_r = fmax(worst_r, fabs(fvu / mse / want_ratio - 1));
        lines++;
    }
    if (fm) fclose(fm);
    CHECK(lines == 40, "40 metrics lines (%d)", lines);
    CHECK(worst_r <= 2e-5, "metrics fvu/mse = B d / sum (x - mean)^2: off by a factor %g", worst_r);

    /* eval.jsonl on a held-out cache */
    static float xe[200 * RD];
    make_data(xe, 200, RD, 1000 + (uint64_t)arch);
    snprintf(eval_h5, sizeof eval_h5, "%s/eval.h5", out);
    unlink(eval_h5);
    sx_cache_meta cm = {.d_in = RD, .hook_name = "blocks.0.hook_resid_pre", .model = "m", .source = "text:x",
                        .context_size = 8, .n_tokens_target = 200};
    sx_cache_writer *w;
    int64_t done;
    rc = sx_cache_writer_open(eval_h5, &cm, 0, &w, &done, &err) || sx_cache_writer_append(w, xe, NULL, NULL, NULL, 200, &err) ||
         sx_cache_writer_finish(w, &err);
    CHECK(rc == 0, "eval cache: %s", err.msg);
    rc = sx_train_eval(&o, eval_h5, &err);
    CHECK(rc == 0, "train_eval: %s", err.msg);
    float *acts = malloc(sizeof(float) * 200 * RW), *rec = malloc(sizeof(float) * 200 * RD);
    sx_sae_encode(&sae, xe, 200, acts, NULL, &err);
    sx_sae_decode(&sae, acts, 200, rec);
    double se = 0, l0 = 0;
    for (int i = 0; i < 200 * RD; i++) se += ((double)rec[i] - xe[i]) * ((double)rec[i] - xe[i]);
    for (int i = 0; i < 200 * RW; i++) l0 += acts[i] > 0;
    const double fvu_ref = se / var_sum(xe, 200, RD), mse_ref = se / (200.0 * RD);
    snprintf(path, sizeof path, "%s/eval.jsonl", out);
    cJSON *j = NULL;
    char *buf = NULL;
    size_t len;
    if (sx_read_file(path, 1 << 20, &buf, &len, &err) == 0) j = cJSON_Parse(buf);
    double fvu = NAN, mse = NAN, l0g = NAN;
    sx_json_num(j, "fvu", &fvu, "eval", NULL);
    sx_json_num(j, "mse", &mse, "eval", NULL);
    sx_json_num(j, "l0", &l0g, "eval", NULL);
    printf("arch %d: eval fvu %.6g (reference %.6g), mse %.6g (%.6g), l0 %.4g (%.4g)\n", arch, fvu, fvu_ref, mse,
           mse_ref, l0g, l0 / 200);
    CHECK(fabs(fvu / fvu_ref - 1) <= 1e-5, "eval fvu %.9g vs reference %.9g", fvu, fvu_ref);
    CHECK(fabs(mse / mse_ref - 1) <= 1e-5, "eval mse %.9g vs reference %.9g", mse, mse_ref);
    CHECK(fabs(l0g - l0 / 200) <= 1e-4 * fmax(1, l0 / 200), "eval l0 %.9g vs reference %.9g", l0g, l0 / 200);
    CHECK(fvu_ref > 0.01 && fvu_ref < 0.99, "fixture: fvu is neither trivial nor saturated (%g)", fvu_ref);
    cJSON_Delete(j);
    free(buf), free(acts), free(rec);
    sx_sae_free(&sae);
}

/* A one-step TopK run: its metrics line describes the initial parameters (the step's
 * forward pass comes before its update), which sx_tsae_init_params reproduces from the seed;
 * mse, fvu, l0 and mean_max_act are recomputed from them in float64. */
static void check_metrics_first_step(const char *tmp) {
    enum { RD = 16, RW = 48, RK = 4, RB = 64 };
    static float x[RB * RD];
    make_data(x, RB, RD, 71);
    char out[4200], path[4400];
    snprintf(out, sizeof out, "%s/first-step", tmp);
    sx_err err = {0};
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = SX_SAE_TOPK, o.n_widths = 1, o.widths[0] = RW, o.n_k = 1, o.ks[0] = RK, o.batch = RB, o.tokens = RB;
    o.seed = 11, o.lr = 1e-3, o.log_every = 1, o.out_dir = out;
    fixed_src f = {x, RB, 0, RD};
    sx_batch_source src = {&f, RD, "fixed", fixed_next, fixed_skip};
    CHECK(sx_train_run(&o, &src, &err) == 0, "one-step run: %s", err.msg);
    sx_tsae t;
    CHECK(sx_tsae_init(&t, SX_SAE_TOPK, RD, RW, RK, 0, "ref", &err) == 0, "init: %s", err.msg);
    sx_tsae_init_params(&t, o.seed, 0, x, RB, o.jumprelu_init_threshold);
    double se = 0, l0 = 0, mx_sum = 0;
    for (int r = 0; r < RB; r++) {
        double pre[RW], sorted[RW], rec[RD];
        for (int j = 0; j < RW; j++) {
            double z = t.b_enc[j];
            for (int i = 0; i < RD; i++) z += ((double)x[r * RD + i] - t.b_dec[i]) * t.WencT[j * RD + i];
            pre[j] = sorted[j] = z;
        }
        qsort(sorted, RW, sizeof(double), cmp_desc);
        for (int i = 0; i < RD; i++) rec[i] = t.b_dec[i];
        double mx = 0;
        for (int j = 0; j < RW; j++) {
            if (!(pre[j] >= sorted[RK - 1] && pre[j] > 0)) continue;
            l0 += 1, mx = fmax(mx, pre[j]);
            for (int i = 0; i < RD; i++) rec[i] += pre[j] * t.W_dec[j * RD + i];
        }
        mx_sum += mx;
        for (int i = 0; i < RD; i++) se += (rec[i] - x[r * RD + i]) * (rec[i] - x[r * RD + i]);
    }
    sx_tsae_free(&t);
    const double want[4] = {se / (RB * RD), se / var_sum(x, RB, RD), l0 / RB, mx_sum / RB};
    const char *keys[4] = {"mse", "fvu", "l0", "mean_max_act"};
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    char *buf = NULL;
    size_t len;
    cJSON *j = sx_read_file(path, 1 << 20, &buf, &len, &err) == 0 ? cJSON_Parse(buf) : NULL;
    CHECK(j != NULL, "metrics.jsonl of the one-step run");
    for (int q = 0; q < 4; q++) {
        double v = NAN;
        sx_json_num(j, keys[q], &v, "metrics", NULL);
        CHECK(fabs(v - want[q]) <= 2e-5 * fabs(want[q]), "first step %s %.9g vs reference %.9g", keys[q], v, want[q]);
    }
    printf("first step: mse %.6g fvu %.6g l0 %.4g mean_max_act %.6g (references)\n", want[0], want[1], want[2], want[3]);
    CHECK(want[2] > 1 && want[1] > 0.01 && want[1] < 0.99, "fixture: l0 %g, fvu %g not degenerate", want[2], want[1]);
    cJSON_Delete(j);
    free(buf);
}

/* The training loop numbers Adam's steps from 1: a three-step TopK run (constant LR, no AuxK,
 * every batch the same rows) ends with the parameters of three step-function calls with
 * adam_t = 1, 2, 3 from the same initialisation (each pinned to textbook Adam above). */
static void check_loop_adam(const char *tmp) {
    static float x[B * D];
    make_data(x, B, D, 91);
    char out[4200], path[4400];
    snprintf(out, sizeof out, "%s/loop-adam", tmp);
    sx_err err = {0};
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = SX_SAE_TOPK, o.n_widths = 1, o.widths[0] = M, o.n_k = 1, o.ks[0] = K, o.batch = B, o.tokens = 3 * B;
    o.seed = 21, o.lr = 1e-2, o.lr_warmup_frac = 0, o.lr_decay_frac = 0, o.aux_coef = 0, o.out_dir = out;
    fixed_src f = {x, B, 0, D};
    sx_batch_source src = {&f, D, "fixed", fixed_next, fixed_skip};
    CHECK(sx_train_run(&o, &src, &err) == 0, "three-step run: %s", err.msg);
    sx_tsae t;
    sx_scratch s;
    CHECK(sx_tsae_init(&t, SX_SAE_TOPK, D, M, K, 0, "ref", &err) == 0 &&
              sx_scratch_init(&s, B, D, M, K, D / 2, 0, 0, &err) == 0, "init: %s", err.msg);
    sx_tsae_init_params(&t, o.seed, 0, x, B, o.jumprelu_init_threshold);
    for (int step = 0; step < 3; step++) {
        sx_step_ctx c = {0};
        c.B = B, c.x = x, c.s = &s, c.adam_t = step + 1, c.lr = 1e-2, c.sparsity_scale = 1;
        c.tokens_before = (int64_t)step * B, c.dead_tokens = 1 << 30, c.aux_coef = 0, c.aux_k = D / 2;
        c.eps = o.jumprelu_eps, c.bt_ema = o.batchtopk_ema, c.lazy_adam = !o.dense_adam;
        CHECK(sx_step_sparse(&t, &c, &err) == 0, "reference step: %s", err.msg);
    }
    sx_sae sae;
    char name[64];
    sx_train_sae_name(&o, 0, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", out, name);
    CHECK(sx_sae_load(path, &sae, &err) == 0, "load: %s", err.msg);
    double worst = 0;
    for (int j = 0; j < M; j++) {
        for (int i = 0; i < D; i++) {
            worst = fmax(worst, fabs(sae.W_enc[i * M + j] - t.WencT[j * D + i]));
            worst = fmax(worst, fabs(sae.W_dec[j * D + i] - t.W_dec[j * D + i]));
        }
        worst = fmax(worst, fabs(sae.b_enc[j] - t.b_enc[j]));
    }
    for (int i = 0; i < D; i++) worst = fmax(worst, fabs(sae.b_dec[i] - t.b_dec[i]));
    printf("training loop vs three steps with adam_t 1, 2, 3: max |diff| %.3g\n", worst);
    CHECK(worst <= 1e-6, "the training loop's parameters differ from adam_t = 1, 2, 3 by %g", worst);
    sx_sae_free(&sae);
    sx_scratch_free(&s);
    sx_tsae_free(&t);
}

int main(void) {
    const char *tmp = test_tmpdir("pin_train");
    check_adam_unit();
    check_steps(SX_SAE_STANDARD, 0);
    check_steps(SX_SAE_JUMPRELU, 0);
    check_steps(SX_SAE_TOPK, 0);
    check_steps(SX_SAE_BATCHTOPK, 0);
    check_steps(SX_SAE_MATRYOSHKA, 0);
    check_steps(SX_SAE_GATED, 0);
    check_steps(SX_SAE_TOPK, 1);
    check_steps(SX_SAE_BATCHTOPK, 1);
    check_steps(SX_SAE_MATRYOSHKA, 1);
    check_run(SX_SAE_TOPK, tmp);
    check_run(SX_SAE_BATCHTOPK, tmp);
    check_run(SX_SAE_JUMPRELU, tmp);
    check_metrics_first_step(tmp);
    check_loop_adam(tmp);
    return TEST_DONE();
}
