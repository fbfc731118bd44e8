/* cache_job.c — the caching pipeline behind `saetox cache` (and bench_cache): text source ->
 * packed windows -> forward pass to the hook -> cache writer.  The writer thread takes the
 * HDF5 work off the forward pass; the hook only copies rows (d x 4 bytes each).
 *
 * Resume: windows and batches are regenerated in the same order (tokenisation only, no
 * forward pass) and the forward pass restarts at the batch holding the first missing row;
 * the batch composition is unchanged, so the rows equal an uninterrupted run bit for bit.
 * A shard (cache_shard.c, under mpirun) is the same run restricted to rows [lo, hi) of the
 * stream: the batches before lo are regenerated but not run, so its rows equal the
 * one-process cache's rows lo..hi-1 bit for bit, for the same reason. */
#include <stdlib.h>
#include <string.h>

#include "cache_shard.h"
#include "datasets.h"
#include "models.h"

typedef struct grab {
    float *buf; /* [batch, C, d]: row (seq, pos) of the last forward pass */
    int C, d, batch;
} grab;

static int grab_rows(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    grab *g = user;
    for (int r = 0; r < ctx->n_rows; r++) {
        int s = ctx->seq_of_row[r], p = ctx->pos_of_row[r];
        if (s < 0 || s >= g->batch || p < 0 || p >= g->C)
            return sx_failc(err, SX_EINVAL, "cache hook: row (%d, %d) out of range", s, p);
        memcpy(g->buf + ((size_t)s * g->C + p) * g->d, x + (size_t)r * g->d, sizeof(float) * g->d);
    }
    return 0;
}

typedef struct bufs {
    int32_t *toks, *packed, *wtok, *wpos;
    int64_t *docs, *wdoc;
    int *lens;
    grab g;
} bufs;

static void free_bufs(bufs *b) {
    free(b->toks);
    free(b->packed);
    free(b->wtok);
    free(b->wpos);
    free(b->docs);
    free(b->wdoc);
    free(b->lens);
    free(b->g.buf);
}

static int alloc_bufs(bufs *b, int B, int C, int d) {
    memset(b, 0, sizeof *b);
    size_t bc = (size_t)B * C;
    b->toks = malloc(sizeof *b->toks * bc);
    b->packed = malloc(sizeof *b->packed * bc);
    b->docs = malloc(sizeof *b->docs * bc);
    b->lens = malloc(sizeof *b->lens * (size_t)B);
    b->wtok = malloc(sizeof *b->wtok * (size_t)C);
    b->wpos = malloc(sizeof *b->wpos * (size_t)C);
    b->wdoc = malloc(sizeof *b->wdoc * (size_t)C);
    b->g = (grab){malloc(sizeof(float) * bc * (size_t)d), C, d, B};
    return b->toks && b->packed && b->docs && b->lens && b->wtok && b->wpos && b->wdoc && b->g.buf ? 0 : -1;
}

/* Append the cached rows of window s of the last batch, skipping the rows before `done` (on
 * disk already, or another shard's) and stopping at `hi`.  *pos counts rows of the
 * regenerated stream. */
static int emit_window(const sx_cache_job *J, sx_cache_writer *w, bufs *b, int s, int64_t done, int64_t hi,
                       int64_t *pos, int64_t *fresh, sx_err *err) {
    int C = J->pack.context_size, d = b->g.d, p0 = J->drop_first, n = 0;
    if (b->lens[s] <= p0) return 0;
    for (int p = p0; p < b->lens[s]; p++) {
        b->wtok[n] = b->toks[(size_t)s * C + p];
        b->wdoc[n] = b->docs[(size_t)s * C + p];
        b->wpos[n++] = p;
    }
    int64_t skip = done > *pos ? done - *pos : 0, room = hi - *pos;
    int64_t first = skip < n ? skip : n, cnt = n - first;
    if (cnt > room) cnt = room;
    if (cnt > 0 && sx_cache_writer_append(w, b->g.buf + ((size_t)s * C + p0 + first) * d, b->wtok + first,
                                          b->wdoc + first, b->wpos + first, cnt, err))
        return -1;
    *pos += first + cnt;
    *fresh += cnt;
    return 0;
}

int sx_cache_run(sx_model *m, const sx_tokenizer *tok, const sx_cache_job *J, sx_cache_result *res,
                 sx_err *err) {
    return ds_cache_run_range(m, tok, J, 0, J->tokens, res, err);
}

int ds_cache_run_range(sx_model *m, const sx_tokenizer *tok, const sx_cache_job *J, int64_t lo, int64_t hi,
                       sx_cache_result *res, sx_err *err) {
    memset(res, 0, sizeof *res);
    const sx_model_config *cfg = sx_model_cfg(m);
    int layer, C = J->pack.context_size, B = J->batch, d = cfg->d_model, status = -1;
    sx_hook_point pt;
    if (sx_hook_parse(J->hook, &layer, &pt, err)) return -1;
    if (layer >= cfg->n_layers)
        return sx_failc(err, SX_EINVAL, "hook %s, but the model has %d layers", J->hook, cfg->n_layers);
    if (C > cfg->n_ctx)
        return sx_failc(err, SX_EINVAL, "context size %d exceeds the model's context of %d", C, cfg->n_ctx);
    if (B <= 0 || J->tokens <= 0 || J->drop_first < 0 || J->drop_first >= C)
        return sx_failc(err, SX_EINVAL, "cache job: bad batch, tokens or drop_first");
    if (lo < 0 || hi <= lo || hi > J->tokens)
        return sx_failc(err, SX_EINVAL, "cache job: bad row range %lld..%lld of %lld", (long long)lo, (long long)hi,
                        (long long)J->tokens);
    sx_text_source *src = NULL;
    sx_packer *pk = NULL;
    sx_cache_writer *w = NULL;
    bufs b;
    sx_progress prog;
    int prog_on = 0;
    if (alloc_bufs(&b, B, C, d)) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory (batch %d x %d x %d)", J->out, B, C, d);
        goto out;
    }
    if (sx_source_open(J->data, &J->src, &src, err) || sx_packer_new(tok, src, &J->pack, &pk, err)) goto out;
    sx_cache_meta meta = {.d_in = d, .f16 = J->f16, .compress = J->compress, .chunk_rows = J->chunk_rows,
                          .hook_name = J->hook, .model = J->model_name, .source = J->data,
                          .context_size = C, .n_tokens_target = J->tokens, .drop_first = J->drop_first,
                          .prepend_bos = J->pack.prepend_bos, .seed = J->pack.seed};
    int64_t done = 0;
    if (sx_cache_writer_open(J->out, &meta, J->resume, &w, &done, err)) goto out;
    res->resumed_from = done;
    if (done > hi - lo) {
        sx_failc(err, SX_EINVAL, "%s.partial already holds %lld rows, more than the %lld asked for", J->out,
                (long long)done, (long long)(hi - lo));
        goto out;
    }
    const int64_t skip_to = lo + done; /* stream rows before this are not ours to write */
    if (sx_cache_writer_note(w)) snprintf(res->note, sizeof res->note, "%s", sx_cache_writer_note(w));
    /* resid_pre L (L > 0) equals resid_post L-1: stop one block earlier */
    sx_hook hk = {layer, pt, grab_rows, &b.g};
    int stop = layer;
    if (pt == SX_HOOK_RESID_PRE && layer > 0) {
        hk = (sx_hook){layer - 1, SX_HOOK_RESID_POST, grab_rows, &b.g};
        stop = layer - 1;
    }
    sx_forward_opts fo = {.hooks = &hk, .n_hooks = 1, .stop_after_layer = stop, .logits = 0};
    if (J->progress) {
        /* counts this run's rows only, so the rate and ETA stay honest after a resume */
        sx_progress_start(&prog, "cache", (double)(hi - skip_to), "tok");
        prog_on = 1;
    }
    double t0 = sx_now();
    int64_t pos = 0, fresh = 0;
    int exhausted = 0;
    while (pos < hi && !exhausted) {
        int nb = 0;
        int64_t brows = 0;
        while (nb < B) {
            int len, r = sx_packer_next(pk, b.toks + (size_t)nb * C, b.docs + (size_t)nb * C, &len, err);
            if (r < 0) goto out;
            if (r == 0) {
                exhausted = 1;
                break;
            }
            b.lens[nb++] = len;
            if (len > J->drop_first) brows += len - J->drop_first;
        }
        if (nb == 0) break;
        if (pos + brows <= skip_to) { /* already in the resumed file, or another shard's */
            pos += brows;
            continue;
        }
        const int32_t *in = b.toks; /* per-doc windows: the model sees only the real tokens */
        if (J->pack.per_doc) {
            size_t k = 0;
            for (int s = 0; s < nb; s++)
                for (int p = 0; p < b.lens[s]; p++) b.packed[k++] = b.toks[(size_t)s * C + p];
            in = b.packed;
        }
        double tf = sx_now();
        if (sx_forward(m, in, b.lens, nb, &fo, NULL, err)) goto out;
        res->forward_seconds += sx_now() - tf;
        for (int s = 0; s < nb && pos < hi; s++)
            if (emit_window(J, w, &b, s, skip_to, hi, &pos, &fresh, err)) goto out;
        if (prog_on) sx_progress_update(&prog, (double)(pos > skip_to ? pos - skip_to : 0));
        if (J->stop_after_rows > 0 && sx_cache_writer_rows(w) >= J->stop_after_rows) {
            /* testing: behave like a crash (staged rows are lost, OUT.partial stays) */
            res->stopped = 1;
            res->rows = pos - lo;
            status = 0;
            goto out;
        }
    }
    if (prog_on) sx_progress_finish(&prog);
    prog_on = 0;
    if (pos == 0) {
        sx_failc(err, SX_EINVAL, "%s: no tokens (empty source, or documents shorter than drop_first)", J->data);
        goto out;
    }
    if (pos <= lo) {
        sx_failc(err, SX_EINVAL, "%s: the data ran out after %lld rows, before this shard's first row %lld (use fewer ranks or --tokens %lld)",
                 J->data, (long long)pos, (long long)lo, (long long)pos);
        goto out;
    }
    int rc = sx_cache_writer_finish(w, err);
    w = NULL;
    if (rc) goto out;
    res->rows = pos - lo;
    res->fresh_rows = fresh;
    res->exhausted = pos < hi;
    res->seconds = sx_now() - t0;
    sx_source_stats(src, &res->docs, &res->bad_records, NULL);
    if (sx_source_first_bad(src)) snprintf(res->first_bad, sizeof res->first_bad, "%s", sx_source_first_bad(src));
    status = 0;
out:
    if (prog_on) sx_progress_finish(&prog);
    if (w) sx_cache_writer_abort(w, 1); /* keep the committed rows for a resume */
    free_bufs(&b);
    sx_packer_free(pk);
    sx_source_close(src);
    return status;
}
