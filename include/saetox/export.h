/* export.h — notebooks-export: RFC 4180 CSV writer/reader shared by every module, the
 * report CSVs, a Jupyter notebook, a self-contained HTML dashboard and cairo PNG plots made
 * from a run folder.  The report column lists are documented in notebooks-export/README.md
 * (and summarised at the end of this header); they are a stable contract.
 *
 * Library code: failures return -1 and fill sx_err; nothing is printed to stdout. */
#ifndef SAETOX_EXPORT_H
#define SAETOX_EXPORT_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

SX_BEGIN_DECLS

/* ================= CSV writer (RFC 4180) =================
 * Fields are quoted when they contain a comma, a double quote, CR or LF, or start/end with
 * a space or tab; quotes inside are doubled.  Bytes are written as they are (UTF-8 stays
 * UTF-8).  Rows end with "\n" (pandas and Python's csv read both "\n" and "\r\n").
 * Numbers: NaN is written as an empty field (pandas reads NaN), +-inf as "inf"/"-inf".
 *
 *   sx_csv_writer w;
 *   const char *cols[] = {"sae", "latent", "score"};
 *   if (sx_csv_open(&w, "out/x.csv", cols, 3, &err)) return -1;
 *   sx_csv_str(&w, "topk-4096"); sx_csv_int(&w, 17); sx_csv_num(&w, 0.25); sx_csv_row(&w);
 *   return sx_csv_close(&w, &err);      // atomic: fsync + rename; checks the column counts
 */
typedef struct sx_csv_writer {
    sx_atomic_file af;
    FILE *f;      /* af.f, or a caller's stream for sx_csv_begin */
    int ncols;    /* 0 = unchecked */
    int col;      /* fields written in the current row */
    int64_t rows; /* data rows ended */
    int bad;      /* a row had the wrong number of fields */
    int own;      /* 1 when opened with sx_csv_open (atomic file) */
} sx_csv_writer;

/* Open path atomically and write the header row (cols may be NULL to write no header; then
 * ncols is still used to check the rows, 0 = unchecked). */
int sx_csv_open(sx_csv_writer *w, const char *path, const char *const *cols, int ncols,
                sx_err *err);
/* Write to a caller's stream instead (no atomic rename; sx_csv_close does not close f). */
void sx_csv_begin(sx_csv_writer *w, FILE *f, const char *const *cols, int ncols);
void sx_csv_str(sx_csv_writer *w, const char *s);   /* NULL = empty field */
void sx_csv_strn(sx_csv_writer *w, const char *s, size_t n);
void sx_csv_num(sx_csv_writer *w, double v);        /* %.10g; NaN = empty */
void sx_csv_int(sx_csv_writer *w, int64_t v);
void sx_csv_empty(sx_csv_writer *w);
void sx_csv_row(sx_csv_writer *w);                  /* end the row */
/* Commit (or, for sx_csv_begin, flush).  Fails if a row had the wrong field count or a write
 * failed; then nothing is left under the final name. */
int sx_csv_close(sx_csv_writer *w, sx_err *err);
void sx_csv_abort(sx_csv_writer *w);
/* Low level: one field, quoted if needed, no separator. */
void sx_csv_write_field(FILE *f, const char *s, size_t n);

/* ================= CSV reader =================
 * Reads a whole RFC 4180 file: header row, quoted fields with commas, doubled quotes, CR/LF
 * inside quotes, "\r\n" or "\n" row ends, optional UTF-8 BOM, no trailing newline needed.
 * Every row must have as many fields as the header.  Errors name "file:line: problem" where
 * line is the physical line (1-based) on which the bad record starts or the problem is. */
typedef struct sx_csv_table {
    char path[1024];
    int ncols;
    int64_t nrows;
    char **header;     /* [ncols] */
    char **cells;      /* [nrows * ncols], NUL-terminated, into one buffer */
    int64_t *line;     /* [nrows] physical line on which each data row starts */
    char *buf;
} sx_csv_table;

int sx_csv_read(const char *path, sx_csv_table *t, sx_err *err);
/* Parse from memory (name is used in error messages). */
int sx_csv_parse(const char *name, const char *data, size_t len, sx_csv_table *t, sx_err *err);
void sx_csv_free(sx_csv_table *t);
int sx_csv_col(const sx_csv_table *t, const char *name); /* -1 when absent */
/* Check that every listed column exists: "file:1: missing column 'x'". */
int sx_csv_require(const sx_csv_table *t, const char *const *cols, int n, sx_err *err);
static inline const char *sx_csv_cell(const sx_csv_table *t, int64_t row, int col) {
    return col < 0 ? "" : t->cells[row * t->ncols + col];
}
/* Parse a numeric cell.  Empty/"nan"/"NaN" -> NaN (returns 0).  A non-number fails with
 * "file:line: column 'x': 'abc' is not a number". col < 0 -> NaN. */
int sx_csv_get_num(const sx_csv_table *t, int64_t row, int col, double *out, sx_err *err);
/* Integer cell; empty fails unless allow_empty (then *out = dflt). */
int sx_csv_get_int(const sx_csv_table *t, int64_t row, int col, int64_t *out, int allow_empty,
                   int64_t dflt, sx_err *err);

/* ================= export of a run folder ================= */
typedef struct sx_export_opts {
    int skip_plots;     /* do not draw PNGs */
    int skip_html;
    int skip_notebook;
    int max_contexts;   /* top contexts shown per toxic latent in the dashboard (default 8) */
    int max_latents;    /* toxic latents shown in the dashboard (default 64) */
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
 * the report CSVs, report.ipynb, dashboard.html and PNGs in plots/.  Missing inputs skip their
 * sections (with a note); a corrupt input fails with "file:line: problem". */
int sx_export_run(const char *in_dir, const char *out_dir, const sx_export_opts *opts,
                  sx_export_notes *notes, sx_err *err);

/* Free cairo's and fontconfig's process-wide font caches (the plots' text).  Call it once,
 * just before the process exits, after the last sx_export_run, so that leak checkers
 * (SAETOX_SANITIZE builds) see a clean exit; nothing may use cairo afterwards.  `saetox
 * export` does; a command that calls sx_export_run itself (e.g. the demo) should too. */
void sx_export_release_caches(void);

/* ================= report columns (stable; see README.md) =================
 * training_metrics.csv   SX_EXPORT_TRAINING_COLS
 * latents_<sae>.csv       SX_EXPORT_LATENT_COLS (one row per latent of that SAE)
 * width_comparison.csv    SX_EXPORT_WIDTH_COLS  (one row per family/concept)
 * steering_sweep.csv      SX_EXPORT_SWEEP_COLS  (the contract's columns, normalised)
 * pairs.csv               small_latent,wide_latent,cosine (validated copy)
 * sae_eval.csv            SX_EXPORT_SAE_EVAL_COLS (`saetox eval-sae`: one row per SAE;
 *                         definitions in analysis/README.md)                            */
#define SX_EXPORT_SAE_EVAL_COLS                                                               \
    "sae", "d_sae", "n_tokens", "l0", "mse", "explained_variance", "fvu", "ce_clean",         \
        "ce_spliced", "ce_zero", "ce_loss_score", "kl_spliced", "kl_zero", "kl_div_score",    \
        "dead_frac", "dense_frac", "hook", "n_spliced", "n_ce"
#define SX_EXPORT_TRAINING_COLS                                                               \
    "sae", "step", "tokens", "mse", "fvu", "l0", "dead_frac", "mean_max_act", "lr",           \
        "tokens_per_s"
#define SX_EXPORT_LATENT_COLS                                                                 \
    "sae", "latent", "fire_freq", "mean_act", "max_act", "q50", "q90", "q99", "is_toxic",     \
        "toxic_rank", "score", "auroc", "cohens_d", "mean_toxic", "mean_clean", "mean_diff",  \
        "fire_rate_toxic", "fire_rate_clean", "log_odds", "family_id", "family_size",         \
        "family_members", "top_promoted", "top_suppressed", "top_activation",                 \
        "top_context_before", "top_token", "top_context_after"
#define SX_EXPORT_WIDTH_COLS                                                                  \
    "family_id", "n_toxic", "narrow_sae", "narrow_width", "narrow_size", "narrow_latents",    \
        "wide_sae", "wide_width", "wide_size", "wide_latents", "split_ratio",                 \
        "narrow_max_mean_diff", "wide_max_mean_diff", "wide_sum_mean_diff", "wide_top_share", \
        "narrow_best_score", "wide_best_score", "cos_max", "cos_mean"
#define SX_EXPORT_SWEEP_COLS                                                                  \
    "condition", "tier", "alpha", "latents", "n_prompts", "n_samples", "emt", "emt_lo",       \
        "emt_hi", "tox_prob", "tox_prob_lo", "tox_prob_hi", "mean_tox", "mean_tox_lo",        \
        "mean_tox_hi", "ppl", "ppl_lo", "ppl_hi", "acc", "acc_norm", "acc_n"

SX_END_DECLS
#endif
