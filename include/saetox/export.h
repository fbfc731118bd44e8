/* export.h — notebooks-export: the report CSVs, a Jupyter notebook, a self-contained HTML
 * dashboard and cairo PNG plots made from a run folder.  The report tables' columns are the
 * schemas of include/saetox/schema.h (listed in io/README.md); they are a stable contract.
 *
 * Library code: failures return -1 and fill sx_err; nothing is printed to stdout. */
#ifndef SAETOX_EXPORT_H
#define SAETOX_EXPORT_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"
#include "io.h"
#include "schema.h"

SX_BEGIN_DECLS

/* The CSV writer and reader (sx_csv_*) are in include/saetox/io.h and the report tables' columns in
 * include/saetox/schema.h (SX_SCHEMA_TRAINING_METRICS, _LATENTS, _FAMILY_COMPARISON, _STEERING_SWEEP,
 * _PAIRS), both included here. */

/* ================= export of a run folder ================= */
typedef struct sx_export_opts {
    int skip_plots;     /* do not draw PNGs */
    int skip_html;
    int skip_notebook;
    int max_contexts;   /* top_contexts.csv rows per feature page when no cache detail (default 8) */
    int max_latents;    /* feature pages: toxic ranks interleaved over the SAEs (default 64) */
} sx_export_opts;

/* Notes collected during an export ("skipped: steering_sweep.csv not found", "wrote ...").
 * The CLI prints them on stderr. */
#define SX_EXPORT_MAX_NOTES 64
typedef struct sx_export_notes {
    int n;
    char msg[SX_EXPORT_MAX_NOTES][512];
} sx_export_notes;

/* Read whatever exists in in_dir (metrics.jsonl, latent_stats.csv, toxic_latents.csv,
 * top_contexts.csv, pairs.csv, families.csv, steering_sweep.csv; each looked up in in_dir,
 * then in its immediate subfolders in name order) and write into out_dir (created):
 * the report CSVs, report.ipynb, dashboard.html, neuronpedia/<sae>.json and PNGs in plots/
 * (with logit_effects.csv, logit_hist.csv and stats_run.json also read when present: the
 * feature pages recompute their detail from the cache a stats_run.json names).  Missing inputs skip their
 * sections (with a note); a corrupt input fails with "file:line: problem". */
int sx_export_run(const char *in_dir, const char *out_dir, const sx_export_opts *opts,
                  sx_export_notes *notes, sx_err *err);

/* Free cairo's and fontconfig's process-wide font caches (the plots' text).  Call it once,
 * just before the process exits, after the last sx_export_run, so that leak checkers
 * (SAETOX_SANITIZE builds) see a clean exit; nothing may use cairo afterwards.  `saetox
 * export` does; a command that calls sx_export_run itself (e.g. the demo) should too. */
void sx_export_release_caches(void);


/* ================= width comparison (saetox compare) =================
 * width_comparison.csv (SX_SCHEMA_WIDTH_COMPARISON): one row per SAE of sae_eval.csv, sorted
 * by width (then eval order), with its metadata (arch, k, trained tokens from the cfg.json of
 * the SAE folder named in sae_eval.csv), the eval-sae metrics, splitting against the wider SAE
 * of an analyze split run (from best_matches.csv's n_children), its rank-1 toxic latent and the
 * best steering condition within the fluency budget; plus plots/width_scores.png
 * (ce_loss_score and FVU vs width) and plots/l0_fvu_frontier.png (L0-FVU frontier per arch).
 * SAEs are matched by label: the folder name of the sae_eval.csv path (as analyze names them).
 * Everything is checked before anything is written: a bad input writes nothing. */
#define SX_COMPARE_MAX_SPLIT 16
typedef struct sx_compare_in {
    const sx_csv_table *eval;          /* sae_eval.csv (SX_SCHEMA_SAE_EVAL), >= 1 row; required */
    const sx_csv_table *splits[SX_COMPARE_MAX_SPLIT]; /* best_matches.csv of analyze split runs */
    int n_splits;
    const sx_csv_table *toxic;         /* toxic_latents.csv or NULL */
    const sx_csv_table *sweep;         /* steering_sweep.csv or NULL */
    /* The SAE of sweep rows of tier ablate/suppress/steer that name none (no `sae` column,
     * no "<sae> " condition prefix).  NULL: the only SAE of eval; with several it is an
     * error, unless sweep_unnamed_skip (then those rows are left out, and so are rows of an
     * SAE that is not in eval, otherwise an error too; export sets it). */
    const char *sweep_sae;
    int sweep_unnamed_skip;
    const char *sae_base;   /* a relative SAE path not found as given is tried under it */
    double ppl_budget;      /* fluency budget: ppl <= budget x unsteered ppl (<= 0: 1.25) */
    int skip_plots;
} sx_compare_in;
/* Write out_dir/width_comparison.csv and out_dir/plots/{width_scores,l0_fvu_frontier}.png. */
int sx_compare_write(const sx_compare_in *in, const char *out_dir, sx_err *err);

typedef struct sx_compare_opts {
    const char *split_dirs[SX_COMPARE_MAX_SPLIT]; /* analyze split outputs (best_matches.csv) */
    int n_split;
    const char *toxic_dir;  /* analyze toxic output (toxic_latents.csv) or NULL */
    const char *sweep_dir;  /* evaluate output (steering_sweep.csv) or NULL */
    const char *sweep_sae;  /* as sx_compare_in.sweep_sae */
    int sweep_unnamed_skip;
    double ppl_budget;      /* <= 0: 1.25 */
    int skip_plots;
} sx_compare_opts;
/* Load eval_dir/sae_eval.csv (else sae_eval.jsonl) and the optional folders' tables through
 * the io layer and call
 * sx_compare_write (SAE paths relative to the cwd, else to eval_dir's parent). */
int sx_compare_run(const char *eval_dir, const sx_compare_opts *opts, const char *out_dir,
                   sx_err *err);

SX_END_DECLS
#endif
