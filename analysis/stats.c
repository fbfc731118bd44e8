/* stats.c — per-latent statistics streamed over any number of rows in bounded memory:
 * firing count, sum and max of positive activations, a log-binned histogram for quantiles,
 * and a top-N min-heap of (activation, global row) for contexts.
 *
 * Memory: d_sae x (2 KB histogram + 12 N bytes heap + 32 bytes) — 65536 latents, N=10:
 * ~140 MB.  Cost: one pass over n x d_sae floats per batch (memory bound) plus O(log N) per
 * activation that enters a heap. */
#include "analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Histogram bins: 16 per octave for exponents [-16, 16): bin = (e + 16) * 16 + top 4
 * mantissa bits. */
#define HIST_EMIN (-16)
#define HIST_SUB 16

int sx_hist_bin(float v) {
    if (!(v > 0)) return 0;
    union { float f; uint32_t u; } x = {v};
    int e = (int)((x.u >> 23) & 0xff) - 127;
    int sub = (int)((x.u >> 19) & 0xf);
    int b = (e - HIST_EMIN) * HIST_SUB + sub;
    if (b < 0) return 0;
    if (b >= SX_HIST_BINS) return SX_HIST_BINS - 1;
    return b;
}

double sx_hist_bin_mid(int bin) {
    int e = bin / HIST_SUB + HIST_EMIN, sub = bin % HIST_SUB;
    double lo = ldexp(1.0 + sub / 16.0, e), hi = ldexp(1.0 + (sub + 1) / 16.0, e);
    return 0.5 * (lo + hi);
}

typedef struct lat_stat {
    int64_t n_fire;
    double sum;
    float max, min_pos;
} lat_stat;

struct sx_stats_acc {
    int d_sae, top_n;
    int64_t rows;
    lat_stat *l;
    uint32_t *hist;   /* [d_sae][SX_HIST_BINS] */
    float *heap_v;    /* [d_sae][top_n] min-heaps */
    int64_t *heap_r;
    int32_t *heap_n;
};

sx_stats_acc *sx_stats_new(int d_sae, int top_n) {
    if (d_sae <= 0 || top_n < 0) return NULL;
    sx_stats_acc *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->d_sae = d_sae, s->top_n = top_n;
    s->l = calloc((size_t)d_sae, sizeof *s->l);
    s->hist = calloc((size_t)d_sae * SX_HIST_BINS, sizeof *s->hist);
    size_t hn = (size_t)d_sae * (top_n ? top_n : 1);
    s->heap_v = malloc(hn * sizeof *s->heap_v);
    s->heap_r = malloc(hn * sizeof *s->heap_r);
    s->heap_n = calloc((size_t)d_sae, sizeof *s->heap_n);
    if (!s->l || !s->hist || !s->heap_v || !s->heap_r || !s->heap_n) {
        sx_stats_free(s);
        return NULL;
    }
    for (int j = 0; j < d_sae; j++) s->l[j].max = 0, s->l[j].min_pos = INFINITY;
    return s;
}

void sx_stats_free(sx_stats_acc *s) {
    if (!s) return;
    free(s->l), free(s->hist), free(s->heap_v), free(s->heap_r), free(s->heap_n);
    free(s);
}

int64_t sx_stats_rows(const sx_stats_acc *s) { return s->rows; }

/* min-heap on (value, then later row = smaller) so that among equal activations the
 * earliest rows are kept: deterministic. */
static int heap_less(float va, int64_t ra, float vb, int64_t rb) {
    return va < vb || (va == vb && ra > rb);
}

static void heap_push(float *hv, int64_t *hr, int32_t *hn, int cap, float v, int64_t r) {
    int n = *hn;
    if (n == cap) {
        if (!heap_less(hv[0], hr[0], v, r)) return;
        /* replace the root and sift down */
        int i = 0;
        for (;;) {
            int c = 2 * i + 1;
            if (c >= n) break;
            if (c + 1 < n && heap_less(hv[c + 1], hr[c + 1], hv[c], hr[c])) c++;
            if (!heap_less(hv[c], hr[c], v, r)) break;
            hv[i] = hv[c], hr[i] = hr[c];
            i = c;
        }
        hv[i] = v, hr[i] = r;
        return;
    }
    int i = n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!heap_less(v, r, hv[p], hr[p])) break;
        hv[i] = hv[p], hr[i] = hr[p];
        i = p;
    }
    hv[i] = v, hr[i] = r;
    *hn = n;
}

int sx_stats_add(sx_stats_acc *s, const float *acts, int64_t n, int64_t row0, sx_err *err) {
    const int d = s->d_sae, N = s->top_n;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int j0 = 0; j0 < d; j0 += 256) {
        int j1 = j0 + 256 < d ? j0 + 256 : d;
        for (int64_t r = 0; r < n; r++) {
            const float *row = acts + (size_t)r * d;
            for (int j = j0; j < j1; j++) {
                float v = row[j];
                if (!(v > 0)) {
                    if (v != v) bad = 1;
                    continue;
                }
                if (v == INFINITY) { bad = 1; continue; }
                lat_stat *L = &s->l[j];
                L->n_fire++;
                L->sum += v;
                if (v > L->max) L->max = v;
                if (v < L->min_pos) L->min_pos = v;
                s->hist[(size_t)j * SX_HIST_BINS + sx_hist_bin(v)]++;
                if (N)
                    heap_push(s->heap_v + (size_t)j * N, s->heap_r + (size_t)j * N,
                              &s->heap_n[j], N, v, row0 + r);
            }
        }
    }
    if (bad) return sx_failc(err, SX_ENUMERIC, "stats: non-finite SAE activation");
    s->rows += n;
    return 0;
}

double sx_stats_quantile(const sx_stats_acc *s, int j, double q) {
    const lat_stat *L = &s->l[j];
    if (L->n_fire == 0) return 0;
    const uint32_t *h = s->hist + (size_t)j * SX_HIST_BINS;
    /* the smallest bin whose cumulative count reaches ceil(q * n) (at least 1) */
    double target = ceil(q * (double)L->n_fire);
    if (target < 1) target = 1;
    double cum = 0;
    int b = 0;
    for (; b < SX_HIST_BINS; b++) {
        cum += h[b];
        if (cum >= target) break;
    }
    if (b == SX_HIST_BINS) b = SX_HIST_BINS - 1;
    double v = sx_hist_bin_mid(b);
    if (v < L->min_pos) v = L->min_pos;
    if (v > L->max) v = L->max;
    return v;
}

void sx_stats_get(const sx_stats_acc *s, int j, sx_latent_stat *o) {
    const lat_stat *L = &s->l[j];
    o->n_fire = L->n_fire;
    o->fire_freq = s->rows ? (double)L->n_fire / (double)s->rows : 0;
    o->mean_act = L->n_fire ? L->sum / (double)L->n_fire : 0;
    o->max_act = L->max;
    o->q50 = sx_stats_quantile(s, j, 0.5);
    o->q90 = sx_stats_quantile(s, j, 0.9);
    o->q99 = sx_stats_quantile(s, j, 0.99);
}

int sx_stats_top(const sx_stats_acc *s, int j, float *acts, int64_t *rows) {
    int n = s->heap_n[j], N = s->top_n;
    const float *hv = s->heap_v + (size_t)j * N;
    const int64_t *hr = s->heap_r + (size_t)j * N;
    for (int i = 0; i < n; i++) acts[i] = hv[i], rows[i] = hr[i];
    /* insertion sort, descending value then ascending row (n is small) */
    for (int i = 1; i < n; i++) {
        float v = acts[i];
        int64_t r = rows[i];
        int k = i - 1;
        while (k >= 0 && heap_less(acts[k], rows[k], v, r)) {
            acts[k + 1] = acts[k], rows[k + 1] = rows[k];
            k--;
        }
        acts[k + 1] = v, rows[k + 1] = r;
    }
    return n;
}
