/* test_forward_from_hook.c — sx_forward_from_hook: started from the residual a full pass
 * captured at any hook (resid_pre / resid_post of every layer, including after the last
 * block), it gives the full pass's logits bit for bit, on GPT-2 and Gemma-2 (sliding window,
 * GQA) fixtures, for a batch of sequences of different lengths; hooks after the start point
 * run, the start point's own do not; a change at the hook reaches the logits; bad arguments
 * fail. */
#include "models.h"
#include "test.h"

typedef struct grab {
    float *buf;
    int calls;
} grab;

static int grab_fn(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    grab *g = user;
    memcpy(g->buf, x, (size_t)ctx->n_rows * ctx->d * sizeof(float));
    g->calls++;
    return 0;
}

static int count_fn(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    (*(int *)user)++;
    return 0;
}

static void one_model(const char *dir) {
    sx_err err = {0};
    sx_model *m = NULL;
    if (sx_model_load(dir, &m, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const sx_model_config *c = sx_model_cfg(m);
    int V = c->vocab_size, d = c->d_model;
    int lens[3] = {5, 17, 11}, n = 33;
    int32_t toks[33];
    for (int i = 0; i < n; i++) toks[i] = (int32_t)((i * 7919 + 13) % V);
    float *ref = malloc((size_t)n * V * sizeof(float)), *lg = malloc((size_t)n * V * sizeof(float));
    float *x = malloc((size_t)n * d * sizeof(float));
    sx_forward_opts full = {NULL, 0, -1, 1};
    CHECK(sx_forward(m, toks, lens, 3, &full, ref, &err) == 0, "%s", err.msg);
    for (int l = 0; l < c->n_layers; l++)
        for (int pt = 0; pt < 2; pt++) {
            grab g = {x, 0};
            sx_hook h = {l, (sx_hook_point)pt, grab_fn, &g};
            sx_forward_opts cap = {&h, 1, -1, 0};
            CHECK(sx_forward(m, toks, lens, 3, &cap, NULL, &err) == 0, "%s", err.msg);
            /* a counting hook at the start point and at the next points */
            int at_start = 0, later = 0;
            sx_hook hs[2] = {{l, (sx_hook_point)pt, count_fn, &at_start},
                             {pt ? (l + 1 < c->n_layers ? l + 1 : l) : l, pt ? SX_HOOK_RESID_PRE : SX_HOOK_RESID_POST,
                              count_fn, &later}};
            int has_later = !(pt == 1 && l + 1 == c->n_layers);
            sx_forward_opts fo = {hs, has_later ? 2 : 1, -1, 1};
            CHECK(sx_forward_from_hook(m, toks, lens, 3, l, (sx_hook_point)pt, x, &fo, lg, &err) == 0, "%s", err.msg);
            CHECK(memcmp(lg, ref, (size_t)n * V * sizeof(float)) == 0, "%s: from blocks.%d.%s: logits differ (max %g)",
                  dir, l, pt ? "hook_resid_post" : "hook_resid_pre", test_max_abs_diff(lg, ref, (size_t)n * V));
            CHECK(at_start == 0, "%s: the start point's hook ran", dir);
            CHECK(!has_later || later == 1, "%s: a later hook ran %d times", dir, later);
            /* the residual handed in is what the rest of the model sees */
            for (int i = 0; i < d; i++) x[(size_t)20 * d + i] += (float)(i % 3) - 1.0f; /* not constant: LayerNorm removes that */
            CHECK(sx_forward_from_hook(m, toks, lens, 3, l, (sx_hook_point)pt, x, &full, lg, &err) == 0, "%s", err.msg);
            CHECK(test_max_abs_diff(lg + (size_t)20 * V, ref + (size_t)20 * V, (size_t)V) > 1e-4,
                  "%s: a changed residual did not change the logits", dir);
            CHECK(memcmp(lg, ref, (size_t)5 * V * sizeof(float)) == 0, "%s: another sequence changed", dir);
        }
    CHECK(sx_forward_from_hook(m, toks, lens, 3, c->n_layers, SX_HOOK_RESID_PRE, x, &full, lg, &err) != 0 &&
              strstr(err.msg, "layers"),
          "a start layer beyond the model must fail: %s", err.msg);
    CHECK(sx_forward_from_hook(m, toks, lens, 3, 0, SX_HOOK_RESID_PRE, NULL, &full, lg, &err) != 0,
          "no residual must fail");
    toks[3] = V;
    CHECK(sx_forward_from_hook(m, toks, lens, 3, 0, SX_HOOK_RESID_POST, x, &full, lg, &err) != 0 &&
              strstr(err.msg, "out of range"),
          "a token beyond the vocabulary must fail: %s", err.msg);
    /* sx_logsumexp against double */
    double want = 0, mx = ref[0];
    for (int j = 1; j < V; j++) mx = ref[j] > mx ? ref[j] : mx;
    for (int j = 0; j < V; j++) want += exp(ref[j] - mx);
    want = mx + log(want);
    float *p = malloc((size_t)V * sizeof(float));
    double got = sx_logsumexp(ref, V, p), ps = 0;
    for (int j = 0; j < V; j++) ps += p[j];
    CHECK_NEAR(got, want, 1e-6 * fabs(want) + 1e-6, "sx_logsumexp");
    CHECK_NEAR(ps, 1.0, 1e-5, "softmax sums to 1");
    CHECK_NEAR(p[7], exp(ref[7] - want), 1e-6, "softmax entry");
    free(p), free(ref), free(lg), free(x);
    sx_model_free(m);
}

int main(void) {
    const char *sh = test_shared_or_skip("the model fixtures");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fixtures/gpt2-tiny", sh);
    one_model(dir);
    snprintf(dir, sizeof dir, "%s/fixtures/gemma2-tiny", sh);
    one_model(dir);
    return TEST_DONE();
}
