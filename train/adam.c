/* adam.c — Adam (beta 0.9/0.999, eps 1e-8), the learning-rate schedule, column sums.
 * Byte floor of an update: read p,m,v,g and write p,m,v = 28 bytes per parameter. */
#include <math.h>

#include "train_internal.h"

void sx_adam_prepare(sx_adam *a, double lr, int t) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    /* p -= lr * (m/bc1) / (sqrt(v/bc2) + eps)  ==  p -= lr_t * m / (sqrt(v) + eps_t) */
    a->lr_t = (float)(lr * sqrt(bc2) / bc1);
    a->eps_t = (float)(eps * sqrt(bc2));
    a->b1 = (float)b1;
    a->b2 = (float)b2;
}

void sx_adam_update(float *restrict p, float *restrict m, float *restrict v,
                    const float *restrict g, int64_t n, float gscale, const sx_adam *a) {
    const float b1 = a->b1, b2 = a->b2, c1 = 1 - b1, c2 = 1 - b2, lr = a->lr_t, eps = a->eps_t;
    if (g) {
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i] * gscale;
            m[i] = b1 * m[i] + c1 * gi;
            v[i] = b2 * v[i] + c2 * gi * gi;
            p[i] -= lr * m[i] / (sqrtf(v[i]) + eps);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            m[i] = b1 * m[i];
            v[i] = b2 * v[i];
            p[i] -= lr * m[i] / (sqrtf(v[i]) + eps);
        }
    }
}

void sx_column_sums(const float *a, int rows, int cols, float *out) {
    enum { CB = 128 }; /* a column block's partial sums stay in registers / L1 */
    int nb = (cols + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((int64_t)rows * cols >= ((int64_t)1 << 18))
    for (int b = 0; b < nb; b++) {
        int c0 = b * CB, n = cols - c0 < CB ? cols - c0 : CB;
        float acc[CB];
        for (int i = 0; i < n; i++) acc[i] = 0;
        for (int r = 0; r < rows; r++) {
            const float *ar = a + (int64_t)r * cols + c0;
#pragma omp simd
            for (int i = 0; i < n; i++) acc[i] += ar[i];
        }
        for (int i = 0; i < n; i++) out[c0 + i] = acc[i];
    }
}

double sx_lr_at(int64_t step, int64_t steps, double base, double warm_frac, double decay_frac) {
    double f = 1.0;
    double warm = warm_frac * (double)steps;
    if (warm >= 1 && (double)step < warm) f = ((double)step + 1) / warm;
    double dstart = (1 - decay_frac) * (double)steps;
    if (decay_frac > 0 && (double)step >= dstart) {
        double g = ((double)steps - (double)step) / (decay_frac * (double)steps);
        if (g < f) f = g;
    }
    return base * (f > 0 ? f : 0);
}
