/* test_split.c — planted feature splitting: a narrow SAE A and a wide SAE B where known A
 * latents have perturbed copies in B and the rest have none; pairs and families must come
 * back exactly, for several block sizes, and the linkage must cut as computed by hand. */
#include "analysis.h"
#include "test.h"

#include "planted.h"

static double cos_ref(const float *x, const float *y) {
    double s = 0, nx = 0, ny = 0;
    for (int k = 0; k < D; k++) s += (double)x[k] * y[k], nx += (double)x[k] * x[k], ny += (double)y[k] * y[k];
    return s / sqrt(nx * ny);
}

static void check_result(const sx_split_result *r, const float *A, const float *B) {
    CHECK(r->n_pairs == 7, "7 planted pairs, got %lld", (long long)r->n_pairs);
    for (int64_t k = 0; k < r->n_pairs; k++) {
        CHECK(is_planted(r->pairs[k].a, r->pairs[k].b), "unplanted pair %d-%d cos %g",
              r->pairs[k].a, r->pairs[k].b, (double)r->pairs[k].cos);
        CHECK_NEAR(r->pairs[k].cos, cos_ref(A + r->pairs[k].a * D, B + r->pairs[k].b * D), 1e-5,
                   "pair cosine");
        if (k) CHECK(r->pairs[k - 1].a < r->pairs[k].a ||
                     (r->pairs[k - 1].a == r->pairs[k].a && r->pairs[k - 1].b < r->pairs[k].b),
                     "pairs sorted");
    }
    /* best matches against a float64 brute force */
    int bad = 0;
    for (int i = 0; i < NA; i++) {
        double best = -2;
        int arg = -1;
        for (int j = 0; j < NB; j++) {
            double c = cos_ref(A + i * D, B + j * D);
            if (c > best + 1e-6) best = c, arg = j;
        }
        if (fabs(best - r->best_a_cos[i]) > 1e-5 ||
            fabs(cos_ref(A + i * D, B + r->best_a[i] * D) - best) > 1e-5)
            bad++, (void)arg;
    }
    CHECK(bad == 0, "A->B best matches: %d wrong", bad);
    bad = 0;
    for (int j = 0; j < NB; j++) {
        double best = -2;
        for (int i = 0; i < NA; i++) {
            double c = cos_ref(A + i * D, B + j * D);
            if (c > best) best = c;
        }
        if (fabs(best - r->best_b_cos[j]) > 1e-5 ||
            fabs(cos_ref(A + r->best_b[j] * D, B + j * D) - best) > 1e-5)
            bad++;
    }
    CHECK(bad == 0, "B->A best matches: %d wrong", bad);
    CHECK(r->n_children[10] == 3 && r->n_children[3] == 2 && r->n_children[0] == 0, "children");
}

static void check_families(const sx_families *f) {
    CHECK(f->n_families == 4, "4 families, got %d", f->n_families);
    int n = NA + NB, members = 0;
    for (int i = 0; i < n; i++) members += f->fam[i] >= 0;
    CHECK(members == 11, "11 family members, got %d", members);
    for (int p = 0; p < 4; p++) {
        int fid = f->fam[PA[p]];
        CHECK(fid == p, "family of A%d is %d, want %d", PA[p], fid, p);
        for (int c = 0; c < 3 && PB[p][c] >= 0; c++)
            CHECK(f->fam[NA + PB[p][c]] == fid, "B%d in the family of A%d", PB[p][c], PA[p]);
    }
}

int main(void) {
    float *A = malloc(sizeof(float) * NA * D), *B = malloc(sizeof(float) * NB * D);
    build(A, B);
    sx_err err;
    int blocks[][2] = {{0, 0}, {16, 50}, {7, 299}, {64, 1}};
    for (int t = 0; t < 4; t++) {
        sx_split_opts o;
        sx_split_opts_default(&o);
        o.block_a = blocks[t][0], o.block_b = blocks[t][1];
        sx_split_result r;
        int rc = sx_split_compute(A, NA, B, NB, D, &o, &r, &err);
        CHECK(rc == 0, "split: %s", err.msg);
        if (rc) continue;
        check_result(&r, A, B);
        sx_families f;
        CHECK(sx_families_from_pairs(&r, &f, &err) == 0, "families: %s", err.msg);
        check_families(&f);
        if (t == 0) {
            /* linkage with a loose cut keeps the families; a tiny cut dissolves them */
            CHECK(sx_families_average_linkage(A, B, D, 0.6, 0, &f, &err) == 0, "%s", err.msg);
            check_families(&f);
            CHECK(sx_families_average_linkage(A, B, D, 1e-4, 0, &f, &err) == 0, "%s", err.msg);
            CHECK(f.n_families == 0, "tiny cut: %d families", f.n_families);
            sx_families_free(&f);
            CHECK(sx_families_from_pairs(&r, &f, &err) == 0, "%s", err.msg);
            CHECK(sx_families_average_linkage(A, B, D, 0.6, 5, &f, &err) == -1 &&
                      strstr(err.msg, "cap"), "cap error: %s", err.msg);
            /* CSV round trip */
            const char *dir = test_tmpdir("analysis_split");
            char p1[4200], p2[4200];
            snprintf(p1, sizeof p1, "%s/pairs.csv", dir);
            snprintf(p2, sizeof p2, "%s/families.csv", dir);
            CHECK(sx_pairs_write_csv(p1, &r, &err) == 0, "%s", err.msg);
            CHECK(sx_families_write_csv(p2, &f, "narrow", "wide,1", &err) == 0, "%s", err.msg);
            int32_t fam[NB], size[NB];
            int64_t nl = 0;
            CHECK(sx_families_read_csv(p2, "wide,1", NB, fam, size, &nl, &err) == 0, "%s", err.msg);
            CHECK(nl == 7 && fam[101] == 1 && size[101] == 4 && fam[1] == -1 && size[1] == 1,
                  "families.csv round trip (nl=%lld fam=%d size=%d)", (long long)nl, fam[101],
                  size[101]);
            CHECK(sx_families_read_csv(p2, "wide,1", 200, fam, size, &nl, &err) == -1 &&
                      strstr(err.msg, "beyond d_sae"), "latent beyond d_sae: %s", err.msg);
            char *txt;
            size_t len;
            CHECK(sx_read_file(p1, 1 << 20, &txt, &len, &err) == 0, "%s", err.msg);
            CHECK(strncmp(txt, "small_latent,wide_latent,cosine\n3,5,", 36) == 0, "pairs.csv: %.60s", txt);
            free(txt);
        }
        sx_families_free(&f);
        sx_split_free(&r);
    }
    /* hand-computed average linkage on a line: points 0 1 10 11 30 */
    {
        float x[5] = {0, 1, 10, 11, 30}, dist[25];
        int32_t lab[5];
        for (int i = 0; i < 5; i++) for (int j = 0; j < 5; j++) dist[i * 5 + j] = fabsf(x[i] - x[j]);
        CHECK(sx_average_linkage_cut(dist, 5, 2.0, lab, &err) == 3, "3 clusters at cut 2");
        CHECK(lab[0] == 0 && lab[1] == 0 && lab[2] == 1 && lab[3] == 1 && lab[4] == 2, "labels at 2");
        for (int i = 0; i < 5; i++) for (int j = 0; j < 5; j++) dist[i * 5 + j] = fabsf(x[i] - x[j]);
        CHECK(sx_average_linkage_cut(dist, 5, 15.0, lab, &err) == 2, "2 clusters at cut 15 (avg 10 < 15 < 24.5)");
        CHECK(lab[3] == 0 && lab[4] == 1, "labels at 15");
        for (int i = 0; i < 5; i++) for (int j = 0; j < 5; j++) dist[i * 5 + j] = fabsf(x[i] - x[j]);
        CHECK(sx_average_linkage_cut(dist, 5, 24.0, lab, &err) == 2, "still 2 at 24 (< 24.5)");
    }
    /* bad inputs */
    sx_split_result r;
    CHECK(sx_split_compute(A, 0, B, NB, D, NULL, &r, &err) == -1 && strstr(err.msg, "empty"),
          "empty A: %s", err.msg);
    sx_split_opts o;
    sx_split_opts_default(&o);
    o.threshold = 1.5f;
    CHECK(sx_split_compute(A, NA, B, NB, D, &o, &r, &err) == -1 && strstr(err.msg, "threshold"),
          "bad threshold: %s", err.msg);
    o.threshold = -0.5f, o.max_pairs = 100;
    CHECK(sx_split_compute(A, NA, B, NB, D, &o, &r, &err) == -1 && strstr(err.msg, "pairs"),
          "pair cap: %s", err.msg);
    free(A), free(B);
    return TEST_DONE();
}
