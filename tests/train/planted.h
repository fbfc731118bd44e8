/* planted.h — an in-memory planted-dictionary source for trainer tests: x = sum of `active`
 * of m known unit atoms with coefficients U(0.5, 1.5) + N(0, noise^2) per coordinate.
 * Atoms are drawn uniformly, or with probability ~ 1/(j+1)^zipf after planted_zipf(). */
#ifndef SAETOX_TEST_PLANTED_H
#define SAETOX_TEST_PLANTED_H

#include <math.h>
#include <stdlib.h>

#include "trainer.h"

typedef struct planted {
    int d, m, active;
    double noise;
    float *atoms; /* [m, d] unit rows */
    double *cdf;  /* NULL: uniform; else [m] cumulative atom probabilities (planted_zipf) */
    sx_rng rng;
    int64_t pos, nan_at; /* nan_at >= 0: that row gets a NaN */
} planted;

static void planted_init(planted *p, int d, int m, int active, double noise, uint64_t seed) {
    p->d = d, p->m = m, p->active = active, p->noise = noise, p->pos = 0, p->nan_at = -1, p->cdf = NULL;
    p->atoms = malloc((size_t)m * d * sizeof(float));
    sx_rng r;
    sx_rng_seed(&r, seed);
    for (int j = 0; j < m; j++) {
        double ss = 0;
        for (int i = 0; i < d; i++) {
            p->atoms[j * d + i] = (float)sx_rng_normal(&r);
            ss += (double)p->atoms[j * d + i] * p->atoms[j * d + i];
        }
        for (int i = 0; i < d; i++) p->atoms[j * d + i] /= (float)sqrt(ss);
    }
    sx_rng_seed(&p->rng, seed + 1);
}

static inline void planted_zipf(planted *p, double s) {
    p->cdf = malloc((size_t)p->m * sizeof(double));
    double z = 0;
    for (int j = 0; j < p->m; j++) p->cdf[j] = (z += pow(j + 1.0, -s));
    for (int j = 0; j < p->m; j++) p->cdf[j] /= z;
}

static inline void planted_free(planted *p) {
    free(p->atoms), free(p->cdf);
    p->atoms = NULL, p->cdf = NULL;
}

static inline int planted_draw(planted *p) {
    if (!p->cdf) return (int)sx_rng_below(&p->rng, (uint64_t)p->m);
    double u = sx_rng_uniform(&p->rng);
    int lo = 0, hi = p->m - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (p->cdf[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void planted_row(planted *p, float *x) {
    int chosen[16];
    for (int i = 0; i < p->d; i++) x[i] = (float)(p->noise * sx_rng_normal(&p->rng));
    for (int a = 0; a < p->active; a++) {
        int j, dup;
        do {
            j = planted_draw(p);
            dup = 0;
            for (int b = 0; b < a; b++) dup |= chosen[b] == j;
        } while (dup);
        chosen[a] = j;
        float c = (float)(0.5 + sx_rng_uniform(&p->rng));
        for (int i = 0; i < p->d; i++) x[i] += c * p->atoms[j * p->d + i];
    }
    if (p->pos == p->nan_at) x[0] = NAN;
    p->pos++;
}

static int64_t planted_next(void *ctx, float *out, int64_t rows, sx_err *err) {
    planted *p = ctx;
    for (int64_t r = 0; r < rows; r++) planted_row(p, out + r * p->d);
    return rows;
}

static int planted_skip(void *ctx, int64_t rows, sx_err *err) {
    planted *p = ctx;
    float tmp[1024];
    for (int64_t r = 0; r < rows; r++) planted_row(p, tmp);
    return 0;
}

static sx_batch_source planted_source(planted *p) {
    sx_batch_source s = {p, p->d, "planted", planted_next, planted_skip};
    return s;
}

#ifndef PLANTED_NO_RECOVERY
/* Share of atoms whose best decoder row (SAELens W_dec [d_sae, d]) has cosine >= thr. */
static double planted_recovered(const planted *p, const sx_sae *sae, double thr, double *mean_best) {
    int ok = 0;
    double sum = 0;
    for (int a = 0; a < p->m; a++) {
        double best = -1;
        for (int j = 0; j < sae->d_sae; j++) {
            const float *w = sae->W_dec + (int64_t)j * p->d;
            double dp = 0, nn = 0;
            for (int i = 0; i < p->d; i++) dp += (double)w[i] * p->atoms[a * p->d + i], nn += (double)w[i] * w[i];
            double c = nn > 0 ? dp / sqrt(nn) : 0;
            if (c > best) best = c;
        }
        ok += best >= thr;
        sum += best;
    }
    if (mean_best) *mean_best = sum / p->m;
    return (double)ok / p->m;
}
#endif

#endif
