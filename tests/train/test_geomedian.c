/* test_geomedian.c — sx_geometric_median (b_dec init "median") against what a geometric
 * median is, not against a second Weiszfeld loop:
 * 1. collinear points (odd count) in d_in 5: the median is the middle point of the line;
 * 2. the corners of a square plus its centre: the centre; the corners alone: the centre;
 * 3. random rows with 10% outliers at distance 1000: the optimality condition holds
 *    (|sum of unit vectors to the rows| <= 1e-3 B: the subgradient of sum ||x_r - y|| at y),
 *    the sum of distances is below the mean's and below that at 100 random nearby points,
 *    and the median stays near the inliers' centre while the mean does not;
 * 4. one row: that row; identical rows: that row. */
#include <math.h>
#include <stdlib.h>

#include "core.h"
#include "test.h"
#include "train_internal.h"

static double sum_dist(const float *x, int B, int d, const double *y) {
    double s = 0;
    for (int r = 0; r < B; r++) {
        double q = 0;
        for (int i = 0; i < d; i++) q += (x[r * d + i] - y[i]) * (x[r * d + i] - y[i]);
        s += sqrt(q);
    }
    return s;
}

int main(void) {
    enum { D = 5 };
    float out[64];
    { /* 1: t * u + c for t in {-3, -1, 0, 2, 7}: the middle one is t = 0 */
        const double t[5] = {7, -1, 2, -3, 0}, u[D] = {1, 2, -1, 0.5, 3}, c[D] = {0.5, -2, 4, 1, 0};
        float x[5 * D];
        for (int r = 0; r < 5; r++)
            for (int i = 0; i < D; i++) x[r * D + i] = (float)(t[r] * u[i] + c[i]);
        sx_geometric_median(x, 5, D, out);
        double e = 0;
        for (int i = 0; i < D; i++) e = fmax(e, fabs(out[i] - c[i]));
        CHECK(e <= 1e-4, "collinear points: median off the middle point by %g", e);
    }
    { /* 2: square corners (+ centre) in the first two dimensions */
        float x[5 * 2] = {1, 1, -1, 1, -1, -1, 1, -1, 0, 0};
        for (int n = 4; n <= 5; n++) {
            sx_geometric_median(x, n, 2, out);
            CHECK(fabs(out[0]) <= 1e-5 && fabs(out[1]) <= 1e-5, "%d points of the square: median (%g, %g)", n, out[0], out[1]);
        }
    }
    { /* 3: inliers N(c, 1), outliers at c + 1000 * e_0 */
        enum { B = 2000, DD = 16 };
        float *x = malloc(sizeof(float) * B * DD);
        sx_rng rng;
        sx_rng_seed(&rng, 17);
        for (int r = 0; r < B; r++)
            for (int i = 0; i < DD; i++)
                x[r * DD + i] = (float)(i + sx_rng_normal(&rng) + (r % 10 == 0 && i == 0 ? 1000 : 0));
        sx_geometric_median(x, B, DD, out);
        double y[DD], mean[DD] = {0}, g[DD] = {0};
        for (int i = 0; i < DD; i++) y[i] = out[i];
        for (int r = 0; r < B; r++)
            for (int i = 0; i < DD; i++) mean[i] += x[r * DD + i] / (double)B;
        for (int r = 0; r < B; r++) {
            double q = 0;
            for (int i = 0; i < DD; i++) q += (x[r * DD + i] - y[i]) * (x[r * DD + i] - y[i]);
            for (int i = 0; i < DD; i++) g[i] += (x[r * DD + i] - y[i]) / sqrt(q);
        }
        double gn = 0;
        for (int i = 0; i < DD; i++) gn += g[i] * g[i];
        CHECK(sqrt(gn) <= 1e-3 * B, "outliers: |sum of unit vectors| %g at the median", sqrt(gn));
        double f = sum_dist(x, B, DD, y), fm = sum_dist(x, B, DD, mean), worst = INFINITY;
        for (int k = 0; k < 100; k++) {
            double z[DD];
            for (int i = 0; i < DD; i++) z[i] = y[i] + 0.05 * sx_rng_normal(&rng);
            worst = fmin(worst, sum_dist(x, B, DD, z));
        }
        CHECK(f < fm && f <= worst, "outliers: sum of distances %.6f, at the mean %.6f, best nearby %.6f", f, fm, worst);
        CHECK(fabs(y[0]) < 2 && mean[0] > 90, "outliers: median x0 %g (inliers at 0), mean x0 %g", y[0], mean[0]);
        free(x);
    }
    { /* 4 */
        float one[3] = {1.5f, -2, 0.25f}, same[9] = {1, 2, 3, 1, 2, 3, 1, 2, 3};
        sx_geometric_median(one, 1, 3, out);
        CHECK(out[0] == 1.5f && out[1] == -2 && out[2] == 0.25f, "one row: (%g, %g, %g)", out[0], out[1], out[2]);
        sx_geometric_median(same, 3, 3, out);
        CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3, "identical rows: (%g, %g, %g)", out[0], out[1], out[2]);
    }
    return TEST_DONE();
}
