/* test_encode_fused.c — the fused TopK encoder (train/encode_fused.c) against a brute-force
 * float64 reference: per row, the C largest positive pre-activations x.W_enc[j] + b_enc[j]
 * (ties to the lower index) and the kaux largest positive dead latents.  Shapes that are not
 * multiples of the 8 x 48 tile or of the 512-row block; 1 vs 2 threads bit-identical. */
#include <stdint.h>

#include "encode_fused.h"
#include "test.h"
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    int *ci, *ai, *rn, *ran;
    float *cv, *av;
} result;

static void run(const float *x, const float *w, const float *b, int B, int d, int m, int C, int kaux,
                const uint64_t *dead_bits, result *r) {
    float *ap = aligned_alloc(64, (size_t)(sx_enc_rows_floats(B, d) * 4 + 63) / 64 * 64);
    float *wp = aligned_alloc(64, (size_t)(sx_enc_latents_floats(m, d) * 4 + 63) / 64 * 64);
    sx_enc_pack_rows(x, B, d, ap);
    sx_enc_pack_latents(w, m, d, wp);
    r->ci = calloc((size_t)B * C, sizeof(int)), r->cv = calloc((size_t)B * C, sizeof(float));
    r->ai = calloc((size_t)B * (kaux + 1), sizeof(int)), r->av = calloc((size_t)B * (kaux + 1), sizeof(float));
    r->rn = calloc((size_t)B, sizeof(int)), r->ran = calloc((size_t)B, sizeof(int));
    sx_enc_sink k = {C, kaux, C, kaux + 1, r->ci, r->ai, r->rn, r->ran, r->cv, r->av};
    sx_encode_topk_fused(ap, wp, b, B, d, m, dead_bits, &k);
    free(ap), free(wp);
}

static void free_result(result *r) {
    free(r->ci), free(r->cv), free(r->ai), free(r->av), free(r->rn), free(r->ran);
}

/* Does the returned set (idx, val, n) equal the reference top-n of pre over allowed j? */
static int check_set(const double *pre, int m, const unsigned char *allowed, int cap, const int *idx,
                     const float *val, int n, int row, const char *what) {
    /* reference: repeatedly take the strongest remaining positive allowed latent */
    unsigned char *taken = calloc((size_t)m, 1);
    int want = 0, ok = 1;
    double kth = 0;
    for (; want < cap; want++) {
        int best = -1;
        for (int j = 0; j < m; j++)
            if (allowed[j] && !taken[j] && pre[j] > 0 && (best < 0 || pre[j] > pre[best])) best = j;
        if (best < 0) break;
        taken[best] = 1, kth = pre[best];
    }
    if (n != want) {
        fprintf(stderr, "%s row %d: %d entries, reference %d\n", what, row, n, want);
        ok = 0;
    }
    for (int q = 0; q < n && ok; q++) {
        int j = idx[q];
        if (j < 0 || j >= m || !allowed[j]) { ok = 0; break; }
        if (fabs(val[q] - pre[j]) > 1e-4 * (1 + fabs(pre[j]))) {
            fprintf(stderr, "%s row %d latent %d: %.7g vs %.7g\n", what, row, j, val[q], pre[j]);
            ok = 0;
        }
        /* a latent not in the reference set is acceptable only at a float-level tie */
        if (!taken[j] && fabs(pre[j] - kth) > 1e-4 * (1 + fabs(kth))) {
            fprintf(stderr, "%s row %d: latent %d (%.7g) is not among the top %d (k-th %.7g)\n", what, row, j,
                    pre[j], cap, kth);
            ok = 0;
        }
    }
    free(taken);
    return ok;
}

static void check_shape(int B, int d, int m, int C, int kaux, uint64_t seed) {
    sx_rng rng;
    sx_rng_seed(&rng, seed);
    float *x = malloc((size_t)B * d * 4), *w = malloc((size_t)m * d * 4), *b = malloc((size_t)m * 4);
    for (int i = 0; i < B * d; i++) x[i] = (float)sx_rng_normal(&rng);
    for (int i = 0; i < m * d; i++) w[i] = (float)sx_rng_normal(&rng) / sqrtf((float)d);
    for (int j = 0; j < m; j++) b[j] = (float)(0.3 * sx_rng_normal(&rng));
    int npan = (m + SX_ENC_NR - 1) / SX_ENC_NR;
    uint64_t *dead = calloc((size_t)npan, sizeof(uint64_t));
    unsigned char *is_dead = calloc((size_t)m, 1), *all = malloc((size_t)m);
    memset(all, 1, (size_t)m);
    for (int j = 0; j < m; j++)
        if (sx_rng_below(&rng, 3) == 0) is_dead[j] = 1, dead[j / SX_ENC_NR] |= 1ull << (j % SX_ENC_NR);
    result r1, r2;
#ifdef _OPENMP
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    run(x, w, b, B, d, m, C, kaux, dead, &r1);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    run(x, w, b, B, d, m, C, kaux, dead, &r2);
#ifdef _OPENMP
    omp_set_num_threads(nt);
#endif
    double *pre = malloc((size_t)m * sizeof(double));
    int bad = 0;
    for (int r = 0; r < B && bad < 3; r++) {
        for (int j = 0; j < m; j++) {
            double s = b[j];
            for (int i = 0; i < d; i++) s += (double)x[(size_t)r * d + i] * w[(size_t)j * d + i];
            pre[j] = s;
        }
        bad += !check_set(pre, m, all, C, r1.ci + (size_t)r * C, r1.cv + (size_t)r * C, r1.rn[r], r, "top-C");
        if (kaux > 0)
            bad += !check_set(pre, m, is_dead, kaux, r1.ai + (size_t)r * (kaux + 1), r1.av + (size_t)r * (kaux + 1),
                              r1.ran[r], r, "aux");
    }
    CHECK(bad == 0, "B %d d %d m %d C %d kaux %d: %d rows differ from the float64 reference", B, d, m, C, kaux, bad);
    int same = !memcmp(r1.rn, r2.rn, (size_t)B * sizeof(int)) && !memcmp(r1.ci, r2.ci, (size_t)B * C * sizeof(int)) &&
               !memcmp(r1.cv, r2.cv, (size_t)B * C * sizeof(float)) &&
               !memcmp(r1.ran, r2.ran, (size_t)B * sizeof(int));
    CHECK(same, "B %d d %d m %d: 1 and 2 threads give different selections", B, d, m);
    free_result(&r1), free_result(&r2);
    free(x), free(w), free(b), free(dead), free(is_dead), free(all), free(pre);
}

int main(void) {
    check_shape(37, 19, 101, 5, 0, 1);     /* nothing a multiple of the tile */
    check_shape(37, 19, 101, 5, 7, 2);     /* with AuxK over dead latents */
    check_shape(1100, 24, 200, 16, 9, 3);  /* three 512-row blocks */
    check_shape(64, 96, 48, 48, 0, 4);     /* C = m: every positive latent */
    check_shape(9, 16, 1000, 3, 40, 5);    /* a wide, shallow case */
    check_shape(20, 768, 300, 32, 0, 6);   /* the real d_in */
    return TEST_DONE();
}
