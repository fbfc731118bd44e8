/* test_pin_metrics.c — the steering module's statistics against references written out here:
 * - sx_binary_eval at threshold 0.5 with scores exactly 0.5 (a score >= the threshold is
 *   positive): confusion counts, precision, recall, F1 and accuracy derived by hand;
 * - sx_auroc with ties = the pairwise definition P(T > C) + P(T = C)/2 (O(n^2) loop);
 * - sx_bootstrap_ratio on items with unequal denominators: the estimate is sum num / sum
 *   den, the CI the 2.5th / 97.5th percentiles (linear interpolation between order
 *   statistics, numpy's default) of reps resampled ratios, each resample n indices drawn
 *   with sx_rng_below from the seed (the documented stream), numerator and denominator
 *   taken from the same items. */
#include "analysis.h"
#include "steering.h"
#include "test.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int m, double pct) {
    double pos = pct / 100.0 * (m - 1);
    int i = (int)floor(pos);
    double f = pos - i;
    return i + 1 < m ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

static void check_binary(void) {
    /* score / label: (0.5,1) (0.2,0) (0.7,0) (0.9,1) (0.5,0) (0.1,1)
     * predicted positive (>= 0.5): rows 0,2,3,4 -> tp 2 (0,3), fp 2 (2,4), fn 1 (5), tn 1 (1) */
    const double s[] = {0.5, 0.2, 0.7, 0.9, 0.5, 0.1};
    const int y[] = {1, 0, 0, 1, 0, 1};
    sx_binary_metrics m;
    sx_binary_eval(s, y, 6, 0.5, &m);
    CHECK(m.tp == 2 && m.fp == 2 && m.fn == 1 && m.tn == 1 && m.n_pos == 3 && m.n == 6,
          "confusion tp %lld fp %lld fn %lld tn %lld", (long long)m.tp, (long long)m.fp, (long long)m.fn, (long long)m.tn);
    CHECK_NEAR(m.precision, 0.5, 1e-15, "precision 2/4");
    CHECK_NEAR(m.recall, 2.0 / 3, 1e-15, "recall 2/3");
    CHECK_NEAR(m.f1, 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3), 1e-15, "f1");
    CHECK_NEAR(m.accuracy, 0.5, 1e-15, "accuracy 3/6");
    /* AUROC: positives {0.5, 0.9, 0.1} vs negatives {0.2, 0.7, 0.5}:
     * 0.5: > 0.2, < 0.7, = 0.5 -> 1.5;  0.9: 3;  0.1: 0  -> 4.5 / 9 */
    CHECK_NEAR(m.auroc, 0.5, 1e-15, "auroc 4.5/9");
}

static void check_auroc_ties(void) {
    enum { N = 300 };
    double s[N];
    int y[N];
    sx_rng r;
    sx_rng_seed(&r, 8);
    for (int i = 0; i < N; i++) {
        y[i] = sx_rng_uniform(&r) < 0.4;
        s[i] = (double)(sx_rng_below(&r, 12) + 3 * y[i]) / 4; /* many ties, shifted positives */
    }
    double num = 0, np = 0, nn = 0;
    for (int i = 0; i < N; i++) np += y[i], nn += !y[i];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (y[i] && !y[j]) num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
    double want = num / (np * nn), got = sx_auroc(s, y, N);
    CHECK(fabs(got - want) < 1e-12, "auroc with ties %.12g vs pairwise %.12g", got, want);
    CHECK(want > 0.6 && want < 0.95, "fixture: auroc neither trivial nor perfect (%g)", want);
}

static void check_bootstrap(void) {
    enum { N = 7, REPS = 301 };
    const double num[N] = {3, 10, 1, 7, 20, 2, 9}, den[N] = {1, 5, 2, 3, 8, 1, 6};
    const uint64_t seed = 12345;
    double est, lo, hi;
    sx_bootstrap_ratio(num, den, N, REPS, seed, &est, &lo, &hi);
    double sn = 0, sd = 0;
    for (int i = 0; i < N; i++) sn += num[i], sd += den[i];
    CHECK_NEAR(est, sn / sd, 1e-15, "ratio estimate = sum num / sum den");
    double st[REPS], stm[REPS];
    sx_rng r;
    sx_rng_seed(&r, seed);
    for (int b = 0; b < REPS; b++) {
        double a = 0, c = 0, mm = 0;
        for (int i = 0; i < N; i++) {
            int k = (int)sx_rng_below(&r, N);
            a += num[k], c += den[k], mm += num[k];
        }
        st[b] = a / c, stm[b] = mm / N;
    }
    qsort(st, REPS, sizeof(double), cmp_d);
    CHECK_NEAR(lo, percentile(st, REPS, 2.5), 1e-12, "ratio CI low = 2.5th percentile");
    CHECK_NEAR(hi, percentile(st, REPS, 97.5), 1e-12, "ratio CI high = 97.5th percentile");
    CHECK(percentile(st, REPS, 97.5) - percentile(st, REPS, 95) > 1e-3, "fixture: 95th and 97.5th differ");
    /* den NULL: the mean, same stream */
    sx_bootstrap_ratio(num, NULL, N, REPS, seed, &est, &lo, &hi);
    qsort(stm, REPS, sizeof(double), cmp_d);
    CHECK_NEAR(est, sn / N, 1e-15, "mean estimate");
    CHECK_NEAR(lo, percentile(stm, REPS, 2.5), 1e-12, "mean CI low");
    CHECK_NEAR(hi, percentile(stm, REPS, 97.5), 1e-12, "mean CI high");
}

int main(void) {
    check_binary();
    check_auroc_ties();
    check_bootstrap();
    return TEST_DONE();
}
