/* schema.h — the typed schema of every stage's output table: file name, producer, and for
 * each column its name, type and meaning.  Producers open their writer from the schema
 * (sx_csv_open_schema), readers require its columns (sx_csv_require_schema), and
 * io/README.md lists them (the table there is checked against this header by
 * tests/io/test_schema.sh).  Column order is the file's column order. */
#ifndef SAETOX_SCHEMA_H
#define SAETOX_SCHEMA_H

#include "sx_defs.h"
#include "io.h"

SX_BEGIN_DECLS

typedef enum sx_col_type { SX_COL_STR, SX_COL_INT, SX_COL_NUM } sx_col_type;

typedef struct sx_col {
    const char *name;
    sx_col_type type;
    int required;        /* 1: readers need it (0: optional, read when present) */
    const char *meaning; /* one line */
} sx_col;

typedef struct sx_schema {
    const char *file;     /* "pairs.csv", "latents_<sae>.csv", "metrics.jsonl" (keys) */
    const char *producer; /* the command that writes it */
    const char *meaning;  /* one row is ... */
    int ncols;
    const sx_col *cols;
} sx_schema;

extern const sx_schema SX_SCHEMA_METRICS;          /* train: metrics.jsonl (record keys) */
extern const sx_schema SX_SCHEMA_PAIRS;            /* analyze split: pairs.csv */
extern const sx_schema SX_SCHEMA_FAMILIES;         /* analyze split: families.csv */
extern const sx_schema SX_SCHEMA_BEST_MATCHES;     /* analyze split: best_matches.csv */
extern const sx_schema SX_SCHEMA_LATENT_STATS;     /* analyze stats: latent_stats.csv */
extern const sx_schema SX_SCHEMA_TOP_CONTEXTS;     /* analyze stats: top_contexts.csv */
extern const sx_schema SX_SCHEMA_LATENT_EFFECTS;   /* analyze toxic: latent_effects.csv */
extern const sx_schema SX_SCHEMA_TOXIC_LATENTS;    /* analyze toxic: toxic_latents.csv */
extern const sx_schema SX_SCHEMA_FAMILY_EFFECTS;   /* analyze toxic: family_effects.csv */
extern const sx_schema SX_SCHEMA_LOGIT_EFFECTS;   /* analyze toxic: logit_effects.csv */
extern const sx_schema SX_SCHEMA_LOGIT_HIST;      /* analyze toxic: logit_hist.csv */
extern const sx_schema SX_SCHEMA_STEERING_SWEEP;   /* evaluate: steering_sweep.csv */
extern const sx_schema SX_SCHEMA_SAE_EVAL;         /* eval-sae: sae_eval.csv */
extern const sx_schema SX_SCHEMA_TRAINING_METRICS; /* export: training_metrics.csv */
extern const sx_schema SX_SCHEMA_LATENTS;          /* export: latents_<sae>.csv */
extern const sx_schema SX_SCHEMA_FAMILY_COMPARISON; /* export: family_comparison.csv */
extern const sx_schema SX_SCHEMA_WIDTH_COMPARISON; /* compare: width_comparison.csv */
extern const sx_schema SX_SCHEMA_STUDY_RUNS;       /* study: study_runs.csv */
extern const sx_schema SX_SCHEMA_STUDY_SEEDS;      /* study: study_seeds.csv */
extern const sx_schema SX_SCHEMA_FINDINGS;         /* study: findings.csv */
extern const sx_schema SX_SCHEMA_CAUSAL;           /* study, demo: causal_latents.csv */

/* Every schema above, NULL-terminated (README and tests walk it). */
extern const sx_schema *const SX_SCHEMAS[];
/* The schema of a file name (the last path component; "latents_x.csv" matches
 * "latents_<sae>.csv"), or NULL. */
const sx_schema *sx_schema_find(const char *file);
/* Column index in the schema, -1 when absent. */
int sx_schema_col(const sx_schema *s, const char *name);

/* Open path atomically with the schema's header row (its field count is checked per row). */
int sx_csv_open_schema(sx_csv_writer *w, const char *path, const sx_schema *s, sx_err *err);
/* Every required column present: "file:1: missing column 'x'". */
int sx_csv_require_schema(const sx_csv_table *t, const sx_schema *s, sx_err *err);
/* The table's header is exactly the schema's columns, in order (tests, strict readers):
 * "file:1: column 3 is 'x', the schema of NAME says 'y'". */
int sx_csv_check_schema(const sx_csv_table *t, const sx_schema *s, sx_err *err);

SX_END_DECLS
#endif
