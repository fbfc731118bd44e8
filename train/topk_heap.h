/* topk_heap.h — the bounded min-heap behind every top-k selection in train/: it keeps the k
 * strongest (value, index) entries, the root being the weakest kept one.  "Stronger" means a
 * larger value, or an equal value at a lower index, so selections do not depend on the order
 * blocks are scanned in as long as each row is scanned in increasing index order. */
#ifndef SAETOX_TOPK_HEAP_H
#define SAETOX_TOPK_HEAP_H

#include <string.h>

static inline int sx_heap_weaker(float va, int ia, float vb, int ib) {
    return va < vb || (va == vb && ia > ib);
}

static inline void sx_heap_sift_down(float *hv, int *hi, int k, int p) {
    for (;;) {
        int l = 2 * p + 1, r = l + 1, m = p;
        if (l < k && sx_heap_weaker(hv[l], hi[l], hv[m], hi[m])) m = l;
        if (r < k && sx_heap_weaker(hv[r], hi[r], hv[m], hi[m])) m = r;
        if (m == p) return;
        float tv = hv[p];
        int ti = hi[p];
        hv[p] = hv[m], hi[p] = hi[m];
        hv[m] = tv, hi[m] = ti;
        p = m;
    }
}

static inline void sx_heap_sift_up(float *hv, int *hi, int p) {
    while (p > 0) {
        int q = (p - 1) / 2;
        if (!sx_heap_weaker(hv[p], hi[p], hv[q], hi[q])) return;
        float tv = hv[p];
        int ti = hi[p];
        hv[p] = hv[q], hi[p] = hi[q];
        hv[q] = tv, hi[q] = ti;
        p = q;
    }
}

/* Offer (x, j), x > the current floor, to a heap of capacity k holding *cnt entries that
 * keeps only positive values; entries must arrive in increasing j.  Returns the new floor:
 * the value a later entry must exceed (0 until the heap is full). */
static inline float sx_heap_offer(float *hv, int *hi, int *cnt, int k, float x, int j) {
    if (*cnt < k) {
        hv[*cnt] = x, hi[*cnt] = j;
        sx_heap_sift_up(hv, hi, (*cnt)++);
        return *cnt < k ? 0.0f : hv[0];
    }
    hv[0] = x, hi[0] = j;
    sx_heap_sift_down(hv, hi, k, 0);
    return hv[0];
}

/* The same contract on a list kept sorted by strength (v descending, equal values in arrival
 * order): the position is one vectorisable count, the insertion one short move.  Cheaper than
 * the heap's unpredictable sift when entries arrive one at a time (the fused encoder: ~230
 * insertions per row at k 32, width 16384). */
static inline float sx_sorted_offer(float *v, int *ix, int *cnt, int k, float x, int j) {
    int n = *cnt, p = 0;
    for (int q = 0; q < n; q++) p += v[q] >= x; /* entries at least as strong stay ahead */
    int last = n < k ? n : k - 1;             /* a full list drops its weakest entry */
    memmove(v + p + 1, v + p, (size_t)(last - p) * sizeof *v);
    memmove(ix + p + 1, ix + p, (size_t)(last - p) * sizeof *ix);
    v[p] = x, ix[p] = j;
    if (n < k) *cnt = ++n;
    return n < k ? 0.0f : v[k - 1];
}

#endif
