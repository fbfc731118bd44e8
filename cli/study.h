/* study.h — `saetox study` (issue 19): cmd_study.c parses the options, prepares the data and
 * runs the seeds; study_run.c trains, analyses and sweeps one seed (reusing the demo's steps,
 * demo.h); study_out.c writes and reads study_runs.csv, study_seeds.csv, findings.csv and
 * findings.md.  The findings themselves are computed in the library (analysis/findings.c). */
#ifndef SAETOX_STUDY_H
#define SAETOX_STUDY_H

#include "analysis.h"
#include "demo.h"
#include "steering.h"

#define STUDY_MAX_ALPHAS 8

/* One row of study_runs.csv: what the findings read (r) and the rest of the sweep's columns. */
typedef struct study_row {
    sx_study_run r;
    char latents[1024];
    sx_eval_result res;
    double acc_norm;
} study_row;

typedef struct study_ctx {
    demo_ctx c;              /* model, names, per-seed paths (c.out = the seed's folder) */
    char root[3800];         /* the output being built (OUT.partial) */
    int width_narrow, width_wide, with_mat;
    int causal;                  /* run the causal selection, the causal sweep and the cond tier */
    demo_causal_cfg causal_cfg;  /* its settings (seed set per seed) */
    double cond_threshold;       /* tier cond: steer where some a_j > this x A_j */
    double alphas[STUDY_MAX_ALPHAS];
    int n_alphas;
    char alphas_s[128];
    int64_t max_new_tokens, bench_items;
    /* the data every seed shares (loaded once from ROOT/data) */
    sx_textlist prompts, toxic, clean;
    sx_mc_item *items;
    int64_t n_items;
    sx_scorer *scorer;
    int *ban, nban;
    /* the rows gathered so far */
    struct study_row *rows;
    int64_t n_rows, cap_rows;
    sx_study_seed seeds[SX_STUDY_MAX_SEEDS];
    char seed_latents[SX_STUDY_MAX_SEEDS][256], seed_family[SX_STUDY_MAX_SEEDS][2048];
    int seed_single[SX_STUDY_MAX_SEEDS];
    char seed_causal[SX_STUDY_MAX_SEEDS][256];
    double seed_seconds[SX_STUDY_MAX_SEEDS];
    int n_seeds;
} study_ctx;

/* Train the seed's SAEs on the cache, analyse them, pick the latents and run the sweeps,
 * appending the rows to s->rows and the seed's facts to s->seeds[s->n_seeds++]. */
int study_seed(study_ctx *s, int64_t seed, const char *acts, sx_err *err);

/* study_out.c */
int study_write_runs(const char *path, const study_row *rows, int64_t n, sx_err *err);
int study_write_seeds(const char *path, const study_ctx *s, sx_err *err);
/* Rows of study_runs.csv / study_seeds.csv back (malloc'd runs; seeds into s->seeds). */
int study_read_runs(const char *path, sx_study_run **runs, int64_t *n, sx_err *err);
int study_read_seeds(const char *path, sx_study_seed *seeds, int *n_seeds, sx_err *err);
/* findings.csv and findings.md (atomically) into dir; header names the run (size, runtime). */
int study_write_findings(const char *dir, const sx_finding *f, int n, const sx_study_spec *spec, const char *header,
                         sx_err *err);
/* The findings from dir's study_runs.csv + study_seeds.csv, written beside them. */
int study_recompute(const char *dir, const sx_study_spec *spec, const char *header, sx_err *err);

#endif
