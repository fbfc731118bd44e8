/* The Hugging Face folder written by the trainer loads with the normal loader
 * (sx_model_load) and sx_forward gives the training forward's logits; checkpoints round-trip;
 * sx_lm_load_hf grows a model in depth and width without changing what it computes. */
#include <unistd.h>

#include "lmtrain.h"
#include "models.h"
#include "test.h"

static void randomize(sx_lm *m) {
    sx_lm_init(m, 5, 0.1f);
    sx_rng r;
    sx_rng_seed(&r, 11);
    for (int id = 0; id < SX_LM_NT; id++)
        if (!sx_lm_tensor_is_matrix(id))
            for (size_t i = 0; i < m->numel[id]; i++)
                m->params[m->off[id] + i] += (float)(0.1 * sx_rng_normal(&r));
}

static void check_export(sx_lm *lm, sx_dtype dt, double tol) {
    const char *dir = test_tmpdir(dt == SX_F32 ? "lmtrain_export_f32" : "lmtrain_export_bf16");
    sx_err err = {0};
    CHECK(sx_lm_save_hf(lm, dir, dt, NULL, &err) == 0, "save_hf: %s", err.msg);
    sx_model *m = NULL;
    if (sx_model_load(dir, &m, &err)) {
        CHECK(0, "sx_model_load: %s", err.msg);
        return;
    }
    const sx_model_config *c = sx_model_cfg(m);
    CHECK(c->arch == SX_ARCH_GPT2 && c->d_model == 16 && c->n_layers == 2 && c->n_heads == 2 &&
              c->n_ctx == 12 && c->vocab_size == 50257,
          "config read back wrong");
    int T = 12, V = 50257;
    int32_t ids[12] = {464, 3290, 318, 50256, 11, 13, 0, 50000, 257, 257, 1000, 42};
    float *a = malloc(sizeof(float) * T * V), *b = malloc(sizeof(float) * T * V);
    CHECK(sx_lm_logits(lm, ids, 1, T, a, &err) == 0, "lm logits: %s", err.msg);
    sx_forward_opts fo = {.hooks = NULL, .n_hooks = 0, .stop_after_layer = -1, .logits = 1};
    int lens[1] = {T};
    CHECK(sx_forward(m, ids, lens, 1, &fo, b, &err) == 0, "sx_forward: %s", err.msg);
    double d = test_max_abs_diff(a, b, (size_t)T * V), mx = 0;
    for (size_t i = 0; i < (size_t)T * V; i++) mx = fmax(mx, fabs(a[i]));
    printf("  %s: max |logit| %.3f, max diff training vs loader %.3g\n", sx_dtype_name(dt), mx, d);
    CHECK(mx > 0.1, "logits too small to compare (%g)", mx);
    CHECK(d < tol, "%s export: logits differ by %g (tol %g)", sx_dtype_name(dt), d, tol);
    free(a);
    free(b);
    sx_model_free(m);
}

static void check_ckpt(sx_lm *lm) {
    const char *dir = test_tmpdir("lmtrain_ckpt");
    char path[4096];
    snprintf(path, sizeof path, "%s/ck.bin", dir);
    sx_err err;
    for (size_t i = 0; i < lm->n_params; i++) lm->m[i] = (float)i * 1e-6f, lm->v[i] = 0.5f;
    lm->adam_t = 17;
    int64_t st[3] = {1, 2, 3}, st2[3] = {0};
    CHECK(sx_lm_ckpt_save(lm, path, st, sizeof st, &err) == 0, "ckpt save: %s", err.msg);
    sx_lm *b = NULL;
    CHECK(sx_lm_ckpt_load(path, &b, st2, sizeof st2, &err) == 0, "ckpt load: %s", err.msg);
    if (!b) return;
    CHECK(b->adam_t == 17 && st2[2] == 3, "state not restored");
    CHECK(!memcmp(b->params, lm->params, lm->n_params * 4) && !memcmp(b->m, lm->m, lm->n_params * 4) &&
              !memcmp(b->v, lm->v, lm->n_params * 4),
          "checkpoint tensors differ");
    sx_lm_free(b);
    CHECK(sx_lm_ckpt_load(path, &b, st2, 8, &err) != 0, "wrong state length accepted");
    FILE *f = fopen(path, "r+b"); /* truncate: must be refused */
    if (f) {
        fclose(f);
        CHECK(truncate(path, 100) == 0, "truncate");
        CHECK(sx_lm_ckpt_load(path, &b, st2, sizeof st2, &err) != 0, "truncated checkpoint accepted");
        printf("  truncated: %s\n", err.msg);
    }
}

/* Depth growth (--init-from a shallower folder): 2 layers into 5.  Source layer j lands in
 * block floor(j*5/2) = 0, 2; blocks 1, 3, 4 keep their init with zero output projections, so
 * the logits equal the source model's; a deeper source is refused. */
static void check_grow(sx_lm *lm) {
    const char *dir = test_tmpdir("lmtrain_grow");
    sx_err err = {0};
    CHECK(sx_lm_save_hf(lm, dir, SX_F32, NULL, &err) == 0, "save_hf: %s", err.msg);
    sx_lm_cfg c5 = lm->cfg;
    c5.n_layer = 5;
    sx_lm *g = NULL;
    CHECK(sx_lm_new(&c5, &g, &err) == 0, "new 5-layer: %s", err.msg);
    if (!g) return;
    sx_lm_init(g, 9, 0.1f);
    float *init = malloc(g->n_params * sizeof(float));
    memcpy(init, g->params, g->n_params * sizeof(float));
    CHECK(sx_lm_load_hf(g, dir, &err) == 0, "grow 2 -> 5: %s", err.msg);
    const int src_of[5] = {0, -1, 1, -1, -1};
    for (int id = 0; id < SX_LM_NT; id++) {
        size_t per_g = g->numel[id] / 5, per_s = lm->numel[id] / 2;
        int layered = per_g * 5 == g->numel[id] && g->numel[id] != lm->numel[id];
        if (!layered) {
            CHECK(!memcmp(g->params + g->off[id], lm->params + lm->off[id], g->numel[id] * 4),
                  "tensor %d not copied", id);
            continue;
        }
        for (int b = 0; b < 5; b++) {
            const float *p = g->params + g->off[id] + (size_t)b * per_g;
            if (src_of[b] >= 0) {
                CHECK(!memcmp(p, lm->params + lm->off[id] + (size_t)src_of[b] * per_s, per_g * 4),
                      "tensor %d block %d is not source layer %d", id, b, src_of[b]);
            } else {
                int out = id == SX_LM_APW || id == SX_LM_APB || id == SX_LM_FPW || id == SX_LM_FPB;
                const float *p0 = init + (p - g->params);
                int same = 1;
                for (size_t i = 0; i < per_g; i++) same &= out ? p[i] == 0 : p[i] == p0[i];
                CHECK(same, "new block %d tensor %d: not %s", b, id, out ? "zero" : "its init");
            }
        }
    }
    int T = 12, V = 50257;
    int32_t ids[12] = {464, 3290, 318, 50256, 11, 13, 0, 50000, 257, 257, 1000, 42};
    float *a = malloc(sizeof(float) * T * V), *b = malloc(sizeof(float) * T * V);
    CHECK(sx_lm_logits(lm, ids, 1, T, a, &err) == 0 && sx_lm_logits(g, ids, 1, T, b, &err) == 0,
          "logits: %s", err.msg);
    double d = test_max_abs_diff(a, b, (size_t)T * V);
    printf("  grown 2 -> 5 layers: max logit diff %.3g\n", d);
    CHECK(d < 1e-5, "grown model changed the logits by %g", d);
    free(a);
    free(b);
    free(init);
    /* a 5-layer folder does not fit a 2-layer model */
    CHECK(sx_lm_save_hf(g, dir, SX_F32, NULL, &err) == 0, "save 5-layer: %s", err.msg);
    CHECK(sx_lm_load_hf(lm, dir, &err) != 0 && strstr(err.msg, "5 transformer blocks"),
          "deeper source accepted (%s)", err.msg);
    printf("  deeper source: %s\n", err.msg);
    sx_lm_free(g);
}

/* Width growth (with depth growth): 2 layers x 16 wide, 2 heads into 3 x 32, 4 heads (the
 * head width kept).  Residual channels i and i + 16 are twins, so the logits equal the
 * source model's up to rounding of the split rows; one training step makes the twins differ
 * (the random split gives them different gradients); other widths and head counts are
 * refused with one line. */
static void check_widen(sx_lm *lm) {
    const char *dir = test_tmpdir("lmtrain_widen");
    sx_err err = {0};
    CHECK(sx_lm_save_hf(lm, dir, SX_F32, NULL, &err) == 0, "save_hf: %s", err.msg);
    sx_lm_cfg cw = {.vocab = 50257, .n_ctx = 12, .n_layer = 3, .n_head = 4, .d = 32};
    sx_lm *g = NULL;
    CHECK(sx_lm_new(&cw, &g, &err) == 0, "new wide: %s", err.msg);
    if (!g) return;
    sx_lm_init(g, 9, 0.1f);
    CHECK(sx_lm_load_hf(g, dir, &err) == 0, "widen 2x16 -> 3x32: %s", err.msg);
    const float *w = g->params + g->off[SX_LM_WTE];
    int twins = 1;
    for (size_t r = 0; r < 50257; r++)
        for (int i = 0; i < 16; i++) twins &= w[r * 32 + i] == w[r * 32 + i + 16] && w[r * 32 + i] == lm->params[lm->off[SX_LM_WTE] + r * 16 + i];
    CHECK(twins, "wte: channels i and i + 16 are not copies of the source channel");
    int T = 12, V = 50257;
    int32_t ids[12] = {464, 3290, 318, 50256, 11, 13, 0, 50000, 257, 257, 1000, 42};
    int32_t tgt[12] = {3290, 318, 50256, 11, 13, 0, 50000, 257, 257, 1000, 42, 7};
    float *a = malloc(sizeof(float) * T * V), *b = malloc(sizeof(float) * T * V);
    CHECK(sx_lm_logits(lm, ids, 1, T, a, &err) == 0 && sx_lm_logits(g, ids, 1, T, b, &err) == 0,
          "logits: %s", err.msg);
    double d = test_max_abs_diff(a, b, (size_t)T * V), mx = 0;
    for (size_t i = 0; i < (size_t)T * V; i++) mx = fmax(mx, fabs(a[i]));
    printf("  widened 2x16 -> 3x32: max |logit| %.3f, max diff %.3g\n", mx, d);
    CHECK(mx > 0.1 && d < 1e-4, "widened model changed the logits by %g", d);
    sx_lm_zero_grad(g);
    double loss = sx_lm_grad(g, ids, tgt, 1, T, 1.0f, &err);
    sx_adamw aw = {0.9f, 0.95f, 1e-8f, 0.1f};
    sx_lm_adamw(g, &aw, 1e-3f, 1.0f);
    double gap = 0;
    for (size_t r = 0; r < 50257; r++)
        for (int i = 0; i < 16; i++) gap = fmax(gap, fabs(w[r * 32 + i] - w[r * 32 + i + 16]));
    printf("  after one step (loss %.3f): largest twin difference in wte %.3g\n", loss, gap);
    CHECK(isfinite(loss) && gap > 1e-5, "the twins did not separate (%g)", gap);
    free(a);
    free(b);
    sx_lm_free(g);
    /* the head width must be kept; 3x the width is not a widening this loader does */
    sx_lm_cfg bad[2] = {{50257, 12, 2, 2, 32}, {50257, 12, 2, 3, 48}};
    const char *want[2] = {"widening keeps the head width", "width 16; a width-48 model"};
    for (int k = 0; k < 2; k++) {
        CHECK(sx_lm_new(&bad[k], &g, &err) == 0, "new bad %d", k);
        sx_lm_init(g, 9, 0.1f);
        CHECK(sx_lm_load_hf(g, dir, &err) != 0 && strstr(err.msg, want[k]), "bad widening %d accepted (%s)", k, err.msg);
        printf("  refused: %s\n", err.msg);
        sx_lm_free(g);
    }
}

int main(void) {
    sx_lm_cfg cfg = {.vocab = 50257, .n_ctx = 12, .n_layer = 2, .n_head = 2, .d = 16};
    sx_lm *lm;
    sx_err err;
    CHECK(sx_lm_new(&cfg, &lm, &err) == 0, "new");
    randomize(lm);
    check_export(lm, SX_F32, 2e-4);
    /* BF16: compare the loader against the training forward on BF16-rounded weights */
    for (size_t i = 0; i < lm->n_params; i++) lm->params[i] = sx_bf16_to_f32(sx_f32_to_bf16(lm->params[i]));
    check_export(lm, SX_BF16, 2e-4);
    check_ckpt(lm);
    check_grow(lm);
    check_widen(lm);
    sx_lm_free(lm);
    return TEST_DONE();
}
