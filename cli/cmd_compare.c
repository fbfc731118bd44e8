/* cmd_compare.c — `saetox compare --eval DIR [--split DIR ..] [--toxic DIR] [--sweep DIR]
 * --out DIR`: the width-comparison table (width_comparison.csv, one row per SAE) and its
 * plots (plots/width_scores.png, plots/l0_fvu_frontier.png); the work is sx_compare_run. */
#include "cli.h"
#include "export.h"

#include <stdio.h>
#include <string.h>

int cmd_compare(int argc, char **argv) {
    const char *eval = NULL, *toxic = NULL, *sweep = NULL, *sweep_sae = NULL, *out = NULL;
    cli_strlist split = {0};
    double budget = 1.25;
    int no_plots = 0;
    cli_opt opts[] = {
        {"eval", CLI_STR, &eval, "DIR", "eval-sae output (sae_eval.csv, one row per SAE)", 1, 0},
        {"split", CLI_STRLIST, &split, "DIR", "analyze split output (best_matches.csv); repeat for more width pairs", 0, 0},
        {"toxic", CLI_STR, &toxic, "DIR", "analyze toxic output (toxic_latents.csv)", 0, 0},
        {"sweep", CLI_STR, &sweep, "DIR", "evaluate output (steering_sweep.csv; an SAE's rows by a sae column or a '<sae> ' condition prefix)", 0, 0},
        {"sweep-sae", CLI_STR, &sweep_sae, "NAME", "SAE of the sweep's ablate/suppress/steer rows that name none (default: the only SAE)", 0, 0},
        {"ppl-budget", CLI_DBL, &budget, "X", "fluency budget: best steering with perplexity <= X times unsteered (1.25)", 0, 0},
        {"no-plots", CLI_FLAG, &no_plots, NULL, "do not draw the PNG plots", 0, 0},
        {"out", CLI_STR, &out, "DIR", "output folder (width_comparison.csv, plots/)", 1, 0},
    };
    int r = cli_parse("compare",
                      "Compare SAE widths: width_comparison.csv, one row per SAE of sae_eval.csv "
                      "(arch, width, k, trained tokens, L0, FVU, explained variance, ce_loss_score, "
                      "kl_div_score, dead/dense fractions, splitting into the next width, best "
                      "toxic latent, best steering within the fluency budget), and PNG plots.",
                      opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (r == 1) return 0;
    if (r) return 2;
    if (!(budget >= 1 && budget <= 100)) {
        cli_error("compare", "--ppl-budget must be in 1..100");
        return 2;
    }
    if (split.n > SX_COMPARE_MAX_SPLIT) {
        cli_error("compare", "too many --split folders (at most 16)");
        return 2;
    }
    sx_compare_opts o = {.toxic_dir = toxic, .sweep_dir = sweep, .sweep_sae = sweep_sae,
                         .ppl_budget = budget, .skip_plots = no_plots, .n_split = split.n};
    for (int i = 0; i < split.n; i++) o.split_dirs[i] = split.v[i];
    sx_err err = {0};
    int rc = sx_compare_run(eval, &o, out, &err);
    sx_export_release_caches();
    if (rc) {
        cli_error("compare", err.msg);
        return 1;
    }
    fprintf(stderr, "compare: wrote %s/width_comparison.csv%s\n", out,
            no_plots ? "" : " and plots/width_scores.png, plots/l0_fvu_frontier.png");
    return 0;
}
