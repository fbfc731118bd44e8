/* tokenizer_util.c — arena, hash maps, UTF-8 and Unicode class lookups for the tokenizers. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "tokenizer_unicode_tables.h"

/* ---------- arena ---------- */
struct tok_arena_block {
    tok_arena_block *next;
    size_t used, cap;
    char data[];
};

char *tok_arena_strndup(tok_arena *a, const char *s, size_t n) {
    tok_arena_block *b = a->head;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > (1u << 20) ? n + 1 : (1u << 20);
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = 0;
    b->used += n + 1;
    return p;
}

void tok_arena_free(tok_arena *a) {
    while (a->head) {
        tok_arena_block *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* ---------- string map ---------- */
uint32_t tok_hash(const char *s, size_t n) {
    /* FNV-1a: ~1 multiply per byte, plenty for vocabulary strings. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static uint32_t pow2_at_least(uint32_t n) {
    uint32_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

int tok_strmap_init(tok_strmap *m, uint32_t expected) {
    m->n = 0;
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slot = calloc(m->cap, sizeof *m->slot);
    return m->slot ? 0 : -1;
}

void tok_strmap_free(tok_strmap *m) {
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static void strmap_insert(tok_strmap *m, const tok_strslot *e) {
    uint32_t i = e->hash & (m->cap - 1);
    while (m->slot[i].key) i = (i + 1) & (m->cap - 1);
    m->slot[i] = *e;
    m->n++;
}

int tok_strmap_put(tok_strmap *m, const char *k, size_t n, int32_t v) {
    if ((m->n + 1) * 2 > m->cap) { /* keep the load factor <= 1/2 */
        tok_strmap bigger;
        if (tok_strmap_init(&bigger, m->cap)) return -1;
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->slot[i].key) strmap_insert(&bigger, &m->slot[i]);
        tok_strmap_free(m);
        *m = bigger;
    }
    uint32_t h = tok_hash(k, n), i = h & (m->cap - 1);
    for (tok_strslot *s; (s = &m->slot[i])->key; i = (i + 1) & (m->cap - 1)) {
        if (s->hash == h && s->len == n && !memcmp(s->key, k, n)) {
            s->val = v;
            return 0;
        }
    }
    tok_strslot e = {k, (uint32_t)n, h, v};
    strmap_insert(m, &e);
    return 0;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    uint32_t h = tok_hash(k, n), i = h & (m->cap - 1);
    for (const tok_strslot *s; (s = &m->slot[i])->key; i = (i + 1) & (m->cap - 1))
        if (s->hash == h && s->len == n && !memcmp(s->key, k, n)) return s->val;
    return -1;
}

/* ---------- pair map ---------- */
int tok_pairmap_init(tok_pairmap *m, uint32_t expected) {
    /* Load factor <= 3/4: Gemma's 580k merges fit 2^20 slots (16 MB) instead of 32 MB, which
     * matters because BPE is bound by the cache misses of these lookups. */
    m->n = 0;
    m->cap = pow2_at_least(expected + expected / 3 + 1);
    m->slot = malloc(m->cap * sizeof *m->slot);
    if (!m->slot) return -1;
    for (uint32_t i = 0; i < m->cap; i++) m->slot[i].key = UINT64_MAX;
    return 0;
}

void tok_pairmap_free(tok_pairmap *m) {
    free(m->slot);
    memset(m, 0, sizeof *m);
}

int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3) {
        tok_pairmap bigger;
        if (tok_pairmap_init(&bigger, m->cap)) return -1;
        for (uint32_t i = 0; i < m->cap; i++) {
            const tok_pairslot *s = &m->slot[i];
            if (s->key != UINT64_MAX)
                tok_pairmap_put(&bigger, (int32_t)(s->key >> 32), (int32_t)s->key, s->rank,
                                s->merged);
        }
        tok_pairmap_free(m);
        *m = bigger;
    }
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    uint32_t i = (uint32_t)(h >> 32) & (m->cap - 1);
    while (m->slot[i].key != UINT64_MAX && m->slot[i].key != k) i = (i + 1) & (m->cap - 1);
    if (m->slot[i].key == UINT64_MAX) m->n++;
    m->slot[i] = (tok_pairslot){k, rank, merged};
    return 0;
}

/* ---------- id buffer ---------- */
int tok_ids_push(tok_ids *b, int32_t id) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int32_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) return -1;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return 0;
}

/* ---------- UTF-8 ---------- */
int tok_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0; /* no overlongs */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else {
        *cp = TOK_INVALID_BASE + c;
        return 1;
    }
    if ((size_t)len > n) goto bad;
    for (int i = 1; i < len; i++) {
        unsigned d = s[i];
        if (i == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) goto bad;
        v = (v << 6) | (d & 0x3F);
    }
    *cp = v;
    return len;
bad:
    *cp = TOK_INVALID_BASE + c;
    return 1;
}

int tok_utf8_put(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---------- Unicode classes: binary search over the generated ranges ---------- */
static int in_ranges(const uint32_t (*r)[2], int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid - 1;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

#define NRANGES(a) ((int)(sizeof(a) / sizeof((a)[0])))

int tok_is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(tok_letter_ranges, NRANGES(tok_letter_ranges), cp);
}

int tok_is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(tok_number_ranges, NRANGES(tok_number_ranges), cp);
}

int tok_is_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return in_ranges(tok_space_ranges, NRANGES(tok_space_ranges), cp);
}
