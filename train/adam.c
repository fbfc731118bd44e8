/* adam.c — the Adam update and column sums (compiled once per instruction set; the
 * bias-corrected step sizes and the learning-rate schedule are in train_state.c).
 * Byte floor of an update: read p,m,v,g and write p,m,v = 28 bytes per parameter. */
#include "train_isa.h"

#include <math.h>

#include "train_internal.h"

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
