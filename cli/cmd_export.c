/* cmd_export.c — `saetox export --in DIR [--out DIR]`: CSV reports, report.ipynb,
 * dashboard.html and plots/ (PNG) from whatever outputs a run folder holds. */
#include "cli.h"
#include "export.h"

#include <stdio.h>
#include <string.h>

int cmd_export(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    int64_t max_ctx = 8, max_lat = 64;
    int no_plots = 0, no_html = 0, no_nb = 0, quiet = 0;
    cli_opt opts[] = {
        {"in", CLI_STR, &in, "DIR", "run folder (metrics.jsonl, latent_stats.csv, toxic_latents.csv, "
                                    "top_contexts.csv, pairs.csv, families.csv, steering_sweep.csv; "
                                    "also looked up one folder down)", 1, 0},
        {"out", CLI_STR, &out, "DIR", "output folder (default: DIR/export)", 0, 0},
        {"max-contexts", CLI_INT, &max_ctx, "N", "top contexts per toxic latent in the dashboard (8)", 0, 0},
        {"max-latents", CLI_INT, &max_lat, "N", "toxic latents shown in the dashboard (64)", 0, 0},
        {"no-plots", CLI_FLAG, &no_plots, NULL, "do not draw the PNG plots", 0, 0},
        {"no-html", CLI_FLAG, &no_html, NULL, "do not write dashboard.html", 0, 0},
        {"no-notebook", CLI_FLAG, &no_nb, NULL, "do not write report.ipynb", 0, 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "do not list what was read, written and skipped", 0, 0},
    };
    int r = cli_parse("export",
                      "Export CSV reports, a Jupyter notebook (report.ipynb), a self-contained HTML "
                      "dashboard (dashboard.html) and PNG plots (plots/*.png) from a run folder.\n"
                      "Missing inputs skip their sections; a corrupt input is an error naming "
                      "file:line.",
                      opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (r == 1) return 0;
    if (r) return 2;
    char outbuf[4096];
    if (!out) {
        if (sx_path_join(outbuf, sizeof outbuf, in, "export")) {
            cli_error("export", "--in path too long");
            return 2;
        }
        out = outbuf;
    }
    if (max_ctx <= 0 || max_ctx > 1000 || max_lat <= 0 || max_lat > 100000) {
        cli_error("export", "--max-contexts must be in 1..1000 and --max-latents in 1..100000");
        return 2;
    }
    sx_export_opts o = {.skip_plots = no_plots, .skip_html = no_html, .skip_notebook = no_nb,
                        .max_contexts = (int)max_ctx, .max_latents = (int)max_lat};
    static sx_export_notes notes;
    sx_err err = {0};
    int rc = sx_export_run(in, out, &o, &notes, &err);
    sx_export_release_caches(); /* a clean exit for leak checkers */
    if (!quiet || rc)
        for (int i = 0; i < notes.n; i++) fprintf(stderr, "export: %s\n", notes.msg[i]);
    if (rc) {
        cli_error("export", err.msg);
        return 1;
    }
    return 0;
}
