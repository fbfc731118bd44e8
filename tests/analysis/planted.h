/* planted.h — a narrow decoder A and a wide decoder B where known A latents have perturbed
 * copies (children) in B and every other latent is random (shared by the split tests). */
#ifndef PLANTED_H
#define PLANTED_H
#include <math.h>
#include "core.h"

enum { NA = 64, NB = 300, D = 64 };

static void rand_unit(sx_rng *r, float *w, int d) {
    double s = 0;
    for (int k = 0; k < d; k++) w[k] = (float)sx_rng_normal(r), s += (double)w[k] * w[k];
    for (int k = 0; k < d; k++) w[k] /= (float)sqrt(s);
}

/* planted: A latent -> its children in B */
static const int PA[] = {3, 10, 20, 63};
static const int PB[4][3] = {{5, 77, -1}, {100, 101, 299}, {30, -1, -1}, {0, -1, -1}};

static void build(float *A, float *B) {
    sx_rng r;
    sx_rng_seed(&r, 1234);
    for (int i = 0; i < NA; i++) rand_unit(&r, A + i * D, D);
    for (int j = 0; j < NB; j++) rand_unit(&r, B + j * D, D);
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 3 && PB[p][c] >= 0; c++) {
            float *b = B + PB[p][c] * D, noise[D];
            rand_unit(&r, noise, D);
            for (int k = 0; k < D; k++) b[k] = 3.0f * (A[PA[p] * D + k] + 0.35f * noise[k]);
        }
}

static int is_planted(int a, int b) {
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 3; c++)
            if (PA[p] == a && PB[p][c] == b) return 1;
    return 0;
}

#endif
