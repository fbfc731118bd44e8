/* test_effects.c — AUROC (Mann-Whitney, average ranks for ties), Cohen's d and log-odds
 * against float64 brute-force references on synthetic data with ties and known answers. */
#include "analysis.h"
#include "test.h"

/* P(T > C) + P(T = C) / 2 by brute force in float64 */
static double auroc_ref(const float *t, int nt, const float *c, int nc) {
    double s = 0;
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < nc; j++) s += t[i] > c[j] ? 1.0 : t[i] == c[j] ? 0.5 : 0.0;
    return s / ((double)nt * nc);
}

static double d_ref(const float *t, int nt, const float *c, int nc) {
    double mt = 0, mc = 0, st = 0, sc = 0;
    for (int i = 0; i < nt; i++) mt += t[i];
    for (int i = 0; i < nc; i++) mc += c[i];
    mt /= nt, mc /= nc;
    for (int i = 0; i < nt; i++) st += (t[i] - mt) * (t[i] - mt);
    for (int i = 0; i < nc; i++) sc += (c[i] - mc) * (c[i] - mc);
    double sd = sqrt((st + sc) / (nt + nc - 2));
    return sd > 0 ? (mt - mc) / sd : 0;
}

enum { NT = 300, NC = 500, DS = 6 };

/* The two-sample form through the one AUROC (sx_auroc: scores + labels). */
static double auroc2(const float *t, int nt, const float *c, int nc) {
    double *s = malloc(sizeof(double) * (size_t)(nt + nc));
    int *y = malloc(sizeof(int) * (size_t)(nt + nc));
    for (int i = 0; i < nt; i++) s[i] = t[i], y[i] = 1;
    for (int i = 0; i < nc; i++) s[nt + i] = c[i], y[nt + i] = 0;
    double a = sx_auroc(s, y, nt + nc);
    free(s), free(y);
    return a;
}

int main(void) {
    sx_err err;
    /* known answers */
    {
        float t[3] = {3, 1, 2}, c[3] = {1, 0, 0};
        CHECK_NEAR(auroc2(t, 3, c, 3), 8.5 / 9, 1e-12, "small auroc with a tie");
        float e1[4] = {2, 2, 2, 2}, e2[3] = {2, 2, 2};
        CHECK_NEAR(auroc2(e1, 4, e2, 3), 0.5, 1e-12, "all equal -> 0.5");
        float s1[2] = {5, 6}, s2[2] = {1, 2};
        CHECK_NEAR(auroc2(s1, 2, s2, 2), 1.0, 1e-12, "separated -> 1");
        CHECK_NEAR(auroc2(s2, 2, s1, 2), 0.0, 1e-12, "reversed -> 0");
        /* sparse form: zeros implicit; negatives sort below the zero group */
        float tz[2] = {1.5f, -1}, cz[1] = {1.5f};
        /* t = {1.5, -1, 0, 0}, c = {1.5, 0, 0}: ref */
        float tf[4] = {1.5f, -1, 0, 0}, cf[3] = {1.5f, 0, 0};
        double ref = auroc_ref(tf, 4, cf, 3);
        CHECK_NEAR(sx_ana_auroc_sparse(tz, 2, 4, cz, 1, 3), ref, 1e-12, "sparse with negatives");
        CHECK_NEAR(sx_ana_auroc_sparse(NULL, 0, 10, NULL, 0, 7), 0.5, 1e-12, "all zero -> 0.5");
        CHECK(isnan(sx_ana_auroc_sparse(NULL, 0, 0, NULL, 0, 7)), "empty toxic -> NaN");
        float dt[3] = {1, 2, 3}, dc[4] = {0, 0, 0, 0};
        /* mean diff 2; pooled var = (2 + 0) / 5 */
        CHECK_NEAR(sx_cohens_d(6, 14, 3, 0, 0, 4), 2 / sqrt(0.4), 1e-12, "cohens d known");
        CHECK_NEAR(sx_cohens_d(6, 14, 3, 0, 0, 4), d_ref(dt, 3, dc, 4), 1e-12, "cohens d ref");
        CHECK_NEAR(sx_cohens_d(8, 16, 4, 6, 12, 3), 0, 1e-12, "constant equal groups -> 0");
        CHECK_NEAR(sx_log_odds(10, 20, 10, 20), 0, 1e-12, "equal rates -> 0");
        CHECK_NEAR(sx_log_odds(20, 20, 0, 20), 2 * log(20.5 / 0.5), 1e-12, "smoothed extreme");
    }
    /* accumulator vs references: sparse activations on a coarse grid (many ties) */
    {
        float *T = calloc(NT * DS, sizeof(float)), *C = calloc(NC * DS, sizeof(float));
        sx_rng r;
        sx_rng_seed(&r, 7);
        for (int i = 0; i < NT; i++)
            for (int j = 0; j < DS; j++) {
                double p = j == 0 ? 0.6 : j == 5 ? 0.0 : 0.2; /* latent 0 toxic; 5 never fires */
                if (sx_rng_uniform(&r) < p) T[i * DS + j] = 0.5f * (1 + (int)(sx_rng_uniform(&r) * (j == 0 ? 8 : 4)));
            }
        for (int i = 0; i < NC; i++)
            for (int j = 0; j < DS; j++) {
                double p = j == 0 ? 0.1 : j == 5 ? 0.0 : 0.2;
                if (sx_rng_uniform(&r) < p) C[i * DS + j] = 0.5f * (1 + (int)(sx_rng_uniform(&r) * 4));
            }
        C[3 * DS + 4] = -0.5f; /* a negative value */
        sx_effect_acc *a = sx_effect_acc_new(DS);
        CHECK(sx_effect_acc_add(a, 1, T, 100, &err) == 0, "%s", err.msg);
        sx_effect e[DS];
        CHECK(sx_effect_acc_finish(a, e, &err) == -1 && strstr(err.msg, "clean set is empty"),
              "empty clean: %s", err.msg);
        CHECK(sx_effect_acc_add(a, 1, T + 100 * DS, NT - 100, &err) == 0, "%s", err.msg);
        CHECK(sx_effect_acc_add(a, 0, C, NC, &err) == 0, "%s", err.msg);
        CHECK(sx_effect_acc_finish(a, e, &err) == 0, "%s", err.msg);
        for (int j = 0; j < DS; j++) {
            float t[NT], c[NC];
            int ft = 0, fc = 0;
            double st = 0, sc = 0;
            for (int i = 0; i < NT; i++) t[i] = T[i * DS + j], ft += t[i] > 0, st += t[i];
            for (int i = 0; i < NC; i++) c[i] = C[i * DS + j], fc += c[i] > 0, sc += c[i];
            CHECK_NEAR(e[j].auroc, auroc_ref(t, NT, c, NC), 1e-12, "acc auroc");
            CHECK_NEAR(e[j].cohens_d, d_ref(t, NT, c, NC), 1e-9, "acc cohens d");
            CHECK_NEAR(e[j].mean_diff, st / NT - sc / NC, 1e-9, "acc mean diff");
            CHECK_NEAR(e[j].fire_toxic, (double)ft / NT, 1e-12, "fire toxic");
            CHECK_NEAR(e[j].log_odds, sx_log_odds(ft, NT, fc, NC), 1e-12, "log odds");
            CHECK_NEAR(auroc2(t, NT, c, NC), e[j].auroc, 1e-12, "dense = sparse");
        }
        CHECK_NEAR(e[5].auroc, 0.5, 1e-12, "never fires -> 0.5");
        CHECK(e[0].auroc > 0.7, "planted toxic latent auroc %g", e[0].auroc);
        CHECK(e[0].max_toxic == 4.0 && e[0].q50_toxic > 0.5 && e[0].q99_toxic <= 4.0, "toxic quantiles");
        int32_t order[DS];
        sx_effect_rank(e, DS, SX_RANK_AUROC, order);
        CHECK(order[0] == 0, "latent 0 ranks first by auroc");
        for (int k = 1; k < DS; k++)
            CHECK(e[order[k - 1]].auroc >= e[order[k]].auroc, "rank order");
        sx_rank_by by;
        CHECK(sx_rank_by_parse("cohens_d", &by) == 0 && by == SX_RANK_COHENS_D, "parse rank");
        CHECK(sx_rank_by_parse("bogus", &by) == -1, "bad rank name");
        float nanrow[DS] = {0, NAN, 0, 0, 0, 0};
        CHECK(sx_effect_acc_add(a, 0, nanrow, 1, &err) == -1 && strstr(err.msg, "non-finite"),
              "NaN rejected: %s", err.msg);
        sx_effect_acc_free(a);
        a = sx_effect_acc_new(DS);
        CHECK(sx_effect_acc_add(a, 0, C, NC, &err) == 0, "%s", err.msg);
        CHECK(sx_effect_acc_finish(a, e, &err) == -1 && strstr(err.msg, "toxic set is empty"),
              "empty toxic: %s", err.msg);
        sx_effect_acc_free(a);
        free(T), free(C);
    }
    /* RFC 4180 reader: quoted commas, doubled quotes, embedded newlines, CRLF */
    {
        char path[4200];
        snprintf(path, sizeof path, "%s/quoted.csv", test_tmpdir("analysis_effects"));
        const char *csv = "sae,latent,context,score\r\n\"a,b\",2,\"x \"\"q\"\"\nnext\",0.5\r\n"
                          "other,2,y,9\n\"a,b\",0,,1.25\n";
        CHECK(sx_write_file_atomic(path, csv, strlen(csv), &err) == 0, "%s", err.msg);
        double v[4];
        int64_t nr;
        CHECK(sx_ana_read_latent_column(path, "a,b", "score", 4, v, &nr, &err) == 0, "%s", err.msg);
        CHECK(nr == 2 && v[2] == 0.5 && v[0] == 1.25 && isnan(v[1]), "quoted csv read (%lld)", (long long)nr);
        CHECK(sx_ana_read_latent_column(path, NULL, "nope", 4, v, &nr, &err) == -1 && strstr(err.msg, "nope"),
              "missing column: %s", err.msg);
    }
    return TEST_DONE();
}
