/* Finite-difference gradient check of every parameter tensor of the GPT-2 trainer on a tiny
 * model, and a toy task on which the loss must fall. */
#include "lmtrain.h"
#include "test.h"

static double tensor_check(sx_lm *m, int id, const int32_t *in, const int32_t *tgt, int B,
                           int T, double *anorm) {
    float *p = m->params + m->off[id];
    const float *g = m->grads + m->off[id];
    double num2 = 0, diff2 = 0, an2 = 0;
    const float eps = 1e-3f;
    for (size_t i = 0; i < m->numel[id]; i++) {
        float save = p[i];
        p[i] = save + eps;
        double lp = sx_lm_loss(m, in, tgt, B, T, NULL);
        p[i] = save - eps;
        double lm = sx_lm_loss(m, in, tgt, B, T, NULL);
        p[i] = save;
        double n = (lp - lm) / (2.0 * eps);
        num2 += n * n;
        an2 += (double)g[i] * g[i];
        diff2 += (n - g[i]) * (n - g[i]);
    }
    *anorm = sqrt(an2);
    double den = fmax(sqrt(num2), sqrt(an2));
    return den > 0 ? sqrt(diff2) / den : 0;
}

static void grad_check(void) {
    sx_lm_cfg cfg = {.vocab = 23, .n_ctx = 8, .n_layer = 2, .n_head = 2, .d = 8};
    sx_lm *m;
    sx_err err;
    CHECK(sx_lm_new(&cfg, &m, &err) == 0, "new: %s", err.msg);
    sx_lm_init(m, 7, 0.3f);
    /* non-trivial biases and gains so their gradients are exercised */
    sx_rng r;
    sx_rng_seed(&r, 99);
    for (int id = 0; id < SX_LM_NT; id++)
        if (!sx_lm_tensor_is_matrix(id))
            for (size_t i = 0; i < m->numel[id]; i++)
                m->params[m->off[id] + i] += (float)(0.2 * sx_rng_normal(&r));
    int B = 2, T = 6;
    int32_t in[12], tgt[12];
    for (int i = 0; i < B * T; i++) {
        in[i] = (int32_t)sx_rng_below(&r, 23);
        tgt[i] = (int32_t)sx_rng_below(&r, 23);
    }
    sx_lm_zero_grad(m);
    double loss = sx_lm_grad(m, in, tgt, B, T, 1.0f, &err);
    double loss2 = sx_lm_loss(m, in, tgt, B, T, &err);
    CHECK(isfinite(loss) && loss > 0, "loss %g", loss);
    CHECK_NEAR(loss, loss2, 1e-6, "grad pass loss == loss pass");
    for (int id = 0; id < SX_LM_NT; id++) {
        double an;
        double rel = tensor_check(m, id, in, tgt, B, T, &an);
        printf("  %-5s |grad| %.4g  rel err %.2e\n", sx_lm_tensor_name(id), an, rel);
        CHECK(rel < 1e-2, "tensor %s: relative gradient error %g", sx_lm_tensor_name(id), rel);
        CHECK(an > 1e-4, "tensor %s: gradient norm %g is too small to test", sx_lm_tensor_name(id), an);
    }
    /* scale multiplies and accumulation adds */
    float *g1 = malloc(m->n_params * sizeof(float));
    memcpy(g1, m->grads, m->n_params * sizeof(float));
    sx_lm_grad(m, in, tgt, B, T, 2.0f, &err);
    double worst = 0;
    for (size_t i = 0; i < m->n_params; i++) worst = fmax(worst, fabs(m->grads[i] - 3 * g1[i]));
    CHECK(worst < 1e-4, "accumulated grads != 3x: %g", worst);
    free(g1);
    /* bad ids are errors */
    int32_t bad[12];
    memcpy(bad, in, sizeof bad);
    bad[3] = 23;
    CHECK(isnan(sx_lm_loss(m, bad, tgt, B, T, &err)), "out-of-range id accepted");
    CHECK(isnan(sx_lm_loss(m, in, tgt, 1, 9, &err)), "T > n_ctx accepted");
    sx_lm_free(m);
}

static void toy_task(void) {
    sx_lm_cfg cfg = {.vocab = 50, .n_ctx = 16, .n_layer = 2, .n_head = 2, .d = 16};
    sx_lm *m;
    sx_err err;
    CHECK(sx_lm_new(&cfg, &m, &err) == 0, "new");
    sx_lm_init(m, 1, 0.02f);
    int B = 4, T = 16;
    int32_t in[64], tgt[64];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) { /* counting sequences: next = (cur + 3) mod 50 */
            in[b * T + t] = (b * 7 + t * 3) % 50;
            tgt[b * T + t] = (b * 7 + t * 3 + 3) % 50;
        }
    sx_adamw o = {0.9f, 0.95f, 1e-8f, 0.0f};
    double first = 0, last = 0;
    for (int s = 0; s < 150; s++) {
        sx_lm_zero_grad(m);
        double l = sx_lm_grad(m, in, tgt, B, T, 1.0f, &err);
        if (s == 0) first = l;
        last = l;
        double gn = sx_lm_grad_norm(m);
        sx_lm_adamw(m, &o, sx_lm_lr(s, 150, 10, 1e-2f, 1e-3f), gn > 1.0 ? (float)(1.0 / gn) : 1.0f);
    }
    printf("  toy task: loss %.3f -> %.3f\n", first, last);
    CHECK(first > 3.5, "initial loss %g should be near log(50)", first);
    CHECK(last < 0.2, "final loss %g", last);
    sx_lm_free(m);
}

int main(void) {
    grad_check();
    toy_task();
    return TEST_DONE();
}
