/* test_study_stats.c — the study's statistics (analysis/findings.c): the Student t quantile
 * against closed forms (dof 1: tan(pi (p - 1/2)); dof 2: (2p - 1) / sqrt(2 p (1 - p))) and
 * published values (scipy.stats.t.ppf, SciPy 1.10: its iteration is accurate to ~1e-9 relative only,
 * e.g. 636.61924943 at dof 1, p 0.9995, where tan gives 636.61924877), the t interval, the
 * least-squares slope and the matched-fluency interpolation on hand cases. */
#include "analysis.h"
#include "test.h"

#define PI 3.14159265358979323846

static void rel(double got, double want, double tol, const char *what) {
    CHECK(fabs(got - want) <= tol * fabs(want), "%s: %.15g vs %.15g", what, got, want);
}

int main(void) {
    /* closed forms */
    static const double ps[] = {0.6, 0.75, 0.9, 0.95, 0.975, 0.995, 0.9995, 0.3, 0.01};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double p = ps[i];
        rel(sx_t_quantile(p, 1), tan(PI * (p - 0.5)), 1e-11, "dof 1");
        rel(sx_t_quantile(p, 2), (2 * p - 1) / sqrt(2 * p * (1 - p)), 1e-11, "dof 2");
    }
    /* published values (scipy.stats.t.ppf) */
    static const struct { double p, dof, t; } tab[] = {
        {0.975, 4, 2.7764451051977987},  {0.975, 9, 2.2621571627409915}, {0.975, 30, 2.0422724563012373},
        {0.95, 3, 2.3533634348018264},   {0.995, 5, 4.032142983557536},  {0.9995, 1, 636.6192494318557},
        {0.6, 7, 0.2631668613520166},    {0.025, 2, -4.3026527299112765}, {0.975, 1000, 1.9623390808264074},
        {0.999, 2.5, 13.822193110834316}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) rel(sx_t_quantile(tab[i].p, tab[i].dof), tab[i].t, 2e-9, "table");
    CHECK(sx_t_quantile(0.5, 3) == 0, "median");
    CHECK(isnan(sx_t_quantile(0, 3)) && isnan(sx_t_quantile(1, 3)) && isnan(sx_t_quantile(0.9, 0)) &&
              isnan(sx_t_quantile(NAN, 3)),
          "out of range is NaN");

    /* t interval: x = 1, 2, 6: mean 3, s = sqrt(7), half = t_{.975,2} sqrt(7/3) */
    double x[3] = {1, 2, 6}, m, lo, hi;
    sx_mean_ci_t(x, 3, 0.95, &m, &lo, &hi);
    double half = 0.95 / sqrt(2 * 0.975 * 0.025) * sqrt(7.0 / 3.0); /* t_{.975,2} in closed form */
    rel(m, 3, 1e-15, "mean");
    rel(lo, 3 - half, 1e-11, "lo");
    rel(hi, 3 + half, 1e-11, "hi");
    sx_mean_ci_t(x, 1, 0.95, &m, &lo, &hi);
    CHECK(m == 1 && isnan(lo) && isnan(hi), "n = 1: no interval");
    sx_mean_ci_t(x, 0, 0.95, &m, &lo, &hi);
    CHECK(isnan(m), "n = 0");
    double same[3] = {0.5, 0.5, 0.5};
    sx_mean_ci_t(same, 3, 0.95, &m, &lo, &hi);
    CHECK(lo == 0.5 && hi == 0.5, "constant values: a point interval");

    /* slope: y = 2 - 0.5 x exactly; and a hand least-squares case */
    double a[4] = {0, 1, 2, 4}, y[4] = {2, 1.5, 1, 0};
    rel(sx_ols_slope(a, y, 4), -0.5, 1e-15, "exact line");
    double y2[3] = {1, 3, 2}, a2[3] = {0, 1, 2};
    rel(sx_ols_slope(a2, y2, 3), 0.5, 1e-15, "slope 0.5"); /* sxy = 1, sxx = 2 */
    CHECK(isnan(sx_ols_slope(a, y, 1)), "one point");

    /* matched-fluency interpolation: ratios 1, 1.1, 1.5, 2 with EMT 0.8, 0.7, 0.3, 0.1 and
     * budget 1.25: the 1.1 -> 1.5 segment crosses at t = 0.375, EMT 0.7 - 0.375 * 0.4 = 0.55 */
    double r[4] = {1, 1.1, 1.5, 2}, e[4] = {0.8, 0.7, 0.3, 0.1};
    rel(sx_matched_min(r, e, 4, 1.25), 0.55, 1e-15, "crossing");
    rel(sx_matched_min(r, e, 4, 3), 0.1, 1e-15, "all feasible: the lowest point");
    rel(sx_matched_min(r, e, 4, 1.0), 0.8, 1e-15, "only the start");
    /* the path comes back under the budget: 1, 1.6 (EMT 0.2), 1.2 (EMT 0.4): the crossings at
     * 1.25 on both segments: 0.8 - (0.25/0.6) 0.6 = 0.55, and 0.2 + (0.35/0.4) 0.2 = 0.375 */
    double r3[3] = {1, 1.6, 1.2}, e3[3] = {0.8, 0.2, 0.4};
    rel(sx_matched_min(r3, e3, 3, 1.25), 0.375, 1e-14, "down and back");
    double r4[2] = {1.3, 1.4};
    CHECK(isnan(sx_matched_min(r4, e3, 2, 1.25)), "nothing feasible: NaN");
    return TEST_DONE();
}
