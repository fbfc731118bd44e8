/* test_pin_sampling.c — sx__sample (the token sampler behind generate / evaluate) on
 * hand-made logits whose sampling distributions are known in closed form:
 * - temperature 0.5 on logits {0, ln 3, 0, 0}: weights exp(logit / T) = {1, 9, 1, 1}, so
 *   P(token 1) = 9/12 (and temperature 2: {1, sqrt 3, 1, 1}, P = sqrt3 / (3 + sqrt3));
 * - top-p 0.7 on probabilities {0.5, 0.3, 0.1, 0.1}: the nucleus is {0, 1} (mass 0.8), so
 *   P(0) = 0.625 and tokens 2, 3 never come; top-k 1 is greedy; temperature 0 the first
 *   index of the maximum.
 * 40000 draws from a fixed seed: deterministic, and the tolerance is 5 standard errors. */
#include "model_internal.h"
#include "test.h"

enum { V = 4, N = 40000 };

static void freq(const float *logits, float temp, float top_p, int top_k, double *f) {
    sx_rng r;
    sx_rng_seed(&r, 2024);
    int idx[V];
    float l[V], p[V];
    int cnt[V] = {0};
    for (int i = 0; i < N; i++) {
        memcpy(l, logits, sizeof l);
        int t = sx__sample(l, V, temp, top_p, top_k, &r, idx, p);
        if (t >= 0 && t < V) cnt[t]++;
    }
    for (int v = 0; v < V; v++) f[v] = (double)cnt[v] / N;
}

static void near_p(double got, double want, const char *what) {
    double tol = 5 * sqrt(want * (1 - want) / N) + 1e-9;
    CHECK(fabs(got - want) <= tol, "%s: frequency %.5f, probability %.5f (tol %.4f)", what, got, want, tol);
}

int main(void) {
    double f[V];
    const float a[V] = {0, logf(3), 0, 0};
    freq(a, 0.5f, 1, 0, f);
    near_p(f[1], 9.0 / 12, "T=0.5");
    freq(a, 2.0f, 1, 0, f);
    near_p(f[1], sqrt(3) / (3 + sqrt(3)), "T=2");
    const float b[V] = {logf(5), logf(3), 0, 0};
    freq(b, 1, 0.7f, 0, f);
    near_p(f[0], 0.625, "top-p 0.7: token 0");
    CHECK(f[2] == 0 && f[3] == 0, "top-p 0.7: tokens outside the nucleus drawn (%g, %g)", f[2], f[3]);
    freq(b, 1, 1, 0, f);
    near_p(f[0], 0.5, "no truncation: token 0");
    near_p(f[2], 0.1, "no truncation: token 2");
    freq(b, 1, 1, 1, f);
    CHECK(f[0] == 1, "top-k 1 is greedy (%g)", f[0]);
    const float c[V] = {1, 3, 3, 2};
    freq(c, 0, 1, 0, f);
    CHECK(f[1] == 1, "temperature 0: first index of the maximum (%g)", f[1]);
    return TEST_DONE();
}
