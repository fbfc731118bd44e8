/* cmd_eval_sae.c — `saetox eval-sae`: SAE quality with each SAE spliced into the model
 * (CE loss and KL recovered, reconstruction metrics).  Parses options, loads the model,
 * tokenizer and SAEs, and calls sx_sae_eval_run / sx_sae_eval_write (analysis/sae_eval.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "datasets.h"
#include "models.h"
#include "sae.h"
#include "tokenizer.h"

#define CMD "eval-sae"

int cmd_eval_sae(int argc, char **argv) {
    const char *model_dir = NULL, *data = NULL, *ids_s = NULL, *out = NULL, *tok_dir = NULL;
    const char *label = NULL, *want = NULL, *hook = NULL;
    cli_strlist sae_paths = {{0}, 0};
    int64_t C = 0, tokens = 0, batch = 4, threads = 0, shuffle_windows = 0, seed = 0, max_entry_mb = 2048;
    int prepend_bos = 0, per_doc = 0, skip_bad = 0, html = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &model_dir, "DIR", "Hugging Face model folder", 1, 0},
        {"sae", CLI_STRLIST, &sae_paths, "PATH", "SAELens folder or Gemma Scope params.npz (repeatable)", 1, 0},
        {"hook", CLI_STR, &hook, "NAME", "hook of an SAE that names none (Gemma Scope params.npz)", 0, 0},
        {"data", CLI_STR, &data, "SOURCE", "text source(s), as for `saetox cache` (with --context-size, --tokens)", 0, 0},
        {"ids", CLI_STR, &ids_s, "I,J,..", "one sequence of token ids instead of --data", 0, 0},
        {"context-size", CLI_INT, &C, "C", "tokens per context window (with --data)", 0, 0},
        {"tokens", CLI_INT, &tokens, "N", "positions to evaluate (with --data)", 0, 0},
        {"out", CLI_STR, &out, "DIR", "writes DIR/sae_eval.csv and DIR/sae_eval.jsonl", 1, 0},
        {"batch", CLI_INT, &batch, "B", "context windows per forward pass (default 4; memory 2 x B x C x vocab floats)", 0, 0},
        {"prepend-bos", CLI_FLAG, &prepend_bos, NULL, "start every window with BOS", 0, 0},
        {"per-doc", CLI_FLAG, &per_doc, NULL, "one document per window (truncated) instead of concatenating", 0, 0},
        {"shuffle-windows", CLI_INT, &shuffle_windows, "W", "shuffle windows in buffers of W (by --seed)", 0, 0},
        {"seed", CLI_INT, &seed, "S", "seed for the window shuffle (default 0)", 0, 0},
        {"tokenizer", CLI_STR, &tok_dir, "DIR", "tokenizer folder (default: --model)", 0, 0},
        {"label", CLI_STR, &label, "RULE", "label rule, e.g. prompt.toxicity>=0.5 (with --want)", 0, 0},
        {"want", CLI_STR, &want, "toxic|clean", "keep only the toxic or the clean documents", 0, 0},
        {"skip-bad", CLI_FLAG, &skip_bad, NULL, "skip invalid JSON lines / CSV rows instead of failing", 0, 0},
        {"html-unescape", CLI_FLAG, &html, NULL, "decode HTML entities in texts", 0, 0},
        {"max-entry-mb", CLI_INT, &max_entry_mb, "MB", "limit per archive member / compressed file (default 2048)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "compute threads (default: all)", 0, 0},
    };
    int rc = cli_parse(CMD,
                       "SAE quality with each SAE spliced into the model: CE loss and KL recovered (SAELens "
                       "ce_loss_score, kl_div_score), L0, MSE, explained variance, dead and dense latents.",
                       opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    const char *bad = NULL;
    if (!data == !ids_s) bad = "give exactly one of --data and --ids";
    else if (data && (C < 2 || C > (1 << 20))) bad = "--data needs --context-size of at least 2";
    else if (data && tokens <= 0) bad = "--data needs a positive --tokens";
    else if (batch <= 0 || batch > 4096) bad = "--batch must be in 1..4096";
    else if (want && strcmp(want, "toxic") && strcmp(want, "clean")) bad = "--want must be toxic or clean";
    else if (want && !label) bad = "--want needs --label";
    else if (shuffle_windows < 0 || shuffle_windows > (1 << 20)) bad = "--shuffle-windows must be in 0..1048576";
    else if (max_entry_mb <= 0) bad = "--max-entry-mb must be positive";
    if (bad) {
        cli_error(CMD, bad);
        return 2;
    }
    int32_t *ids = NULL;
    int n_ids = 0;
    if (ids_s) {
        int64_t *v = malloc(sizeof *v * 1048576);
        if (!v) return cli_error(CMD, "out of memory"), 1;
        n_ids = cli_parse_int_list(ids_s, v, 1048576);
        if (n_ids > 0) ids = malloc(sizeof *ids * (size_t)n_ids);
        for (int i = 0; ids && i < n_ids; i++) {
            if (v[i] < 0 || v[i] > INT32_MAX) n_ids = -1;
            else ids[i] = (int32_t)v[i];
        }
        free(v);
        if (n_ids <= 0 || !ids) {
            free(ids);
            cli_error(CMD, "--ids must be a comma-separated list of non-negative token ids");
            return 2;
        }
    }
    if (threads > 0) sx_set_threads((int)threads);

    sx_err err = {0};
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_sae *saes = calloc((size_t)sae_paths.n, sizeof *saes);
    const sx_sae **sp = calloc((size_t)sae_paths.n, sizeof *sp);
    sx_sae_eval_row *rows = calloc((size_t)sae_paths.n, sizeof *rows);
    int n_loaded = 0;
    rc = 1;
    if (!saes || !sp || !rows) {
        sx_failc(&err, SX_ENOMEM, "out of memory");
        goto done;
    }
    if (sx_model_load(model_dir, &m, &err)) goto done;
    if (data && sx_tokenizer_load(tok_dir ? tok_dir : model_dir, &tok, &err)) goto done;
    for (int i = 0; i < sae_paths.n; i++, n_loaded++) {
        if (sx_sae_load(sae_paths.v[i], &saes[i], &err)) goto done;
        sp[i] = &saes[i];
    }
    sx_sae_eval_opts o = {
        .saes = (const struct sx_sae *const *)sp, .names = sae_paths.v, .n_saes = sae_paths.n, .default_hook = hook,
        .model_name = model_dir,
        .ids = ids, .n_ids = n_ids, .data = data, .tokens = tokens, .batch = (int)batch, .progress = 1,
        .src = {.skip_bad = skip_bad, .html_unescape = html, .label_rule = label,
                .want = want ? (strcmp(want, "toxic") == 0 ? 1 : 2) : 0,
                .max_entry_bytes = (uint64_t)max_entry_mb << 20},
        .pack = {.context_size = (int)C, .prepend_bos = prepend_bos, .bos_id = -1, .separator_id = -2,
                 .per_doc = per_doc, .pad_id = 0, .shuffle_windows = (int)shuffle_windows,
                 .seed = (uint64_t)seed}};
    sx_sae_eval_info info;
    if (sx_sae_eval_run(m, tok, &o, rows, &info, &err) || sx_sae_eval_write(out, rows, sae_paths.n, &err)) goto done;
    if (info.exhausted)
        fprintf(stderr, "saetox eval-sae: %s: the data ran out after %lld of %lld tokens\n", data,
                (long long)info.n_tokens, (long long)tokens);
    for (int i = 0; i < sae_paths.n; i++)
        printf("%s (%s, d_sae %d): ce_loss_score %.4f, kl_div_score %.4f, fvu %.4f, l0 %.1f, dead %.3f\n",
               rows[i].sae, rows[i].hook, rows[i].d_sae, rows[i].ce_loss_score, rows[i].kl_div_score, rows[i].fvu,
               rows[i].l0, rows[i].dead_frac);
    printf("wrote %s/sae_eval.csv, %s/sae_eval.jsonl: %lld tokens in %lld windows, %.0f tokens/s\n", out, out,
           (long long)info.n_tokens, (long long)info.n_windows,
           info.seconds > 0 ? (double)info.n_tokens / info.seconds : 0.0);
    rc = 0;
done:
    if (rc) cli_error(CMD, err.msg);
    for (int i = 0; i < n_loaded; i++) sx_sae_free(&saes[i]);
    free(saes), free(sp), free(rows), free(ids);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return rc;
}
