/* demo.h — the steps of `saetox demo` (cmd_demo.c runs them in order; demo_steps.c and
 * demo_report.c hold the pieces that are not plain subcommand calls). */
#ifndef SAETOX_DEMO_H
#define SAETOX_DEMO_H

#include <stdint.h>

#include "cli.h"
#include "core.h"

#define DEMO_MAX_CHILDREN 64      /* children steered together at most */
#define DEMO_SPLIT_THRESHOLD "0.5" /* decoder cosine of a child to its parent (analyze split) */

typedef struct demo_ctx {
    const char *out;
    const char *model_dir;
    char model_buf[4096];
    char data_dir[4096];
    int64_t seed, sample_tokens, samples, epochs;
    char threads[16];
    double t0, step_t0;
    /* set by demo_samples from the model's config */
    int d_model, n_layers, ctx;
    char hook[64], ctx_s[16], widths_s[64];
    char name_narrow[64], name_wide[64];
    char sae_narrow[4200], sae_wide[4200];
    /* set by demo_pick_latents */
    int top_narrow;    /* the narrow toxic latent whose splitting is compared */
    int family_wide_n; /* its children in the wide SAE (0: none; then the family is the wide top latent) */
    char narrow_latents[256], wide_single[32], wide_family[2048], children_desc[1024];
} demo_ctx;

typedef int (*demo_run_fn)(demo_ctx *c, cli_cmd_fn fn, const char *name, ...);

/* Step 1: sample text from the model into OUT/data/samples.txt (one document per line). */
int demo_samples(demo_ctx *c, sx_err *err);
/* Step 6: `analyze stats` for each SAE, merged into ANALYSIS/latent_stats.csv and
 * ANALYSIS/top_contexts.csv. */
int demo_stats(demo_ctx *c, const char *acts, const char *analysis, demo_run_fn run, sx_err *err);
/* Read toxic_latents.csv + pairs.csv: the narrow SAE's top toxic latents, and in the wide SAE
 * the children of the narrow toxic latent that split (and the best single child). */
int demo_pick_latents(demo_ctx *c, const char *analysis, sx_err *err);
/* OUT/steering_sweep.csv from both sweeps, SAE conditions prefixed by the SAE's name. */
int demo_merge_sweeps(demo_ctx *c, const char *narrow_dir, const char *wide_dir, sx_err *err);
/* Print the summary table (stdout) and write OUT/summary.md. */
int demo_summary(demo_ctx *c, const char *analysis, const char *report, sx_err *err);

#endif
