/* analysis.h — what the latents of trained SAEs mean: feature splitting across widths
 * (decoder-cosine pairs and families), streamed per-latent statistics with top contexts,
 * and toxic-vs-clean effect sizes (AUROC, Cohen's d, log-odds) with a logit lens.
 *
 * The numeric kernels here take plain arrays so they can be tested without model files;
 * the drivers (sx_ana_*_run) tie them to SAE files, caches and models.  Library code never
 * prints to stdout and never exits: failures are -1 with err filled. */
#ifndef SAETOX_ANALYSIS_H
#define SAETOX_ANALYSIS_H

#include "sx_defs.h"
#include <stdint.h>
#include <stdio.h>

#include "core.h"
#include "datasets.h"

SX_BEGIN_DECLS

/* CSV: the io layer's writer and reader (io.h, via datasets.h), tables of include/saetox/schema.h. */

/* ---------- feature splitting: decoder cosines between a narrow SAE A and a wide B ---------- */
#define SX_SPLIT_DEFAULT_THRESHOLD 0.7f

typedef struct sx_split_pair {
    int32_t a, b;  /* latent of A (narrow), latent of B (wide) */
    float cos;
} sx_split_pair;

typedef struct sx_split_opts {
    float threshold;   /* pairs with cosine >= threshold (default 0.7) */
    int block_a;       /* rows of A per sgemm block (default 2048) */
    int block_b;       /* rows of B per sgemm block (default 8192) */
    int64_t max_pairs; /* error beyond this many pairs (default 20,000,000) */
} sx_split_opts;

typedef struct sx_split_result {
    int n_a, n_b, d;
    float threshold;
    sx_split_pair *pairs;  /* every pair with cos >= threshold, sorted by (a, b) */
    int64_t n_pairs;
    int32_t *best_a;       /* [n_a] best-matching latent of B for each latent of A */
    float *best_a_cos;     /* [n_a] its cosine */
    int32_t *best_b;       /* [n_b] best-matching latent of A for each latent of B */
    float *best_b_cos;     /* [n_b] */
    int32_t *n_children;   /* [n_a] number of B latents with cos >= threshold */
    double seconds;        /* wall time of the whole computation */
    double seconds_gemm;   /* of which in sgemm (the rest: normalising and scanning) */
    double gflop;          /* 2 n_a n_b d / 1e9 */
} sx_split_result;

void sx_split_opts_default(sx_split_opts *o);
/* Wa [n_a, d] and Wb [n_b, d] are decoder matrices (rows need not be normalised: copies are
 * normalised; a zero row has cosine 0 with everything).  Memory: the two normalised copies
 * plus one block_a x block_b float block — never the full n_a x n_b matrix. */
int sx_split_compute(const float *Wa, int n_a, const float *Wb, int n_b, int d,
                     const sx_split_opts *o, sx_split_result *r, sx_err *err);
void sx_split_free(sx_split_result *r);

/* ---------- families ---------- */
/* Node ids: latent i of A is node i, latent j of B is node n_a + j. */
typedef struct sx_families {
    int n_a, n_b;
    int n_families;
    int32_t *fam;   /* [n_a + n_b] family id of each node, -1 when in no family */
    int32_t *size;  /* [n_families] members (both SAEs) */
} sx_families;

/* Connected components of the bipartite graph of the pairs; only components with at least
 * one pair become families, numbered 0.. in order of their smallest A latent. */
int sx_families_from_pairs(const sx_split_result *r, sx_families *f, sx_err *err);
/* Optional refinement: average-linkage agglomerative clustering (cosine distance 1 - cos,
 * nearest-neighbour-chain algorithm, O(m^2) memory and time for the m latents that belong to
 * some family) cut at distance `cut`; the clusters of two or more latents become the new
 * families (same numbering rule).  Errors when m > max_nodes. */
int sx_families_average_linkage(const float *Wa, const float *Wb, int d, double cut,
                                int max_nodes, sx_families *f, sx_err *err);
void sx_families_free(sx_families *f);

/* Average linkage on an explicit condensed distance matrix (dist[i*m + j], full m x m,
 * symmetric); labels[m] receives cluster ids 0.. (in order of smallest member) of the cut
 * at `cut` (merges at height <= cut are applied).  Returns the number of clusters. */
int sx_average_linkage_cut(float *dist, int m, double cut, int32_t *labels, sx_err *err);

int sx_pairs_write_csv(const char *path, const sx_split_result *r, sx_err *err);
int sx_families_write_csv(const char *path, const sx_families *f, const char *label_a,
                          const char *label_b, sx_err *err);
/* Read families.csv and return, for SAE `label` with d_sae latents, fam_of[d_sae] (family id
 * or -1) and size_of[d_sae] (its family's size, 1 when in none).  *n_rows_label receives
 * how many rows named `label`. */
int sx_families_read_csv(const char *path, const char *label, int d_sae, int32_t *fam_of,
                         int32_t *size_of, int64_t *n_rows_label, sx_err *err);

/* Read one numeric column of a per-latent CSV written here (latent_stats.csv,
 * latent_effects.csv, toxic_latents.csv): out[d_sae] gets the value of each latent present
 * (NaN for absent ones), rows filtered by the sae column when label != NULL.  E.g. the
 * steering scale A_i: column "q99_toxic" of latent_effects.csv (or "q99" of
 * latent_stats.csv).  A latent >= d_sae is an error. */
int sx_ana_read_latent_column(const char *path, const char *label, const char *column, int d_sae,
                              double *out, int64_t *n_rows, sx_err *err);
/* The latents of toxic_latents.csv in file (= rank) order, at most max; returns the count. */
int sx_ana_read_toxic_latents(const char *path, const char *label, int32_t *latents, int max,
                              sx_err *err);

/* ---------- effect sizes (toxic vs clean) ---------- */
/* The one AUROC in saetox (the scorer's metrics use it too): exact Mann–Whitney
 * P(score | label != 0 > score | label == 0) + P(=)/2, ties by average rank, O(n log n);
 * NaN when either class is empty. */
double sx_auroc(const double *score, const int *label, int64_t n);
/* Same, toxic sample t vs clean sample c, when only the nonzero values are stored: nz_t nonzeros out of n_t samples (the rest
 * are exactly 0, one big tie group).  Sorts the nonzero arrays in place. */
double sx_ana_auroc_sparse(float *t_nz, int64_t nz_t, int64_t n_t, float *c_nz, int64_t nz_c,
                           int64_t n_c);
/* Cohen's d from sufficient statistics, pooled sd with (n-1) weights; 0 when the pooled sd
 * is 0.  Smoothed log-odds of firing: log((f_t+.5)/(n_t-f_t+.5)) - log((f_c+.5)/(n_c-f_c+.5)). */
double sx_cohens_d(double sum_t, double sumsq_t, int64_t n_t, double sum_c, double sumsq_c,
                   int64_t n_c);
double sx_log_odds(int64_t fire_t, int64_t n_t, int64_t fire_c, int64_t n_c);

typedef struct sx_effect {
    double auroc, cohens_d, mean_toxic, mean_clean, mean_diff, fire_toxic, fire_clean,
        log_odds;
    double q50_toxic, q90_toxic, q99_toxic, max_toxic; /* of positive toxic activations */
} sx_effect;

/* Accumulates, per latent and class, the samples' sums and their nonzero values (memory
 * grows with the number of nonzero activations: 4 bytes each). */
typedef struct sx_effect_acc sx_effect_acc;
sx_effect_acc *sx_effect_acc_new(int d_sae);
void sx_effect_acc_free(sx_effect_acc *a);
/* Add n rows of activations [n, d_sae] as samples of class cls (1 toxic, 0 clean). */
int sx_effect_acc_add(sx_effect_acc *a, int cls, const float *acts, int64_t n, sx_err *err);
int64_t sx_effect_acc_count(const sx_effect_acc *a, int cls);
/* out[d_sae]; errors when a class is empty. */
int sx_effect_acc_finish(sx_effect_acc *a, sx_effect *out, sx_err *err);

typedef enum { SX_RANK_AUROC = 0, SX_RANK_COHENS_D, SX_RANK_MEAN_DIFF, SX_RANK_LOG_ODDS } sx_rank_by;
int sx_rank_by_parse(const char *s, sx_rank_by *out);
double sx_effect_score(const sx_effect *e, sx_rank_by by);
/* order[d_sae]: latents by descending score, ties by ascending index. */
void sx_effect_rank(const sx_effect *e, int d_sae, sx_rank_by by, int32_t *order);

/* ---------- latent statistics (streamed, bounded memory) ---------- */
/* Quantiles come from per-latent log-binned histograms: 16 bins per octave over
 * [2^-16, 2^16) (values outside fall in the end bins), reported at the bin midpoint and
 * clamped to the exact [min, max] of the positive values: relative error <= 1/33 (~3%)
 * inside the range.  Memory: 2 KB per latent (+ the top-N heaps). */
typedef struct sx_stats_acc sx_stats_acc;
sx_stats_acc *sx_stats_new(int d_sae, int top_n);
void sx_stats_free(sx_stats_acc *s);
/* acts [n, d_sae]; row0 = global index of the first row (for top contexts). */
int sx_stats_add(sx_stats_acc *s, const float *acts, int64_t n, int64_t row0, sx_err *err);
int64_t sx_stats_rows(const sx_stats_acc *s);

typedef struct sx_latent_stat {
    int64_t n_fire;      /* rows with activation > 0 */
    double fire_freq;    /* n_fire / rows */
    double mean_act;     /* mean of the positive activations (0 when it never fires) */
    double max_act;
    double q50, q90, q99; /* quantiles of the positive activations (0 when it never fires) */
} sx_latent_stat;
void sx_stats_get(const sx_stats_acc *s, int latent, sx_latent_stat *out);
/* Quantile q in [0,1] of the positive activations of a latent (histogram estimate). */
double sx_stats_quantile(const sx_stats_acc *s, int latent, double q);
/* The top-N (activation, global row) of a latent, descending; returns how many (<= N). */
int sx_stats_top(const sx_stats_acc *s, int latent, float *acts, int64_t *rows);

/* Streaming histogram for one latent (exposed for tests). */
int sx_hist_bin(float v);
double sx_hist_bin_mid(int bin);
#define SX_HIST_BINS 512

/* ---------- drivers (need SAE files, caches, models) ---------- */

typedef struct sx_split_run_opts {
    const char *sae_a, *sae_b;       /* paths */
    const char *label_a, *label_b;   /* NULL: from the paths */
    sx_split_opts split;
    const char *linkage;             /* NULL or "average" */
    double cut;                      /* cosine distance cut for the linkage */
    int max_linkage_nodes;           /* default 8192 */
    const char *out_dir;
    int verbose;                     /* summary lines on stderr */
} sx_split_run_opts;
int sx_ana_split_run(const sx_split_run_opts *o, sx_err *err);

typedef enum { SX_POLICY_TOKEN = 0, SX_POLICY_MAX, SX_POLICY_LAST } sx_policy;
int sx_policy_parse(const char *s, sx_policy *out);

/* `analyze toxic`: toxic and clean text -> model -> SAE(s) at their hooks -> per-latent
 * effects.  Writes OUT/toxic_latents.csv (top latents of each SAE, rank 1.. per SAE),
 * OUT/latent_effects.csv (every latent: effects + quantiles of its positive activations on
 * toxic text, the per-latent scale A_i for steering), and with --families
 * OUT/family_effects.csv (how the effect spreads over each top latent's family). */
typedef struct sx_toxic_run_opts {
    const char *model_dir, *tokenizer_dir;   /* tokenizer_dir NULL: model_dir */
    const char *const *saes;
    int n_saes;
    const char *const *labels;               /* NULL: from the paths */
    const char *hook;                        /* NULL: each SAE's cfg hook_name */
    const char *toxic_spec, *clean_spec;     /* datasets.h source specs */
    const char *label_rule;                  /* optional: filter both specs by it */
    int html_unescape, skip_bad;
    sx_policy policy;
    sx_rank_by rank_by;
    int top, lens_k, context_size, batch;
    int64_t max_docs;                        /* per class; <= 0: all */
    const char *families_dir;
    const char *out_dir;
    int verbose;
} sx_toxic_run_opts;
void sx_toxic_run_opts_default(sx_toxic_run_opts *o);
int sx_ana_toxic_run(const sx_toxic_run_opts *o, sx_err *err);

/* `analyze stats`: one SAE over an activation cache (sequential rows) or a text source
 * (packed windows through the model).  Writes OUT/latent_stats.csv and
 * OUT/top_contexts.csv. */
typedef struct sx_stats_run_opts {
    const char *sae, *label;
    const char *cache;                       /* HDF5 activation cache, or */
    const char *model_dir, *data;            /* model + text source */
    const char *tokenizer_dir;               /* for context strings (default model_dir) */
    const char *hook;
    int64_t tokens;                          /* <= 0: the whole cache / 100000 for text */
    int top_n, context_size, batch, window_before, window_after;
    int html_unescape, skip_bad;
    const char *out_dir;
    int verbose;
} sx_stats_run_opts;
void sx_stats_run_opts_default(sx_stats_run_opts *o);
int sx_ana_stats_run(const sx_stats_run_opts *o, sx_err *err);

/* ---------- feature-dashboard detail (features.c) ----------
 * For a few latents (the ones a report shows), everything SAEDashboard / Neuronpedia show
 * about a feature, computed exactly from the first `rows` rows of an activation cache:
 * the activation histogram of the firing tokens, the firing density, the top activating
 * contexts and contexts sampled from equal-width activation bands, each with every token's
 * activation, and the decoder vector.  Memory: n_latents x rows floats (the latents'
 * activation columns) + 16 bytes a row (token ids); rows is cut so the columns stay below
 * 2^24 floats (64 MB).  Cost: one SAE encode of those rows. */
typedef struct sx_feature_example {
    int band;              /* -1: a top activation; else 0 = lowest activation band */
    double bin_min, bin_max, bin_contains; /* band range, its share of the firing tokens */
    double act;            /* activation at the centre token */
    int n_tok, centre;     /* window length, index of the activating token in it */
    int32_t *ids;          /* [n_tok] token ids (-1 unknown) */
    float *vals;           /* [n_tok] this latent's activation at each token */
    char **text;           /* [n_tok] sx_tokenizer_token_display, or "<id>" */
} sx_feature_example;
typedef struct sx_feature_detail {
    int64_t latent, n_rows, n_fire;   /* rows seen, rows with activation > 0 */
    double max_act;
    int n_bins;                       /* activation histogram: equal bins over (0, max_act] */
    double *bin_lo;                   /* [n_bins + 1] edges */
    int64_t *bin_count;               /* [n_bins] firing tokens per bin */
    int n_ex;
    sx_feature_example *ex;           /* top first (descending), then bands low to high */
    int d_in;
    float *dec;                       /* [d_in] decoder row */
} sx_feature_detail;
typedef struct sx_feature_opts {
    const char *sae, *cache, *tokenizer_dir; /* tokenizer_dir may be NULL: "<id>" text */
    int64_t rows;                     /* <= 0: the whole cache */
    int n_top, n_bands, per_band, n_bins, before, after; /* 0: 10, 10, 5, 40, 12, 4 */
    uint64_t seed;                    /* band sampling */
} sx_feature_opts;
int sx_feature_details(const sx_feature_opts *o, const int64_t *latents, int n,
                       sx_feature_detail **out, sx_err *err);
void sx_feature_details_free(sx_feature_detail *d, int n);

/* ---------- choosing latents to steer (pick.c) ---------- */
struct sx_csv_table;
#define SX_PICK_MAX_TOP 16
#define SX_PICK_MAX_CHILDREN 64
typedef struct sx_latent_pick {
    int n_top;                             /* the narrow SAE's top toxic latents, rank order */
    int32_t top[SX_PICK_MAX_TOP];
    int32_t parent;                        /* the narrow toxic latent whose splitting is compared */
    int n_children;                        /* its children in the wide SAE (0: none) */
    int32_t child[SX_PICK_MAX_CHILDREN];   /* most similar first (ties: lower index) */
    double child_cos[SX_PICK_MAX_CHILDREN];
    int n_family;                          /* the wide latents steered together: the children, */
    int32_t family[SX_PICK_MAX_CHILDREN];  /* or (no child) the wide SAE's top toxic latent */
    int32_t single;                        /* the family member ranked best among the wide SAE's
                                            * toxic latents (else the most similar child) */
} sx_latent_pick;
/* From toxic_latents.csv (columns sae, latent, rank) and the split's pairs.csv (small_latent,
 * wide_latent, cosine) of a narrow and a wide SAE (their `sae` labels): the narrow SAE's
 * n_steer best-ranked toxic latents; among its n_candidates best, the best-ranked one with at
 * least two children in the wide SAE (else the top latent, with its one child or none); its
 * children (at most SX_PICK_MAX_CHILDREN); and the single child to compare them with. */
int sx_pick_latents(const struct sx_csv_table *toxic, const struct sx_csv_table *pairs,
                    const char *narrow, const char *wide, int n_steer, int n_candidates,
                    sx_latent_pick *out, sx_err *err);

/* Concatenate CSV files with the same header into dst (atomically): the first file whole,
 * the others without their header row.  E.g. per-SAE latent_stats.csv into one table. */
int sx_ana_concat_csv(const char *const *srcs, int n, const char *dst, sx_err *err);

/* ---------- SAE quality with the SAE spliced into the model (`saetox eval-sae`) ----------
 * One clean pass over the text, then per SAE the blocks from its hook on with decode(encode(x))
 * in place of x, and per distinct hook the same with zeros (definitions in README.md).  Takes
 * loaded objects; sae_eval.c. */
struct sx_model;
struct sx_tokenizer;
struct sx_sae;

typedef struct sx_sae_eval_opts {
    const struct sx_sae *const *saes;
    const char *const *names;  /* the `sae` column and the file named in errors (e.g. the path) */
    int n_saes;
    const char *model_name;    /* the model folder, named in errors about the ids */
    const char *default_hook;  /* for an SAE that names no hook_name (Gemma Scope), or NULL */
    /* the text: either one sequence of token ids ... */
    const int32_t *ids;
    int n_ids;
    /* ... or a source packed exactly as `saetox cache` does (datasets.h) */
    const char *data;
    sx_source_opts src;
    sx_pack_opts pack;          /* context_size, prepend_bos, per_doc, ... */
    int64_t tokens;             /* positions to evaluate (the last window is cut to fit) */
    int batch;                  /* windows per forward pass (memory: 2 x batch x C x vocab floats) */
    int progress;               /* progress bar on stderr (when it is a terminal) */
} sx_sae_eval_opts;

typedef struct sx_sae_eval_row {
    char sae[1024];
    char hook[128];
    int d_sae;
    int64_t n_tokens;   /* positions run through the model */
    int64_t n_spliced;  /* of those, not BOS: the reconstruction metrics' positions */
    int64_t n_ce;       /* positions t < T-1 of each window: the CE / KL positions */
    double l0, mse, explained_variance, fvu;
    double ce_clean, ce_spliced, ce_zero, ce_loss_score;
    double kl_spliced, kl_zero, kl_div_score;
    double dead_frac, dense_frac;
} sx_sae_eval_row;

typedef struct sx_sae_eval_info {
    int64_t n_tokens, n_windows;
    int exhausted;      /* the source ran out before `tokens` */
    double seconds;
    /* where the time went: the clean passes, the passes from the hooks (spliced and zero),
     * SAE encode/decode + reconstruction metrics, softmax / CE / KL over the vocabulary */
    double clean_seconds, from_hook_seconds, sae_seconds, loss_seconds;
} sx_sae_eval_info;

/* rows[n_saes] receive the results.  Errors (an SAE whose hook the model lacks, d_in that is
 * not d_model, ids beyond the vocabulary, no text) name the SAE / source. */
int sx_sae_eval_run(struct sx_model *m, const struct sx_tokenizer *tok, const sx_sae_eval_opts *o,
                    sx_sae_eval_row *rows, sx_sae_eval_info *info, sx_err *err);
/* DIR/sae_eval.csv (SX_SCHEMA_SAE_EVAL, include/saetox/schema.h) and DIR/sae_eval.jsonl, each written atomically;
 * DIR is created. */
int sx_sae_eval_write(const char *dir, const sx_sae_eval_row *rows, int n, sx_err *err);

/* ---------- the multi-seed study's findings (`saetox study`; findings.c) ----------
 * The paper's findings F1-F6, each as one number per SAE seed, their mean and a two-sided
 * Student t interval across seeds, and a verdict from that interval (rules in findings.c and
 * README.md "The study").  Plain arrays in, so it is testable without models. */

/* Quantile of Student's t with dof > 0 degrees of freedom at probability p in (0, 1)
 * (inverse of the CDF by bisection on the regularised incomplete beta; |error| < 1e-12
 * relative); NaN for p or dof out of range. */
double sx_t_quantile(double p, double dof);
/* Mean of x[n] and its two-sided `level` t-interval mean -+ t_{(1+level)/2, n-1} s / sqrt(n)
 * (s the sample standard deviation).  n == 1: lo = hi = NaN; n == 0: all NaN. */
void sx_mean_ci_t(const double *x, int n, double level, double *mean, double *lo, double *hi);
/* Least-squares slope of y on x (NaN for n < 2 or constant x). */
double sx_ols_slope(const double *x, const double *y, int n);
/* The lowest y along the piecewise-linear path through the points (r_j, y_j), j = 0..n-1 in
 * order, on the part where r <= budget: the feasible points and, on each segment that crosses
 * the budget, the linear interpolation at r = budget.  NaN when no part is feasible. */
double sx_matched_min(const double *r, const double *y, int n, double budget);

#define SX_STUDY_MAX_SEEDS 64
#define SX_STUDY_MAX_FINDINGS 48
/* One condition of one seed's sweeps (a row of study_runs.csv).  set: "top" (the narrow SAE's
 * top toxic latents by activation contrast), "causal" (the narrow SAE's latents chosen by
 * sx_causal_select), "single" (one latent), "family" (the wide children), "baseline"
 * (none / meandiff / banned; sae ""). */
typedef struct sx_study_run {
    int64_t seed;
    char sae[64], set[16], condition[96], tier[16];
    double alpha, emt, ppl, acc;
    int64_t acc_n;
} sx_study_run;
/* What one seed's analysis found (a row of study_seeds.csv). */
typedef struct sx_study_seed {
    int64_t seed;
    int narrow_parent;  /* the narrow toxic latent whose splitting is compared */
    int wide_children;  /* its children in the wide SAE at the split threshold */
    int mat_top;        /* the Matryoshka SAE's top toxic latent (< 0: no Matryoshka SAE) */
    int mat_group;      /* its group (0 = the first, narrow one) */
    int mat_later;      /* latents of later groups at the split threshold to it */
} sx_study_seed;
typedef struct sx_study_spec {
    const char *narrow, *wide, *mat; /* the SAE names in the runs (mat NULL or "": none) */
    double budget;                   /* perplexity ratio to unsteered for F4-F6 (1.25) */
    double level;                    /* CI level (0.95) */
    double margin;                   /* F5 non-inferiority margin in EMT (0.02) */
} sx_study_spec;
void sx_study_spec_default(sx_study_spec *s);
typedef struct sx_finding {
    char id[32];                /* "F1.steer", ... */
    char description[256], metric[256], rule[256];
    char verdict[20];           /* reproduced, not reproduced, inconclusive, or "-" (descriptive) */
    int n;                      /* seeds with a finite value */
    int64_t seed[SX_STUDY_MAX_SEEDS];
    double value[SX_STUDY_MAX_SEEDS];
    double mean, lo, hi;
} sx_finding;
/* The findings from the runs and seeds (every seed of seeds[] needs its unsteered row;
 * findings whose conditions are absent get n = 0 and verdict inconclusive).  out has room
 * for SX_STUDY_MAX_FINDINGS. */
int sx_study_findings(const sx_study_run *runs, int64_t n_runs, const sx_study_seed *seeds, int n_seeds,
                      const sx_study_spec *spec, sx_finding *out, int *n_out, sx_err *err);

SX_END_DECLS
#endif
