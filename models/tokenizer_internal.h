/* tokenizer_internal.h — private to models/tokenizer*.c: the tokenizer struct, hash maps,
 * UTF-8 / Unicode class helpers and the two BPE merge loops. */
#ifndef SAETOX_TOKENIZER_INTERNAL_H
#define SAETOX_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "tokenizer.h"

/* ---------- arena: many small strings, freed at once ---------- */
typedef struct tok_arena_block tok_arena_block;
typedef struct tok_arena {
    tok_arena_block *head;
} tok_arena;
char *tok_arena_strndup(tok_arena *a, const char *s, size_t n); /* NULL on OOM */
void tok_arena_free(tok_arena *a);

/* ---------- string -> int32 map (open addressing; keys borrowed, must outlive it) ---------- */
typedef struct tok_strslot {
    const char *key; /* NULL = empty */
    uint32_t len, hash;
    int32_t val;
} tok_strslot;
typedef struct tok_strmap {
    uint32_t cap, n; /* cap is a power of two */
    tok_strslot *slot;
} tok_strmap;
uint32_t tok_hash(const char *s, size_t n);
int tok_strmap_init(tok_strmap *m, uint32_t expected);
void tok_strmap_free(tok_strmap *m);
/* Insert or overwrite. Returns -1 on OOM. */
int tok_strmap_put(tok_strmap *m, const char *k, size_t n, int32_t v);
/* Value, or -1 when absent. */
int32_t tok_strmap_get(const tok_strmap *m, const char *k, size_t n);

/* ---------- (id a, id b) -> (rank, merged id) map ---------- */
/* One 16-byte slot per pair so that a lookup costs one cache miss (the table of Gemma's
 * 580k merges is 32 MB; BPE does ~2 lookups per input character). */
typedef struct tok_pairslot {
    uint64_t key; /* UINT64_MAX = empty */
    int32_t rank, merged;
} tok_pairslot;
typedef struct tok_pairmap {
    uint32_t cap, n;
    tok_pairslot *slot;
} tok_pairmap;
int tok_pairmap_init(tok_pairmap *m, uint32_t expected);
void tok_pairmap_free(tok_pairmap *m);
int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
/* Rank (and *merged) or -1 when (a, b) is not a merge. */
static inline int32_t tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b,
                                      int32_t *merged) {
    if (a < 0 || b < 0 || !m->cap) return -1;
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    uint32_t i = (uint32_t)(h >> 32) & (m->cap - 1);
    for (;;) {
        const tok_pairslot *s = &m->slot[i];
        if (s->key == k) {
            *merged = s->merged;
            return s->rank;
        }
        if (s->key == UINT64_MAX) return -1;
        i = (i + 1) & (m->cap - 1);
    }
}

/* ---------- UTF-8 and Unicode classes ---------- */
/* Code points >= TOK_INVALID_BASE stand for one invalid UTF-8 byte (TOK_INVALID_BASE + byte). */
#define TOK_INVALID_BASE 0x110000u
/* Decode one code point at s[0..n) (n >= 1): returns its byte length (1..4); an invalid or
 * truncated sequence yields length 1 and TOK_INVALID_BASE + s[0]. Overlongs, surrogates and
 * values above U+10FFFF are invalid, exactly as a strict (WHATWG) decoder judges them. */
int tok_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* Encode a code point (< 0x110000) as UTF-8; returns the byte count. */
int tok_utf8_put(uint32_t cp, char *out);
int tok_is_letter(uint32_t cp); /* \p{L} */
int tok_is_number(uint32_t cp); /* \p{N} */
int tok_is_space(uint32_t cp);  /* JavaScript \s */

/* ---------- the tokenizer ---------- */
typedef enum { TOK_GPT2 = 1, TOK_HF = 2 } tok_kind;

typedef struct tok_added {
    const char *content;
    uint32_t len;
    int32_t id;
    int lstrip, rstrip, special;
} tok_added;

typedef enum { TOK_NORM_REPLACE = 1, TOK_NORM_PREPEND = 2 } tok_norm_kind;
typedef struct tok_norm {
    tok_norm_kind kind;
    const char *from, *to; /* REPLACE: from -> to; PREPEND: to */
    size_t from_len, to_len;
} tok_norm;

#define TOK_MAX_NORM 8
#define TOK_MAX_AFFIX 4

struct sx_tokenizer {
    tok_kind kind;
    tok_arena arena;
    int32_t n_vocab;      /* max id + 1 */
    const char **id_str;  /* id -> vocabulary string (NULL for holes) */
    uint32_t *id_len;
    tok_strmap vocab;     /* vocabulary string -> id */
    tok_pairmap merges;   /* (a, b) -> rank, merged id */
    int32_t bos, eos, unk;
    int32_t prefix[TOK_MAX_AFFIX], suffix[TOK_MAX_AFFIX]; /* added when add_special */
    int n_prefix, n_suffix;

    /* GPT-2 byte-level */
    int32_t byte_id[256];       /* id of the one-char token standing for byte b */
    uint16_t byte_to_cp[256];   /* GPT-2's bytes_to_unicode table */
    int16_t cp_to_byte[324];    /* inverse (code points < 324), -1 elsewhere */

    /* Hugging Face tokenizer.json BPE */
    tok_added *added;           /* sorted by content bytes, for longest-match lookup */
    int n_added;
    int32_t added_first[256];   /* first index in added[] starting with that byte, or -1 */
    tok_norm norm[TOK_MAX_NORM];
    int n_norm;
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t fallback_id[256];   /* <0xNN> ids, -1 when absent */
    const char *dec_from, *dec_to; /* decoder Replace (e.g. "▁" -> " ") or NULL */
    int dec_strip_left;         /* decoder Strip: characters removed at the start */
    uint8_t *is_added_id;       /* n_vocab flags: id is an added token */
    int32_t *char_id;           /* 0x10000 entries: id of the one-character token, or -1 */
};

/* Loaders (fill an already zeroed struct; on error the caller frees it). */
int tok_gpt2_load_files(sx_tokenizer *t, const char *vocab_path, const char *merges_path,
                        sx_err *err);
int tok_hf_load(sx_tokenizer *t, const char *dir, const char *json_path, sx_err *err);
/* Byte-level helpers shared with a ByteLevel tokenizer.json. */
void tok_gpt2_init_bytes(sx_tokenizer *t);
int tok_gpt2_finish(sx_tokenizer *t, const char *what, sx_err *err);
/* Register a vocabulary entry (string copied into the arena). */
int tok_vocab_add(sx_tokenizer *t, const char *s, size_t n, int32_t id, sx_err *err);
int tok_vocab_alloc(sx_tokenizer *t, int32_t n_vocab, sx_err *err);

/* Growable id buffer used while encoding. */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
int tok_ids_push(tok_ids *b, int32_t id);

int tok_gpt2_encode(const sx_tokenizer *t, const char *text, size_t len, tok_ids *out,
                    sx_err *err);
int tok_gpt2_decode(const sx_tokenizer *t, const int32_t *ids, int n, char **text, size_t *len,
                    sx_err *err);
int tok_hf_encode(const sx_tokenizer *t, const char *text, size_t len, tok_ids *out,
                  sx_err *err);
int tok_hf_decode(const sx_tokenizer *t, const int32_t *ids, int n, char **text, size_t *len,
                  sx_err *err);

/* BPE merge loops over symbol ids in sym[0..n); return the new count (sym rewritten).
 * Symbols of id -1 never merge.
 *  - tok_bpe_greedy: Encoder.js semantics: repeatedly take the lowest-ranked adjacent pair
 *    (the rightmost one on a rank tie) and merge all its occurrences left to right.
 *    O(n * merges): for short words.
 *  - tok_bpe_heap: HF / transformers.js semantics: a priority queue on (rank, position).
 *    O(n log n).  Identical to greedy when every merge outranks the merges that built its
 *    parts, which holds for GPT-2's merge table. */
int tok_bpe_greedy(const tok_pairmap *m, int32_t *sym, int n);
int tok_bpe_heap(const tok_pairmap *m, int32_t *sym, int n);

#endif
