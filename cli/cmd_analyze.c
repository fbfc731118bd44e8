/* cmd_analyze.c — `saetox analyze stats|toxic|split`: latent statistics with top contexts,
 * toxic-vs-clean latent ranking with a logit lens, and feature splitting across widths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

static int fail(const char *cmd, const char *msg) {
    cli_error(cmd, msg);
    return 1;
}

/* ---------- split ---------- */
static int analyze_split(int argc, char **argv) {
    const char *C = "analyze split";
    cli_strlist saes = {.n = 0}, names = {.n = 0};
    const char *out = NULL, *linkage = NULL;
    double thr = SX_SPLIT_DEFAULT_THRESHOLD, cut = 0.3;
    int64_t max_nodes = 8192, threads = 0, max_pairs = 20000000;
    int quiet = 0;
    cli_opt opts[] = {
        {"sae", CLI_STRLIST, &saes, "PATH", "an SAE (SAELens folder or Gemma Scope params.npz); give "
         "exactly two: the narrow one first, then the wide one", 1, 0},
        {"threshold", CLI_DBL, &thr, "T", "decoder cosine threshold for a parent-child pair (default 0.7)", 0, 0},
        {"linkage", CLI_STR, &linkage, "average", "refine families by average-linkage clustering on "
         "cosine distance (on the latents in families)", 0, 0},
        {"cut", CLI_DBL, &cut, "D", "cosine-distance cut of the linkage (default 0.3)", 0, 0},
        {"max-linkage-nodes", CLI_INT, &max_nodes, "N", "cap on latents clustered by the linkage, O(N^2) "
         "memory (default 8192)", 0, 0},
        {"max-pairs", CLI_INT, &max_pairs, "N", "error out beyond this many pairs (default 20000000)", 0, 0},
        {"name", CLI_STRLIST, &names, "LABEL", "labels for the sae column, in --sae order (default: "
         "the folders' names)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no summary on stderr", 0, 0},
        {"out", CLI_STR, &out, "DIR", "output folder: pairs.csv, families.csv, best_matches.csv", 1, 0},
    };
    int rc = cli_parse(C, "decoder-cosine feature splitting between a narrow and a wide SAE",
                       opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    if (saes.n != 2) {
        fprintf(stderr, "saetox %s: give --sae exactly twice (narrow, then wide), got %d\n", C, saes.n);
        return 2;
    }
    if (names.n && names.n != 2) {
        fprintf(stderr, "saetox %s: give --name twice (one per --sae) or not at all\n", C);
        return 2;
    }
    if (!(thr > -1 && thr <= 1)) {
        fprintf(stderr, "saetox %s: --threshold %g is not in (-1, 1]\n", C, thr);
        return 2;
    }
    if (linkage && strcmp(linkage, "average")) {
        fprintf(stderr, "saetox %s: --linkage '%s': only 'average' is supported\n", C, linkage);
        return 2;
    }
    sx_set_threads((int)threads);
    sx_split_run_opts o = {0};
    o.sae_a = saes.v[0], o.sae_b = saes.v[1];
    o.label_a = names.n ? names.v[0] : NULL, o.label_b = names.n ? names.v[1] : NULL;
    sx_split_opts_default(&o.split);
    o.split.threshold = (float)thr;
    o.split.max_pairs = max_pairs;
    o.linkage = linkage, o.cut = cut, o.max_linkage_nodes = (int)max_nodes;
    o.out_dir = out, o.verbose = !quiet;
    sx_err err = {0};
    if (sx_ana_split_run(&o, &err)) return fail(C, err.msg);
    return 0;
}

static int cmd_analyze_stats(int argc, char **argv) {
    const char *C = "analyze stats";
    sx_stats_run_opts o;
    sx_stats_run_opts_default(&o);
    int64_t tokens = 0, top_n = o.top_n, ctx = o.context_size, batch = o.batch, threads = 0,
            wb = o.window_before, wa = o.window_after;
    int quiet = 0, html = 0;
    cli_opt opts[] = {
        {"sae", CLI_STR, &o.sae, "PATH", "the SAE (SAELens folder or Gemma Scope params.npz)", 1, 0},
        {"cache", CLI_STR, &o.cache, "F.h5", "activation cache (rows read in order)", 0, 0},
        {"model", CLI_STR, &o.model_dir, "DIR", "model for a text source (and its tokenizer for contexts)", 0, 0},
        {"data", CLI_STR, &o.data, "SOURCE", "text source, e.g. text:FILE or jsonl:FILE#field (with --model)", 0, 0},
        {"tokenizer", CLI_STR, &o.tokenizer_dir, "DIR", "tokenizer folder for context strings (default --model)", 0, 0},
        {"hook", CLI_STR, &o.hook, "NAME", "hook (default: the SAE's hook_name)", 0, 0},
        {"tokens", CLI_INT, &tokens, "N", "rows to read (default: the whole cache; 100000 for text)", 0, 0},
        {"top-n", CLI_INT, &top_n, "N", "top activating contexts per latent (default 10)", 0, 0},
        {"context-size", CLI_INT, &ctx, "C", "tokens per window for text (default 128)", 0, 0},
        {"batch", CLI_INT, &batch, "B", "windows per forward pass (default 8)", 0, 0},
        {"window-before", CLI_INT, &wb, "N", "context tokens before the activating token (default 12)", 0, 0},
        {"window-after", CLI_INT, &wa, "N", "context tokens after it (default 4)", 0, 0},
        {"html-unescape", CLI_FLAG, &html, NULL, "decode HTML entities in the text", 0, 0},
        {"name", CLI_STR, &o.label, "LABEL", "label for the sae column (default: the folder's name)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no summary on stderr", 0, 0},
        {"out", CLI_STR, &o.out_dir, "DIR", "output folder: latent_stats.csv, top_contexts.csv", 1, 0},
    };
    int rc = cli_parse(C, "per-latent firing frequency, mean/max activation, quantiles and top "
                       "contexts, in one streamed pass", opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    if (!!o.cache == !!o.data) {
        fprintf(stderr, "saetox %s: give either --cache F.h5 or --model DIR --data SOURCE\n", C);
        return 2;
    }
    if (o.data && !o.model_dir) {
        fprintf(stderr, "saetox %s: --data needs --model\n", C);
        return 2;
    }
    if (top_n < 0 || top_n > 1000 || ctx <= 0 || batch <= 0 || wb < 0 || wa < 0 || tokens < 0) {
        fprintf(stderr, "saetox %s: --top-n must be in [0, 1000]; --context-size, --batch positive\n", C);
        return 2;
    }
    o.tokens = tokens, o.top_n = (int)top_n, o.context_size = (int)ctx, o.batch = (int)batch;
    o.window_before = (int)wb, o.window_after = (int)wa, o.html_unescape = html, o.verbose = !quiet;
    sx_set_threads((int)threads);
    sx_err err = {0};
    if (sx_ana_stats_run(&o, &err)) return fail(C, err.msg);
    return 0;
}

static int cmd_analyze_toxic(int argc, char **argv) {
    const char *C = "analyze toxic";
    sx_toxic_run_opts o;
    sx_toxic_run_opts_default(&o);
    cli_strlist saes = {.n = 0}, names = {.n = 0};
    const char *policy = "max", *rank = "auroc";
    int64_t top = o.top, lens_k = o.lens_k, ctx = o.context_size, batch = o.batch,
            max_docs = o.max_docs, threads = 0;
    int quiet = 0, html = 0, strict = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &o.model_dir, "DIR", "the model (Hugging Face folder)", 1, 0},
        {"sae", CLI_STRLIST, &saes, "PATH", "an SAE; repeat to analyse several in the same pass", 1, 0},
        {"toxic", CLI_STR, &o.toxic_spec, "SOURCE", "toxic texts, e.g. jsonl:rtp/toxic.jsonl#prompt.text", 1, 0},
        {"clean", CLI_STR, &o.clean_spec, "SOURCE", "clean texts (same syntax)", 1, 0},
        {"label-rule", CLI_STR, &o.label_rule, "RULE", "keep toxic docs matching RULE from --toxic and the "
         "others from --clean, e.g. \"prompt.toxicity>=0.5\"", 0, 0},
        {"policy", CLI_STR, &policy, "token|max|last", "sample per token, max over each document (default), "
         "or the last token", 0, 0},
        {"rank-by", CLI_STR, &rank, "auroc|cohens_d|mean_diff|log_odds", "ranking score (default auroc)", 0, 0},
        {"top", CLI_INT, &top, "N", "latents written per SAE (default 50)", 0, 0},
        {"lens-k", CLI_INT, &lens_k, "K", "promoted/suppressed tokens per latent (default 10; 0: none)", 0, 0},
        {"families", CLI_STR, &o.families_dir, "DIR", "an `analyze split` output folder: fills family "
         "columns and writes family_effects.csv", 0, 0},
        {"hook", CLI_STR, &o.hook, "NAME", "hook (default: each SAE's hook_name)", 0, 0},
        {"tokenizer", CLI_STR, &o.tokenizer_dir, "DIR", "tokenizer folder (default --model)", 0, 0},
        {"context-size", CLI_INT, &ctx, "C", "tokens kept per document (default 128)", 0, 0},
        {"batch", CLI_INT, &batch, "B", "documents per forward pass (default 8)", 0, 0},
        {"max-docs", CLI_INT, &max_docs, "N", "documents per class (default 2000; 0: all)", 0, 0},
        {"html-unescape", CLI_FLAG, &html, NULL, "decode HTML entities in the text", 0, 0},
        {"strict", CLI_FLAG, &strict, NULL, "fail on a bad JSONL line / CSV row instead of skipping it", 0, 0},
        {"name", CLI_STRLIST, &names, "LABEL", "labels for the sae column, in --sae order", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no summary on stderr", 0, 0},
        {"out", CLI_STR, &o.out_dir, "DIR", "output folder: toxic_latents.csv, latent_effects.csv", 1, 0},
    };
    int rc = cli_parse(C, "rank SAE latents by how they separate toxic from clean text, with a "
                       "logit lens of their decoder directions", opts, (int)(sizeof opts / sizeof opts[0]),
                       argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    if (sx_policy_parse(policy, &o.policy)) {
        fprintf(stderr, "saetox %s: --policy '%s': expected token, max or last\n", C, policy);
        return 2;
    }
    if (sx_rank_by_parse(rank, &o.rank_by)) {
        fprintf(stderr, "saetox %s: --rank-by '%s': expected auroc, cohens_d, mean_diff or log_odds\n", C, rank);
        return 2;
    }
    if (names.n && names.n != saes.n) {
        fprintf(stderr, "saetox %s: give --name once per --sae or not at all\n", C);
        return 2;
    }
    if (top <= 0 || lens_k < 0 || lens_k > 1000 || ctx <= 0 || batch <= 0 || max_docs < 0) {
        fprintf(stderr, "saetox %s: --top, --context-size, --batch must be positive\n", C);
        return 2;
    }
    o.saes = saes.v, o.n_saes = saes.n, o.labels = names.n ? names.v : NULL;
    o.top = (int)(top > 1000000 ? 1000000 : top), o.lens_k = (int)lens_k;
    o.context_size = (int)ctx, o.batch = (int)batch, o.max_docs = max_docs;
    o.html_unescape = html, o.skip_bad = !strict, o.verbose = !quiet;
    sx_set_threads((int)threads);
    sx_err err = {0};
    if (sx_ana_toxic_run(&o, &err)) return fail(C, err.msg);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: saetox analyze SUBCOMMAND [options]   (saetox analyze SUBCOMMAND --help)\n\n"
               "subcommands:\n"
               "  stats   per-latent firing frequency, mean/max/quantiles and top contexts\n"
               "  toxic   rank latents by toxic-vs-clean effect (AUROC, Cohen's d, ...), logit lens\n"
               "  split   feature splitting: decoder-cosine pairs and families between two SAEs\n");
}

int cmd_analyze(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "split")) return analyze_split(argc - 1, argv + 1);
    if (!strcmp(sub, "stats")) return cmd_analyze_stats(argc - 1, argv + 1);
    if (!strcmp(sub, "toxic")) return cmd_analyze_toxic(argc - 1, argv + 1);
    fprintf(stderr, "saetox analyze: unknown subcommand '%s' (stats|toxic|split)\n", sub);
    return 2;
}
