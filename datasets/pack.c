/* pack.c — SAELens-style packing of tokenised documents into context windows.
 *
 * Concatenated mode: documents are tokenised in source order and joined with a separator
 * token; the stream is cut into windows of context_size tokens, each optionally starting
 * with BOS (then context_size - 1 stream tokens).  A final incomplete window is dropped, as
 * SAELens does.  Per-document mode: one document per window ([BOS] + its first tokens),
 * padded with pad_id; *len tells the real length.  Optional deterministic shuffle of windows
 * within a buffer (window w of buffer b moves by rng_stream(seed, b)).
 * Without a tokenizer (tok == NULL) every byte is a token: handy for tests. */
#include <stdlib.h>
#include <string.h>

#include "datasets.h"

typedef struct win {
    int32_t *tok;
    int64_t *doc;
    int len;
} win;

struct sx_packer {
    const sx_tokenizer *tok;
    sx_text_source *src;
    sx_pack_opts o;
    int bos, sep;
    /* the token stream not yet placed in a window */
    int32_t *st;
    int64_t *sd;
    size_t head, n, cap; /* live tokens are [head, head + n) */
    int64_t ndocs;
    int src_done;
    /* window shuffle buffer */
    win *buf;
    int nbuf, next, filled_batches;
};

static int stream_reserve(sx_packer *p, size_t want) {
    if (want <= p->cap) return 0;
    size_t c = p->cap ? p->cap : 4096;
    while (c < want) c *= 2;
    int32_t *t = realloc(p->st, sizeof *t * c);
    if (!t) return -1;
    p->st = t;
    int64_t *d = realloc(p->sd, sizeof *d * c);
    if (!d) return -1;
    p->sd = d;
    p->cap = c;
    return 0;
}

/* Tokenise the next document onto the stream (with the separator before it when needed).
 * Returns 1, 0 when the source is exhausted, -1 on error. */
static int pull_doc(sx_packer *p, sx_err *err) {
    sx_doc d;
    int r = sx_source_next(p->src, &d, err);
    if (r <= 0) return r;
    int32_t *ids = NULL;
    int n = 0;
    if (p->tok) {
        if (sx_tokenizer_encode(p->tok, d.text, d.len, p->o.add_special, &ids, &n, err))
            return sx_fail_prefix(err, "%s", d.where);
    } else {
        n = (int)d.len;
        ids = malloc(sizeof *ids * (size_t)(n ? n : 1));
        if (!ids) return sx_failc(err, SX_ENOMEM, "%s: out of memory", d.where);
        for (int i = 0; i < n; i++) ids[i] = (unsigned char)d.text[i];
    }
    int sep = !p->o.per_doc && p->sep >= 0 && p->ndocs > 0;
    if (stream_reserve(p, p->head + p->n + (size_t)n + 1)) {
        free(ids);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", d.where);
    }
    if (sep) {
        p->st[p->head + p->n] = p->sep;
        p->sd[p->head + p->n++] = -1;
    }
    for (int i = 0; i < n; i++) {
        p->st[p->head + p->n] = ids[i];
        p->sd[p->head + p->n++] = p->ndocs;
    }
    free(ids);
    p->ndocs++;
    return 1;
}

/* Drop the first k stream tokens.  Compaction is amortised: the window is cut from the
 * front and the rest moved only once the dead prefix outweighs it (long documents). */
static void consume(sx_packer *p, size_t k) {
    p->head += k;
    p->n -= k;
    if (p->head > p->n) {
        memmove(p->st, p->st + p->head, sizeof *p->st * p->n);
        memmove(p->sd, p->sd + p->head, sizeof *p->sd * p->n);
        p->head = 0;
    }
}

/* Build one window in order (no shuffle): 1, 0 at the end, -1 error. */
static int make_window(sx_packer *p, int32_t *tokens, int64_t *docs, int *len, sx_err *err) {
    int C = p->o.context_size, head = p->o.prepend_bos ? 1 : 0;
    size_t need = (size_t)(C - head);
    if (p->o.per_doc) {
        p->n = p->head = 0;
        int r;
        do { /* skip documents that tokenise to nothing */
            r = pull_doc(p, err);
            if (r <= 0) return r;
        } while (p->n == 0);
    } else {
        while (p->n < need) {
            int r = pull_doc(p, err);
            if (r < 0) return -1;
            if (r == 0) return 0; /* the incomplete tail is dropped */
        }
    }
    size_t take = p->n < need ? p->n : need;
    if (head) {
        tokens[0] = p->bos;
        docs[0] = -1;
    }
    memcpy(tokens + head, p->st + p->head, sizeof *tokens * take);
    memcpy(docs + head, p->sd + p->head, sizeof *docs * take);
    *len = head + (int)take;
    for (int i = *len; i < C; i++) {
        tokens[i] = p->o.pad_id;
        docs[i] = -1;
    }
    if (p->o.per_doc) p->n = p->head = 0;
    else consume(p, take);
    return 1;
}

int sx_packer_new(const sx_tokenizer *tok, sx_text_source *src, const sx_pack_opts *o,
                  sx_packer **out, sx_err *err) {
    *out = NULL;
    if (o->context_size < 2) return sx_failc(err, SX_EINVAL, "context size must be at least 2 (got %d)", o->context_size);
    sx_packer *p = calloc(1, sizeof *p);
    if (!p) return sx_failc(err, SX_ENOMEM, "out of memory");
    p->tok = tok;
    p->src = src;
    p->o = *o;
    p->bos = o->bos_id >= 0 ? o->bos_id : tok ? sx_tokenizer_bos(tok) : -1;
    if (p->bos < 0 && tok) p->bos = sx_tokenizer_eos(tok); /* GPT-2: <|endoftext|> serves as BOS */
    if (o->prepend_bos && p->bos < 0) {
        free(p);
        return sx_failc(err, SX_ENOTFOUND, "--prepend-bos: the tokenizer has no BOS token");
    }
    p->sep = o->separator_id;
    if (p->sep == -2) p->sep = tok ? (sx_tokenizer_eos(tok) >= 0 ? sx_tokenizer_eos(tok) : sx_tokenizer_bos(tok)) : -1;
    if (o->shuffle_windows > 0) {
        p->buf = calloc((size_t)o->shuffle_windows, sizeof *p->buf);
        if (!p->buf) {
            free(p);
            return sx_failc(err, SX_ENOMEM, "out of memory");
        }
        for (int i = 0; i < o->shuffle_windows; i++) {
            p->buf[i].tok = malloc(sizeof(int32_t) * (size_t)o->context_size);
            p->buf[i].doc = malloc(sizeof(int64_t) * (size_t)o->context_size);
            if (!p->buf[i].tok || !p->buf[i].doc) {
                p->o.shuffle_windows = i + 1;
                sx_packer_free(p);
                return sx_failc(err, SX_ENOMEM, "out of memory");
            }
        }
    }
    *out = p;
    return 0;
}

int sx_packer_next(sx_packer *p, int32_t *tokens, int64_t *doc_ids, int *len, sx_err *err) {
    if (p->o.shuffle_windows <= 0) return make_window(p, tokens, doc_ids, len, err);
    if (p->next == p->nbuf) { /* refill and shuffle the buffer */
        p->nbuf = p->next = 0;
        while (p->nbuf < p->o.shuffle_windows && !p->src_done) {
            win *w = &p->buf[p->nbuf];
            int r = make_window(p, w->tok, w->doc, &w->len, err);
            if (r < 0) return -1;
            if (r == 0) p->src_done = 1;
            else p->nbuf++;
        }
        sx_rng g;
        sx_rng_stream(&g, p->o.seed, (uint64_t)p->filled_batches++);
        for (int i = p->nbuf - 1; i > 0; i--) {
            int j = (int)sx_rng_below(&g, (uint64_t)i + 1);
            win t = p->buf[i];
            p->buf[i] = p->buf[j];
            p->buf[j] = t;
        }
        if (p->nbuf == 0) return 0;
    }
    win *w = &p->buf[p->next++];
    memcpy(tokens, w->tok, sizeof *tokens * (size_t)p->o.context_size);
    memcpy(doc_ids, w->doc, sizeof *doc_ids * (size_t)p->o.context_size);
    *len = w->len;
    return 1;
}

void sx_packer_free(sx_packer *p) {
    if (!p) return;
    for (int i = 0; p->buf && i < p->o.shuffle_windows; i++) {
        free(p->buf[i].tok);
        free(p->buf[i].doc);
    }
    free(p->buf);
    free(p->st);
    free(p->sd);
    free(p);
}
