/* test_capi.c — the flat binding API (capi.h) in C, so it also runs under ASan and valgrind:
 * forward captures == sx_forward + the model's own hooks, logits=NULL, steering through
 * forward and generate (alpha 0 is a no-op, steer shifts the residual by alpha * dec), greedy
 * == sx_generate, SAE load / param views / shape-checked encode and decode == sx_sae_*, the
 * error codes for missing paths and wrong shapes, and the eval-sae field list. */
#include "capi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

typedef struct {
    float *dst;
    int d;
} grab;
static int grab_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    grab *g = user;
    for (int r = 0; r < ctx->n_rows; r++)
        memcpy(g->dst + (size_t)ctx->pos_of_row[r] * g->d, x + (size_t)r * ctx->d, sizeof(float) * (size_t)g->d);
    return 0;
}

int main(void) {
    sx_err err = {0};
    const char *src = getenv("SAETOX_SOURCE");
    char mdir[4200];
    snprintf(mdir, sizeof mdir, "%s/models/embedded", src ? src : ".");
    sx_model *m = NULL;
    CHECK(sx_capi_model_load(mdir, &m, &err) == 0, "load %s: %s", mdir, err.msg);
    if (!m) return TEST_DONE();
    int V, d, L, nctx, bos, eos;
    sx_capi_model_dims(m, &V, &d, &L, &nctx, &bos, &eos);
    CHECK(V > 0 && d > 0 && L >= 3 && nctx >= 16, "dims %d %d %d %d", V, d, L, nctx);

    /* missing paths: SX_ENOTFOUND naming the path */
    const char *miss = "/nonexistent-saetox-capi/folder";
    sx_model *m2 = NULL;
    err = (sx_err){0};
    CHECK(sx_capi_model_load(miss, &m2, &err) == -1 && !m2 && err.code == SX_ENOTFOUND && strstr(err.msg, miss),
          "missing model: %s %s", sx_code_name(err.code), err.msg);
    err = (sx_err){0};
    CHECK(sx_capi_sae_load(miss, &err) == NULL && err.code == SX_ENOTFOUND && strstr(err.msg, miss),
          "missing SAE: %s %s", sx_code_name(err.code), err.msg);

    /* forward: captures and logits vs sx_forward with the library's own hooks */
    int32_t ids[9] = {464, 3290, 318, 257, 1178, 812, 13, 314, 373};
    int T = 9;
    float *lg = malloc(sizeof(float) * (size_t)T * V), *lg2 = malloc(sizeof(float) * (size_t)T * V);
    float *h_pre2 = malloc(sizeof(float) * (size_t)T * d), *h_post1 = malloc(sizeof(float) * (size_t)T * d);
    float *ref = malloc(sizeof(float) * (size_t)T * d), *tmp = malloc(sizeof(float) * (size_t)T * d);
    const char *names[2] = {"blocks.2.hook_resid_pre", "blocks.1.hook_resid_post"};
    float *outs[2] = {h_pre2, h_post1};
    CHECK(sx_capi_forward(m, ids, T, names, 2, lg, outs, NULL, &err) == 0, "forward: %s", err.msg);
    grab g = {ref, d};
    sx_hook hk = {2, SX_HOOK_RESID_PRE, grab_hook, &g};
    sx_forward_opts fo = {&hk, 1, -1, 1};
    CHECK(sx_forward(m, ids, &T, 1, &fo, lg2, &err) == 0, "sx_forward: %s", err.msg);
    CHECK(memcmp(lg, lg2, sizeof(float) * (size_t)T * V) == 0, "capi logits == sx_forward logits");
    CHECK(memcmp(h_pre2, ref, sizeof(float) * (size_t)T * d) == 0, "capture == library hook");
    CHECK(memcmp(h_pre2, h_post1, sizeof(float) * (size_t)T * d) == 0, "resid_pre 2 == resid_post 1");
    memset(tmp, 0, sizeof(float) * (size_t)T * d);
    float *o1[1] = {tmp};
    CHECK(sx_capi_forward(m, ids, T, names, 1, NULL, o1, NULL, &err) == 0 &&
              memcmp(tmp, ref, sizeof(float) * (size_t)T * d) == 0,
          "forward without logits: %s", err.msg);
    const char *bad[1] = {"blocks.99.hook_resid_pre"};
    err = (sx_err){0};
    CHECK(sx_capi_forward(m, ids, T, bad, 1, NULL, o1, NULL, &err) == -1 && err.code == SX_ENOTFOUND &&
              strstr(err.msg, "blocks.99"),
          "bad hook: %s", err.msg);
    const char *bad2[1] = {"blocks.1.attn"};
    err = (sx_err){0};
    CHECK(sx_capi_forward(m, ids, T, bad2, 1, NULL, o1, NULL, &err) == -1 && err.code != SX_OK, "bad hook name: %s",
          err.msg);

    /* an SAE at blocks.2.hook_resid_pre, saved and loaded through the capi */
    int ds = 32;
    sx_sae s = {0};
    s.arch = SX_SAE_STANDARD, s.d_in = d, s.d_sae = ds, s.apply_b_dec_to_input = 1, s.norm_scale = 1;
    s.W_enc = calloc((size_t)d * ds, sizeof(float)), s.b_enc = calloc((size_t)ds, sizeof(float));
    s.W_dec = calloc((size_t)d * ds, sizeof(float)), s.b_dec = calloc((size_t)d, sizeof(float));
    sx_rng rng;
    sx_rng_seed(&rng, 11);
    for (int i = 0; i < ds; i++) {
        double nrm = 0;
        for (int j = 0; j < d; j++) nrm += pow(s.W_dec[(size_t)i * d + j] = (float)sx_rng_normal(&rng), 2);
        for (int j = 0; j < d; j++) {
            s.W_dec[(size_t)i * d + j] /= (float)sqrt(nrm);
            s.W_enc[(size_t)j * ds + i] = 0.5f * s.W_dec[(size_t)i * d + j];
        }
        s.b_enc[i] = -0.05f;
    }
    snprintf(s.hook_name, sizeof s.hook_name, "blocks.2.hook_resid_pre");
    const char *tdir = test_tmpdir("test_capi");
    char sdir[4200];
    snprintf(sdir, sizeof sdir, "%s/sae", tdir);
    CHECK(sx_sae_save(&s, sdir, &err) == 0, "save: %s", err.msg);
    sx_sae *sae = sx_capi_sae_load(sdir, &err);
    CHECK(sae != NULL, "capi SAE load: %s", err.msg);
    if (sae) {
        int arch, di, dsa, k, abd;
        float ns;
        sx_capi_sae_dims(sae, &arch, &di, &dsa, &k, &abd, &ns);
        CHECK(arch == SX_SAE_STANDARD && di == d && dsa == ds && abd == 1 && ns == 1, "SAE dims");
        CHECK(!strcmp(sx_capi_sae_hook_name(sae), "blocks.2.hook_resid_pre"), "hook name");
        const float *W = sx_capi_sae_param(sae, "W_dec");
        CHECK(W == sae->W_dec && memcmp(W, s.W_dec, sizeof(float) * (size_t)d * ds) == 0, "W_dec is the SAE's memory");
        CHECK(sx_capi_sae_param(sae, "threshold") == NULL && sx_capi_sae_param(sae, "nope") == NULL, "absent params");
        float *f = malloc(sizeof(float) * (size_t)T * ds), *f2 = malloc(sizeof(float) * (size_t)T * ds);
        CHECK(sx_capi_sae_encode(sae, ref, T, d, f, NULL, &err) == 0, "encode: %s", err.msg);
        CHECK(sx_sae_encode(sae, ref, T, f2, NULL, &err) == 0 && memcmp(f, f2, sizeof(float) * (size_t)T * ds) == 0,
              "capi encode == sx_sae_encode");
        CHECK(sx_capi_sae_decode(sae, f, T, ds, tmp, &err) == 0, "decode: %s", err.msg);
        err = (sx_err){0};
        CHECK(sx_capi_sae_encode(sae, ref, T, d - 1, f, NULL, &err) == -1 && err.code == SX_EINVAL &&
                  strstr(err.msg, "d_in"),
              "encode wrong width: %s", err.msg);
        err = (sx_err){0};
        CHECK(sx_capi_sae_decode(sae, f, T, ds + 1, tmp, &err) == -1 && err.code == SX_EINVAL &&
                  strstr(err.msg, "d_sae"),
              "decode wrong width: %s", err.msg);

        /* steering through forward: the steer tier subtracts alpha * sum dec_i at the hook */
        int lat[2] = {3, 17};
        sx_capi_steer st = {sae, NULL, "steer", lat, 2, NULL, 10.0f};
        CHECK(sx_capi_forward(m, ids, T, names, 1, NULL, o1, &st, &err) == 0, "steered forward: %s", err.msg);
        double e = 0;
        for (int t = 0; t < T; t++)
            for (int j = 0; j < d; j++) {
                double want = ref[(size_t)t * d + j] - 10.0 * (s.W_dec[3 * (size_t)d + j] + s.W_dec[17 * (size_t)d + j]);
                e = fmax(e, fabs(tmp[(size_t)t * d + j] - want));
            }
        CHECK(e < 1e-4, "steer shifts the residual by alpha * dec (err %g)", e);

        /* generation: greedy == sx_generate, alpha 0 == none, alpha 40 differs, bad tier */
        int32_t out[16], out0[16], out1[16];
        int n_out = 0, n0 = 0, n1 = 0;
        CHECK(sx_capi_generate(m, ids, T, 16, 0, 1, 0, 0, NULL, 0, NULL, out, &n_out, &err) == 0 && n_out == 16,
              "generate: %s", err.msg);
        sx_gen_opts go = {.max_new_tokens = 16, .temperature = 0, .top_p = 1};
        const int32_t *pr = ids;
        int32_t *gen = NULL;
        int glen = 0;
        CHECK(sx_generate(m, &pr, &T, 1, &go, &gen, &glen, &err) == 0 && glen == 16 &&
                  memcmp(gen, out, sizeof out) == 0,
              "capi greedy == sx_generate");
        free(gen);
        st.alpha = 0;
        CHECK(sx_capi_generate(m, ids, T, 16, 0, 1, 0, 0, NULL, 0, &st, out0, &n0, &err) == 0 && n0 == 16 &&
                  memcmp(out0, out, sizeof out) == 0,
              "alpha 0 steering is a no-op: %s", err.msg);
        st.alpha = 40;
        CHECK(sx_capi_generate(m, ids, T, 16, 0, 1, 0, 0, NULL, 0, &st, out1, &n1, &err) == 0 && n1 == 16 &&
                  memcmp(out1, out, sizeof out) != 0,
              "alpha 40 steering changes the continuation: %s", err.msg);
        int32_t stop = out[2];
        CHECK(sx_capi_generate(m, ids, T, 16, 0, 1, 0, 0, &stop, 1, NULL, out1, &n1, &err) == 0 && n1 >= 1 &&
                  n1 <= 3 && out1[n1 - 1] == stop,
              "stop ids: %d tokens", n1);
        st.tier = "boost";
        err = (sx_err){0};
        CHECK(sx_capi_generate(m, ids, T, 4, 0, 1, 0, 0, NULL, 0, &st, out1, &n1, &err) == -1 && err.code == SX_EINVAL &&
                  strstr(err.msg, "boost"),
              "bad tier: %s", err.msg);
        st.tier = "steer";
        lat[1] = ds;
        err = (sx_err){0};
        CHECK(sx_capi_generate(m, ids, T, 4, 0, 1, 0, 0, NULL, 0, &st, out1, &n1, &err) == -1 && err.code != SX_OK,
              "latent out of range: %s", err.msg);
        err = (sx_err){0};
        CHECK(sx_capi_generate(m, ids, T, 4, 1, 1.5f, 0, 0, NULL, 0, NULL, out1, &n1, &err) == -1 && err.code == SX_EINVAL,
              "top_p 1.5: %s", err.msg);

        /* eval-sae on ids */
        const char *fields = sx_capi_eval_sae_fields();
        int nf = 1;
        for (const char *c = fields; *c; c++) nf += *c == ',';
        CHECK(nf == 17 && !strncmp(fields, "d_sae,", 6) && !strstr(fields, ",,") && fields[strlen(fields) - 1] != ',',
              "eval fields '%s'", fields);
        double *ev = calloc((size_t)nf, sizeof *ev);
        const sx_sae *saes[1] = {sae};
        CHECK(sx_capi_eval_sae(m, saes, NULL, 1, ids, T, NULL, NULL, 0, 0, NULL, ev, &err) == 0, "eval: %s", err.msg);
        CHECK(ev[0] == ds && ev[1] == T, "eval d_sae %g n_tokens %g", ev[0], ev[1]);
        err = (sx_err){0};
        CHECK(sx_capi_eval_sae(m, saes, NULL, 1, NULL, 0, NULL, NULL, 0, 0, NULL, ev, &err) == -1 && err.code == SX_EINVAL,
              "eval without text: %s", err.msg);
        free(ev);
        free(f), free(f2);
        sx_capi_sae_free(sae);
    }
    free(s.W_enc), free(s.b_enc), free(s.W_dec), free(s.b_dec);
    free(lg), free(lg2), free(h_pre2), free(h_post1), free(ref), free(tmp);
    sx_model_free(m);
    return TEST_DONE();
}
