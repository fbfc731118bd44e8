/* study_run.c — one seed of `saetox study`: its own SAEs (TopK narrow and wide in one pass, a
 * Matryoshka BatchTopK SAE with the same two widths as groups), their toxic latents chosen on the
 * selection texts, the splitting between the widths, and four sweeps on the evaluation prompts:
 *   narrow top latents  none, ablate, suppress@a, steer@a, meandiff@a, banned (the baselines here)
 *   narrow single       steer@a on the narrow toxic latent whose splitting is compared
 *   wide                steer@a on its best child alone and steer-family@a on all its children
 *   matryoshka          steer@a on its top toxic latent
 *   causal              steer@a and cond@a on the narrow latents chosen by sx_causal_select
 *                       (causal_pick.c; validation prompts from the toxic selection texts)
 * (the narrow top sweep also runs cond@a, the conditional steer, when the causal part runs)
 * Every sweep of a seed samples with the seed's evaluation seed, so the conditions see the same
 * random streams and differ only by the intervention.  The steps are the demo's (demo_steps.c,
 * demo_matryoshka.c, demo_sweep.c's picking), run per seed on paths inside the seed's folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study.h"
#include "trainer.h"

static int parse_ids(const char *s, int *out, int max) {
    int64_t v[256];
    int n = cli_parse_int_list(s, v, max < 256 ? max : 256);
    for (int i = 0; i < n; i++) out[i] = (int)v[i];
    return n;
}

static int push_row(study_ctx *s, int64_t seed, const char *sae, const char *set, const sx_sweep_row *w,
                    sx_err *err) {
    if (s->n_rows == s->cap_rows) {
        int64_t cap = s->cap_rows ? 2 * s->cap_rows : 64;
        study_row *p = realloc(s->rows, (size_t)cap * sizeof *p);
        if (!p) return sx_failc(err, SX_ENOMEM, "study: out of memory");
        s->rows = p, s->cap_rows = cap;
    }
    study_row *x = &s->rows[s->n_rows++];
    memset(x, 0, sizeof *x);
    x->r.seed = seed;
    snprintf(x->r.sae, sizeof x->r.sae, "%s", sae);
    snprintf(x->r.set, sizeof x->r.set, "%s", set);
    snprintf(x->r.condition, sizeof x->r.condition, "%s", w->cond->name);
    snprintf(x->r.tier, sizeof x->r.tier, "%s", sx_tier_name(w->cond->tier));
    x->r.alpha = w->cond->alpha;
    x->r.emt = w->res.emt, x->r.ppl = w->res.ppl, x->r.acc = w->acc, x->r.acc_n = w->n_bench;
    snprintf(x->latents, sizeof x->latents, "%s", w->latents);
    x->res = w->res;
    x->acc_norm = w->acc_norm;
    return 0;
}

typedef enum { SW_NARROW_TOP, SW_SINGLE, SW_WIDE, SW_CAUSAL } sweep_kind;

/* One sweep (as `saetox evaluate`) into out_dir, its rows appended with their sae / set. */
static int sweep(study_ctx *s, int64_t seed, sweep_kind kind, const char *sae_path, const char *sae_name,
                 const char *latents, const char *family, const char *out_dir, sx_err *err) {
    const char *tiers = kind == SW_NARROW_TOP ? (s->causal ? "none,ablate,suppress,steer,cond,meandiff,banned"
                                                           : "none,ablate,suppress,steer,meandiff,banned")
                        : kind == SW_CAUSAL ? "steer,cond"
                                            : "steer";
    demo_ctx *c = &s->c;
    char seed_s[32], samples_s[32];
    snprintf(seed_s, sizeof seed_s, "%lld", (long long)seed);
    snprintf(samples_s, sizeof samples_s, "%lld", (long long)c->samples);
    char pp[4300], tp[4300], cp[4300];
    snprintf(pp, sizeof pp, "%s/data/prompts.txt", s->root);
    snprintf(tp, sizeof tp, "%s/data/toxic.txt", s->root);
    snprintf(cp, sizeof cp, "%s/data/clean.txt", s->root);
    if (family)
        demo_show_cmd("evaluate", "--model", c->model_dir, "--prompts", pp, "--sae", sae_path, "--latents", latents,
                      "--family-latents", family, "--tiers", tiers, "--alphas", s->alphas_s, "--samples", samples_s,
                      "--seed", seed_s, "--toxic", tp, "--clean", cp, "--out", out_dir, NULL);
    else
        demo_show_cmd("evaluate", "--model", c->model_dir, "--prompts", pp, "--sae", sae_path, "--latents", latents,
                      "--tiers", tiers, "--alphas", s->alphas_s, "--samples", samples_s, "--seed", seed_s, "--toxic", tp,
                      "--clean", cp, "--out", out_dir, NULL);
    int lat[256], fam[256];
    int nlat = parse_ids(latents, lat, 256), nfam = family ? parse_ids(family, fam, 256) : 0;
    if (nlat <= 0 || nfam < 0) return sx_failc(err, SX_EINVAL, "study: bad latent list '%s'", latents);
    sx_sweep_plan *plan = malloc(sizeof *plan);
    sx_sweep_row *rows = malloc(SX_SWEEP_MAX_CONDS * sizeof *rows);
    if (!plan || !rows) {
        free(plan), free(rows);
        return sx_failc(err, SX_ENOMEM, "study: out of memory");
    }
    sx_sae sae;
    memset(&sae, 0, sizeof sae);
    sx_sweep sw;
    int rc = -1, have_sae = 0, have_sw = 0;
    if (sx_sweep_plan_build(tiers, s->alphas, s->n_alphas, family != NULL, plan, err)) goto done;
    if (sx_sae_load(sae_path, &sae, err)) goto done;
    have_sae = 1;
    sx_sweep_inputs in;
    sx_sweep_inputs_default(&in);
    in.model = c->m, in.tok = c->tok, in.scorer = s->scorer, in.prompts = &s->prompts;
    in.sae = &sae, in.sae_name = sae_path;
    in.latents = lat, in.n_latents = nlat, in.family = family ? fam : NULL, in.n_family = nfam;
    in.toxic = &s->toxic, in.clean = &s->clean;
    in.cond_threshold = s->cond_threshold;
    in.ban_ids = s->ban, in.n_ban = s->nban;
    in.bench = s->items, in.n_bench = s->n_items;
    in.eval.samples = (int)c->samples;
    in.eval.max_new_tokens = (int)s->max_new_tokens;
    in.eval.seed = (uint64_t)seed;
    if (sx_sweep_prepare(plan, &in, &sw, err)) goto done;
    have_sw = 1;
    cli_evaluate_print_scales(&sw);
    if (sx_sweep_run(&sw, out_dir, cli_evaluate_print_row, NULL, rows, err)) goto done;
    for (int i = 0; i < plan->n; i++) {
        const sx_sweep_cond *cd = rows[i].cond;
        int sae_tier = cd->tier == SX_TIER_ABLATE || cd->tier == SX_TIER_SUPPRESS || cd->tier == SX_TIER_STEER ||
                       cd->tier == SX_TIER_COND;
        const char *set = !sae_tier                ? "baseline"
                          : kind == SW_NARROW_TOP ? "top"
                          : kind == SW_CAUSAL     ? "causal"
                          : cd->family            ? "family"
                                                  : "single";
        if (push_row(s, seed, sae_tier ? sae_name : "", set, &rows[i], err)) goto done;
    }
    rc = 0;
done:
    if (have_sw) sx_sweep_free(&sw);
    if (have_sae) sx_sae_free(&sae);
    free(plan);
    free(rows);
    return rc;
}

/* The TopK pair in one pass and the Matryoshka SAE, with the demo's settings and this seed. */
static int train(study_ctx *s, const char *acts, sx_err *err) {
    demo_ctx *c = &s->c;
    char seed_s[32], tokens_s[32], widths_s[64], lr_s[32];
    snprintf(seed_s, sizeof seed_s, "%lld", (long long)c->seed);
    snprintf(tokens_s, sizeof tokens_s, "%lld", (long long)(c->sample_tokens * c->epochs));
    snprintf(widths_s, sizeof widths_s, "%d,%d", s->width_narrow, s->width_wide);
    snprintf(lr_s, sizeof lr_s, "%g", DEMO_SAE_LR);
    demo_show_cmd("train", "--cache", acts, "--arch", "topk", "--widths", widths_s, "--k", "16", "--batch", "1024",
                  "--tokens", tokens_s, "--lr", lr_s, "--seed", seed_s, "--out", c->out, NULL);
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = SX_SAE_TOPK;
    o.n_widths = 2, o.widths[0] = s->width_narrow, o.widths[1] = s->width_wide;
    o.out_dir = c->out;
    if (demo_train_sae(c, acts, &o, err)) return -1;
    if (!s->with_mat) return 0;
    demo_show_cmd("train", "--cache", acts, "--arch", "matryoshka", "--widths", widths_s + strcspn(widths_s, ",") + 1,
                  "--groups", widths_s, "--k", "16", "--batch", "1024", "--tokens", tokens_s, "--lr", lr_s, "--seed",
                  seed_s, "--out", c->mat_dir, NULL);
    sx_train_opts_default(&o);
    o.arch = SX_SAE_MATRYOSHKA;
    o.n_widths = 1, o.widths[0] = s->width_wide;
    o.n_groups = 2, o.groups[0] = s->width_narrow, o.groups[1] = s->width_wide;
    o.out_dir = c->mat_dir;
    return demo_train_sae(c, acts, &o, err);
}

static void seed_paths(study_ctx *s, int64_t seed) {
    demo_ctx *c = &s->c;
    static char out[4300];
    snprintf(out, sizeof out, "%s/seed-%lld", s->root, (long long)seed);
    c->out = out;
    c->seed = seed;
    snprintf(c->name_narrow, sizeof c->name_narrow, "topk-%d", s->width_narrow);
    snprintf(c->name_wide, sizeof c->name_wide, "topk-%d", s->width_wide);
    snprintf(c->sae_narrow, sizeof c->sae_narrow, "%s/%s", c->out, c->name_narrow);
    snprintf(c->sae_wide, sizeof c->sae_wide, "%s/%s", c->out, c->name_wide);
    snprintf(c->mat_dir, sizeof c->mat_dir, "%s/matryoshka", c->out);
    snprintf(c->name_mat, sizeof c->name_mat, "matryoshka-%d", s->width_wide);
    snprintf(c->sae_mat, sizeof c->sae_mat, "%s/%s", c->mat_dir, c->name_mat);
    c->mat_top = -1;
}

int study_seed(study_ctx *s, int64_t seed, const char *acts, sx_err *err) {
    if (s->n_seeds >= SX_STUDY_MAX_SEEDS) return sx_failc(err, SX_EINVAL, "study: too many seeds");
    double t0 = sx_now();
    demo_ctx *c = &s->c;
    seed_paths(s, seed);
    if (sx_mkdir_p(c->out, err)) return -1;
    fprintf(stderr, "[seed %lld] training SAEs\n", (long long)seed);
    if (train(s, acts, err)) return -1;
    char analysis[4400];
    snprintf(analysis, sizeof analysis, "%s/analysis", c->out);
    fprintf(stderr, "[seed %lld] splitting, toxic latents\n", (long long)seed);
    /* demo_toxic / demo_toxic_matryoshka read DATA/toxic.txt and DATA/clean.txt: the selection texts */
    if (demo_split(c, analysis, err) || demo_toxic(c, analysis, err)) return -1;
    if (s->with_mat && demo_toxic_matryoshka(c, err)) return -1;
    if (demo_pick_latents(c, analysis, err)) return -1;

    char dir[4400], parent[32], mat[32];
    int k = s->n_seeds;
    s->seed_causal[k][0] = 0;
    if (s->causal) {
        fprintf(stderr, "[seed %lld] causal latent selection\n", (long long)seed);
        demo_causal_cfg cc = s->causal_cfg;
        cc.seed = (uint64_t)seed;
        if (demo_causal_pick(c, &cc, analysis, &s->toxic, &s->prompts, s->scorer, s->ban, s->nban, c->out,
                             s->seed_causal[k], sizeof s->seed_causal[k], err))
            return -1;
    }
    snprintf(parent, sizeof parent, "%d", c->top_narrow);
    fprintf(stderr, "[seed %lld] sweeps\n", (long long)seed);
    snprintf(dir, sizeof dir, "%s/steer-narrow", c->out);
    if (sweep(s, seed, SW_NARROW_TOP, c->sae_narrow, c->name_narrow, c->narrow_latents, NULL, dir, err)) return -1;
    snprintf(dir, sizeof dir, "%s/steer-narrow-single", c->out);
    if (sweep(s, seed, SW_SINGLE, c->sae_narrow, c->name_narrow, parent, NULL, dir, err)) return -1;
    snprintf(dir, sizeof dir, "%s/steer-wide", c->out);
    if (sweep(s, seed, SW_WIDE, c->sae_wide, c->name_wide, c->wide_single, c->wide_family, dir, err)) return -1;
    if (s->causal) {
        snprintf(dir, sizeof dir, "%s/steer-causal", c->out);
        if (sweep(s, seed, SW_CAUSAL, c->sae_narrow, c->name_narrow, s->seed_causal[k], NULL, dir, err)) return -1;
    }
    if (s->with_mat) {
        snprintf(mat, sizeof mat, "%d", c->mat_top);
        snprintf(dir, sizeof dir, "%s/steer-matryoshka", c->out);
        if (sweep(s, seed, SW_SINGLE, c->sae_mat, c->name_mat, mat, NULL, dir, err)) return -1;
    }
    s->n_seeds++;
    sx_study_seed *sd = &s->seeds[k];
    memset(sd, 0, sizeof *sd);
    sd->seed = seed;
    sd->narrow_parent = c->top_narrow;
    sd->wide_children = c->family_wide_n;
    sd->mat_top = s->with_mat ? c->mat_top : -1;
    sd->mat_group = s->with_mat ? c->mat_group : -1;
    sd->mat_later = s->with_mat ? c->mat_in_later : -1;
    snprintf(s->seed_latents[k], sizeof s->seed_latents[k], "%s", c->narrow_latents);
    snprintf(s->seed_family[k], sizeof s->seed_family[k], "%s", c->wide_family);
    s->seed_single[k] = atoi(c->wide_single);
    s->seed_seconds[k] = sx_now() - t0;
    fprintf(stderr, "[seed %lld] done in %.1f s\n", (long long)seed, s->seed_seconds[k]);
    return 0;
}
