/* tokenizer_hf_encode.c — encoding and decoding with a tokenizer.json BPE (e.g. Gemma).
 *
 * As transformers.js (the reference) does: split the text on added tokens (longest match at
 * each position, no normalisation), normalise each remaining section (Gemma: " " -> "▁"),
 * run BPE over the whole section (Gemma has no pre-tokenizer), then map tokens missing from
 * the vocabulary to their <0xNN> byte tokens (byte_fallback) or to <unk>. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* ---------- normalisation ---------- */
static char *replace_all(const char *s, size_t n, const tok_norm *o, size_t *out_len) {
    size_t count = 0;
    for (size_t i = 0; i + o->from_len <= n;) {
        if (!memcmp(s + i, o->from, o->from_len)) {
            count++;
            i += o->from_len;
        } else {
            i++;
        }
    }
    size_t m = n - count * o->from_len + count * o->to_len, k = 0;
    char *r = malloc(m + 1);
    if (!r) return NULL;
    for (size_t i = 0; i < n;) {
        if (i + o->from_len <= n && !memcmp(s + i, o->from, o->from_len)) {
            memcpy(r + k, o->to, o->to_len);
            k += o->to_len;
            i += o->from_len;
        } else {
            r[k++] = s[i++];
        }
    }
    *out_len = k;
    return r;
}

static char *normalize(const sx_tokenizer *t, const char *s, size_t n, size_t *out_len) {
    char *cur = malloc(n + 1);
    if (!cur) return NULL;
    memcpy(cur, s, n);
    for (int i = 0; i < t->n_norm; i++) {
        const tok_norm *o = &t->norm[i];
        char *next;
        size_t m = 0;
        if (o->kind == TOK_NORM_REPLACE) {
            next = replace_all(cur, n, o, &m);
        } else {
            m = o->to_len + n;
            next = malloc(m + 1);
            if (next) {
                memcpy(next, o->to, o->to_len);
                memcpy(next + o->to_len, cur, n);
            }
        }
        free(cur);
        if (!next) return NULL;
        cur = next;
        n = m;
    }
    *out_len = n;
    return cur;
}

/* ---------- the BPE model over one normalised section ---------- */
typedef struct {
    tok_ids *out;
    int last_unk; /* for fuse_unk: the previous model token was <unk> */
} emitter;

static int emit(const sx_tokenizer *t, emitter *e, int32_t id) {
    if (id == t->unk && id >= 0 && t->fuse_unk && e->last_unk) return 0;
    e->last_unk = id == t->unk && id >= 0;
    return tok_ids_push(e->out, id);
}

/* A character without a token: its <0xNN> byte tokens, or <unk> if any is missing. */
static int emit_unknown(const sx_tokenizer *t, emitter *e, const unsigned char *s, size_t n) {
    int ok = t->byte_fallback;
    for (size_t i = 0; ok && i < n; i++) ok = t->fallback_id[s[i]] >= 0;
    if (!ok) return t->unk >= 0 ? emit(t, e, t->unk) : -2; /* -2: cannot be encoded */
    for (size_t i = 0; i < n; i++)
        if (emit(t, e, t->fallback_id[s[i]])) return -1;
    return 0;
}

static int flush_run(const sx_tokenizer *t, emitter *e, int32_t *sym, int n) {
    int m = tok_bpe_heap(&t->merges, sym, n);
    for (int i = 0; i < m; i++)
        if (emit(t, e, sym[i])) return -1;
    return 0;
}

static int bpe_section(const sx_tokenizer *t, const char *text, size_t n, tok_ids *out) {
    emitter e = {out, 0};
    if (t->ignore_merges) {
        int32_t id = tok_strmap_get(&t->vocab, text, n);
        if (id >= 0) return emit(t, &e, id);
    }
    const unsigned char *s = (const unsigned char *)text;
    int32_t *sym = malloc((n ? n : 1) * sizeof *sym);
    if (!sym || n > (size_t)INT32_MAX) {
        free(sym);
        return -1;
    }
    int ns = 0, rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        uint32_t cp;
        int l = tok_utf8_next(s + i, n - i, &cp);
        int32_t id = cp < 0x10000 && t->char_id  ? t->char_id[cp]
                     : cp < TOK_INVALID_BASE      ? tok_strmap_get(&t->vocab, text + i, (size_t)l)
                                                  : -1;
        if (id >= 0) {
            sym[ns++] = id;
        } else {
            /* Unknown characters never merge, so the runs between them are independent. */
            rc = ns ? flush_run(t, &e, sym, ns) : 0;
            if (!rc) rc = emit_unknown(t, &e, s + i, (size_t)l);
            ns = 0;
        }
        i += (size_t)l;
    }
    if (!rc && ns) rc = flush_run(t, &e, sym, ns);
    free(sym);
    return rc;
}

static int encode_section(const sx_tokenizer *t, const char *s, size_t n, tok_ids *out,
                          sx_err *err) {
    if (!n) return 0;
    if (t->kind == TOK_GPT2) return tok_gpt2_encode(t, s, n, out, err);
    size_t m;
    char *norm = normalize(t, s, n, &m);
    int rc = !norm ? -1 : m ? bpe_section(t, norm, m, out) : 0;
    free(norm);
    if (rc == -2)
        return sx_failc(err, SX_ENOTFOUND, "the text has a character that is not in the vocabulary, and the "
                            "tokenizer has neither byte fallback nor an unknown token");
    return rc ? sx_failc(err, SX_ENOMEM, "out of memory while encoding %zu bytes", n) : 0;
}

/* ---------- added tokens ---------- */
static const tok_added *match_added(const sx_tokenizer *t, const char *s, size_t n) {
    int k = t->added_first[(unsigned char)s[0]];
    if (k < 0) return NULL;
    for (; k < t->n_added && t->added[k].content[0] == s[0]; k++) /* longest first */
        if (t->added[k].len <= n && !memcmp(t->added[k].content, s, t->added[k].len))
            return &t->added[k];
    return NULL;
}

/* JavaScript trimStart / trimEnd (lstrip / rstrip of added tokens). */
static size_t skip_space(const char *s, size_t a, size_t b) {
    while (a < b) {
        uint32_t cp;
        int l = tok_utf8_next((const unsigned char *)s + a, b - a, &cp);
        if (!tok_is_space(cp)) break;
        a += (size_t)l;
    }
    return a;
}

static size_t trim_end(const char *s, size_t a, size_t b) {
    size_t end = a;
    while (a < b) {
        uint32_t cp;
        int l = tok_utf8_next((const unsigned char *)s + a, b - a, &cp);
        a += (size_t)l;
        if (!tok_is_space(cp)) end = a;
    }
    return end;
}

int tok_hf_encode(const sx_tokenizer *t, const char *text, size_t len, tok_ids *out,
                  sx_err *err) {
    size_t seg = 0, p = 0;
    int strip_next = 0;
    while (p < len) {
        const tok_added *hit = t->n_added ? match_added(t, text + p, len - p) : NULL;
        if (!hit) {
            p++;
            continue;
        }
        size_t a = strip_next ? skip_space(text, seg, p) : seg;
        size_t b = hit->lstrip ? trim_end(text, a, p) : p;
        if (encode_section(t, text + a, b - a, out, err)) return -1;
        if (tok_ids_push(out, hit->id)) return sx_failc(err, SX_ENOMEM, "out of memory");
        p += hit->len;
        seg = p;
        strip_next = hit->rstrip;
    }
    size_t a = strip_next ? skip_space(text, seg, len) : seg;
    return encode_section(t, text + a, len - a, out, err);
}

/* ---------- decoding ---------- */
typedef struct {
    char *v;
    size_t n, cap;
} strbuf;

static int sb_put(strbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *v = realloc(b->v, cap);
        if (!v) return -1;
        b->v = v;
        b->cap = cap;
    }
    memcpy(b->v + b->n, s, n);
    b->n += n;
    b->v[b->n] = 0;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<0xNN>" -> NN, else -1. */
static int fallback_byte(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static int put_token(const sx_tokenizer *t, strbuf *b, const char *s, size_t n) {
    if (!t->dec_from) return sb_put(b, s, n);
    size_t fl = strlen(t->dec_from), tl = strlen(t->dec_to), start = 0;
    for (size_t i = 0; i + fl <= n;) {
        if (!memcmp(s + i, t->dec_from, fl)) {
            if (sb_put(b, s + start, i - start) || sb_put(b, t->dec_to, tl)) return -1;
            i += fl;
            start = i;
        } else {
            i++;
        }
    }
    return sb_put(b, s + start, n - start);
}

int tok_hf_decode(const sx_tokenizer *t, const int32_t *ids, int n, char **text, size_t *len,
                  sx_err *err) {
    strbuf b = {0};
    if (sb_put(&b, "", 0)) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab || !t->id_str[id]) {
            free(b.v);
            return sx_failc(err, SX_ENOTFOUND, "token id %d is not in the vocabulary (size %d)", (int)id,
                           (int)t->n_vocab);
        }
        const char *s = t->id_str[id];
        size_t l = t->id_len[id];
        /* Every token, added ones included, goes through the decoder (as in tokenizers). */
        int byte = t->byte_fallback ? fallback_byte(s, l) : -1;
        char c = (char)byte;
        int rc = byte >= 0 ? sb_put(&b, &c, 1) : put_token(t, &b, s, l);
        if (rc) {
            free(b.v);
            return sx_failc(err, SX_ENOMEM, "out of memory");
        }
    }
    size_t skip = 0;
    for (int k = 0; k < t->dec_strip_left && skip < b.n && b.v[skip] == ' '; k++) skip++;
    memmove(b.v, b.v + skip, b.n - skip + 1);
    *text = b.v;
    *len = b.n - skip;
    return 0;
}
