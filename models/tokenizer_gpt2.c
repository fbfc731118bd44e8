/* tokenizer_gpt2.c — GPT-2 byte-level BPE: encoder.json/vocab.json + vocab.bpe/merges.txt,
 * the GPT-2 pre-tokenisation regex written out by hand, and decoding.
 *
 * The reference is gpt-3-encoder's Encoder.js (node): its regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * over code points, its naive lowest-rank-first merge loop, and one quirk: it keys merge ranks
 * by the string "first,second", so a pair whose comma-joined string equals a merge's key gets
 * that merge's rank (e.g. ('",', '"') acts as the merge ('"', ',"')).  We reproduce that. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "sx_json.h"

/* ---------- loading ---------- */
void tok_gpt2_init_bytes(sx_tokenizer *t) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        t->byte_to_cp[b] = (uint16_t)(printable ? b : 256 + n++);
    }
    for (int c = 0; c < 324; c++) t->cp_to_byte[c] = -1;
    for (int b = 0; b < 256; b++) t->cp_to_byte[t->byte_to_cp[b]] = (int16_t)b;
}

int tok_vocab_alloc(sx_tokenizer *t, int32_t n_vocab, sx_err *err) {
    t->n_vocab = n_vocab;
    t->id_str = calloc((size_t)n_vocab, sizeof *t->id_str);
    t->id_len = calloc((size_t)n_vocab, sizeof *t->id_len);
    if (!t->id_str || !t->id_len || tok_strmap_init(&t->vocab, (uint32_t)n_vocab))
        return sx_failc(err, SX_ENOMEM, "out of memory for a vocabulary of %d tokens", (int)n_vocab);
    return 0;
}

int tok_vocab_add(sx_tokenizer *t, const char *s, size_t n, int32_t id, sx_err *err) {
    if (id < 0 || id >= t->n_vocab) return sx_failc(err, SX_EINVAL, "token id %d out of range", (int)id);
    char *p = tok_arena_strndup(&t->arena, s, n);
    if (!p || tok_strmap_put(&t->vocab, p, n, id)) return sx_failc(err, SX_ENOMEM, "out of memory");
    t->id_str[id] = p;
    t->id_len[id] = (uint32_t)n;
    return 0;
}

static int load_vocab_json(sx_tokenizer *t, const char *path, sx_err *err) {
    cJSON *j = sx_json_parse_file(path, (size_t)1 << 28, err);
    if (!j) return -1;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sx_failc(err, SX_EINVAL, "%s: expected a JSON object of token -> id", path);
    }
    /* The id table is sized by the largest id, so an id is bounded by the number of entries
     * the file holds: a few bytes of JSON must not ask for gigabytes. */
    int64_t n_entries = cJSON_GetArraySize(j), max_id = -1, id;
    for (cJSON *e = j->child; e; e = e->next) {
        if (sx_json_int_of(e, 0, n_entries - 1, &id)) {
            /* The message is built before the tree (which owns e->string) is freed. */
            sx_failc(err, SX_EINVAL, "%s: token \"%.60s\": id is not an integer in [0, %lld) (the file has %lld "
                         "entries)", path, e->string, (long long)n_entries, (long long)n_entries);
            cJSON_Delete(j);
            return -1;
        }
        if (id > max_id) max_id = id;
    }
    int rc = tok_vocab_alloc(t, (int32_t)max_id + 1, err);
    for (cJSON *e = j->child; e && !rc; e = e->next)
        rc = tok_vocab_add(t, e->string, strlen(e->string), e->valueint, err);
    cJSON_Delete(j);
    return rc ? sx_fail_prefix(err, "%s", path) : 0;
}

/* Encoder.js's quirk: give (x, y) the rank of every merge whose "a,b" key equals "x,y"
 * (the highest such rank wins, as later entries overwrite earlier ones in its dictionary). */
static int add_comma_aliases(sx_tokenizer *t, const char *a, const char *b, int32_t rank) {
    if (!strchr(a, ',') && !strchr(b, ',')) return 0;
    size_t la = strlen(a), lb = strlen(b), lk = la + 1 + lb;
    char *key = malloc(lk + 1), *cat = malloc(lk);
    if (!key || !cat) {
        free(key);
        free(cat);
        return -1;
    }
    memcpy(key, a, la);
    key[la] = ',';
    memcpy(key + la + 1, b, lb + 1);
    for (size_t i = 0; i < lk; i++) {
        if (key[i] != ',') continue;
        int32_t x = tok_strmap_get(&t->vocab, key, i);
        int32_t y = tok_strmap_get(&t->vocab, key + i + 1, lk - i - 1);
        if (x < 0 || y < 0) continue;
        memcpy(cat, key, i);
        memcpy(cat + i, key + i + 1, lk - i - 1);
        int32_t xy = tok_strmap_get(&t->vocab, cat, lk - 1), old_m;
        int32_t old = tok_pairmap_get(&t->merges, x, y, &old_m);
        if (xy >= 0 && old < rank && tok_pairmap_put(&t->merges, x, y, rank, xy)) break;
    }
    free(key);
    free(cat);
    return 0;
}

static int load_merges_txt(sx_tokenizer *t, const char *path, sx_err *err) {
    char *data;
    size_t len;
    if (sx_read_file(path, (size_t)1 << 28, &data, &len, err)) return -1;
    /* one merge per line: size the table by the file (2 MB for a 20-byte merges.txt made
     * the GPT-2 fuzz target run 40 times a second) */
    uint32_t lines = 1;
    for (const char *q = data; (q = memchr(q, '\n', len - (size_t)(q - data))); q++) lines++;
    if (tok_pairmap_init(&t->merges, lines)) {
        free(data);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    /* A "#version" first line is not a merge; each other line is two whitespace-separated
     * tokens; rank = line index.  (Encoder.js drops line 1 unconditionally: the same on
     * real files, which all start with "#version: 0.2".) */
    char *line = data;
    if (line[0] == '#') line = strchr(data, '\n') ? strchr(data, '\n') + 1 : data + len;
    int32_t rank = 0;
    int rc = 0;
    for (char *next; *line && !rc; line = next) {
        char *eol = strchr(line, '\n');
        next = eol ? eol + 1 : line + strlen(line);
        if (eol) *eol = 0;
        char *save = NULL, *a = strtok_r(line, " \t\r\v\f", &save);
        char *b = a ? strtok_r(NULL, " \t\r\v\f", &save) : NULL;
        if (!a) continue; /* blank line */
        if (!b || strtok_r(NULL, " \t\r\v\f", &save)) {
            rc = sx_failc(err, SX_EINVAL, "%s: merge %d: expected two tokens", path, (int)rank + 1);
            break;
        }
        int32_t ia = tok_strmap_get(&t->vocab, a, strlen(a));
        int32_t ib = tok_strmap_get(&t->vocab, b, strlen(b));
        size_t la = strlen(a), lb = strlen(b);
        char *cat = malloc(la + lb + 1);
        if (!cat) {
            rc = sx_failc(err, SX_ENOMEM, "out of memory");
            break;
        }
        memcpy(cat, a, la);
        memcpy(cat + la, b, lb + 1);
        int32_t im = tok_strmap_get(&t->vocab, cat, la + lb);
        free(cat);
        if (ia < 0 || ib < 0 || im < 0) {
            rc = sx_failc(err, SX_ENOTFOUND, "%s: merge %d (\"%s %s\"): token not in the vocabulary", path,
                         (int)rank + 1, a, b);
            break;
        }
        if (tok_pairmap_put(&t->merges, ia, ib, rank, im) ||
            add_comma_aliases(t, a, b, rank))
            rc = sx_failc(err, SX_ENOMEM, "out of memory");
        rank++;
    }
    free(data);
    return rc;
}

int tok_gpt2_finish(sx_tokenizer *t, const char *what, sx_err *err) {
    for (int b = 0; b < 256; b++) {
        char u[4];
        int n = tok_utf8_put(t->byte_to_cp[b], u);
        t->byte_id[b] = tok_strmap_get(&t->vocab, u, (size_t)n);
        if (t->byte_id[b] < 0)
            return sx_failc(err, SX_ECORRUPT, "%s: the vocabulary lacks the byte-level token for byte 0x%02X",
                           what, b);
    }
    /* <|endoftext|> serves as both document separator and BOS; GPT-2 adds nothing itself. */
    int32_t eot = tok_strmap_get(&t->vocab, "<|endoftext|>", 13);
    t->bos = t->eos = eot;
    t->unk = -1;
    return 0;
}

int tok_gpt2_load_files(sx_tokenizer *t, const char *vocab_path, const char *merges_path,
                        sx_err *err) {
    t->kind = TOK_GPT2;
    tok_gpt2_init_bytes(t);
    if (load_vocab_json(t, vocab_path, err) || load_merges_txt(t, merges_path, err)) return -1;
    return tok_gpt2_finish(t, vocab_path, err);
}

/* ---------- pre-tokenisation ---------- */
enum { C_L, C_N, C_S, C_O };

static int cls(uint32_t cp) {
    if (cp >= TOK_INVALID_BASE) return C_O; /* a stray byte: punctuation-like */
    if (tok_is_letter(cp)) return C_L;
    if (tok_is_number(cp)) return C_N;
    if (tok_is_space(cp)) return C_S;
    return C_O;
}

/* Length (in code points) of the regex match starting at i; cp/cl hold n code points. */
static size_t pretok_match(const uint32_t *cp, const uint8_t *cl, size_t i, size_t n) {
    if (cp[i] == '\'' && i + 1 < n) {
        uint32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    size_t j = i + (cp[i] == ' ');
    if (j < n && cl[j] != C_S) { /* ' ?\p{L}+', ' ?\p{N}+' or ' ?[^\s\p{L}\p{N}]+' */
        int c = cl[j];
        while (j < n && cl[j] == c) j++;
        return j - i;
    }
    size_t k = i; /* '\s+(?!\S)' then '\s+' */
    while (k < n && cl[k] == C_S) k++;
    if (k < n && k - i >= 2) k--; /* leave the last space to prefix the next word */
    return k - i;
}

/* ---------- encoding ---------- */
typedef struct {
    tok_strmap map; /* pre-token bytes (borrowed from the input) -> offset in pool */
    tok_ids pool;   /* [count, ids...] per cached pre-token */
    int on;
} word_cache;

static int bpe_word(const sx_tokenizer *t, const unsigned char *s, size_t n, tok_ids *out,
                    int32_t **buf, size_t *bufcap) {
    if (n > *bufcap) {
        int32_t *nb = realloc(*buf, n * sizeof *nb);
        if (!nb) return -1;
        *buf = nb;
        *bufcap = n;
    }
    int32_t *sym = *buf;
    for (size_t i = 0; i < n; i++) sym[i] = t->byte_id[s[i]];
    int m = n <= 1024 ? tok_bpe_greedy(&t->merges, sym, (int)n)
                      : tok_bpe_heap(&t->merges, sym, (int)n);
    for (int i = 0; i < m; i++)
        if (tok_ids_push(out, sym[i])) return -1;
    return 0;
}

static int encode_word(const sx_tokenizer *t, const unsigned char *s, size_t n, tok_ids *out,
                       word_cache *wc, int32_t **buf, size_t *bufcap) {
    if (n == 1) return tok_ids_push(out, t->byte_id[s[0]]);
    int cacheable = wc->on && n <= 64 && wc->pool.n < (size_t)INT32_MAX / 2;
    if (cacheable) {
        int32_t off = tok_strmap_get(&wc->map, (const char *)s, n);
        if (off >= 0) {
            for (int32_t i = 0; i < wc->pool.v[off]; i++)
                if (tok_ids_push(out, wc->pool.v[off + 1 + i])) return -1;
            return 0;
        }
    }
    size_t start = out->n;
    if (bpe_word(t, s, n, out, buf, bufcap)) return -1;
    if (cacheable) {
        int32_t off = (int32_t)wc->pool.n;
        if (tok_ids_push(&wc->pool, (int32_t)(out->n - start))) return -1;
        for (size_t i = start; i < out->n; i++)
            if (tok_ids_push(&wc->pool, out->v[i])) return -1;
        if (tok_strmap_put(&wc->map, (const char *)s, n, off)) return -1;
    }
    return 0;
}

/* The text is decoded in windows of code points so that memory stays bounded (13 bytes per
 * window slot) however long the input: a match is only taken when enough code points follow
 * it to be sure it is complete (the regex looks at most 2 ahead); otherwise the window is
 * refilled from that match's start (doubled when one match fills the whole window). */
#ifndef TOK_WINDOW
#define TOK_WINDOW 65536 /* code points; tests build with a tiny one to exercise the refills */
#endif

typedef struct {
    uint32_t *cp;
    size_t *off; /* byte offset of each code point, plus one past the last */
    uint8_t *cl;
    size_t cap;
} window;

static int window_fill(window *w, const unsigned char *s, size_t len, size_t pos, size_t *n) {
    size_t k = 0, b = pos;
    for (; b < len && k < w->cap; k++) {
        w->off[k] = b;
        b += (size_t)tok_utf8_next(s + b, len - b, &w->cp[k]);
        w->cl[k] = (uint8_t)cls(w->cp[k]);
    }
    w->off[k] = b;
    *n = k;
    return b == len; /* reached the end of the text */
}

static int window_alloc(window *w, size_t cap) {
    uint32_t *cp = realloc(w->cp, cap * sizeof *cp);
    if (cp) w->cp = cp;
    size_t *off = realloc(w->off, (cap + 1) * sizeof *off);
    if (off) w->off = off;
    uint8_t *cl = realloc(w->cl, cap);
    if (cl) w->cl = cl;
    if (!cp || !off || !cl) return -1;
    w->cap = cap;
    return 0;
}

int tok_gpt2_encode(const sx_tokenizer *t, const char *text, size_t len, tok_ids *out,
                    sx_err *err) {
    /* Cost: one UTF-8 decode + class lookup per byte, then BPE per distinct word (cached per
     * call, so repeated words cost one hash lookup). */
    if (!len) return 0;
    const unsigned char *s = (const unsigned char *)text;
    window w = {0};
    word_cache wc = {0};
    wc.on = len > 256 && !tok_strmap_init(&wc.map, 4096);
    int32_t *buf = NULL;
    size_t bufcap = 0, pos = 0;
    int rc = window_alloc(&w, len < TOK_WINDOW ? len : TOK_WINDOW);
    while (!rc && pos < len) {
        size_t n, i = 0;
        int last = window_fill(&w, s, len, pos, &n);
        while (!rc && i < n) {
            size_t m = pretok_match(w.cp, w.cl, i, n);
            if (!last && i + m + 2 >= n) break; /* might continue past the window */
            rc = encode_word(t, s + w.off[i], w.off[i + m] - w.off[i], out, &wc, &buf, &bufcap);
            i += m;
        }
        if (!rc && i == 0 && !last) rc = window_alloc(&w, w.cap * 2);
        pos = w.off[i];
    }
    free(w.cp);
    free(w.off);
    free(w.cl);
    free(buf);
    free(wc.pool.v);
    tok_strmap_free(&wc.map);
    return rc ? sx_failc(err, SX_ENOMEM, "out of memory while encoding %zu bytes", len) : 0;
}

/* ---------- decoding ---------- */
int tok_gpt2_decode(const sx_tokenizer *t, const int32_t *ids, int n, char **text, size_t *len,
                    sx_err *err) {
    size_t cap = 1; /* 3 output bytes per input byte covers U+FFFD for a stray byte */
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab || !t->id_str[ids[i]])
            return sx_failc(err, SX_ENOTFOUND, "token id %d is not in the vocabulary (size %d)", (int)ids[i],
                           (int)t->n_vocab);
        cap += 3 * (size_t)t->id_len[ids[i]];
    }
    char *o = malloc(cap);
    if (!o) return sx_failc(err, SX_ENOMEM, "out of memory");
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)t->id_str[ids[i]];
        size_t l = t->id_len[ids[i]];
        for (size_t b = 0; b < l;) {
            uint32_t c;
            b += (size_t)tok_utf8_next(s + b, l - b, &c);
            /* Characters outside the byte alphabet (only in hand-made vocabularies) are kept
             * as their UTF-8 bytes. */
            if (c < 324 && t->cp_to_byte[c] >= 0) o[k++] = (char)t->cp_to_byte[c];
            else k += (size_t)tok_utf8_put(c >= TOK_INVALID_BASE ? 0xFFFD : c, o + k);
        }
    }
    o[k] = 0;
    *text = o;
    *len = k;
    return 0;
}
