/* bootstrap.c — percentile bootstrap over items (prompts) for ratio statistics. */
#include "steering.h"

#include <math.h>
#include <stdlib.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* stat = sum num / sum den over a resample (den NULL: the mean of num).  CI: the 2.5% and
 * 97.5% percentiles of reps resamples (linear interpolation); O(reps * n). */
void sx_bootstrap_ratio(const double *num, const double *den, int64_t n, int reps,
                        uint64_t seed, double *est, double *lo, double *hi) {
    double sn = 0, sd = 0;
    for (int64_t i = 0; i < n; i++) sn += num[i], sd += den ? den[i] : 1.0;
    *est = sd > 0 ? sn / sd : NAN;
    *lo = *hi = *est;
    if (n < 2 || reps < 2) return;
    double *st = malloc(sizeof(double) * (size_t)reps);
    if (!st) return;
    sx_rng r;
    sx_rng_seed(&r, seed);
    int m = 0;
    for (int b = 0; b < reps; b++) {
        double a = 0, c = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t k = (int64_t)sx_rng_below(&r, (uint64_t)n);
            a += num[k];
            c += den ? den[k] : 1.0;
        }
        if (c > 0) st[m++] = a / c;
    }
    qsort(st, (size_t)m, sizeof(double), cmp_d);
    if (m > 0) {
        double pl = 0.025 * (m - 1), ph = 0.975 * (m - 1);
        int il = (int)pl, ih = (int)ph;
        *lo = st[il] + (il + 1 < m ? (pl - il) * (st[il + 1] - st[il]) : 0);
        *hi = st[ih] + (ih + 1 < m ? (ph - ih) * (st[ih + 1] - st[ih]) : 0);
    }
    free(st);
}
