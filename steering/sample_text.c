/* sample_text.c — a text corpus written by a model: sequences sampled from BOS, cut into
 * documents at the model's EOS, one document per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steering.h"

/* Write one generated sequence as documents: the model's EOS ends a document. */
static void write_docs(FILE *f, const sx_tokenizer *tok, const int32_t *ids, int n, int eos) {
    int start = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && ids[i] != eos) continue;
        if (i > start) {
            char *text = NULL;
            size_t len = 0;
            sx_err err;
            if (sx_tokenizer_decode(tok, ids + start, i - start, &text, &len, &err) == 0) {
                int any = 0;
                for (size_t k = 0; k < len; k++) {
                    if (text[k] == '\n' || text[k] == '\r' || text[k] == '\t') text[k] = ' ';
                    if (text[k] != ' ') any = 1;
                }
                if (any) fprintf(f, "%s\n", text);
            }
            free(text);
        }
        start = i + 1;
    }
}

#define SAMPLE_BATCH_MAX 256

int sx_sample_documents(sx_model *m, const sx_tokenizer *tok, const sx_sample_opts *o, const char *path,
                        int64_t *n_seqs_out, sx_err *err) {
    const sx_model_config *cfg = sx_model_cfg(m);
    int batch = o->batch > 0 ? o->batch : 64;
    if (batch > SAMPLE_BATCH_MAX) batch = SAMPLE_BATCH_MAX;
    int new_tokens = o->new_tokens;
    if (new_tokens < 1 || new_tokens >= cfg->n_ctx || o->tokens < 1)
        return sx_failc(err, SX_EINVAL, "sampling: tokens must be positive and new tokens in 1..%d", cfg->n_ctx - 1);
    int eos = cfg->eos_id >= 0 ? cfg->eos_id : sx_tokenizer_eos(tok);
    int bos = sx_tokenizer_bos(tok) >= 0 ? sx_tokenizer_bos(tok) : eos;
    /* 10% headroom: document boundaries and separators cost a few positions */
    int64_t n_seqs = (o->tokens * 11 / 10) / new_tokens + 1;
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) return -1;
    int32_t bos_id = bos;
    const int32_t *prompts[SAMPLE_BATCH_MAX];
    int plens[SAMPLE_BATCH_MAX], olens[SAMPLE_BATCH_MAX];
    int32_t *outs[SAMPLE_BATCH_MAX];
    for (int i = 0; i < batch; i++) {
        prompts[i] = &bos_id;
        plens[i] = 1;
    }
    sx_progress pg;
    sx_progress_start(&pg, "samples", (double)(n_seqs * new_tokens), "tok");
    for (int64_t done = 0; done < n_seqs; done += batch) {
        int n = (int)(n_seqs - done < batch ? n_seqs - done : batch);
        sx_gen_opts go;
        memset(&go, 0, sizeof go);
        go.max_new_tokens = new_tokens;
        go.temperature = 1.0f;
        go.top_p = 1.0f;
        /* each batch its own seed: sequence i of a call samples from stream (seed, i) */
        go.seed = o->seed * 1000003u + (uint64_t)done;
        if (sx_generate(m, prompts, plens, n, &go, outs, olens, err)) {
            sx_progress_finish(&pg);
            sx_atomic_abort(&af);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            write_docs(af.f, tok, outs[i], olens[i], eos);
            free(outs[i]);
        }
        sx_progress_update(&pg, (double)((done + n) * new_tokens));
    }
    sx_progress_finish(&pg);
    if (sx_atomic_commit(&af, err)) return -1;
    if (n_seqs_out) *n_seqs_out = n_seqs;
    return 0;
}
