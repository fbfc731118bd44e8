/* cmd_perplexity.c — `saetox perplexity`: cross-entropy (nats/token) and perplexity of a model
 * on documents, in the manner of llama.cpp's llama-perplexity, for comparing models on text
 * they did not train on.
 *
 * Documents are those `saetox lm-train --data SPEC` reads (the same readers, so the same
 * document boundaries); --holdout-split F with --side keeps the documents lm-train's
 * --holdout-split F kept out of training (heldout) or the others (rest).  Each document x is
 * tokenised without special tokens and scored as log p(x_0 .. x_{n-1}, eos | start), start =
 * the model's bos (eos when it has none; GPT-2's documents are separated by eos in lm-train).
 * A document longer than the context is scored in windows: the first covers n_ctx - 1 targets;
 * each later one scores the next n_ctx/2 targets after the n_ctx/2 tokens before them, so
 * every target is scored once and, past the first window, with at least n_ctx/2 tokens of
 * context.  The scoring is sx_loglik_many (batched, the model's own kernels).
 *
 * stdout: one JSON object {model, docs, tokens, nll, ce, ppl}; stderr: the same as a line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lmtrain.h"
#include "models.h"
#include "sx_json.h"
#include "tokenizer.h"

#define CMD "perplexity"

typedef struct docset {
    const sx_tokenizer *tok;
    double split;
    int side; /* 0 all, 1 heldout, 2 rest */
    int64_t max_docs;
    int32_t eos;
    int32_t **ids;
    int *len;
    int64_t n, cap, n_tok;
} docset;

static int on_doc(void *user, const char *text, size_t len, const char *key, sx_err *err) {
    docset *d = user;
    if (d->max_docs > 0 && d->n >= d->max_docs) return 0;
    if (d->side) {
        int held = key && sx_text_is_holdout(key, d->split);
        if (held != (d->side == 1)) return 0;
    }
    if (d->n == d->cap) {
        int64_t nc = d->cap ? 2 * d->cap : 256;
        int32_t **ni = realloc(d->ids, (size_t)nc * sizeof *ni);
        if (ni) d->ids = ni;
        int *nl = ni ? realloc(d->len, (size_t)nc * sizeof *nl) : NULL;
        if (!nl) return sx_failc(err, SX_ENOMEM, "out of memory");
        d->len = nl;
        d->cap = nc;
    }
    int32_t *ids;
    int n;
    if (sx_tokenizer_encode(d->tok, text, len, 0, &ids, &n, err)) return -1;
    int32_t *w = realloc(ids, (size_t)(n + 1) * sizeof *w);
    if (!w) {
        free(ids);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    w[n] = d->eos;
    d->ids[d->n] = w;
    d->len[d->n++] = n + 1;
    d->n_tok += n + 1;
    return 0;
}

/* The scoring windows of every document (see the file comment); *n_items gets their count. */
static sx_loglik_item *make_items(const docset *d, const int32_t *start, int n_ctx, int64_t *n_items) {
    int half = n_ctx / 2 > 0 ? n_ctx / 2 : 1, first = n_ctx - 1;
    int64_t cnt = 0;
    for (int64_t i = 0; i < d->n; i++) cnt += 1 + (d->len[i] > first ? (d->len[i] - first + half - 1) / half : 0);
    sx_loglik_item *it = malloc((size_t)cnt * sizeof *it);
    if (!it) return NULL;
    int64_t k = 0;
    for (int64_t i = 0; i < d->n; i++) {
        const int32_t *x = d->ids[i];
        int n = d->len[i];
        it[k++] = (sx_loglik_item){start, 1, x, n < first ? n : first};
        for (int b = first; b < n; b += half) {
            int c = n_ctx - half < b ? n_ctx - half : b;
            it[k++] = (sx_loglik_item){x + b - c, c, x + b, n - b < half ? n - b : half};
        }
    }
    *n_items = k;
    return it;
}

static void on_progress(void *user, int64_t done) { sx_progress_update(user, (double)done); }

int cmd_perplexity(int argc, char **argv) {
    cli_strlist data = {{0}, 0};
    const char *model = NULL, *side_s = "all";
    double split = 0;
    int64_t threads = 0, max_docs = 0;
    int unescape = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &model, "DIR", "Hugging Face model folder (with its tokenizer)", 1, 0},
        {"data", CLI_STRLIST, &data, "SPEC", "documents, repeatable, as `saetox lm-train --data` (FILE.txt, FILE.jsonl#F1+F2, FILE.csv#COL, SOURCE)", 1, 0},
        {"holdout-split", CLI_DBL, &split, "F", "the hash split of `lm-train --holdout-split F` / `study --split F` (with --side)", 0, 0},
        {"side", CLI_STR, &side_s, "S", "all | heldout (the JSONL records lm-train kept out) | rest (default all)", 0, 0},
        {"unescape-html", CLI_FLAG, &unescape, NULL, "decode HTML entities (&amp; ...) in the text, as lm-train", 0, 0},
        {"max-docs", CLI_INT, &max_docs, "N", "score at most the first N documents kept (default 0: all)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
    };
    int prc = cli_parse(CMD, "Cross-entropy and perplexity of a model on documents.", opts,
                        (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (prc) return prc == 1 ? 0 : 2;
    int side = !strcmp(side_s, "all") ? 0 : !strcmp(side_s, "heldout") ? 1 : !strcmp(side_s, "rest") ? 2 : -1;
    if (side < 0) return cli_error(CMD, "--side must be all, heldout or rest"), 2;
    if (!(split >= 0 && split < 1) || (side && !(split > 0)))
        return cli_error(CMD, "--holdout-split must be in (0, 1) when --side is heldout or rest"), 2;
    if (max_docs < 0) return cli_error(CMD, "--max-docs must be >= 0"), 2;
    sx_set_threads((int)threads);
    sx_err err = {0};
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_loglik_item *items = NULL;
    double *lp = NULL;
    docset d = {.split = split, .side = side, .max_docs = max_docs};
    int rc = 1;
    if (sx_model_load(model, &m, &err) || sx_tokenizer_load(model, &tok, &err)) goto out;
    const sx_model_config *cfg = sx_model_cfg(m);
    int32_t start = cfg->bos_id >= 0 ? cfg->bos_id : cfg->eos_id;
    d.eos = cfg->eos_id;
    if (start < 0 || d.eos < 0) {
        sx_failc(&err, SX_EINVAL, "%s: the config names no bos/eos token to start and end documents", model);
        goto out;
    }
    d.tok = tok;
    for (int i = 0; i < data.n; i++)
        if (sx_lm_read_docs_keyed(data.v[i], unescape, on_doc, &d, &err)) goto out;
    if (d.n == 0) {
        sx_failc(&err, SX_EINVAL, "no document to score%s", side ? " on that side of the split" : "");
        goto out;
    }
    int64_t n_items;
    items = make_items(&d, &start, cfg->n_ctx, &n_items);
    lp = items ? malloc((size_t)n_items * sizeof *lp) : NULL;
    if (!lp) {
        sx_failc(&err, SX_ENOMEM, "out of memory");
        goto out;
    }
    sx_progress pb;
    sx_progress_start(&pb, CMD, (double)n_items, "window");
    sx_batch_opts bo = {.progress = on_progress, .progress_user = &pb};
    double t0 = sx_now();
    if (sx_loglik_many(m, items, n_items, NULL, 0, &bo, lp, &err)) goto out;
    sx_progress_finish(&pb);
    double nll = 0;
    for (int64_t i = 0; i < n_items; i++) nll -= lp[i];
    double ce = nll / (double)d.n_tok;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", model);
    cJSON_AddStringToObject(j, "side", side_s);
    cJSON_AddNumberToObject(j, "holdout_split", split);
    cJSON_AddNumberToObject(j, "docs", (double)d.n);
    cJSON_AddNumberToObject(j, "tokens", (double)d.n_tok);
    cJSON_AddNumberToObject(j, "nll", nll);
    cJSON_AddNumberToObject(j, "ce", ce);
    cJSON_AddNumberToObject(j, "ppl", exp(ce));
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) {
        sx_failc(&err, SX_ENOMEM, "out of memory");
        goto out;
    }
    printf("%s\n", s);
    free(s);
    fprintf(stderr, "saetox %s: %lld documents, %lld tokens: %.4f nats/token, perplexity %.2f (%.1fs)\n",
            CMD, (long long)d.n, (long long)d.n_tok, ce, exp(ce), sx_now() - t0);
    rc = 0;
out:
    if (rc) cli_error(CMD, err.msg);
    for (int64_t i = 0; i < d.n; i++) free(d.ids[i]);
    free(d.ids);
    free(d.len);
    free(items);
    free(lp);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return rc;
}
