/* test_pin_split.c — decoder-cosine children at thresholds hit exactly.  The decoder rows are
 * scaled axis and all-ones vectors whose cosines are exactly 1, 0.5, 0.25, 0 or -1 in float
 * (norms are powers of two), so the expected children, pairs and best matches follow by hand:
 *   A0 = 2 e0, A1 = e1 (d = 16)
 *   B0 = 1 on dims 0-3    cos(A0) = 0.5   cos(A1) = 0.5
 *   B1 = 1 on dims 0-15             0.25            0.25
 *   B2 = 4 e0                       1               0
 *   B3 = -e1                        0              -1
 *   B4 = 1 on dims 1-4              0               0.5
 * A child has cos >= threshold (inclusive); best matches take the first index / lower A row
 * on ties.  Checked with one block and with blocks of 1 x 2 latents, on all threads and on one. */
#include "analysis.h"
#include "test.h"

enum { D = 16, NA = 2, NB = 5 };

static const float COS[NA][NB] = {{0.5f, 0.25f, 1.0f, 0.0f, 0.0f}, {0.5f, 0.25f, 0.0f, -1.0f, 0.5f}};

static void run(const float *A, const float *B, float thr, int ba, int bb) {
    sx_split_opts o;
    sx_split_opts_default(&o);
    o.threshold = thr, o.block_a = ba, o.block_b = bb;
    sx_split_result r;
    sx_err err = {0};
    int rc = sx_split_compute(A, NA, B, NB, D, &o, &r, &err);
    CHECK(rc == 0, "split: %s", err.msg);
    if (rc) return;
    int64_t k = 0;
    for (int a = 0; a < NA; a++) {
        int want = 0;
        for (int b = 0; b < NB; b++) {
            if (!(COS[a][b] >= thr)) continue;
            want++;
            CHECK(k < r.n_pairs && r.pairs[k].a == a && r.pairs[k].b == b && r.pairs[k].cos == COS[a][b],
                  "thr %g blocks %dx%d: pair %lld should be (%d, %d, %g)", thr, ba, bb, (long long)k, a, b, COS[a][b]);
            k++;
        }
        CHECK(r.n_children[a] == want, "thr %g blocks %dx%d: A%d has %d children, want %d", thr, ba, bb, a,
              r.n_children[a], want);
    }
    CHECK(r.n_pairs == k, "thr %g blocks %dx%d: %lld pairs, want %lld", thr, ba, bb, (long long)r.n_pairs, (long long)k);
    const int best_a[NA] = {2, 0}, best_b[NB] = {0, 0, 0, 0, 1};
    for (int a = 0; a < NA; a++)
        CHECK(r.best_a[a] == best_a[a] && r.best_a_cos[a] == COS[a][best_a[a]], "thr %g blocks %dx%d: best of A%d = B%d (%g), want B%d",
              thr, ba, bb, a, r.best_a[a], r.best_a_cos[a], best_a[a]);
    for (int b = 0; b < NB; b++)
        CHECK(r.best_b[b] == best_b[b] && r.best_b_cos[b] == COS[best_b[b]][b], "thr %g blocks %dx%d: best of B%d = A%d (%g), want A%d",
              thr, ba, bb, b, r.best_b[b], r.best_b_cos[b], best_b[b]);
    sx_split_free(&r);
}

int main(void) {
    float A[NA * D] = {0}, B[NB * D] = {0};
    A[0] = 2, A[D + 1] = 1;
    for (int i = 0; i < 4; i++) B[i] = 1;
    for (int i = 0; i < D; i++) B[D + i] = 1;
    B[2 * D] = 4, B[3 * D + 1] = -1;
    for (int i = 1; i < 5; i++) B[4 * D + i] = 1;
    const float thr[] = {0.5f, 0.25f, 1.0f, -0.5f};
    /* one thread too: then the tied A rows of a B latent are scanned by the same thread */
    for (int nt = 0; nt < 2; nt++) {
        sx_set_threads(nt ? 1 : 0);
        for (int t = 0; t < 4; t++) {
            run(A, B, thr[t], 2048, 8192);
            run(A, B, thr[t], 1, 2);
        }
    }
    return TEST_DONE();
}
