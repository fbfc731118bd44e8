/* test_sample_ref.c — the sampler (generate.c, sx__sample) against a plain full sort: the
 * reference below sorts the whole vocabulary by decreasing probability (ties by lower index),
 * takes the shortest prefix whose fixed-point mass (floor(p * 2^63), summed exactly) reaches
 * ceil(top_p * total), and walks it for the draw — the semantics generate.c documents; the
 * sampler finds the same crossings by radix selection (or, with top-k, a sort of the top
 * candidates).  The same logits and random stream must give the same token, always.  Random
 * logits over a GPT-2-sized vocabulary: flat (the random model of bench_eval: a nucleus of
 * ~40k tokens), peaked, heavy ties (a grid of 0.5), -inf entries (a logits_fn mask); top_p
 * near 0 and 1, top_k 0 / 1 / 40 / 5000, temperatures 0.7 and 1.3; plus a tiny vocabulary
 * of equal logits (ties only).  Without truncation (top_p 1, no top_k) both walk the whole
 * distribution in index order, as before. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "test.h"

typedef unsigned __int128 u128;

static int cmp_desc(const void *a, const void *b, void *ctx) {
    const float *p = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    float pi = p[i] > 0 ? p[i] : 0, pj = p[j] > 0 ? p[j] : 0;
    if (pi != pj) return pi > pj ? -1 : 1;
    return (i > j) - (i < j);
}

static uint64_t q63(float p) { /* floor(p * 2^63), p in [0, 1] */
    if (!(p > 0)) return 0;
    if (p >= 1) return (uint64_t)1 << 63;
    return (uint64_t)ldexp((double)p, 63);
}

static int ref_sample(const float *logits, int V, float temp, float top_p, int top_k, sx_rng *rng, int *idx, float *p) {
    float mx = logits[0];
    for (int j = 1; j < V; j++)
        if (logits[j] > mx) mx = logits[j];
    double sum = sx__sum_exp(logits, V, mx, 1.0f / temp, p);
    if (!(top_k > 0 && top_k < V) && !(top_p > 0 && top_p < 1)) {
        /* no truncation: the whole distribution, walked in index order (unchanged) */
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
    for (int j = 0; j < V; j++) idx[j] = j;
    qsort_r(idx, (size_t)V, sizeof *idx, cmp_desc, p);
    int n = top_k > 0 && top_k < V ? top_k : V;
    u128 tot = 0, qn = 0;
    for (int i = 0; i < n; i++) tot += q63(p[idx[i]]);
    if (top_p > 0 && top_p < 1) {
        u128 T = (u128)ceil((double)top_p * (double)tot);
        if (T < 1) T = 1;
        int k = 0;
        while (k < n && qn < T) qn += q63(p[idx[k++]]);
        n = k;
    } else {
        qn = tot;
    }
    u128 U = (u128)(sx_rng_uniform(rng) * (double)qn), cum = 0;
    if (U >= qn) U = qn - 1;
    for (int i = 0; i < n; i++) {
        cum += q63(p[idx[i]]);
        if (cum > U) return idx[i];
    }
    return idx[n - 1];
}

static void fill(float *l, int V, int kind, sx_rng *r) {
    for (int j = 0; j < V; j++) {
        double z = sx_rng_normal(r);
        switch (kind) {
        case 0: l[j] = (float)(0.55 * z); break;             /* flat: random GPT-2 */
        case 1: l[j] = (float)(3.0 * z); break;              /* peaked */
        case 2: l[j] = (float)(floor(2.0 * z) / 2.0); break; /* ties on a 0.5 grid */
        default: l[j] = sx_rng_uniform(r) < 0.3 ? -INFINITY : (float)(1.5 * z); break; /* masked */
        }
    }
}

int main(void) {
    const int V = 50257;
    int *idx = malloc(V * sizeof *idx), *idx2 = malloc(V * sizeof *idx);
    float *p = malloc(V * sizeof *p), *p2 = malloc(V * sizeof *p), *l = malloc(V * sizeof *l), *l2 = malloc(V * sizeof *l);
    if (!idx || !idx2 || !p || !p2 || !l || !l2) return 1;
    const float tps[] = {1e-7f, 0.01f, 0.5f, 0.9f, 0.999f, 0.9999999f, 1.0f};
    const int tks[] = {0, 1, 40, 5000};
    const float temps[] = {0.7f, 1.3f};
    int cases = 0, draws = 0, bad = 0;
    for (int kind = 0; kind < 4; kind++)
        for (int a = 0; a < 7; a++)
            for (int k = 0; k < 4; k++)
                for (int t = 0; t < 2; t++, cases++) {
                    sx_rng r, ra, rb;
                    sx_rng_seed(&r, 1000u + (uint64_t)cases);
                    fill(l, V, kind, &r);
                    sx_rng_seed(&ra, 7u + (uint64_t)cases), sx_rng_seed(&rb, 7u + (uint64_t)cases);
                    for (int d = 0; d < 3; d++, draws++) {
                        int t1 = ref_sample(l, V, temps[t], tps[a], tks[k], &ra, idx, p);
                        memcpy(l2, l, (size_t)V * sizeof *l);
                        int t2 = sx__sample(l2, V, temps[t], tps[a], tks[k], &rb, idx2, p2);
                        if (t1 != t2 && bad++ < 5)
                            CHECK(0, "kind %d T %g top_p %g top_k %d draw %d: full sort gives token %d, sx__sample %d", kind,
                                  temps[t], tps[a], tks[k], d, t1, t2);
                    }
                }
    for (int a = 0; a < 7; a++, cases++) { /* ties only */
        sx_rng ra, rb;
        sx_rng_seed(&ra, 5), sx_rng_seed(&rb, 5);
        for (int d = 0; d < 300; d++, draws++) {
            float e1[7] = {0}, e2[7] = {0};
            int t1 = ref_sample(e1, 7, 1.0f, tps[a], 0, &ra, idx, p), t2 = sx__sample(e2, 7, 1.0f, tps[a], 0, &rb, idx2, p2);
            if (t1 != t2 && bad++ < 5) CHECK(0, "7 equal logits, top_p %g, draw %d: full sort %d, sx__sample %d", tps[a], d, t1, t2);
        }
    }
    printf("%d cases, %d draws, %d differing from the full sort\n", cases, draws, bad);
    CHECK(bad == 0, "%d draws differ from the full-sort reference", bad);
    free(idx), free(idx2), free(p), free(p2), free(l), free(l2);
    return TEST_DONE();
}
