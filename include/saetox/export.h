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
 * include/saetox/schema.h (SX_SCHEMA_TRAINING_METRICS, _LATENTS, _WIDTH_COMPARISON, _STEERING_SWEEP,
 * _PAIRS), both included here. */

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

SX_END_DECLS
#endif
