/* demo.h — the steps of `saetox demo` (cmd_demo.c runs them in order; demo_steps.c calls the
 * library functions behind each step, demo_report.c prints the summary). */
#ifndef SAETOX_DEMO_H
#define SAETOX_DEMO_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "analysis.h"
#include "core.h"
#include "models.h"
#include "tokenizer.h"

#define DEMO_SPLIT_THRESHOLD "0.5" /* decoder cosine of a child to its parent (analyze split) */
/* One LR for every SAE of the demo (train/README.md "Wide vs narrow"): the demo gives a
 * 4096-wide SAE ~390 training tokens per latent, where the default 2e-4*sqrt(16384/width)
 * (fitted on long runs) leaves it undertrained next to the narrow one. */
#define DEMO_SAE_LR 1e-3

typedef struct demo_ctx {
    const char *out;
    const char *model_dir;
    char model_buf[4096];
    char data_dir[4096];
    int64_t seed, sample_tokens, samples, epochs;
    char threads[16];
    double t0, step_t0;
    /* the model, loaded once (demo_load_model) */
    sx_model *m;
    sx_tokenizer *tok;
    int d_model, n_layers, ctx;
    char hook[64], ctx_s[16], widths_s[64];
    char name_narrow[64], name_wide[64];
    char sae_narrow[4200], sae_wide[4200];
    /* set by demo_pick_latents */
    int top_narrow;    /* the narrow toxic latent whose splitting is compared */
    int family_wide_n; /* its children in the wide SAE (0: none; then the family is the wide top latent) */
    char narrow_latents[256], wide_single[32], wide_family[2048], children_desc[1024];
    /* the Matryoshka SAE (demo_matryoshka.c) */
    char mat_dir[4200], name_mat[64], sae_mat[4300];
    double mat_fvu, mat_fvu0, mat_dead, mat_auroc, mat_d, mat_narrow_cos;
    int mat_top, mat_group, mat_in_later, mat_narrow, mat_wide_n; /* mat_top < 0: not run */
    char mat_family[1024], mat_wide[1024];
    /* the causal selection (demo_sweeps) */
    char causal_latents[256];
} demo_ctx;

/* Print "  $ saetox ARGS..." (the command that does the same as the next step; NULL-ended). */
void demo_show_cmd(const char *name, ...);

/* Load the model and tokenizer into c and derive the hook, context and SAE names. */
int demo_load_model(demo_ctx *c, sx_err *err);
void demo_free_model(demo_ctx *c);
/* Step 1: sample text from the model into OUT/data/samples.txt (one document per line). */
int demo_samples(demo_ctx *c, sx_err *err);
/* Step 2: cache activations of the source `src` into acts (what `saetox cache` does). */
int demo_cache(demo_ctx *c, const char *src, const char *acts, sx_err *err);
/* Step 3: TopK SAEs of both widths on the cache (what `saetox train` does). */
int demo_train(demo_ctx *c, const char *acts, sx_err *err);
/* The demo's SAE settings (k 16, batch 1024, epochs, seed, DEMO_SAE_LR, the cache's hook and
 * model) on top of o's arch, widths, groups and out_dir; trains on the cache. */
struct sx_train_opts;
int demo_train_sae(demo_ctx *c, const char *acts, struct sx_train_opts *o, sx_err *err);
/* Step 3, second pass: a Matryoshka BatchTopK SAE, groups (narrow, wide) = the TopK pair's
 * widths, into OUT/matryoshka (what `saetox train --arch matryoshka` does). */
void demo_matryoshka_paths(demo_ctx *c);
int demo_train_matryoshka(demo_ctx *c, const char *acts, sx_err *err);
/* Step 5b: its top toxic latent (OUT/analysis-matryoshka) and that latent's family by
 * decoder cosine inside it and in the TopK pair. */
int demo_toxic_matryoshka(demo_ctx *c, sx_err *err);
/* The summary's paragraph on it (nothing when it did not run). */
void demo_matryoshka_summary(const demo_ctx *c, FILE *f);
/* Step 3b: every SAE spliced into the model on held-out text (what `saetox eval-sae` does):
 * eval_dir/sae_eval.csv, which export turns into width_comparison.csv. */
int demo_eval(demo_ctx *c, const char *eval_dir, sx_err *err);
/* Step 4: `analyze split` of the two SAEs into the analysis folder. */
int demo_split(demo_ctx *c, const char *analysis, sx_err *err);
/* Step 5: `analyze toxic` of both SAEs on the contrast sets. */
int demo_toxic(demo_ctx *c, const char *analysis, sx_err *err);
/* Step 6: `analyze stats` for each SAE, merged into ANALYSIS/latent_stats.csv and
 * ANALYSIS/top_contexts.csv. */
int demo_stats(demo_ctx *c, const char *acts, const char *analysis, sx_err *err);
/* Read toxic_latents.csv + pairs.csv: the narrow SAE's top toxic latents, and in the wide SAE
 * the children of the narrow toxic latent that split (and the best single child). */
int demo_pick_latents(demo_ctx *c, const char *analysis, sx_err *err);
/* The sx_pick_latents reading behind it (top n_top narrow latents), for the causal selection too. */
int demo_read_pick(const demo_ctx *c, const char *analysis, int n_top, sx_latent_pick *pk, sx_err *err);
/* Steps 7 and 8: the steering sweeps of the narrow SAE (tiers x strengths + baselines) into
 * OUT/steer-narrow and of the wide one (one child vs the family) into OUT/steer-wide, merged
 * into OUT/steering_sweep.csv (SAE conditions prefixed by the SAE's name). */
int demo_sweeps(demo_ctx *c, void (*step)(demo_ctx *, int, const char *), sx_err *err);
/* Causal latent selection (causal_pick.c, issue 19 item 3): among the narrow SAE's top m latents
 * by activation contrast (ANALYSIS/toxic_latents.csv), sx_causal_select's choice; validation
 * prompts = the first n_val toxic selection texts that are not evaluation prompts, attribution on
 * the next (<= 64); DIR/causal_latents.csv; the chosen latents into latents as "I,J,..". */
typedef struct demo_causal_cfg {
    int m, n_verify, n_val, samples, max_new_tokens;
    double alpha;
    uint64_t seed;
} demo_causal_cfg;
struct sx_textlist;
struct sx_scorer;
int demo_causal_pick(demo_ctx *c, const demo_causal_cfg *cfg, const char *analysis, const struct sx_textlist *toxic,
                     const struct sx_textlist *eval_prompts, const struct sx_scorer *scorer, const int *ban, int nban,
                     const char *out_dir, char *latents, size_t latents_sz, sx_err *err);
/* Step 9: the report folder (what `saetox export --quiet` does). */
int demo_export(demo_ctx *c, const char *report, sx_err *err);
/* Print the summary table (stdout) and write OUT/summary.md. */
int demo_summary(demo_ctx *c, const char *analysis, const char *report, sx_err *err);

#endif
