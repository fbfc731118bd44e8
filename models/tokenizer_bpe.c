/* tokenizer_bpe.c — the two BPE merge loops (see tokenizer_internal.h for their semantics). */
#include <stdlib.h>

#include "tokenizer_internal.h"

int tok_bpe_greedy(const tok_pairmap *m, int32_t *sym, int n) {
    /* Cost: O(n) pair lookups per applied merge; words are short and cached by the caller. */
    while (n > 1) {
        int32_t best = INT32_MAX, ba = -1, bb = -1, bm = -1, mg;
        for (int i = 0; i + 1 < n; i++) {
            int32_t r = tok_pairmap_get(m, sym[i], sym[i + 1], &mg);
            /* "<=": on equal ranks Encoder.js keeps the last (rightmost) pair it saw. */
            if (r >= 0 && r <= best) {
                best = r;
                ba = sym[i];
                bb = sym[i + 1];
                bm = mg;
            }
        }
        if (ba < 0) break;
        int j = 0;
        for (int i = 0; i < n;) {
            if (i + 1 < n && sym[i] == ba && sym[i + 1] == bb) {
                sym[j++] = bm;
                i += 2;
            } else {
                sym[j++] = sym[i++];
            }
        }
        n = j;
    }
    return n;
}

/* Heap entry: the pair starting at symbol position pos, valid while the symbols there are
 * still left and right (symbols only grow, so an id match proves nothing changed). */
typedef struct {
    int32_t rank, pos, left, right;
} bpe_ent;

static int ent_less(const bpe_ent *a, const bpe_ent *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(bpe_ent *h, int *n, bpe_ent e) {
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!ent_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static bpe_ent heap_pop(bpe_ent *h, int *n) {
    bpe_ent top = h[0], last = h[--(*n)];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && ent_less(&h[c + 1], &h[c])) c++;
        if (!ent_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static void try_push(const tok_pairmap *m, bpe_ent *h, int *nh, const int32_t *sym, int pos,
                     int right_pos) {
    int32_t mg, r = tok_pairmap_get(m, sym[pos], sym[right_pos], &mg);
    if (r >= 0) heap_push(h, nh, (bpe_ent){r, pos, sym[pos], sym[right_pos]});
}

int tok_bpe_heap(const tok_pairmap *m, int32_t *sym, int n) {
    /* Cost: O(n log n): each merge pops one entry and pushes at most two; memory 60 bytes
     * per symbol (heap of <= 3n 16-byte entries + links). */
    if (n < 2) return n;
    int32_t *prev = malloc((size_t)n * sizeof *prev), *next = malloc((size_t)n * sizeof *next);
    bpe_ent *h = malloc((size_t)3 * (size_t)n * sizeof *h);
    if (!prev || !next || !h) {
        free(prev);
        free(next);
        free(h);
        return tok_bpe_greedy(m, sym, n); /* out of memory: slower path, same result */
    }
    int nh = 0;
    for (int i = 0; i < n; i++) {
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }
    for (int i = 0; i + 1 < n; i++) try_push(m, h, &nh, sym, i, i + 1);
    while (nh > 0) {
        bpe_ent e = heap_pop(h, &nh);
        int p = e.pos, q = next[p];
        if (sym[p] != e.left || q < 0 || sym[q] != e.right) continue; /* stale */
        int32_t mg = -1;
        tok_pairmap_get(m, sym[p], sym[q], &mg);
        sym[p] = mg;
        sym[q] = -2; /* dead */
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        if (prev[p] >= 0) try_push(m, h, &nh, sym, prev[p], p);
        if (next[p] >= 0) try_push(m, h, &nh, sym, p, next[p]);
    }
    int j = 0;
    for (int i = 0; i >= 0; i = next[i]) sym[j++] = sym[i];
    free(prev);
    free(next);
    free(h);
    return j;
}
