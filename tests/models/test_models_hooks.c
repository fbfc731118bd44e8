/* test_models_hooks.c — hooks change downstream activations as expected, stop_after_layer
 * gives the same activations as a full run, hooks run during generation at prompt and
 * generated positions, hook names parse. */
#include "models_test_util.h"

typedef struct add_vec {
    const float *v;
    int calls;
} add_vec;

static int add_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    add_vec *a = user;
    for (int r = 0; r < ctx->n_rows; r++)
        for (int i = 0; i < ctx->d; i++) x[(size_t)r * ctx->d + i] += a->v[i];
    a->calls++;
    return 0;
}

static int fail_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    return sx_fail(err, "hook says no");
}

/* records which (seq, pos) rows a hook saw during generation */
typedef struct seen {
    int count[4][64];
    int bad_tok;
    int vocab;
} seen;

static int seen_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    seen *s = user;
    for (int r = 0; r < ctx->n_rows; r++) {
        if (ctx->seq_of_row[r] < 4 && ctx->pos_of_row[r] < 64) s->count[ctx->seq_of_row[r]][ctx->pos_of_row[r]]++;
        if (ctx->token_of_row[r] < 0 || ctx->token_of_row[r] >= s->vocab) s->bad_tok++;
    }
    return 0;
}

static void test_parse(void) {
    int l;
    sx_hook_point p;
    sx_err err;
    CHECK(sx_hook_parse("blocks.6.hook_resid_post", &l, &p, &err) == 0 && l == 6 && p == SX_HOOK_RESID_POST,
          "parse post");
    CHECK(sx_hook_parse("blocks.12.hook_resid_pre", &l, &p, &err) == 0 && l == 12 && p == SX_HOOK_RESID_PRE,
          "parse pre");
    const char *bad[] = {"blocks.x.hook_resid_post", "blocks.1.hook_resid_mid", "blocks..hook_resid_pre",
                         "blocks.1.hook_resid_post.x", "block.1.hook_resid_post", "", "blocks.-1.hook_resid_pre"};
    for (int i = 0; i < 7; i++) {
        err.msg[0] = 0;
        CHECK(sx_hook_parse(bad[i], &l, &p, &err) == -1 && strstr(err.msg, "hook"), "bad name '%s' accepted",
              bad[i]);
    }
}

static void test_model(const char *dir) {
    sx_model *m = load_or_die(dir);
    const sx_model_config *c = sx_model_cfg(m);
    int d = c->d_model, V = c->vocab_size, L = c->n_layers;
    int32_t ids[9] = {5, 17, 300, 2, 99, 4, 8, 250, 11};
    int T = 9;
    sx_err err;
    /* reference run capturing everything */
    sx_hook hk[64];
    capture ref;
    capture_init(&ref, m, T, hk);
    float *lref = malloc((size_t)T * V * sizeof *lref), *l2 = malloc((size_t)T * V * sizeof *l2);
    sx_forward_opts fo = {hk, L + 1, -1, 1};
    CHECK(sx_forward(m, ids, &T, 1, &fo, lref, &err) == 0, "forward: %s", err.msg);
    /* stop_after_layer: same activations as the full run up to that block, later hooks not run */
    for (int stop = 0; stop < L; stop++) {
        capture st;
        sx_hook hs[64];
        capture_init(&st, m, T, hs);
        sx_forward_opts so = {hs, L + 1, stop, 0};
        CHECK(sx_forward(m, ids, &T, 1, &so, NULL, &err) == 0, "stop %d: %s", stop, err.msg);
        for (int i = 0; i <= stop + 1; i++)
            CHECK(test_max_abs_diff(st.buf[i], ref.buf[i], (size_t)T * d) == 0, "stop_after %d buf %d differs", stop,
                  i);
        float *zeros = calloc((size_t)T * d, sizeof *zeros);
        double z = 0;
        for (int i = stop + 2; i <= L; i++) z += test_max_abs_diff(st.buf[i], zeros, (size_t)T * d);
        CHECK(z == 0, "stop_after %d: later hooks ran", stop);
        free(zeros);
        capture_free(&st);
    }
    /* adding v at resid_post 0 == adding v at resid_pre 1; resid_post 0 seen by a later hook
     * includes v; downstream changes; upstream does not */
    float *v = calloc((size_t)d, sizeof *v);
    for (int i = 0; i < d; i++) v[i] = (i % 3 == 0) ? 0.5f : -0.25f;
    add_vec av = {v, 0};
    capture a;
    sx_hook ha[66];
    ha[0] = (sx_hook){0, SX_HOOK_RESID_POST, add_hook, &av};
    capture_init(&a, m, T, ha + 1);
    sx_forward_opts ao = {ha, L + 2, -1, 1};
    CHECK(sx_forward(m, ids, &T, 1, &ao, l2, &err) == 0, "forward with add: %s", err.msg);
    CHECK(av.calls == 1, "add hook called %d times", av.calls);
    CHECK(test_max_abs_diff(a.buf[0], ref.buf[0], (size_t)T * d) == 0, "upstream resid_pre.0 changed");
    double e = 0;
    for (int r = 0; r < T; r++)
        for (int i = 0; i < d; i++) {
            double dd = fabs(a.buf[1][r * d + i] - (ref.buf[1][r * d + i] + v[i]));
            e = dd > e ? dd : e;
        }
    CHECK(e < 1e-6, "resid_post.0 seen after the add hook is not ref + v (%g)", e);
    if (L > 1) CHECK(test_max_abs_diff(a.buf[2], ref.buf[2], (size_t)T * d) > 1e-3, "downstream did not change");
    CHECK(test_max_abs_diff(l2, lref, (size_t)T * V) > 1e-3, "logits did not change");
    if (L > 1) {
        float *l3 = malloc((size_t)T * V * sizeof *l3);
        sx_hook hp = {1, SX_HOOK_RESID_PRE, add_hook, &av};
        sx_forward_opts po = {&hp, 1, -1, 1};
        CHECK(sx_forward(m, ids, &T, 1, &po, l3, &err) == 0, "forward pre add: %s", err.msg);
        CHECK(test_max_abs_diff(l3, l2, (size_t)T * V) == 0, "add at resid_post 0 != add at resid_pre 1");
        free(l3);
    }
    /* a failing hook aborts with its message; a hook on a missing layer is an error */
    sx_hook hf = {0, SX_HOOK_RESID_PRE, fail_hook, NULL};
    sx_forward_opts fo2 = {&hf, 1, -1, 1};
    CHECK(sx_forward(m, ids, &T, 1, &fo2, l2, &err) == -1 && strstr(err.msg, "hook says no"), "failing hook");
    hf = (sx_hook){L, SX_HOOK_RESID_PRE, add_hook, &av};
    CHECK(sx_forward(m, ids, &T, 1, &fo2, l2, &err) == -1 && strstr(err.msg, "layer"), "hook on missing layer");
    /* generation: the hook sees every prompt position once and every generated position
     * except the last token (never run through the model) */
    seen s = {.vocab = V};
    sx_hook hg = {L - 1, SX_HOOK_RESID_POST, seen_hook, &s};
    const int32_t *pr[2] = {ids, ids + 2};
    int pl[2] = {9, 4};
    int32_t *out[2];
    int ol[2];
    sx_gen_opts go = {.max_new_tokens = 5, .temperature = 0, .top_p = 1, .hooks = &hg, .n_hooks = 1};
    CHECK(sx_generate(m, pr, pl, 2, &go, out, ol, &err) == 0, "generate: %s", err.msg);
    int okc = 1;
    for (int q = 0; q < 2; q++)
        for (int p = 0; p < 64; p++) {
            int want = p < pl[q] + 4 ? 1 : 0;
            if (s.count[q][p] != want) okc = 0;
        }
    CHECK(okc && s.bad_tok == 0, "generation hook coverage wrong");
    /* a steering hook changes greedy generation; the same hook with v = 0 does not */
    int32_t *o2[2];
    int ol2[2];
    for (int i = 0; i < d; i++) v[i] *= 40;
    sx_hook hsteer = {0, SX_HOOK_RESID_POST, add_hook, &av};
    sx_gen_opts g2 = {.max_new_tokens = 5, .temperature = 0, .top_p = 1, .hooks = &hsteer, .n_hooks = 1};
    CHECK(sx_generate(m, pr, pl, 2, &g2, o2, ol2, &err) == 0, "generate steered: %s", err.msg);
    CHECK(memcmp(o2[0], out[0], 5 * sizeof(int32_t)) != 0 || memcmp(o2[1], out[1], 5 * sizeof(int32_t)) != 0,
          "steering hook did not change the greedy output");
    for (int q = 0; q < 2; q++) free(out[q]), free(o2[q]);
    free(v), free(lref), free(l2);
    capture_free(&a);
    capture_free(&ref);
    sx_model_free(m);
}

int main(void) {
    test_parse();
    const char *shared = test_shared_or_skip("the model fixtures");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/fixtures/gpt2-tiny", shared);
    test_model(dir);
    snprintf(dir, sizeof dir, "%s/fixtures/gemma2-tiny", shared);
    test_model(dir);
    return TEST_DONE();
}
