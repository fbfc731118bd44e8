/* export_int.h — private to notebooks-export: the run folder loaded into typed arrays, shared
 * by the report writers, the notebook, the dashboard and the plots. */
#ifndef SAETOX_EXPORT_INT_H
#define SAETOX_EXPORT_INT_H

#include "export.h"
#include "analysis.h"

#include <math.h>

#define XP_MAX_SAE 64

typedef struct xp_metric {
    int sae;
    double step, tokens, mse, fvu, l0, dead_frac, mean_max_act, lr, tokens_per_s;
} xp_metric;

typedef struct xp_stat {
    int sae;
    int64_t latent;
    double fire_freq, mean_act, max_act, q50, q90, q99;
} xp_stat;

typedef struct xp_toxic {
    int sae;
    int64_t latent, rank, family_id, family_size; /* family -1 / 0 when empty */
    double score, auroc, cohens_d, mean_toxic, mean_clean, mean_diff, fire_rate_toxic,
        fire_rate_clean, log_odds;
    const char *top_promoted, *top_suppressed;
} xp_toxic;

typedef struct xp_ctx {
    int sae;
    int64_t latent, rank;
    double activation;
    const char *before, *token, *after;
} xp_ctx;

typedef struct xp_pair {
    int64_t small_latent, wide_latent;
    double cosine;
} xp_pair;

typedef struct xp_fam {
    int64_t family_id;
    int sae;
    int64_t latent;
} xp_fam;

#define XP_SWEEP_NUM 18 /* numeric sweep columns after condition,tier,alpha,latents */
typedef struct xp_sweep {
    const char *condition, *tier, *latents;
    double alpha;
    /* n_prompts,n_samples,emt,emt_lo,emt_hi,tox_prob,..,mean_tox..,ppl,ppl_lo,ppl_hi,acc,
       acc_norm,acc_n in SX_SCHEMA_STEERING_SWEEP order (columns 4..21) */
    double v[XP_SWEEP_NUM - 1];
} xp_sweep;
enum { XS_NPROMPTS, XS_NSAMPLES, XS_EMT, XS_EMT_LO, XS_EMT_HI, XS_TP, XS_TP_LO, XS_TP_HI,
       XS_MT, XS_MT_LO, XS_MT_HI, XS_PPL, XS_PPL_LO, XS_PPL_HI, XS_ACC, XS_ACC_NORM, XS_ACC_N };

/* logit_effects.csv / logit_hist.csv rows (analyze toxic), sorted by (sae, latent, ...). */
typedef struct xp_logit {
    int sae, neg;
    int64_t latent, rank, id;
    const char *tok;
    double v;
} xp_logit;
typedef struct xp_lhist {
    int sae;
    int64_t latent, bin, count;
    double lo, hi;
} xp_lhist;
/* One latent the dashboard shows as a feature page: its toxic row and, when a stats_run.json
 * led back to the cache, its detail (sx_feature_details); d NULL otherwise. */
typedef struct xp_feat {
    int sae;
    int64_t latent;
    const xp_toxic *tox;
    const sx_feature_detail *d;
} xp_feat;

/* One run folder, loaded.  Arrays are NULL/0 when the input was absent; *_path says which
 * file was used ("" when absent).  Strings point into the kept CSV tables. */
typedef struct xp_run {
    int n_sae;
    char sae[XP_MAX_SAE][128];
    /* d_sae from <in>/<sae>/cfg.json, else the name's "-<width>" suffix, else max latent + 1 */
    int64_t sae_width[XP_MAX_SAE];
    int64_t sae_fam_row[XP_MAX_SAE]; /* first families.csv row naming it (ties: narrow first) */

    char metrics_path[1024], stats_path[1024], toxic_path[1024], ctx_path[1024],
        pairs_path[1024], fam_path[1024], sweep_path[1024];
    xp_metric *metrics; int64_t n_metrics;
    xp_stat *stats; int64_t n_stats;     /* sorted by (sae, latent) */
    xp_toxic *toxic; int64_t n_toxic;    /* sorted by (sae, rank) */
    xp_ctx *ctx; int64_t n_ctx;          /* sorted by (sae, latent, rank) */
    xp_pair *pairs; int64_t n_pairs;     /* sorted by (small_latent, wide_latent) */
    xp_fam *fams; int64_t n_fams;        /* sorted by (family_id, sae, latent) */
    xp_sweep *sweep; int64_t n_sweep;    /* file order */
    char logit_path[1024], lhist_path[1024];
    xp_logit *logits; int64_t n_logits;  /* sorted by (sae, latent, neg, rank) */
    xp_lhist *lhist; int64_t n_lhist;    /* sorted by (sae, latent, bin) */
    xp_feat *feats; int64_t n_feats;     /* toxic ranks interleaved over SAEs, <= max_latents */
    sx_feature_detail *det[XP_MAX_SAE];  /* per SAE, n_det of them */
    int n_det[XP_MAX_SAE];
    char det_src[XP_MAX_SAE][1024];      /* the stats_run.json used, "" when none */
    sx_csv_table tables[10];
    int n_tables;
} xp_run;

/* load.c */
/* out_dir (may be NULL) is skipped when looking one folder down. */
int xp_load(const char *in_dir, const char *out_dir, xp_run *run, sx_export_notes *notes,
            sx_err *err);
void xp_free(xp_run *run);
/* name in in_dir, else in its immediate subfolders in name order (skipping skip and folders
 * holding a previous export): 1 and the path in out, or 0. */
int xp_find_input(const char *in_dir, const char *skip, const char *name, char *out,
                  size_t outsz);
/* feat.c: logit tables, the feature pages' latents and their detail from the cache. */
int xp_load_features(xp_run *run, const char *in_dir, const char *out_dir, int max_latents,
                     sx_export_notes *notes, sx_err *err);
void xp_free_features(xp_run *run);
sx_csv_table *xp_load_table(xp_run *run, const char *path, const sx_schema *sc, sx_err *err);
/* Logit rows of (sae, latent): first index and count (0 when none). */
int64_t xp_logit_range(const xp_run *run, int sae, int64_t latent, int64_t *count);
int64_t xp_lhist_range(const xp_run *run, int sae, int64_t latent, int64_t *count);
/* neuronpedia.c: OUT/neuronpedia/<sae>.json, one SAEDashboard batch per SAE. */
int xp_write_neuronpedia(const xp_run *run, const char *out_dir, sx_export_notes *notes,
                         sx_err *err);
/* html_dash.c: the feature pages (data as inline JSON, rendered lazily by inline JS). */
void xp_dash_section(FILE *f, const xp_run *run, const sx_export_opts *o);
extern const char *XP_DASH_CSS, *XP_DASH_JS;
/* JSON text made safe inside <script>: <, >, &, / and : inside strings as \u00XX. */
void xp_json_html(FILE *f, const char *json);

/* compare.c: width_comparison.csv and its plots when the run folder has a sae_eval.csv. */
int xp_write_compare(const xp_run *run, const char *in_dir, const char *out_dir, int skip_plots,
                     sx_export_notes *notes, sx_err *err);
int xp_sae_index(xp_run *run, const char *name, sx_err *err); /* interns the name */
const xp_stat *xp_find_stat(const xp_run *run, int sae, int64_t latent);
const xp_toxic *xp_find_toxic(const xp_run *run, int sae, int64_t latent);
/* First context of (sae, latent) in rank order and their count. */
const xp_ctx *xp_find_ctx(const xp_run *run, int sae, int64_t latent, int64_t *count);
/* Members of a family: index of the first entry in run->fams and the count. */
int64_t xp_family_range(const xp_run *run, int64_t family_id, int64_t *count);
/* Pairs whose small_latent is the given one: first index and count. */
int64_t xp_pair_range(const xp_run *run, int64_t small_latent, int64_t *count);
/* Family of (sae, latent) or -1. */
int64_t xp_family_of(const xp_run *run, int sae, int64_t latent);
void xp_note(sx_export_notes *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A family seen as a concept: its narrowest and widest SAE member sets (reports.c). */
typedef struct xp_concept {
    int64_t family_id;
    int n_toxic;
    int narrow, wide;              /* SAE indices (wide = -1 when one SAE only) */
    int64_t narrow_size, wide_size;
    int64_t first;                 /* index into run->fams */
    int64_t count;
    double narrow_max_md, wide_max_md, wide_sum_md, wide_top_share, narrow_best, wide_best;
    double cos_max, cos_mean;
} xp_concept;
/* Concepts: families with a toxic member (all families when there is no toxic list). */
int xp_concepts(const xp_run *run, xp_concept **out, int64_t *n, sx_err *err);

/* reports.c */
int xp_write_reports(const xp_run *run, const char *out_dir, sx_export_notes *notes,
                     sx_err *err);
/* notebook.c */
int xp_write_notebook(const char *path, sx_err *err);
/* html.c */
int xp_write_dashboard(const xp_run *run, const char *path, const sx_export_opts *o,
                       sx_err *err);
/* html_svg.c: inline SVG charts and the HTML escaper */
void xp_html_esc(FILE *f, const char *s);
void xp_svg_tradeoff(FILE *f, const xp_run *run);
/* plots.c */
int xp_write_plots(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err);

/* Trade-off chart series (plots.c, html_svg.c): one per (SAE, tier[, family]).  The SAE
 * is the "<sae> " condition prefix (how the demo merges the widths' sweeps), else the
 * narrowest SAE of the run (an unprefixed sweep is the narrow one's), or none with no SAE.
 * Key "<sae> <tier>[ family]"; the unsteered tier is "unsteered (none)". */
typedef struct xp_series {
    char key[160];
    int sae;          /* -1: no SAE */
    int unsteered;    /* tier none */
} xp_series;
void xp_series_of(const xp_run *run, const xp_sweep *r, xp_series *out);
#define XP_NPALETTE 14 /* plot.c's colours, also as hex for the HTML charts */
extern const char *const XP_PALETTE_HEX[XP_NPALETTE];

/* Final metrics row of each SAE (largest step); idx[s] = -1 when none. */
void xp_final_metrics(const xp_run *run, int64_t *idx);

#endif
