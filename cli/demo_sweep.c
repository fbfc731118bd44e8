/* demo_sweep.c — the demo's steps 7 and 8: the latents to steer picked from the analysis
 * tables (sx_pick_latents), the steering sweeps of the narrow SAE and of the wide SAE's
 * family (sx_sweep_*, as `saetox evaluate`), and the two merged (sx_sweep_merge). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "demo.h"
#include "export.h"
#include "steering.h"
#include "study.h"

static void join_ids(char *buf, size_t n, const int32_t *ids, int k) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < k && used + 24 < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? "," : "", (long long)ids[i]);
}

int demo_read_pick(const demo_ctx *c, const char *analysis, int n_top, sx_latent_pick *pk, sx_err *err) {
    char p[4300];
    sx_csv_table tox, pairs;
    snprintf(p, sizeof p, "%s/toxic_latents.csv", analysis);
    if (sx_csv_read(p, &tox, err)) return -1;
    snprintf(p, sizeof p, "%s/pairs.csv", analysis);
    if (sx_csv_read(p, &pairs, err)) {
        sx_csv_free(&tox);
        return -1;
    }
    int rc = sx_pick_latents(&tox, &pairs, c->name_narrow, c->name_wide, n_top, 10, pk, err);
    sx_csv_free(&tox);
    sx_csv_free(&pairs);
    return rc ? -1 : 0;
}

int demo_pick_latents(demo_ctx *c, const char *analysis, sx_err *err) {
    sx_latent_pick pk;
    if (demo_read_pick(c, analysis, 3, &pk, err)) return -1;
    join_ids(c->narrow_latents, sizeof c->narrow_latents, pk.top, pk.n_top);
    c->top_narrow = pk.parent;
    c->family_wide_n = pk.n_children;
    snprintf(c->wide_single, sizeof c->wide_single, "%lld", (long long)pk.single);
    join_ids(c->wide_family, sizeof c->wide_family, pk.family, pk.n_family);
    c->children_desc[0] = 0;
    for (int k = 0, used = 0; k < pk.n_children && used + 40 < (int)sizeof c->children_desc; k++)
        used += snprintf(c->children_desc + used, sizeof c->children_desc - used, "%s%lld (%.2f)", k ? ", " : "",
                         (long long)pk.child[k], pk.child_cos[k]);
    if (c->family_wide_n > 0)
        fprintf(stderr, "      narrow latents %s; narrow latent %d split into %d wide latent(s): %s; single %s\n",
                c->narrow_latents, c->top_narrow, c->family_wide_n, c->children_desc, c->wide_single);
    else
        fprintf(stderr, "      narrow latents %s; narrow latent %d has no wide child; wide top latent %s\n",
                c->narrow_latents, c->top_narrow, c->wide_single);
    return 0;
}

/* What both sweeps share: prompts, contrast texts, benchmark, scorer, banned ids. */
typedef struct {
    sx_textlist prompts, toxic, clean;
    sx_mc_item *items;
    int64_t n_items;
    sx_scorer *scorer;
    int *ban, nban;
    char prompts_p[4200], toxic_p[4200], clean_p[4200], bench_p[4200], seed_s[32], samples_s[32];
} sweep_shared;

/* The sweeps' rows as the study's rows (sx_study_run): the demo's one-seed findings are computed
 * from them by the library function behind `saetox study` (sx_study_findings). */
typedef struct {
    sx_study_run *r;
    int64_t n, cap;
} study_acc;

static int acc_push(study_acc *a, int64_t seed, const char *sae, const char *set, const sx_sweep_row *w, sx_err *err) {
    const sx_sweep_cond *cd = w->cond;
    int sae_tier = cd->tier == SX_TIER_ABLATE || cd->tier == SX_TIER_SUPPRESS || cd->tier == SX_TIER_STEER ||
                   cd->tier == SX_TIER_COND;
    if (!sae_tier && strcmp(set, "top")) return 0; /* the baselines once, from the narrow sweep */
    if (a->n == a->cap) {
        int64_t cap = a->cap ? 2 * a->cap : 64;
        sx_study_run *p = realloc(a->r, (size_t)cap * sizeof *p);
        if (!p) return sx_failc(err, SX_ENOMEM, "demo: out of memory");
        a->r = p, a->cap = cap;
    }
    sx_study_run *x = &a->r[a->n++];
    memset(x, 0, sizeof *x);
    x->seed = seed;
    snprintf(x->sae, sizeof x->sae, "%s", sae_tier ? sae : "");
    snprintf(x->set, sizeof x->set, "%s", !sae_tier ? "baseline" : cd->family ? "family" : set);
    snprintf(x->condition, sizeof x->condition, "%s", cd->name);
    snprintf(x->tier, sizeof x->tier, "%s", sx_tier_name(cd->tier));
    x->alpha = cd->alpha, x->emt = w->res.emt, x->ppl = w->res.ppl, x->acc = w->acc, x->acc_n = w->n_bench;
    return 0;
}

static int parse_ids(const char *s, int *out, int max) {
    int64_t v[256];
    int n = cli_parse_int_list(s, v, max < 256 ? max : 256);
    for (int i = 0; i < n; i++) out[i] = (int)v[i];
    return n;
}

/* One `saetox evaluate` run: the SAE at sae_path on latents (and family, nullable). */
static int sweep_one(demo_ctx *c, sweep_shared *sh, const char *sae_path, const char *latents, const char *family,
                     const char *tiers, const char *alphas_s, const double *alphas, int n_alphas, const char *out,
                     study_acc *acc, const char *sae_name, const char *set, int with_bench, sx_err *err) {
    if (family)
        demo_show_cmd("evaluate", "--model", c->model_dir, "--prompts", sh->prompts_p, "--sae", sae_path, "--latents",
                      latents, "--family-latents", family, "--tiers", tiers, "--alphas", alphas_s, "--samples",
                      sh->samples_s, "--seed", sh->seed_s, "--toxic", sh->toxic_p, "--clean", sh->clean_p, "--bench",
                      sh->bench_p, "--out", out, "--threads", c->threads, NULL);
    else if (!with_bench)
        demo_show_cmd("evaluate", "--model", c->model_dir, "--prompts", sh->prompts_p, "--sae", sae_path, "--latents",
                      latents, "--tiers", tiers, "--alphas", alphas_s, "--samples", sh->samples_s, "--seed",
                      sh->seed_s, "--toxic", sh->toxic_p, "--clean", sh->clean_p, "--out", out, "--threads", c->threads,
                      NULL);
    else
        demo_show_cmd("evaluate", "--model", c->model_dir, "--prompts", sh->prompts_p, "--sae", sae_path, "--latents",
                      latents, "--tiers", tiers, "--alphas", alphas_s, "--samples", sh->samples_s, "--seed",
                      sh->seed_s, "--toxic", sh->toxic_p, "--clean", sh->clean_p, "--bench", sh->bench_p, "--out", out,
                      "--threads", c->threads, NULL);
    int lat[256], fam[256];
    int nlat = parse_ids(latents, lat, 256), nfam = family ? parse_ids(family, fam, 256) : 0;
    if (nlat <= 0 || nfam < 0) return sx_failc(err, SX_EINVAL, "bad latent list '%s'", latents);
    sx_sweep_plan *plan = malloc(sizeof *plan);
    sx_sweep_row *rows = malloc(SX_SWEEP_MAX_CONDS * sizeof *rows);
    if (!plan || !rows) {
        free(plan), free(rows);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    sx_sae sae;
    memset(&sae, 0, sizeof sae);
    sx_sweep sw;
    int rc = -1, have_sae = 0, have_sw = 0;
    if (sx_sweep_plan_build(tiers, alphas, n_alphas, family != NULL, plan, err)) goto done;
    if (sx_sae_load(sae_path, &sae, err)) goto done;
    have_sae = 1;
    sx_sweep_inputs in;
    sx_sweep_inputs_default(&in);
    in.model = c->m, in.tok = c->tok, in.scorer = sh->scorer, in.prompts = &sh->prompts;
    in.sae = &sae, in.sae_name = sae_path;
    in.latents = lat, in.n_latents = nlat, in.family = family ? fam : NULL, in.n_family = nfam;
    in.toxic = &sh->toxic, in.clean = &sh->clean;
    in.ban_ids = sh->ban, in.n_ban = sh->nban;
    if (with_bench) in.bench = sh->items, in.n_bench = sh->n_items;
    in.eval.samples = (int)c->samples;
    in.eval.seed = (uint64_t)c->seed;
    if (sx_sweep_prepare(plan, &in, &sw, err)) goto done;
    have_sw = 1;
    cli_evaluate_print_scales(&sw);
    if (sx_sweep_run(&sw, out, cli_evaluate_print_row, NULL, rows, err)) goto done;
    rc = 0;
    for (int i = 0; i < plan->n && rc == 0; i++) rc = acc_push(acc, c->seed, sae_name, set, &rows[i], err);
done:
    if (have_sw) sx_sweep_free(&sw);
    if (have_sae) sx_sae_free(&sae);
    free(plan);
    free(rows);
    return rc;
}

static int merge(demo_ctx *c, const char *narrow_dir, const char *wide_dir, sx_err *err) {
    char p1[4300], p2[4300], dst[4300];
    snprintf(p1, sizeof p1, "%s/steering_sweep.csv", narrow_dir);
    snprintf(p2, sizeof p2, "%s/steering_sweep.csv", wide_dir);
    snprintf(dst, sizeof dst, "%s/steering_sweep.csv", c->out);
    sx_csv_table a, b;
    if (sx_csv_read(p1, &a, err)) return -1;
    if (sx_csv_read(p2, &b, err)) {
        sx_csv_free(&a);
        return -1;
    }
    const sx_csv_table *t[2] = {&a, &b};
    const char *names[2] = {c->name_narrow, c->name_wide};
    const int sae_only[2] = {0, 1}; /* the wide sweep's baselines repeat the narrow one's */
    int rc = sx_sweep_merge(t, names, sae_only, 2, dst, err);
    sx_csv_free(&a);
    sx_csv_free(&b);
    return rc;
}

/* The one-seed findings (sx_study_findings, as `saetox study` with --seeds 1) into
 * OUT/findings.csv and OUT/findings.md. */
static int demo_findings(demo_ctx *c, const study_acc *acc, sx_err *err) {
    sx_study_seed sd;
    memset(&sd, 0, sizeof sd);
    sd.seed = c->seed, sd.narrow_parent = c->top_narrow, sd.wide_children = c->family_wide_n;
    sd.mat_top = c->mat_top, sd.mat_group = c->mat_group, sd.mat_later = c->mat_in_later;
    sx_study_spec spec;
    sx_study_spec_default(&spec);
    spec.narrow = c->name_narrow, spec.wide = c->name_wide, spec.mat = c->mat_top >= 0 ? c->name_mat : NULL;
    sx_finding *f = malloc(SX_STUDY_MAX_FINDINGS * sizeof *f);
    if (!f) return sx_failc(err, SX_ENOMEM, "demo: out of memory");
    int n = 0, rc = sx_study_findings(acc->r, acc->n, &sd, 1, &spec, f, &n, err);
    if (!rc) {
        char hdr[512];
        snprintf(hdr, sizeof hdr, "The demo's run: one seed (%lld), so no interval across seeds and no verdict; "
                                  "the study command (`saetox study`) runs several.", (long long)c->seed);
        rc = study_write_findings(c->out, f, n, &spec, hdr, err);
    }
    free(f);
    return rc;
}

int demo_sweeps(demo_ctx *c, void (*step)(demo_ctx *, int, const char *), sx_err *err) {
    sweep_shared sh;
    memset(&sh, 0, sizeof sh);
    study_acc acc = {0};
    snprintf(sh.prompts_p, sizeof sh.prompts_p, "%s/prompts.txt", c->data_dir);
    snprintf(sh.toxic_p, sizeof sh.toxic_p, "%s/toxic.txt", c->data_dir);
    snprintf(sh.clean_p, sizeof sh.clean_p, "%s/clean.txt", c->data_dir);
    snprintf(sh.bench_p, sizeof sh.bench_p, "%s/benchmark.jsonl", c->data_dir);
    snprintf(sh.seed_s, sizeof sh.seed_s, "%lld", (long long)c->seed);
    snprintf(sh.samples_s, sizeof sh.samples_s, "%lld", (long long)c->samples);
    char narrow_dir[4200], wide_dir[4200], dir[4300];
    snprintf(narrow_dir, sizeof narrow_dir, "%s/steer-narrow", c->out);
    snprintf(wide_dir, sizeof wide_dir, "%s/steer-wide", c->out);
    int rc = -1;
    if (sx_textlist_load(sh.prompts_p, 0, &sh.prompts, err) || sx_textlist_load(sh.toxic_p, 0, &sh.toxic, err) ||
        sx_textlist_load(sh.clean_p, 0, &sh.clean, err) || sx_scorer_load_default(&sh.scorer, NULL, 0, err) ||
        sx_banned_ids(c->tok, NULL, &sh.ban, &sh.nban, err) || sx_mc_load(sh.bench_p, 0, &sh.items, &sh.n_items, err))
        goto done;
    static const double narrow_alphas[3] = {1, 2, 4}, wide_alphas[1] = {2};
    if (sweep_one(c, &sh, c->sae_narrow, c->narrow_latents, NULL, "none,ablate,suppress,steer,meandiff,banned",
                  "1,2,4", narrow_alphas, 3, narrow_dir, &acc, c->name_narrow, "top", 1, err))
        goto done;
    step(c, 8, "wide SAE: one child vs all children of the narrow toxic latent");
    if (sweep_one(c, &sh, c->sae_wide, c->wide_single, c->wide_family, "ablate,steer", "2", wide_alphas, 1, wide_dir,
                  &acc, c->name_wide, "single", 1, err))
        goto done;
    if (merge(c, narrow_dir, wide_dir, err)) goto done;
    /* for the study's summary (issue 19 item 4): the single narrow latent and the Matryoshka top
     * latent at the wide sweep's strength (F4.steer, F5.steer), and the causal selection with its
     * sweep (F6.causal-*); without the benchmark (no finding reads it there), in their own folders,
     * not merged into steering_sweep.csv */
    fprintf(stderr, "      for the findings: the narrow parent latent and the Matryoshka top latent alone (steer@2)\n");
    char one[32];
    snprintf(one, sizeof one, "%d", c->top_narrow);
    snprintf(dir, sizeof dir, "%s/steer-narrow-single", c->out);
    if (sweep_one(c, &sh, c->sae_narrow, one, NULL, "steer", "2", wide_alphas, 1, dir, &acc, c->name_narrow, "single",
                  0, err))
        goto done;
    if (c->mat_top >= 0) {
        snprintf(one, sizeof one, "%d", c->mat_top);
        snprintf(dir, sizeof dir, "%s/steer-matryoshka", c->out);
        if (sweep_one(c, &sh, c->sae_mat, one, NULL, "steer", "2", wide_alphas, 1, dir, &acc, c->name_mat, "single", 0,
                      err))
            goto done;
    }
    fprintf(stderr, "      causal latent selection (attribution, then verification on 20 toxic contrast texts)\n");
    demo_causal_cfg cc = {16, 4, 20, c->samples < 5 ? (int)c->samples : 5, 20, 2, (uint64_t)c->seed};
    char analysis[4300];
    snprintf(analysis, sizeof analysis, "%s/analysis", c->out);
    snprintf(dir, sizeof dir, "%s/steer-causal", c->out);
    if (demo_causal_pick(c, &cc, analysis, &sh.toxic, &sh.prompts, sh.scorer, sh.ban, sh.nban, dir, c->causal_latents,
                         sizeof c->causal_latents, err))
        goto done;
    if (sweep_one(c, &sh, c->sae_narrow, c->causal_latents, NULL, "steer,cond", "1,2,4", narrow_alphas, 3, dir, &acc,
                  c->name_narrow, "causal", 0, err))
        goto done;
    rc = demo_findings(c, &acc, err);
done:
    free(acc.r);
    sx_textlist_free(&sh.prompts);
    sx_textlist_free(&sh.toxic);
    sx_textlist_free(&sh.clean);
    sx_mc_free(sh.items, sh.n_items);
    sx_scorer_free(sh.scorer);
    free(sh.ban);
    return rc;
}
