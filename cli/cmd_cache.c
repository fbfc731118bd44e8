/* cmd_cache.c — `saetox cache`: cache residual-stream activations of a model on text to an
 * HDF5 file.  The pipeline (and resume after a crash) is sx_cache_run in datasets/; under
 * mpirun each rank writes a shard and rank 0 a virtual dataset over them (cache_shard.c). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_shard.h"
#include "cli.h"
#include "datasets.h"
#include "models.h"
#include "sx_mpi.h"
#include "tokenizer.h"

#define CMD "cache"

static int fail(const char *msg) {
    cli_error(CMD, msg);
    return 1;
}

int cmd_cache(int argc, char **argv) {
    const char *model_dir = NULL, *data = NULL, *hook = NULL, *out = NULL, *dtype = NULL;
    const char *tok_dir = NULL, *label = NULL, *want = NULL;
    int64_t C = 0, tokens = 0, chunk_rows = 0, batch = 8, drop_first = 0, seed = 0, threads = 0;
    int64_t shuffle_windows = 0, max_entry_mb = 2048, stop_after = 0;
    int compress = 0, prepend_bos = 0, resume = 0, per_doc = 0, skip_bad = 0, html = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &model_dir, "DIR", "Hugging Face model folder", 1, 0},
        {"data", CLI_STR, &data, "SOURCE",
         "text source(s): text:F | textfile:GLOB | jsonl:F#field.path | csv:F#column; inside archives "
         "A.tar.gz//member; several joined with ','", 1, 0},
        {"hook", CLI_STR, &hook, "NAME", "blocks.L.hook_resid_pre | blocks.L.hook_resid_post", 1, 0},
        {"context-size", CLI_INT, &C, "C", "tokens per context window", 1, 0},
        {"tokens", CLI_INT, &tokens, "N", "activation rows to cache", 1, 0},
        {"out", CLI_STR, &out, "F.h5", "output cache (written as F.h5.partial, renamed when complete)", 1, 0},
        {"dtype", CLI_STR, &dtype, "f32|f16", "stored dtype (default f32)", 0, 0},
        {"compress", CLI_FLAG, &compress, NULL, "shuffle + gzip the datasets", 0, 0},
        {"chunk-rows", CLI_INT, &chunk_rows, "R", "rows per HDF5 chunk (default 1024)", 0, 0},
        {"batch", CLI_INT, &batch, "B", "context windows per forward pass (default 8)", 0, 0},
        {"drop-first", CLI_INT, &drop_first, "K", "do not cache the first K positions of each window", 0, 0},
        {"prepend-bos", CLI_FLAG, &prepend_bos, NULL, "start every window with BOS", 0, 0},
        {"per-doc", CLI_FLAG, &per_doc, NULL, "one document per window (truncated) instead of concatenating", 0, 0},
        {"shuffle-windows", CLI_INT, &shuffle_windows, "W", "shuffle windows in buffers of W (by --seed)", 0, 0},
        {"seed", CLI_INT, &seed, "S", "seed for the window shuffle (default 0)", 0, 0},
        {"resume", CLI_FLAG, &resume, NULL, "continue F.h5.partial left by an interrupted run", 0, 0},
        {"threads", CLI_INT, &threads, "N", "compute threads (default: all)", 0, 0},
        {"tokenizer", CLI_STR, &tok_dir, "DIR", "tokenizer folder (default: --model)", 0, 0},
        {"label", CLI_STR, &label, "RULE", "label rule, e.g. prompt.toxicity>=0.5 or class<=1 (with --want)", 0, 0},
        {"want", CLI_STR, &want, "toxic|clean", "keep only the toxic or the clean documents", 0, 0},
        {"skip-bad", CLI_FLAG, &skip_bad, NULL, "skip invalid JSON lines / CSV rows instead of failing", 0, 0},
        {"html-unescape", CLI_FLAG, &html, NULL, "decode HTML entities (&amp; &#NN; ...) in texts", 0, 0},
        {"max-entry-mb", CLI_INT, &max_entry_mb, "MB", "limit per archive member / compressed file (default 2048)", 0, 0},
        {"stop-after-rows", CLI_INT, &stop_after, "R", "(testing) stop like a crash after about R rows", 0, 0},
    };
    int rc = cli_parse(CMD, "Cache residual-stream activations of a model on text to an HDF5 file.", opts,
                       (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    const char *bad = NULL;
    if (C < 2 || C > (1 << 20)) bad = "--context-size must be at least 2";
    else if (tokens <= 0) bad = "--tokens must be positive";
    else if (batch <= 0 || batch > 4096) bad = "--batch must be in 1..4096";
    else if (drop_first < 0 || drop_first >= C) bad = "--drop-first must be in 0..context-size-1";
    else if (dtype && strcmp(dtype, "f32") && strcmp(dtype, "f16")) bad = "--dtype must be f32 or f16";
    else if (want && strcmp(want, "toxic") && strcmp(want, "clean")) bad = "--want must be toxic or clean";
    else if (want && !label) bad = "--want needs --label";
    else if (shuffle_windows < 0 || shuffle_windows > (1 << 20)) bad = "--shuffle-windows must be in 0..1048576";
    else if (chunk_rows < 0 || chunk_rows > (1 << 20)) bad = "--chunk-rows must be in 1..1048576";
    else if (max_entry_mb <= 0) bad = "--max-entry-mb must be positive";
    if (bad) {
        cli_error(CMD, bad);
        return 2;
    }
    if (threads > 0) sx_set_threads((int)threads);
    const int P = sx_mpi_size();
    char part[4200];
    sx_cache_partial_path(out, part, sizeof part);
    if (!resume && P == 1 && sx_file_exists(part))
        fprintf(stderr, "saetox cache: note: starting %s afresh (--resume would continue it)\n", part);

    sx_err err = {0};
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    rc = sx_model_load(model_dir, &m, &err);
    if (!rc) rc = sx_tokenizer_load(tok_dir ? tok_dir : model_dir, &tok, &err);
    if (P > 1) rc = sx_mpi_check(rc, &err); /* every rank stops together */
    if (rc) {
        sx_tokenizer_free(tok);
        sx_model_free(m);
        return fail(err.msg);
    }
    char mdir[4096];
    snprintf(mdir, sizeof mdir, "%s", model_dir);
    for (size_t l = strlen(mdir); l > 1 && mdir[l - 1] == '/'; l--) mdir[l - 1] = 0;
    sx_cache_job J = {
        .data = data, .hook = hook, .out = out, .model_name = basename(mdir), .tokens = tokens,
        .batch = (int)batch, .drop_first = (int)drop_first, .f16 = dtype && !strcmp(dtype, "f16"),
        .compress = compress, .chunk_rows = (int)chunk_rows, .resume = resume, .progress = 1,
        .stop_after_rows = stop_after,
        .src = {.skip_bad = skip_bad, .html_unescape = html, .label_rule = label,
                .want = want ? (strcmp(want, "toxic") == 0 ? 1 : 2) : 0,
                .max_entry_bytes = (uint64_t)max_entry_mb << 20},
        .pack = {.context_size = (int)C, .prepend_bos = prepend_bos, .bos_id = -1, .separator_id = -2,
                 .per_doc = per_doc, .pad_id = 0, .shuffle_windows = (int)shuffle_windows,
                 .seed = (uint64_t)seed}};
    int d_in = sx_model_cfg(m)->d_model;
    sx_cache_result res;
    rc = P > 1 ? sx_cache_run_sharded(m, tok, &J, &res, &err) : sx_cache_run(m, tok, &J, &res, &err);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    if (rc) return fail(err.msg);
    if (res.note[0]) fprintf(stderr, "saetox cache: %s\n", res.note);
    if (resume) fprintf(stderr, "saetox cache: resumed at row %lld of %lld\n", (long long)res.resumed_from, (long long)tokens);
    if (res.stopped) {
        fprintf(stderr, "saetox cache: stopped after %lld rows (--stop-after-rows)\n", (long long)res.rows);
        if (P > 1) sx_mpi_mark_agreed(); /* every rank learnt of it in sx_cache_run_sharded */
        return 3;
    }
    if (res.exhausted)
        fprintf(stderr, "saetox cache: %s: the data ran out after %lld of %lld tokens\n", data,
                (long long)res.rows, (long long)tokens);
    if (res.bad_records)
        fprintf(stderr, "saetox cache: skipped %lld bad records (first: %s)\n", (long long)res.bad_records,
                res.first_bad);
    printf("wrote %s: %lld rows x %d (%s, %s), %.0f tokens/s", out, (long long)res.rows, d_in,
           hook, J.f16 ? "float16" : "float32", res.seconds > 0 ? (double)res.fresh_rows / res.seconds : 0.0);
    if (P > 1) printf(" (a virtual dataset over %d shards, %s.shard-K-of-%d.h5)", P, out, P);
    printf("\n");
    return 0;
}
