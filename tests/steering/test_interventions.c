/* test_interventions.c — the steering tiers on a synthetic in-memory SAE: exact residual
 * moves, bit-for-bit no-ops where nothing fires, activations matching sx_sae_encode for each
 * architecture, and the input checks. */
#include "steering.h"
#include "test.h"

enum { D = 16, M = 8, N = 12 };

static void make_sae(sx_sae *s, sx_sae_arch arch, float norm_scale, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->arch = arch;
    s->d_in = D;
    s->d_sae = M;
    s->k = 3;
    s->apply_b_dec_to_input = 1;
    s->norm_scale = norm_scale;
    snprintf(s->hook_name, sizeof s->hook_name, "blocks.0.hook_resid_post");
    s->W_enc = malloc(sizeof(float) * D * M);
    s->W_dec = malloc(sizeof(float) * D * M);
    s->b_enc = malloc(sizeof(float) * M);
    s->b_dec = malloc(sizeof(float) * D);
    s->threshold = (arch == SX_SAE_JUMPRELU) ? malloc(sizeof(float) * M) : NULL;
    sx_rng r;
    sx_rng_seed(&r, seed);
    for (int i = 0; i < D * M; i++) s->W_enc[i] = (float)(0.5 * sx_rng_normal(&r));
    for (int i = 0; i < D * M; i++) s->W_dec[i] = (float)(0.7 * sx_rng_normal(&r)); /* not unit norm */
    for (int i = 0; i < M; i++) s->b_enc[i] = (float)(0.2 * sx_rng_normal(&r));
    for (int i = 0; i < D; i++) s->b_dec[i] = (float)(0.1 * sx_rng_normal(&r));
    if (s->threshold)
        for (int i = 0; i < M; i++) s->threshold[i] = 0.3f;
}

static void rand_x(float *x, uint64_t seed) {
    sx_rng r;
    sx_rng_seed(&r, seed);
    for (int i = 0; i < N * D; i++) x[i] = (float)sx_rng_normal(&r);
}

static int run_hook(sx_intervention *iv, float *x) {
    int pos[N], seq[N];
    for (int i = 0; i < N; i++) pos[i] = i, seq[i] = 0;
    sx_hook_ctx ctx = {.layer = 0, .point = SX_HOOK_RESID_POST, .n_rows = N, .d = D, .seq_of_row = seq, .pos_of_row = pos};
    sx_err err;
    return sx_intervention_hook(iv, &ctx, x, &err);
}

static void test_tiers(sx_sae_arch arch, float ns) {
    sx_sae s;
    make_sae(&s, arch, ns, 42 + arch);
    sx_err err;
    int lat[] = {1, 4, 6};
    float scales[] = {0.5f, 2.0f, 1.5f};
    float x[N * D], x0[N * D], fa[N * M];
    rand_x(x0, 9);
    CHECK(sx_sae_encode(&s, x0, N, fa, NULL, &err) == 0, "encode");
    int fires = 0;
    for (int r = 0; r < N; r++)
        for (int j = 0; j < 3; j++) fires += fa[r * M + lat[j]] > 0;
    CHECK(fires > 0 && fires < 3 * N, "arch %d: some but not all latents fire (%d)", arch, fires);
    for (int tier = SX_TIER_ABLATE; tier <= SX_TIER_STEER; tier++) {
        sx_intervention iv;
        const float alpha = 0.75f;
        CHECK(sx_intervention_sae(&iv, (sx_tier)tier, &s, "blocks.0.hook_resid_post", D, 2, lat, 3, scales, alpha, &err) == 0,
              "build: %s", err.msg);
        /* activations equal the SAE's own encode */
        float acts[N * 3];
        CHECK(sx_intervention_acts(&iv, x0, N, acts, &err) == 0, "acts");
        double md = 0;
        for (int r = 0; r < N; r++)
            for (int j = 0; j < 3; j++) md = fmax(md, fabs(acts[r * 3 + j] - fa[r * M + lat[j]]));
        CHECK(md < 1e-4, "arch %d: a_i matches sx_sae_encode (max diff %g)", arch, md);
        memcpy(x, x0, sizeof x);
        CHECK(run_hook(&iv, x) == 0, "hook");
        double worst = 0;
        int untouched_ok = 1;
        for (int r = 0; r < N; r++) {
            int any = 0;
            for (int k = 0; k < D; k++) {
                double want = x0[r * D + k];
                for (int j = 0; j < 3; j++) {
                    double a = fa[r * M + lat[j]], dk = (double)s.W_dec[lat[j] * D + k] / ns;
                    double c = tier == SX_TIER_ABLATE ? a : tier == SX_TIER_SUPPRESS ? (a > 0 ? a + alpha * scales[j] : 0)
                                                                                    : alpha * scales[j];
                    if (c != 0) any = 1;
                    want -= c * dk;
                }
                worst = fmax(worst, fabs(want - x[r * D + k]));
            }
            if (!any && memcmp(x + r * D, x0 + r * D, sizeof(float) * D) != 0) untouched_ok = 0;
        }
        CHECK(worst < 2e-4, "arch %d tier %s: residual moved by exactly the stated vector (max err %g)", arch,
              sx_tier_name((sx_tier)tier), worst);
        CHECK(untouched_ok, "tier %s: rows where nothing fires are bit-identical", sx_tier_name((sx_tier)tier));
        sx_intervention_free(&iv);
    }
    /* ablate with latents that never fire: bit for bit no change */
    for (int j = 0; j < 3; j++) s.b_enc[lat[j]] = -1e4f;
    sx_intervention iv;
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &s, "blocks.0.hook_resid_post", D, 2, lat, 3, NULL, 0, &err) == 0, "build");
    memcpy(x, x0, sizeof x);
    run_hook(&iv, x);
    CHECK(memcmp(x, x0, sizeof x) == 0 && iv.fired == 0 && iv.rows == N, "ablate of silent latents is a bit-exact no-op");
    sx_intervention_free(&iv);
    sx_sae_free(&s);
}

static void test_errors(void) {
    sx_sae s;
    make_sae(&s, SX_SAE_STANDARD, 1, 5);
    sx_intervention iv;
    sx_err err;
    int bad[] = {M};
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &s, "blocks.0.hook_resid_post", D, 2, bad, 1, NULL, 0, &err) != 0 &&
              strstr(err.msg, "out of range"), "latent >= d_sae rejected: %s", err.msg);
    int ok[] = {0};
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &s, "blocks.0.hook_resid_post", D + 1, 2, ok, 1, NULL, 0, &err) != 0 &&
              strstr(err.msg, "d_in"), "d_in mismatch rejected: %s", err.msg);
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &s, "blocks.1.hook_resid_post", D, 2, ok, 1, NULL, 0, &err) != 0 &&
              strstr(err.msg, "trained on hook"), "hook mismatch rejected: %s", err.msg);
    s.hook_name[0] = 0;
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &s, "blocks.5.hook_resid_post", D, 2, ok, 1, NULL, 0, &err) != 0 &&
              strstr(err.msg, "layers"), "hook beyond the model rejected: %s", err.msg);
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &s, "blocks.0.attn", D, 2, ok, 1, NULL, 0, &err) != 0, "bad hook name");
    sx_sae_free(&s);
    sx_tier t;
    CHECK(sx_tier_parse("suppress", &t) == 0 && t == SX_TIER_SUPPRESS && sx_tier_parse("bogus", &t) != 0, "tier names");
}

static void test_meandiff_banned(void) {
    float v[D], x[N * D], x0[N * D];
    for (int k = 0; k < D; k++) v[k] = 0.1f * (float)k - 0.3f;
    rand_x(x0, 3);
    memcpy(x, x0, sizeof x);
    sx_intervention iv;
    sx_err err;
    CHECK(sx_intervention_meandiff(&iv, "blocks.0.hook_resid_post", D, 2, v, 2.0f, &err) == 0, "meandiff");
    run_hook(&iv, x);
    double worst = 0;
    for (int i = 0; i < N * D; i++) worst = fmax(worst, fabs((double)x[i] - (x0[i] - 2.0 * v[i % D])));
    CHECK(worst < 1e-6, "meandiff subtracts alpha v (%g)", worst);
    sx_intervention_free(&iv);
    int ids[] = {2, 5};
    float lg[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK(sx_intervention_banned(&iv, ids, 2, 8, &err) == 0, "banned");
    sx_intervention_logits(&iv, 0, lg, 8);
    CHECK(isinf(lg[2]) && lg[2] < 0 && isinf(lg[5]) && lg[4] == 4, "banned ids get -inf");
    sx_intervention_free(&iv);
    int badid[] = {8};
    CHECK(sx_intervention_banned(&iv, badid, 1, 8, &err) != 0, "banned id outside the vocabulary");
}

static void test_scales_file(void) {
    const char *dir = test_tmpdir("steering_scales");
    char p[4200], q[4300];
    snprintf(p, sizeof p, "%s/latent_stats.csv", dir);
    const char *csv = "sae,latent,fire_freq,mean_act,max_act,q50,q90,q99\n"
                      "a,3,0.1,1,5,1,2,3.5\nb,3,0.1,1,5,1,2,9.5\na,17,0.1,1,5,1,2,4.5\nb,17,0.1,1,5,1,2,1.5\n";
    sx_err err;
    sx_write_file_atomic(p, csv, strlen(csv), &err);
    int lat[] = {17, 3};
    float sc[2];
    snprintf(q, sizeof q, "%s#a", p);
    CHECK(sx_scales_load(q, lat, 2, sc, &err) == 0 && sc[0] == 4.5f && sc[1] == 3.5f, "q99 of SAE a: %s", err.msg);
    snprintf(q, sizeof q, "%s#zzz", p);
    CHECK(sx_scales_load(q, lat, 2, sc, &err) != 0 && strstr(err.msg, "no scale for latent"), "missing SAE: %s", err.msg);
    snprintf(p, sizeof p, "%s/s.json", dir);
    sx_write_file_atomic(p, "{\"3\": 0.25, \"17\": 2}", 20, &err);
    CHECK(sx_scales_load(p, lat, 2, sc, &err) == 0 && sc[0] == 2.0f && sc[1] == 0.25f, "JSON scales: %s", err.msg);
}

int main(void) {
    test_scales_file();
    test_tiers(SX_SAE_STANDARD, 1.0f);
    test_tiers(SX_SAE_STANDARD, 2.0f);
    test_tiers(SX_SAE_JUMPRELU, 1.0f);
    test_tiers(SX_SAE_TOPK, 1.0f);
    test_errors();
    test_meandiff_banned();
    return TEST_DONE();
}
