/* cmd_evaluate.c — `saetox evaluate`: the steering sweep.  Conditions: none; ablate (no
 * strength); suppress / steer / meandiff at each alpha; banned.  SAE tiers run for --latents
 * and, when given, again for --family-latents (the feature-splitting family).  Writes
 * OUT/steering_sweep.csv and OUT/generations.jsonl (atomically, at the end), and with the
 * meandiff tier OUT/meandiff.safetensors (the vector, for `saetox generate`). */
#include "cli.h"
#include "steering.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "evaluate"
#define MAXC 256

typedef struct {
    char name[96];
    sx_tier tier;
    float alpha;
    int family;
} cond;

static int parse_latents(const char *s, int **out, int *n) {
    int64_t tmp[4096];
    int k = cli_parse_int_list(s, tmp, 4096);
    if (k <= 0) return -1;
    *out = malloc(sizeof(int) * (size_t)k);
    for (int i = 0; i < k; i++) {
        if (tmp[i] < 0 || tmp[i] > 1 << 30) return -1;
        (*out)[i] = (int)tmp[i];
    }
    *n = k;
    return 0;
}

static void latents_str(const int *l, int n, char *buf, size_t sz) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o + 16 < sz; i++) o += (size_t)snprintf(buf + o, sz - o, "%s%d", i ? " " : "", l[i]);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, ",%.6g", v);
    else fprintf(f, ",");
}

/* Texts for scales / mean difference: a file, or the prompts filtered by their toxicity
 * score (want 1: >= 0.5, 0: < 0.5). */
static int texts_or_prompts(const char *spec, const sx_textlist *prompts, int want, sx_textlist *out,
                            sx_err *err) {
    if (spec) return sx_textlist_load(spec, 0, out, err);
    memset(out, 0, sizeof *out);
    out->text = malloc(sizeof(char *) * (size_t)prompts->n);
    out->score = malloc(sizeof(double) * (size_t)prompts->n);
    for (int64_t i = 0; i < prompts->n; i++) {
        double s = prompts->score[i];
        if (isnan(s) ? want == 1 : (want == 1) == (s >= 0.5)) {
            out->text[out->n] = strdup(prompts->text[i]);
            out->score[out->n++] = s;
        }
    }
    if (out->n == 0)
        return sx_fail(err, "no %s texts: give --%s (the prompts carry no usable toxicity scores)",
                       want ? "toxic" : "clean", want ? "toxic" : "clean");
    return 0;
}

int cmd_evaluate(int argc, char **argv) {
    const char *model_dir = NULL, *prompts_spec = NULL, *sae_path = NULL, *hook = NULL, *latents_s = NULL;
    const char *family_s = NULL, *tiers_s = "none,ablate,suppress,steer", *alphas_s = "0.5,1,2";
    const char *toxic_spec = NULL, *clean_spec = NULL, *bench = NULL, *out_dir = NULL, *scales_path = NULL;
    const char *weights = NULL, *ext = NULL, *ban_words = NULL;
    int64_t samples = 25, max_new = 20, seed = 0, n_prompts = 0, bench_n = 0, boot = 1000, threads = 0;
    double top_p = 0.9, temperature = 1.0, quantile = 0.99;
    int no_fluency = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &model_dir, "DIR", "model folder (config.json, weights, tokenizer files)", 1, 0},
        {"prompts", CLI_STR, &prompts_spec, "SPEC", "prompts: .txt lines, RTP/JSONL (prompt.text, prompt, text; PATH#field), .csv", 1, 0},
        {"sae", CLI_STR, &sae_path, "PATH", "SAE (SAELens folder or Gemma Scope params.npz) for ablate/suppress/steer", 0, 0},
        {"hook", CLI_STR, &hook, "NAME", "hook, e.g. blocks.6.hook_resid_pre (default: the SAE's hook_name)", 0, 0},
        {"latents", CLI_STR, &latents_s, "I,J,..", "toxic latents S", 0, 0},
        {"family-latents", CLI_STR, &family_s, "I,J,..", "a second latent set (e.g. the wide SAE's split family); SAE tiers run for it too", 0, 0},
        {"tiers", CLI_STR, &tiers_s, "LIST", "none,ablate,suppress,steer,meandiff,banned (default none,ablate,suppress,steer)", 0, 0},
        {"alphas", CLI_STR, &alphas_s, "LIST", "strengths for suppress/steer/meandiff (default 0.5,1,2)", 0, 0},
        {"samples", CLI_INT, &samples, "K", "continuations per prompt (default 25)", 0, 0},
        {"max-new-tokens", CLI_INT, &max_new, "N", "new tokens per continuation (default 20)", 0, 0},
        {"top-p", CLI_DBL, &top_p, "P", "nucleus sampling (default 0.9)", 0, 0},
        {"temperature", CLI_DBL, &temperature, "T", "sampling temperature (default 1)", 0, 0},
        {"seed", CLI_INT, &seed, "S", "seed for sampling and the bootstrap (default 0)", 0, 0},
        {"n-prompts", CLI_INT, &n_prompts, "N", "use the first N prompts (default all)", 0, 0},
        {"toxic", CLI_STR, &toxic_spec, "SPEC", "toxic texts for scales and mean difference (default: prompts with toxicity >= 0.5)", 0, 0},
        {"clean", CLI_STR, &clean_spec, "SPEC", "clean texts for the mean difference (default: prompts with toxicity < 0.5)", 0, 0},
        {"scales", CLI_STR, &scales_path, "FILE", "per-latent scales A_i: CSV (latent + scale|q99|q90|max_act; latent_stats.csv#SAE keeps one SAE's rows) or JSON", 0, 0},
        {"scale-quantile", CLI_DBL, &quantile, "Q", "quantile of positive activations on toxic text for A_i (default 0.99)", 0, 0},
        {"ban-words", CLI_STR, &ban_words, "FILE", "word list for the banned tier (default: built-in list)", 0, 0},
        {"bench", CLI_STR, &bench, "PATH", "multiple-choice benchmark: JSONL {context,choices,label} or a HellaSwag pair folder", 0, 0},
        {"bench-n", CLI_INT, &bench_n, "N", "use the first N benchmark items (default all)", 0, 0},
        {"weights", CLI_STR, &weights, "FILE", "toxicity-scorer weights (default: built in)", 0, 0},
        {"external-cmd", CLI_STR, &ext, "CMD", "score with an external command instead (see score-toxicity)", 0, 0},
        {"no-fluency", CLI_FLAG, &no_fluency, NULL, "skip the perplexity pass", 0, 0},
        {"bootstrap", CLI_INT, &boot, "N", "bootstrap resamples (default 1000)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
        {"out", CLI_STR, &out_dir, "DIR", "output folder", 1, 0},
    };
    int rc = cli_parse(CMD, "Steering sweep on RealToxicityPrompts-style prompts: expected maximum toxicity,\n"
                            "toxicity probability, mean toxicity (bootstrap 95% CIs), perplexity under the\n"
                            "unsteered model, multiple-choice accuracy; per tier and strength.",
                       opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    sx_set_threads((int)threads);
    /* ---- parse the condition list ---- */
    cond conds[MAXC];
    int nc = 0, need_sae = 0, need_md = 0, need_ban = 0;
    double alphas[64];
    int na = 0;
    {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", alphas_s);
        for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
            char *e;
            double a = strtod(t, &e);
            if (*e || na >= 64 || !isfinite(a)) {
                fprintf(stderr, "saetox %s: --alphas: bad value '%s'\n", CMD, t);
                return 2;
            }
            alphas[na++] = a;
        }
        snprintf(buf, sizeof buf, "%s", tiers_s);
        for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
            sx_tier tr;
            if (sx_tier_parse(t, &tr)) {
                fprintf(stderr, "saetox %s: --tiers: unknown tier '%s' (none|ablate|suppress|steer|meandiff|banned)\n", CMD, t);
                return 2;
            }
            int sae_t = tr == SX_TIER_ABLATE || tr == SX_TIER_SUPPRESS || tr == SX_TIER_STEER;
            need_sae |= sae_t;
            need_md |= tr == SX_TIER_MEANDIFF;
            need_ban |= tr == SX_TIER_BANNED;
            for (int fam = 0; fam < (sae_t && family_s ? 2 : 1); fam++) {
                int nal = (tr == SX_TIER_SUPPRESS || tr == SX_TIER_STEER || tr == SX_TIER_MEANDIFF) ? na : 1;
                for (int a = 0; a < nal && nc < MAXC; a++) {
                    cond *c = &conds[nc++];
                    c->tier = tr;
                    c->family = fam;
                    c->alpha = nal > 1 || tr == SX_TIER_SUPPRESS || tr == SX_TIER_STEER || tr == SX_TIER_MEANDIFF ? (float)alphas[a] : 0;
                    if (nal > 1 || c->alpha != 0)
                        snprintf(c->name, sizeof c->name, "%s%s@%g", t, fam ? "-family" : "", c->alpha);
                    else
                        snprintf(c->name, sizeof c->name, "%s%s", t, fam ? "-family" : "");
                }
            }
        }
    }
    if (need_sae && (!sae_path || !latents_s)) {
        fprintf(stderr, "saetox %s: tiers ablate/suppress/steer need --sae and --latents\n", CMD);
        return 2;
    }
    if (samples < 1 || max_new < 1 || !(top_p > 0 && top_p <= 1) || boot < 0) {
        fprintf(stderr, "saetox %s: --samples and --max-new-tokens must be >= 1, --top-p in (0,1]\n", CMD);
        return 2;
    }
    sx_err err = {0};
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_scorer *scorer = NULL;
    sx_sae sae;
    int have_sae = 0;
    sx_textlist prompts = {0}, toxic = {0}, clean = {0};
    sx_mc_item *items = NULL;
    int64_t n_items = 0;
    int *lat = NULL, *fam = NULL, nlat = 0, nfam = 0, *ban = NULL, nban = 0;
    float *scales = NULL, *fscales = NULL, *mdv = NULL;
    sx_atomic_file csv = {0}, gen = {0};
    int csv_open = 0, gen_open = 0, ret = 1;
    memset(&sae, 0, sizeof sae);
    if (latents_s && parse_latents(latents_s, &lat, &nlat)) {
        fprintf(stderr, "saetox %s: --latents: expected comma-separated latent indices, got '%s'\n", CMD, latents_s);
        return 2;
    }
    if (family_s && parse_latents(family_s, &fam, &nfam)) {
        fprintf(stderr, "saetox %s: --family-latents: expected comma-separated latent indices\n", CMD);
        free(lat);
        return 2;
    }
    if (sx_textlist_load(prompts_spec, n_prompts, &prompts, &err)) goto fail;
    if (sx_model_load(model_dir, &m, &err) || sx_tokenizer_load(model_dir, &tok, &err)) goto fail;
    const sx_model_config *mc = sx_model_cfg(m);
    if (!ext && (weights ? sx_scorer_load(weights, &scorer, &err) : sx_scorer_load_default(&scorer, NULL, 0, &err)))
        goto fail;
    if (need_sae) {
        if (sx_sae_load(sae_path, &sae, &err)) goto fail;
        have_sae = 1;
        if (!hook) hook = sae.hook_name[0] ? sae.hook_name : NULL;
        if (!hook) {
            sx_fail(&err, "%s: the SAE names no hook; give --hook", sae_path);
            goto fail;
        }
        sx_intervention probe;
        if (sx_intervention_sae(&probe, SX_TIER_ABLATE, &sae, hook, mc->d_model, mc->n_layers, lat, nlat, NULL, 0, &err) ||
            (fam && (sx_intervention_free(&probe), sx_intervention_sae(&probe, SX_TIER_ABLATE, &sae, hook, mc->d_model,
                                                                      mc->n_layers, fam, nfam, NULL, 0, &err)))) {
            sx_fail_prefix(&err, "%s", sae_path);
            goto fail;
        }
        sx_intervention_free(&probe);
        scales = malloc(sizeof(float) * (size_t)nlat);
        fscales = malloc(sizeof(float) * (size_t)(nfam + 1));
        if (scales_path) {
            if (sx_scales_load(scales_path, lat, nlat, scales, &err) ||
                (fam && sx_scales_load(scales_path, fam, nfam, fscales, &err)))
                goto fail;
        } else {
            if (texts_or_prompts(toxic_spec, &prompts, 1, &toxic, &err)) goto fail;
            for (int f = 0; f < (fam ? 2 : 1); f++) {
                sx_intervention iv;
                if (sx_intervention_sae(&iv, SX_TIER_ABLATE, &sae, hook, mc->d_model, mc->n_layers, f ? fam : lat,
                                        f ? nfam : nlat, NULL, 0, &err))
                    goto fail;
                int r2 = sx_latent_scales(m, tok, &iv, toxic.text, toxic.n, quantile, f ? fscales : scales, &err);
                sx_intervention_free(&iv);
                if (r2) goto fail;
            }
        }
        fprintf(stderr, "saetox %s: scales A_i:", CMD);
        for (int j = 0; j < nlat && j < 16; j++) fprintf(stderr, " %d:%.4g", lat[j], scales[j]);
        fprintf(stderr, "\n");
    }
    if (need_md) {
        if (!hook) {
            sx_fail(&err, "meandiff needs --hook");
            goto fail;
        }
        if (!toxic.n && texts_or_prompts(toxic_spec, &prompts, 1, &toxic, &err)) goto fail;
        if (texts_or_prompts(clean_spec, &prompts, 0, &clean, &err)) goto fail;
        double *a = malloc(sizeof(double) * (size_t)mc->d_model), *b = malloc(sizeof(double) * (size_t)mc->d_model);
        mdv = malloc(sizeof(float) * (size_t)mc->d_model);
        int r2 = sx_resid_mean(m, tok, hook, toxic.text, toxic.n, a, NULL, &err) ||
                 sx_resid_mean(m, tok, hook, clean.text, clean.n, b, NULL, &err);
        for (int k = 0; !r2 && k < mc->d_model; k++) mdv[k] = (float)(a[k] - b[k]);
        free(a), free(b);
        if (r2) goto fail;
    }
    if (need_ban && sx_banned_ids(tok, ban_words, &ban, &nban, &err)) goto fail;
    if (bench && sx_mc_load(bench, bench_n, &items, &n_items, &err)) goto fail;
    /* ---- outputs ---- */
    if (sx_mkdir_p(out_dir, &err)) goto fail;
    char path[4200];
    if (mdv) { /* reusable by `saetox generate --meandiff-vector` */
        snprintf(path, sizeof path, "%s/meandiff.safetensors", out_dir);
        if (sx_meandiff_save(path, mdv, mc->d_model, hook, &err)) goto fail;
    }
    snprintf(path, sizeof path, "%s/steering_sweep.csv", out_dir);
    if (sx_atomic_open(&csv, path, &err)) goto fail;
    csv_open = 1;
    snprintf(path, sizeof path, "%s/generations.jsonl", out_dir);
    if (sx_atomic_open(&gen, path, &err)) goto fail;
    gen_open = 1;
    fprintf(csv.f, "condition,tier,alpha,latents,n_prompts,n_samples,emt,emt_lo,emt_hi,tox_prob,tox_prob_lo,"
                   "tox_prob_hi,mean_tox,mean_tox_lo,mean_tox_hi,ppl,ppl_lo,ppl_hi,acc,acc_norm,acc_n\n");
    sx_eval_opts eo;
    sx_eval_defaults(&eo);
    eo.samples = (int)samples;
    eo.max_new_tokens = (int)max_new;
    eo.top_p = (float)top_p;
    eo.temperature = (float)temperature;
    eo.seed = (uint64_t)seed;
    eo.boot_reps = (int)boot;
    eo.fluency = !no_fluency;
    for (int ci = 0; ci < nc; ci++) {
        cond *c = &conds[ci];
        sx_intervention iv;
        memset(&iv, 0, sizeof iv);
        int have_iv = 1;
        const int *L = c->family ? fam : lat;
        int nL = c->family ? nfam : nlat;
        int r2 = 0;
        switch (c->tier) {
        case SX_TIER_NONE: have_iv = 0; break;
        case SX_TIER_ABLATE:
        case SX_TIER_SUPPRESS:
        case SX_TIER_STEER:
            r2 = sx_intervention_sae(&iv, c->tier, &sae, hook, mc->d_model, mc->n_layers, L, nL,
                                     c->family ? fscales : scales, c->alpha, &err);
            break;
        case SX_TIER_MEANDIFF: r2 = sx_intervention_meandiff(&iv, hook, mc->d_model, mc->n_layers, mdv, c->alpha, &err); break;
        case SX_TIER_BANNED: r2 = sx_intervention_banned(&iv, ban, nban, mc->vocab_size, &err); break;
        }
        if (r2) goto fail;
        sx_eval_result res;
        double t0 = sx_now();
        r2 = sx_eval_condition(m, tok, &prompts, have_iv ? &iv : NULL, &eo, scorer, ext, c->name, gen.f, &res, &err);
        double acc = NAN, accn = NAN;
        if (!r2 && items) {
            sx_hook h;
            sx_gen_opts dummy = {0};
            int nh = have_iv && c->tier != SX_TIER_BANNED ? sx_intervention_attach(&iv, &h, &dummy) : 0;
            r2 = sx_mc_eval(m, tok, items, n_items, nh ? &h : NULL, nh, &acc, &accn, &err);
        }
        char ls[1024] = "";
        if (c->tier == SX_TIER_ABLATE || c->tier == SX_TIER_SUPPRESS || c->tier == SX_TIER_STEER) latents_str(L, nL, ls, sizeof ls);
        sx_intervention_free(&iv);
        if (r2) {
            sx_fail_prefix(&err, "condition %s", c->name);
            goto fail;
        }
        fprintf(csv.f, "%s,%s,%g,%s,%lld,%lld", c->name, sx_tier_name(c->tier), c->alpha, ls, (long long)res.n_prompts,
                (long long)res.n_samples);
        double v[] = {res.emt, res.emt_lo, res.emt_hi, res.tox_prob, res.tox_prob_lo, res.tox_prob_hi, res.mean_tox,
                      res.mean_tox_lo, res.mean_tox_hi, res.ppl, res.ppl_lo, res.ppl_hi, acc, accn};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) csv_num(csv.f, v[k]);
        fprintf(csv.f, ",%lld\n", (long long)n_items);
        fprintf(stderr, "saetox %s: %-22s emt %.3f [%.3f,%.3f] tox_prob %.3f mean %.3f ppl %.2f acc %.3f (%.1f s)\n", CMD,
                c->name, res.emt, res.emt_lo, res.emt_hi, res.tox_prob, res.mean_tox, res.ppl, acc, sx_now() - t0);
    }
    if (ferror(csv.f) || ferror(gen.f)) {
        sx_fail(&err, "%s: write error", out_dir);
        goto fail;
    }
    csv_open = 0;
    gen_open = 0;
    if (sx_atomic_commit(&csv, &err) || sx_atomic_commit(&gen, &err)) goto fail;
    ret = 0;
fail:
    if (ret) fprintf(stderr, "saetox %s: %s\n", CMD, err.msg);
    if (csv_open) sx_atomic_abort(&csv);
    if (gen_open) sx_atomic_abort(&gen);
    sx_mc_free(items, n_items);
    sx_textlist_free(&prompts);
    sx_textlist_free(&toxic);
    sx_textlist_free(&clean);
    if (have_sae) sx_sae_free(&sae);
    sx_scorer_free(scorer);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    free(lat), free(fam), free(ban), free(scales), free(fscales), free(mdv);
    return ret;
}
