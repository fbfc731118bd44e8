/* test_stats.c — streamed latent statistics: exact counts, means and maxima, histogram
 * quantiles within the documented ~3% relative error, top-N = the exact N largest. */
#include "analysis.h"
#include "test.h"

enum { N = 4000, DS = 5, TOPN = 7 };

static int cmpf(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

int main(void) {
    sx_err err;
    float *X = calloc((size_t)N * DS, sizeof(float));
    sx_rng r;
    sx_rng_seed(&r, 99);
    const double scale[DS] = {1.0, 0.01, 50.0, 1.0, 1e-6};
    for (int i = 0; i < N; i++)
        for (int j = 0; j < DS; j++) {
            if (j == 3) continue; /* latent 3 never fires */
            if (sx_rng_uniform(&r) < 0.3) X[i * DS + j] = (float)(-log(1 - sx_rng_uniform(&r)) * scale[j]);
        }
    sx_stats_acc *s = sx_stats_new(DS, TOPN);
    for (int b = 0; b < N; b += 333) {
        int n = N - b < 333 ? N - b : 333;
        CHECK(sx_stats_add(s, X + (size_t)b * DS, n, b, &err) == 0, "%s", err.msg);
    }
    CHECK(sx_stats_rows(s) == N, "rows");
    for (int j = 0; j < DS; j++) {
        float v[N];
        int m = 0;
        double sum = 0;
        for (int i = 0; i < N; i++)
            if (X[i * DS + j] > 0) v[m++] = X[i * DS + j], sum += X[i * DS + j];
        qsort(v, (size_t)m, sizeof *v, cmpf);
        sx_latent_stat st;
        sx_stats_get(s, j, &st);
        CHECK(st.n_fire == m, "n_fire %d", j);
        CHECK_NEAR(st.fire_freq, (double)m / N, 1e-12, "fire freq");
        if (!m) {
            CHECK(st.mean_act == 0 && st.max_act == 0 && st.q99 == 0, "never-firing latent zeros");
            continue;
        }
        CHECK_NEAR(st.mean_act, sum / m, 1e-6 * sum / m, "mean of positives");
        CHECK(st.max_act == v[m - 1], "max exact");
        double qs[3] = {0.5, 0.9, 0.99}, got[3] = {st.q50, st.q90, st.q99};
        for (int k = 0; k < 3; k++) {
            double want = v[(int)ceil(qs[k] * m) - 1];
            double tol = j == 4 ? 1.0 : 1.0 / 32; /* latent 4 lies below the histogram range */
            CHECK(fabs(got[k] - want) <= tol * want || (j == 4 && got[k] >= v[0] && got[k] <= v[m - 1]),
                  "latent %d q%g: %g vs exact %g", j, qs[k], got[k], want);
        }
        float ta[TOPN];
        int64_t tr[TOPN];
        int nt = sx_stats_top(s, j, ta, tr);
        CHECK(nt == TOPN, "top-N count");
        for (int k = 0; k < nt; k++) {
            CHECK(ta[k] == v[m - 1 - k], "top %d of latent %d: %g vs %g", k, j, ta[k], v[m - 1 - k]);
            CHECK(X[tr[k] * DS + j] == ta[k], "top row points at the value");
        }
    }
    /* histogram bins: monotone, midpoints within 1/32 of members */
    for (float v = 1e-4f; v < 1e4f; v *= 1.01f) {
        double mid = sx_hist_bin_mid(sx_hist_bin(v));
        CHECK(fabs(mid - v) <= v / 31.0, "bin mid %g for %g", mid, (double)v);
    }
    float bad[DS] = {0, INFINITY, 0, 0, 0};
    CHECK(sx_stats_add(s, bad, 1, N, &err) == -1 && strstr(err.msg, "non-finite"), "inf: %s", err.msg);
    sx_stats_free(s);
    free(X);
    return TEST_DONE();
}
