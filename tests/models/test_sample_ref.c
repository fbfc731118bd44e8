/* test_sample_ref.c — the sampler's nucleus / top-k selection (generate.c, sx__sample)
 * against a verbatim copy of the branchy version it replaced (the reference below, the code
 * of commit 1d075f0): the new one must return the same token for the same logits and random
 * stream, always — the same set, the same walking order, the same masses.  Random logits over
 * a GPT-2-sized vocabulary: flat (the random model of bench_eval, nucleus of ~40k tokens),
 * peaked, heavy ties (logits on a grid of 0.5), -inf entries (a logits_fn mask), and the
 * sampling settings top_p near 0 and 1, top_k 0 / 1 / 40 / 5000, temperatures 0.7 and 1.3.
 * Also a tiny vocabulary of equal logits (ties only). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "test.h"

/* ---------- reference: the sampler as of 1d075f0 ---------- */
static int ref_argmax_first(const float *l, int V) {
    int best = 0;
    for (int j = 1; j < V; j++)
        if (l[j] > l[best]) best = j;
    return best;
}

static int ref_cmp_desc(const void *a, const void *b, void *ctx) {
    const float *p = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    float pi = p[i], pj = p[j];
    if (pi != pj) return pi > pj ? -1 : 1;
    return (i > j) - (i < j);
}

static int ref_cmp_index(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    return (i > j) - (i < j);
}

/* The nucleus without sorting the vocabulary: move to the front of idx[0..n) the smallest set
 * of most likely tokens (ties broken by lower index, as a stable descending sort would) whose
 * mass reaches target, by quickselect on probability: O(n) expected instead of O(n log n) —
 * the sort dominated sampling for flat distributions, where the nucleus holds thousands of
 * tokens.  Returns the set's size; *mass gets its mass.  Order inside the set is arbitrary
 * but deterministic. */
static int ref_nucleus_select(int *idx, int n, const float *p, double target, double *mass) {
    int lo = 0, hi = n; /* idx[0..lo) is taken; the answer's rest lies in idx[lo..hi) */
    double taken = 0;
    while (hi > lo) {
        float a = p[idx[lo]], b = p[idx[lo + (hi - lo) / 2]], c = p[idx[hi - 1]];
        float v = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* three-way partition of idx[lo..hi): > v | == v | < v */
        int gt = lo, i = lo, lt = hi;
        double m_gt = 0, m_eq = 0;
        while (i < lt) {
            int t = idx[i];
            if (p[t] > v) {
                idx[i] = idx[gt], idx[gt] = t;
                m_gt += p[t];
                gt++, i++;
            } else if (p[t] < v) {
                lt--;
                idx[i] = idx[lt], idx[lt] = t;
            } else {
                m_eq += p[t];
                i++;
            }
        }
        if (taken + m_gt >= target && gt > lo) {
            hi = gt; /* the answer lies inside the larger part */
            continue;
        }
        taken += m_gt;
        if (taken + m_eq >= target) { /* ties at v: lowest indices first */
            qsort(idx + gt, (size_t)(lt - gt), sizeof *idx, ref_cmp_index);
            int j = gt;
            while (j < lt && taken < target) taken += p[idx[j++]];
            *mass = taken;
            return j;
        }
        taken += m_eq;
        lo = lt; /* everything >= v is taken; continue below */
    }
    *mass = taken;
    return lo > 0 ? lo : 1;
}

/* Softmax(logits / T), then keep the top_k most likely (0 = all), then the smallest prefix of
 * those, by decreasing probability, holding top_p of their mass; sample from what is left.
 * Only tokens above a falling threshold are sorted (usually a few hundred, not the vocab). */
static int ref_sample(float *logits, int V, float temperature, float top_p, int top_k, sx_rng *rng,
               int *idx, float *p) {
    if (temperature <= 0) return ref_argmax_first(logits, V);
    float mx = logits[ref_argmax_first(logits, V)];
    double sum = sx__sum_exp(logits, V, mx, 1.0f / temperature, p); /* vectorised exp (~1-2 ulp) */
    int use_k = top_k > 0 && top_k < V, use_p = top_p > 0 && top_p < 1;
    if (!use_k && !use_p) {
        double u = sx_rng_uniform(rng) * sum, cum = 0;
        int last = 0;
        for (int j = 0; j < V; j++) {
            if (p[j] <= 0) continue;
            cum += p[j];
            last = j;
            if (cum > u) return j;
        }
        return last;
    }
    int cnt = 0;
    for (double t = 1.0 / 64;; t /= 16) {
        if (t < 1e-37) t = 0;
        cnt = 0;
        double mass = 0;
        for (int j = 0; j < V; j++)
            if (p[j] >= t) {
                idx[cnt++] = j;
                mass += p[j];
            }
        if (t == 0 || (use_k && cnt >= top_k) || (!use_k && mass >= top_p * sum) ||
            (use_k && use_p && mass >= top_p * sum))
            break;
    }
    if (use_k && top_k < cnt) {
        /* top-k: the k largest (ties by index) */
        qsort_r(idx, (size_t)cnt, sizeof *idx, ref_cmp_desc, p); /* GNU qsort_r: (a, b, ctx) */
        cnt = top_k;
    }
    /* nucleus over the top-k set, or over the whole distribution without top-k */
    double mk = 0;
    for (int i = 0; i < cnt; i++) mk += p[idx[i]];
    if (use_p) cnt = ref_nucleus_select(idx, cnt, p, top_p * (use_k ? mk : sum), &mk);
    double u = sx_rng_uniform(rng) * mk, cum = 0;
    for (int i = 0; i < cnt; i++) {
        cum += p[idx[i]];
        if (cum > u) return idx[i];
    }
    return idx[cnt - 1];
}


/* ---------- the comparison ---------- */
static void fill(float *l, int V, int kind, sx_rng *r) {
    for (int j = 0; j < V; j++) {
        double z = sx_rng_normal(r);
        switch (kind) {
        case 0: l[j] = (float)(0.55 * z); break;                    /* flat: random GPT-2 */
        case 1: l[j] = (float)(3.0 * z); break;                     /* peaked */
        case 2: l[j] = (float)(floor(2.0 * z) / 2.0); break;        /* ties on a 0.5 grid */
        default: l[j] = sx_rng_uniform(r) < 0.3 ? -INFINITY : (float)(1.5 * z); break; /* masked */
        }
    }
}

static int compare(int V, int kind, float temp, float top_p, int top_k, int draws, uint64_t seed, int *idx,
                   float *p, float *l, float *l1, float *l2) {
    sx_rng r, a, b;
    sx_rng_seed(&r, seed);
    fill(l, V, kind, &r);
    sx_rng_seed(&a, seed + 1);
    sx_rng_seed(&b, seed + 1);
    int bad = 0;
    for (int d = 0; d < draws; d++) {
        memcpy(l1, l, (size_t)V * sizeof *l);
        memcpy(l2, l, (size_t)V * sizeof *l);
        int t1 = ref_sample(l1, V, temp, top_p, top_k, &a, idx, p);
        int t2 = sx__sample(l2, V, temp, top_p, top_k, &b, idx, p);
        if (t1 != t2) {
            if (!bad)
                CHECK(0, "V %d kind %d T %g top_p %g top_k %d draw %d: reference token %d, new %d", V, kind, temp, top_p,
                      top_k, d, t1, t2);
            bad++;
        }
    }
    return bad;
}

int main(void) {
    const int V = 50257;
    int *idx = malloc(V * sizeof *idx);
    float *p = malloc(V * sizeof *p), *l = malloc(V * sizeof *l), *l1 = malloc(V * sizeof *l), *l2 = malloc(V * sizeof *l);
    if (!idx || !p || !l || !l1 || !l2) return 1;
    const float tps[] = {1e-7f, 0.01f, 0.5f, 0.9f, 0.999f, 0.9999999f, 1.0f};
    const int tks[] = {0, 1, 40, 5000};
    const float temps[] = {0.7f, 1.3f};
    int cases = 0, bad = 0;
    for (int kind = 0; kind < 4; kind++)
        for (int a = 0; a < 7; a++)
            for (int k = 0; k < 4; k++)
                for (int t = 0; t < 2; t++, cases++)
                    bad += compare(V, kind, temps[t], tps[a], tks[k], 2, 1000u + (uint64_t)cases, idx, p, l, l1, l2);
    /* ties only: 7 equal logits, every top_p */
    for (int a = 0; a < 7; a++, cases++) {
        sx_rng ra, rb;
        sx_rng_seed(&ra, 5), sx_rng_seed(&rb, 5);
        for (int d = 0; d < 200; d++) {
            float e1[7] = {0}, e2[7] = {0};
            int t1 = ref_sample(e1, 7, 1.0f, tps[a], 0, &ra, idx, p), t2 = sx__sample(e2, 7, 1.0f, tps[a], 0, &rb, idx, p);
            if (t1 != t2) bad++;
        }
    }
    printf("%d cases, %d draws differing from the reference\n", cases, bad);
    CHECK(bad == 0, "%d draws differ from the reference sampler", bad);
    free(idx), free(p), free(l), free(l1), free(l2);
    return TEST_DONE();
}
