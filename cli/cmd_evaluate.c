/* cmd_evaluate.c — `saetox evaluate`: the steering sweep (steering/sweep.c).  This file parses
 * the options, loads the model, tokenizer, scorer, SAE, texts and benchmark, and prints one
 * line per condition; sx_sweep_plan_build / sx_sweep_prepare / sx_sweep_run do the work. */
#include "cli.h"
#include "steering.h"
#include "sx_mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "evaluate"

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

void cli_evaluate_print_scales(const sx_sweep *sw) {
    fprintf(stderr, "saetox %s: scales A_i:", CMD);
    for (int j = 0; j < sw->in.n_latents && j < 16; j++) fprintf(stderr, " %d:%.4g", sw->in.latents[j], sw->scales[j]);
    fprintf(stderr, "\n");
}

void cli_evaluate_print_row(void *user, const sx_sweep_row *r) {
    (void)user;
    fprintf(stderr, "saetox %s: %-22s emt %.3f [%.3f,%.3f] tox_prob %.3f mean %.3f ppl %.2f acc %.3f (%.1f s)\n", CMD,
            r->cond->name, r->res.emt, r->res.emt_lo, r->res.emt_hi, r->res.tox_prob, r->res.mean_tox, r->res.ppl,
            r->acc, r->seconds);
}

int cmd_evaluate(int argc, char **argv) {
    const char *model_dir = NULL, *prompts_spec = NULL, *sae_path = NULL, *hook = NULL, *latents_s = NULL;
    const char *family_s = NULL, *tiers_s = "none,ablate,suppress,steer", *alphas_s = "0.5,1,2";
    const char *toxic_spec = NULL, *clean_spec = NULL, *bench = NULL, *out_dir = NULL, *scales_path = NULL;
    const char *weights = NULL, *ext = NULL, *ban_words = NULL;
    int64_t samples = 25, max_new = 20, seed = 0, n_prompts = 0, bench_n = 0, boot = 1000, threads = 0, batch_rows = 0;
    double top_p = 0.9, temperature = 1.0, quantile = 0.99, cond_thr = 0;
    int no_fluency = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &model_dir, "DIR", "model folder (config.json, weights, tokenizer files)", 1, 0},
        {"prompts", CLI_STR, &prompts_spec, "SPEC", "prompts: .txt lines, RTP/JSONL (prompt.text, prompt, text; PATH#field), .csv", 1, 0},
        {"sae", CLI_STR, &sae_path, "PATH", "SAE (SAELens folder or Gemma Scope params.npz) for ablate/suppress/steer", 0, 0},
        {"hook", CLI_STR, &hook, "NAME", "hook, e.g. blocks.6.hook_resid_pre (default: the SAE's hook_name)", 0, 0},
        {"latents", CLI_STR, &latents_s, "I,J,..", "toxic latents S", 0, 0},
        {"family-latents", CLI_STR, &family_s, "I,J,..", "a second latent set (e.g. the wide SAE's split family); SAE tiers run for it too", 0, 0},
        {"tiers", CLI_STR, &tiers_s, "LIST", "none,ablate,suppress,steer,meandiff,banned,cond (default none,ablate,suppress,steer)", 0, 0},
        {"cond-threshold", CLI_DBL, &cond_thr, "T", "tier cond steers a position only where some latent fires above T x A_i (default 0: fires at all)", 0, 0},
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
        {"batch-rows", CLI_INT, &batch_rows, "N", "sequences decoding together (default 0 = 256; -1 = unbatched, per prompt group)", 0, 0},
        {"out", CLI_STR, &out_dir, "DIR", "output folder", 1, 0},
    };
    int rc = cli_parse(CMD, "Steering sweep on RealToxicityPrompts-style prompts: expected maximum toxicity,\n"
                            "toxicity probability, mean toxicity (bootstrap 95% CIs), perplexity under the\n"
                            "unsteered model, multiple-choice accuracy; per tier and strength.",
                       opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    if (!(cond_thr >= 0) || !isfinite(cond_thr)) {
        fprintf(stderr, "saetox %s: --cond-threshold must be a finite number >= 0\n", CMD);
        return 2;
    }
    sx_set_threads((int)threads);
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
    }
    sx_err err = {0};
    sx_sweep_plan plan;
    if (sx_sweep_plan_build(tiers_s, alphas, na, family_s != NULL, &plan, &err)) {
        fprintf(stderr, "saetox %s: --tiers: %s\n", CMD, err.msg);
        return 2;
    }
    if (plan.need_sae && (!sae_path || !latents_s)) {
        fprintf(stderr, "saetox %s: tiers ablate/suppress/steer need --sae and --latents\n", CMD);
        return 2;
    }
    if (samples < 1 || max_new < 1 || !(top_p > 0 && top_p <= 1) || boot < 0) {
        fprintf(stderr, "saetox %s: --samples and --max-new-tokens must be >= 1, --top-p in (0,1]\n", CMD);
        return 2;
    }
    if (batch_rows < -1 || batch_rows > (1 << 20)) {
        fprintf(stderr, "saetox %s: --batch-rows must be -1 (unbatched), 0 (default) or 1..%d\n", CMD, 1 << 20);
        return 2;
    }
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_scorer *scorer = NULL;
    sx_sae sae;
    int have_sae = 0;
    sx_textlist prompts = {0}, toxic = {0}, clean = {0};
    sx_mc_item *items = NULL;
    int64_t n_items = 0;
    int *lat = NULL, *fam = NULL, nlat = 0, nfam = 0, *ban = NULL, nban = 0;
    float *scales = NULL, *fscales = NULL;
    sx_sweep sw;
    int have_sw = 0, ret = 1, in_sweep = 0;
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
    if (!ext && (weights ? sx_scorer_load(weights, &scorer, &err) : sx_scorer_load_default(&scorer, NULL, 0, &err)))
        goto fail;
    sx_sweep_inputs in;
    sx_sweep_inputs_default(&in);
    in.model = m, in.tok = tok, in.scorer = scorer, in.external_cmd = ext, in.prompts = &prompts;
    in.hook = hook, in.scale_quantile = quantile, in.cond_threshold = cond_thr;
    if (plan.need_sae) {
        if (sx_sae_load(sae_path, &sae, &err)) goto fail;
        have_sae = 1;
        in.sae = &sae, in.sae_name = sae_path;
        in.latents = lat, in.n_latents = nlat, in.family = fam, in.n_family = nfam;
        if (scales_path) {
            scales = malloc(sizeof(float) * (size_t)nlat);
            fscales = malloc(sizeof(float) * (size_t)(nfam + 1));
            if (sx_scales_load(scales_path, lat, nlat, scales, &err) ||
                (fam && sx_scales_load(scales_path, fam, nfam, fscales, &err)))
                goto fail;
            in.scales = scales, in.family_scales = fscales;
        }
    }
    /* texts for the scales and the mean difference (default: the prompts, by their score) */
    if (toxic_spec && ((plan.need_sae && !scales_path) || plan.need_meandiff)) {
        if (sx_textlist_load(toxic_spec, 0, &toxic, &err)) goto fail;
        in.toxic = &toxic;
    }
    if (clean_spec && plan.need_meandiff) {
        if (sx_textlist_load(clean_spec, 0, &clean, &err)) goto fail;
        in.clean = &clean;
    }
    if (sx_sweep_prepare(&plan, &in, &sw, &err)) goto fail;
    have_sw = 1;
    if (plan.need_sae) cli_evaluate_print_scales(&sw);
    if (plan.need_banned && sx_banned_ids(tok, ban_words, &ban, &nban, &err)) goto fail;
    if (bench && sx_mc_load(bench, bench_n, &items, &n_items, &err)) goto fail;
    sw.in.ban_ids = ban, sw.in.n_ban = nban;
    sw.in.bench = items, sw.in.n_bench = n_items;
    sx_eval_opts *eo = &sw.in.eval;
    eo->samples = (int)samples;
    eo->max_new_tokens = (int)max_new;
    eo->top_p = (float)top_p;
    eo->temperature = (float)temperature;
    eo->seed = (uint64_t)seed;
    eo->boot_reps = (int)boot;
    eo->fluency = !no_fluency;
    eo->batch_rows = (int)batch_rows;
    in_sweep = 1; /* under mpirun: (condition, prompt chunk) units split over the ranks, rank 0 writes (sweep.c) */
    if (sx_sweep_run(&sw, out_dir, cli_evaluate_print_row, NULL, NULL, &err)) goto fail;
    ret = 0;
fail:
    /* under mpirun a failure while loading meets the other ranks' first check in the sweep
     * (or their own failure here): every rank then stops with the same one-line message */
    if (ret && !in_sweep && sx_mpi_size() > 1) sx_mpi_check(-1, &err);
    if (ret) fprintf(stderr, "saetox %s: %s\n", CMD, err.msg);
    if (have_sw) sx_sweep_free(&sw);
    sx_mc_free(items, n_items);
    sx_textlist_free(&prompts);
    sx_textlist_free(&toxic);
    sx_textlist_free(&clean);
    if (have_sae) sx_sae_free(&sae);
    sx_scorer_free(scorer);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    free(lat), free(fam), free(ban), free(scales), free(fscales);
    return ret;
}
