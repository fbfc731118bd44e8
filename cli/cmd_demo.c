/* cmd_demo.c — `saetox demo`: the whole pipeline on the embedded tiny GPT-2, offline.
 *
 *   1 samples   the embedded model writes its own text (it learned both registers)
 *   2 cache     residual activations at the middle layer -> HDF5
 *   3 train     TopK SAEs of two widths (8x and 32x d_model) in one pass
 *   4 split     decoder cosines between the two widths: which wide latents are children of a narrow one
 *   5 toxic     toxicity latents of both SAEs from the project's own contrast sets
 *   6 stats     latent statistics and top contexts (for the dashboard)
 *   7 steer     sweep on the narrow SAE: 3 tiers x strengths + baselines + benchmark
 *   8 family    wide SAE: one child vs all children of the narrow toxic latent that split
 *   9 export    CSV + notebook + HTML + PNG, then a summary table from the measured CSVs
 *
 * Every step calls the library function behind its subcommand, in process, on the model and
 * tokenizer loaded once (the equivalent command lines are printed so a user can rerun any
 * step by hand).  No number in the summary is typed in: all are read back from the CSVs the
 * steps wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core.h"
#include "demo.h"
#include "models.h"
#include "tokenizer.h"

static const char *SUMMARY =
    "Run the whole pipeline on the embedded tiny GPT-2, offline and without ../shared:\n"
    "sample text from the model, cache activations, train TopK SAEs of two widths in one\n"
    "pass, find toxic latents, measure their splitting, run the steering sweep with the\n"
    "benchmark, export CSV/notebook/HTML/PNG, and print a summary table.";

static void step_header(demo_ctx *c, int k, const char *what) {
    double now = sx_now();
    if (c->step_t0 > 0) fprintf(stderr, "      (%.1f s)\n", now - c->step_t0);
    c->step_t0 = now;
    fprintf(stderr, "[%d/9 %5.0f s] %s\n", k, now - c->t0, what);
}

static int find_assets(demo_ctx *c, sx_err *err) {
    const char *root = sx_data_dir();
    if (!root)
        return sx_failc(err, SX_ENOTFOUND, "saetox data folder not found (no share/saetox beside the program, "
                        "none at the install prefix): set SAETOX_HOME to the saetox source tree or install prefix's share/saetox");
    if (!c->model_dir) {
        snprintf(c->model_buf, sizeof c->model_buf, "%s/models/embedded", root);
        c->model_dir = c->model_buf;
    }
    snprintf(c->data_dir, sizeof c->data_dir, "%s/datasets/demo", root);
    const char *need[] = {"toxic.txt", "clean.txt", "prompts.txt", "benchmark.jsonl"};
    for (int i = 0; i < 4; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", c->data_dir, need[i]);
        if (!sx_file_exists(p))
            return sx_failc(err, SX_ENOTFOUND, "%s: missing demo data (set SAETOX_HOME to the saetox source tree)", p);
    }
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", c->model_dir);
    if (!sx_file_exists(cfg)) return sx_failc(err, SX_ENOTFOUND, "%s: the embedded model is missing", cfg);
    return 0;
}

static void path(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Steps 1-9 and the summary. */
static int demo_run(demo_ctx *c, sx_err *err) {
    char samples_txt[4200], src[13000], acts[4200], analysis[4200], report[4200];
    path(samples_txt, sizeof samples_txt, c->out, "data/samples.txt");
    snprintf(src, sizeof src, "text:%s,text:%s/toxic.txt,text:%s/clean.txt", samples_txt, c->data_dir, c->data_dir);
    path(acts, sizeof acts, c->out, "activations.h5");
    path(analysis, sizeof analysis, c->out, "analysis");
    path(report, sizeof report, c->out, "report");
    step_header(c, 1, "sampling text from the embedded model");
    if (demo_load_model(c, err) || demo_samples(c, err)) return -1;
    step_header(c, 2, "caching residual activations");
    if (demo_cache(c, src, acts, err)) return -1;
    step_header(c, 3, "training TopK SAEs of two widths in one pass");
    if (demo_train(c, acts, err)) return -1;
    fprintf(stderr, "      and a Matryoshka BatchTopK SAE whose groups are those two widths\n");
    if (demo_train_matryoshka(c, acts, err)) return -1;
    char eval_dir[4200];
    path(eval_dir, sizeof eval_dir, c->out, "eval");
    if (demo_eval(c, eval_dir, err)) return -1;
    step_header(c, 4, "feature splitting between the two widths");
    if (demo_split(c, analysis, err)) return -1;
    step_header(c, 5, "toxicity latents from the contrast sets");
    if (demo_toxic(c, analysis, err) || demo_toxic_matryoshka(c, err)) return -1;
    step_header(c, 6, "latent statistics and top contexts");
    if (demo_stats(c, acts, analysis, err)) return -1;
    step_header(c, 7, "steering sweep on the narrow SAE (tiers x strengths + baselines + benchmark)");
    if (demo_pick_latents(c, analysis, err)) return -1;
    if (demo_sweeps(c, step_header, err)) return -1;
    step_header(c, 9, "export: CSV, notebook, HTML dashboard, PNG plots");
    if (demo_export(c, report, err)) return -1;
    step_header(c, 0, "done");
    return demo_summary(c, analysis, report, err);
}

int cmd_demo(int argc, char **argv) {
    demo_ctx c;
    memset(&c, 0, sizeof c);
    c.out = "demo-out";
    c.seed = 1;
    c.sample_tokens = 100000;
    c.samples = 10;
    c.epochs = 16;
    int64_t threads = 0;
    cli_opt opts[] = {
        {"out", CLI_STR, &c.out, "DIR", "output folder (default demo-out)", 0, 0},
        {"seed", CLI_INT, &c.seed, "S", "seed for sampling, SAE training and evaluation (default 1)", 0, 0},
        {"model", CLI_STR, &c.model_dir, "DIR", "model folder (default: the embedded tiny GPT-2)", 0, 0},
        {"sample-tokens", CLI_INT, &c.sample_tokens, "N", "tokens of model samples to cache (default 100000)", 0, 0},
        {"epochs", CLI_INT, &c.epochs, "E", "passes of SAE training over the cache (default 16)", 0, 0},
        {"samples", CLI_INT, &c.samples, "K", "continuations per prompt in the sweep (default 10)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
    };
    int r = cli_parse("demo", SUMMARY, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (r == 1) return 0;
    if (r) return 2;
    if (c.sample_tokens < 10000 || c.epochs < 1 || c.samples < 1) {
        cli_error("demo", "--sample-tokens must be >= 10000, --epochs and --samples >= 1");
        return 2;
    }
    sx_set_threads((int)threads);
    snprintf(c.threads, sizeof c.threads, "%d", sx_get_threads());
    sx_err err;
    if (find_assets(&c, &err) || sx_mkdir_p(c.out, &err)) {
        cli_error("demo", err.msg);
        return 1;
    }
    c.t0 = sx_now();
    fprintf(stderr, "saetox demo: model %s, output %s, seed %lld, %s threads\n", c.model_dir, c.out,
            (long long)c.seed, c.threads);

    int rc = demo_run(&c, &err);
    demo_free_model(&c);
    if (rc) {
        cli_error("demo", err.msg);
        return 1;
    }
    return 0;
}
