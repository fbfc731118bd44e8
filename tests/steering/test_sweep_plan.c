/* test_sweep_plan.c — the steering sweep's plan (sx_sweep_plan_build: the exact condition
 * list, names and strengths from the options) and the merging of two SAEs' sweeps
 * (sx_sweep_merge), without model files. */
#include "export.h"
#include "steering.h"
#include "test.h"

static void expect_plan(const sx_sweep_plan *p, const char *const *names, const sx_tier *tiers, const float *alphas,
                        const int *fam, int n, const char *what) {
    CHECK(p->n == n, "%s: %d conditions, want %d", what, p->n, n);
    for (int i = 0; i < n && i < p->n; i++) {
        CHECK(strcmp(p->cond[i].name, names[i]) == 0, "%s: condition %d is '%s', want '%s'", what, i, p->cond[i].name,
              names[i]);
        CHECK(p->cond[i].tier == tiers[i], "%s: condition %d tier %d, want %d", what, i, p->cond[i].tier, tiers[i]);
        CHECK(p->cond[i].alpha == alphas[i], "%s: condition %d alpha %g, want %g", what, i, p->cond[i].alpha,
              alphas[i]);
        CHECK(p->cond[i].family == fam[i], "%s: condition %d family %d", what, i, p->cond[i].family);
    }
}

static void test_plans(void) {
    sx_sweep_plan p;
    sx_err err;
    const double a3[] = {1, 2, 4};
    /* the demo's narrow sweep */
    CHECK(sx_sweep_plan_build("none,ablate,suppress,steer,meandiff,banned", a3, 3, 0, &p, &err) == 0, "%s", err.msg);
    {
        const char *names[] = {"none", "ablate", "suppress@1", "suppress@2", "suppress@4", "steer@1",
                               "steer@2", "steer@4", "meandiff@1", "meandiff@2", "meandiff@4", "banned"};
        const sx_tier T[] = {SX_TIER_NONE, SX_TIER_ABLATE, SX_TIER_SUPPRESS, SX_TIER_SUPPRESS,
                             SX_TIER_SUPPRESS, SX_TIER_STEER, SX_TIER_STEER, SX_TIER_STEER,
                             SX_TIER_MEANDIFF, SX_TIER_MEANDIFF, SX_TIER_MEANDIFF, SX_TIER_BANNED};
        const float A[] = {0, 0, 1, 2, 4, 1, 2, 4, 1, 2, 4, 0};
        const int F[12] = {0};
        expect_plan(&p, names, T, A, F, 12, "narrow");
        CHECK(p.need_sae && p.need_meandiff && p.need_banned, "needs: %d %d %d", p.need_sae, p.need_meandiff,
              p.need_banned);
    }
    /* the demo's wide sweep: single latent and family */
    const double a1[] = {2};
    CHECK(sx_sweep_plan_build("ablate,steer", a1, 1, 1, &p, &err) == 0, "%s", err.msg);
    {
        const char *names[] = {"ablate", "ablate-family", "steer@2", "steer-family@2"};
        const sx_tier T[] = {SX_TIER_ABLATE, SX_TIER_ABLATE, SX_TIER_STEER, SX_TIER_STEER};
        const float A[] = {0, 0, 2, 2};
        const int F[] = {0, 1, 0, 1};
        expect_plan(&p, names, T, A, F, 4, "family");
        CHECK(p.need_sae && !p.need_meandiff && !p.need_banned, "family needs");
    }
    /* a family only doubles the SAE tiers; several strengths name even a zero one */
    const double a2[] = {0, 0.5};
    CHECK(sx_sweep_plan_build("none,suppress,banned,meandiff", a2, 2, 1, &p, &err) == 0, "%s", err.msg);
    {
        const char *names[] = {"none", "suppress@0", "suppress@0.5", "suppress-family@0", "suppress-family@0.5",
                               "banned", "meandiff@0", "meandiff@0.5"};
        const sx_tier T[] = {SX_TIER_NONE, SX_TIER_SUPPRESS, SX_TIER_SUPPRESS, SX_TIER_SUPPRESS, SX_TIER_SUPPRESS,
                             SX_TIER_BANNED, SX_TIER_MEANDIFF, SX_TIER_MEANDIFF};
        const float A[] = {0, 0, 0.5f, 0, 0.5f, 0, 0, 0.5f};
        const int F[] = {0, 0, 0, 1, 1, 0, 0, 0};
        expect_plan(&p, names, T, A, F, 8, "zero alpha");
    }
    /* the conditional steer: an SAE tier with a strength, doubled by a family */
    CHECK(sx_sweep_plan_build("cond", a1, 1, 1, &p, &err) == 0, "%s", err.msg);
    {
        const char *names[] = {"cond@2", "cond-family@2"};
        const sx_tier T[] = {SX_TIER_COND, SX_TIER_COND};
        const float A[] = {2, 2};
        const int F[] = {0, 1};
        expect_plan(&p, names, T, A, F, 2, "cond");
        CHECK(p.need_sae && !p.need_meandiff && !p.need_banned, "cond needs an SAE");
    }
    /* one strength of 0: the name has no "@" */
    const double a0[] = {0};
    CHECK(sx_sweep_plan_build("steer", a0, 1, 0, &p, &err) == 0 && p.n == 1 && strcmp(p.cond[0].name, "steer") == 0,
          "single zero alpha: '%s'", p.cond[0].name);
    /* baselines only need nothing from an SAE */
    CHECK(sx_sweep_plan_build("none", a3, 3, 0, &p, &err) == 0 && p.n == 1 && !p.need_sae, "none only");
    CHECK(sx_sweep_plan_build("none,steerz", a3, 3, 0, &p, &err) == -1 && strstr(err.msg, "'steerz'"),
          "unknown tier: %s", err.msg);
    /* more than SX_SWEEP_MAX_CONDS conditions is an error, not a silent cut */
    double many[64];
    for (int i = 0; i < 64; i++) many[i] = i + 1;
    CHECK(sx_sweep_plan_build("suppress,steer,meandiff,suppress,steer", many, 64, 0, &p, &err) == -1 &&
              strstr(err.msg, "conditions"),
          "too many: %s", err.msg);
}

static void test_merge(void) {
    const char *narrow = "condition,tier,alpha,latents,emt\n"
                         "none,none,0,,0.9\n"
                         "ablate,ablate,0,1 2,0.8\n"
                         "steer@2,steer,2,1 2,0.5\n"
                         "meandiff@2,meandiff,2,,0.6\n";
    const char *wide = "condition,tier,alpha,latents,emt\n"
                       "none,none,0,,0.9\n"
                       "steer@2,steer,2,7,0.4\n"
                       "steer-family@2,steer,2,7 9,0.45\n"
                       "banned,banned,0,,0.7\n";
    sx_csv_table a, b, m;
    sx_err err;
    CHECK(sx_csv_parse("narrow.csv", narrow, strlen(narrow), &a, &err) == 0, "%s", err.msg);
    CHECK(sx_csv_parse("wide.csv", wide, strlen(wide), &b, &err) == 0, "%s", err.msg);
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/merged.csv", test_tmpdir("sweep_plan"));
    const sx_csv_table *t[2] = {&a, &b};
    const char *names[2] = {"topk-8", "topk-32"};
    const int only[2] = {0, 1};
    CHECK(sx_sweep_merge(t, names, only, 2, dst, &err) == 0, "merge: %s", err.msg);
    char *data = NULL;
    size_t len = 0;
    CHECK(sx_read_file(dst, 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
    const char *want = "condition,tier,alpha,latents,emt\n"
                       "none,none,0,,0.9\n"
                       "topk-8 ablate,ablate,0,1 2,0.8\n"
                       "topk-8 steer@2,steer,2,1 2,0.5\n"
                       "meandiff@2,meandiff,2,,0.6\n"
                       "topk-32 steer@2,steer,2,7,0.4\n"
                       "topk-32 steer-family@2,steer,2,7 9,0.45\n";
    CHECK(data && strcmp(data, want) == 0, "merged:\n%s\nwant:\n%s", data ? data : "", want);
    free(data);
    /* the width comparison: each single-latent condition of an SAE and its family row */
    sx_csv_table mt;
    CHECK(sx_csv_parse("merged.csv", want, strlen(want), &mt, &err) == 0, "%s", err.msg);
    CHECK(sx_sweep_family_row(&mt, 4, "topk-32") == 5, "steer@2 -> steer-family@2");
    CHECK(sx_sweep_family_row(&mt, 5, "topk-32") == -1, "a family row has no family row");
    CHECK(sx_sweep_family_row(&mt, 1, "topk-8") == -1, "no family row for topk-8 ablate");
    CHECK(sx_sweep_family_row(&mt, 0, "topk-32") == -1 && sx_sweep_family_row(&mt, 4, "topk-3") == -1,
          "baselines and other SAEs' rows");
    CHECK(sx_sweep_family_row(&mt, 99, "topk-32") == -1, "row out of range");
    sx_csv_free(&mt);
    /* different columns are refused, naming both tables */
    const char *bad = "condition,tier\nnone,none\n";
    CHECK(sx_csv_parse("bad.csv", bad, strlen(bad), &m, &err) == 0, "%s", err.msg);
    const sx_csv_table *t2[2] = {&a, &m};
    CHECK(sx_sweep_merge(t2, names, only, 2, dst, &err) == -1 && strstr(err.msg, "bad.csv"), "bad merge: %s", err.msg);
    sx_csv_free(&a);
    sx_csv_free(&b);
    sx_csv_free(&m);
}

int main(void) {
    test_plans();
    test_merge();
    return TEST_DONE();
}
