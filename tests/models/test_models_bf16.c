/* test_models_bf16.c — BF16 checkpoints stay BF16 in memory and run as their F32 twin does.
 *
 * Small random GPT-2 (Conv1D, [in, out]) and Gemma-2 (Linear, [out, in]) models are written
 * twice: BF16, and F32 holding exactly the BF16 values.  The BF16 model's matrices must point
 * into the mapping (no F32 copy), and its logits and every residual hook must match the F32
 * twin's (the F32 path is checked against float64 references by test_models_fixtures;
 * core/test_gemm checks the BF16 products against a float64 reference of the BF16 values).
 * 130 rows go through the packed kernels (>= 96 rows), 5 rows through the few-row path.
 * The same run under SAETOX_BF16=dot checks the vdpbf16ps kernel (skipped where the CPU has no
 * AVX512-BF16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "model_internal.h"
#include "models_test_util.h"

static sx_rng g_r;

typedef struct {
    sx_st_writer *w16, *w32;
    void *bufs[512];
    int nb;
} twin;

/* one tensor in both files: BF16 values, sd around mean */
static void add(twin *t, const char *name, float sd, float mean, int nd, int64_t a, int64_t b) {
    int64_t sh[2] = {a, b};
    size_t n = (size_t)a * (nd == 2 ? (size_t)b : 1);
    uint16_t *h = malloc(n * sizeof *h);
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) {
        h[i] = sx_f32_to_bf16(mean + sd * (float)(2.0 * sx_rng_uniform(&g_r) - 1.0));
        f[i] = sx_bf16_to_f32(h[i]);
    }
    sx_err err = {0};
    CHECK(sx_stw_add(t->w16, name, SX_BF16, nd, sh, h, &err) == 0 && sx_stw_add(t->w32, name, SX_F32, nd, sh, f, &err) == 0,
          "add %s: %s", name, err.msg);
    t->bufs[t->nb++] = h;
    t->bufs[t->nb++] = f;
}

static void write_cfg(const char *dir, const char *json) {
    sx_err err = {0};
    char p[4200];
    CHECK(sx_mkdir_p(dir, &err) == 0, "mkdir %s: %s", dir, err.msg);
    snprintf(p, sizeof p, "%s/config.json", dir);
    CHECK(sx_write_file_atomic(p, json, strlen(json), &err) == 0, "%s: %s", p, err.msg);
}

static void finish(twin *t, const char *d16, const char *d32) {
    char p[4200];
    sx_err err = {0};
    snprintf(p, sizeof p, "%s/model.safetensors", d16);
    CHECK(sx_stw_write(t->w16, p, &err) == 0, "%s: %s", p, err.msg);
    snprintf(p, sizeof p, "%s/model.safetensors", d32);
    CHECK(sx_stw_write(t->w32, p, &err) == 0, "%s: %s", p, err.msg);
    sx_stw_free(t->w16), sx_stw_free(t->w32);
    for (int i = 0; i < t->nb; i++) free(t->bufs[i]);
}

static void make_gpt2(const char *d16, const char *d32) {
    const int d = 80, V = 301, F = 200, L = 2;
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\":\"gpt2\",\"vocab_size\":%d,\"n_embd\":%d,\"n_layer\":%d,\"n_head\":4,\"n_positions\":256,"
             "\"n_inner\":%d,\"layer_norm_epsilon\":1e-5,\"activation_function\":\"gelu_new\"}",
             V, d, L, F);
    write_cfg(d16, cfg), write_cfg(d32, cfg);
    twin t = {sx_stw_new(), sx_stw_new(), {0}, 0};
    add(&t, "wte.weight", 0.1f, 0, 2, V, d);
    add(&t, "wpe.weight", 0.05f, 0, 2, 256, d);
    add(&t, "ln_f.weight", 0.1f, 1, 1, d, 0);
    add(&t, "ln_f.bias", 0.02f, 0, 1, d, 0);
    for (int l = 0; l < L; l++) {
        char n[96];
#define A(s, sd, mean, nd, a, b) (snprintf(n, sizeof n, "h.%d.%s", l, s), add(&t, n, sd, mean, nd, a, b))
        A("ln_1.weight", 0.1f, 1, 1, d, 0);
        A("ln_1.bias", 0.02f, 0, 1, d, 0);
        A("attn.c_attn.weight", 0.1f, 0, 2, d, 3 * d);
        A("attn.c_attn.bias", 0.02f, 0, 1, 3 * d, 0);
        A("attn.c_proj.weight", 0.1f, 0, 2, d, d);
        A("attn.c_proj.bias", 0.02f, 0, 1, d, 0);
        A("ln_2.weight", 0.1f, 1, 1, d, 0);
        A("ln_2.bias", 0.02f, 0, 1, d, 0);
        A("mlp.c_fc.weight", 0.1f, 0, 2, d, F);
        A("mlp.c_fc.bias", 0.02f, 0, 1, F, 0);
        A("mlp.c_proj.weight", 0.1f, 0, 2, F, d);
        A("mlp.c_proj.bias", 0.02f, 0, 1, d, 0);
#undef A
    }
    finish(&t, d16, d32);
}

static void make_gemma2(const char *d16, const char *d32) {
    const int d = 96, V = 333, F = 176, L = 3, H = 4, KV = 2, hd = 24;
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"Gemma2ForCausalLM\"],\"model_type\":\"gemma2\",\"attn_logit_softcapping\":50.0,"
             "\"final_logit_softcapping\":30.0,\"head_dim\":%d,\"hidden_act\":\"gelu_pytorch_tanh\","
             "\"hidden_activation\":\"gelu_pytorch_tanh\",\"hidden_size\":%d,\"intermediate_size\":%d,"
             "\"max_position_embeddings\":256,\"num_attention_heads\":%d,\"num_hidden_layers\":%d,"
             "\"num_key_value_heads\":%d,\"query_pre_attn_scalar\":%d,\"rms_norm_eps\":1e-6,\"rope_theta\":10000.0,"
             "\"sliding_window\":64,\"tie_word_embeddings\":true,\"vocab_size\":%d}",
             hd, d, F, H, L, KV, hd, V);
    write_cfg(d16, cfg), write_cfg(d32, cfg);
    twin t = {sx_stw_new(), sx_stw_new(), {0}, 0};
    add(&t, "model.embed_tokens.weight", 0.1f, 0, 2, V, d);
    add(&t, "model.norm.weight", 0.1f, 0, 1, d, 0);
    for (int l = 0; l < L; l++) {
        char n[128];
#define A(s, sd, nd, a, b) (snprintf(n, sizeof n, "model.layers.%d.%s.weight", l, s), add(&t, n, sd, 0, nd, a, b))
        A("input_layernorm", 0.1f, 1, d, 0);
        A("self_attn.q_proj", 0.1f, 2, H * hd, d);
        A("self_attn.k_proj", 0.1f, 2, KV * hd, d);
        A("self_attn.v_proj", 0.1f, 2, KV * hd, d);
        A("self_attn.o_proj", 0.1f, 2, d, H * hd);
        A("post_attention_layernorm", 0.1f, 1, d, 0);
        A("pre_feedforward_layernorm", 0.1f, 1, d, 0);
        A("post_feedforward_layernorm", 0.1f, 1, d, 0);
        A("mlp.gate_proj", 0.1f, 2, F, d);
        A("mlp.up_proj", 0.1f, 2, F, d);
        A("mlp.down_proj", 0.1f, 2, d, F);
#undef A
    }
    finish(&t, d16, d32);
}

/* run both models on `n` tokens; max |difference| / max |value| over every hook and logit */
static void compare(const char *name, const char *d16, const char *d32, int n, double tol) {
    sx_model *m16 = load_or_die(d16), *m32 = load_or_die(d32);
    const sx_model_config *c = sx_model_cfg(m16);
    CHECK(m16->layers[0].fc_w.h || m16->layers[0].up_w.h, "%s: the BF16 matrices were converted", name);
    CHECK(m16->embed.h && !m16->embed.f, "%s: the BF16 embedding was converted", name);
    CHECK(m32->embed.f && !m32->embed.h, "%s: the F32 twin is not F32", name);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 37 + 11) % c->vocab_size);
    int V = c->vocab_size, L = c->n_layers;
    float *lg[2];
    capture cap[2];
    sx_hook hooks[2][64];
    sx_model *ms[2] = {m16, m32};
    for (int k = 0; k < 2; k++) {
        sx_err err = {0};
        lg[k] = malloc((size_t)n * V * sizeof(float));
        capture_init(&cap[k], ms[k], n, hooks[k]);
        sx_forward_opts fo = {hooks[k], L + 1, -1, 1};
        CHECK(sx_forward(ms[k], ids, &n, 1, &fo, lg[k], &err) == 0, "%s forward: %s", name, err.msg);
    }
    double worst = 0;
    for (int h = 0; h <= L + 1; h++) {
        const float *a = h <= L ? cap[0].buf[h] : lg[0], *b = h <= L ? cap[1].buf[h] : lg[1];
        size_t ne = (size_t)n * (h <= L ? c->d_model : V);
        double mx = 0, e = 0;
        for (size_t i = 0; i < ne; i++) {
            mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
            e = fabs(a[i] - b[i]) > e ? fabs(a[i] - b[i]) : e;
        }
        double rel = e / (mx > 0 ? mx : 1);
        CHECK(rel <= tol, "%s %d rows: %s %d differs from the F32 twin by %.3g of its largest value", name, n,
              h <= L ? "hook" : "logits", h, rel);
        worst = rel > worst ? rel : worst;
    }
    printf("%s, %d rows: BF16 vs F32 twin, worst difference %.3g of the largest value (tol %g)\n", name, n, worst, tol);
    for (int k = 0; k < 2; k++) free(lg[k]), capture_free(&cap[k]);
    free(ids);
    /* the F32 view of a BF16 unembedding is made on request */
    const float *W = sx_model_unembed_weights(m16);
    float *row = malloc((size_t)c->d_model * sizeof *row);
    sx_model_embedding_row(m32, V - 2, row);
    CHECK(W && memcmp(row, W + (size_t)(V - 2) * c->d_model, (size_t)c->d_model * sizeof *row) == 0,
          "%s: the F32 view of the BF16 unembedding differs from the F32 twin", name);
    free(row);
    sx_model_free(m16), sx_model_free(m32);
}

int main(void) {
    const char *e = getenv("SAETOX_BF16");
    if (e && !strcmp(e, "dot") && !sx__gemm_bf16dot()) {
        printf("SKIP: SAETOX_BF16=dot, but this CPU or path has no AVX512-BF16\n");
        return 77;
    }
    printf("BF16 products: %s (path %s)\n", sx__gemm_bf16dot() ? "vdpbf16ps" : "widened to F32", sx_simd_name(sx_simd()));
    sx_rng_seed(&g_r, 17);
    const char *tmp = test_tmpdir("models_bf16");
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/gpt2_bf16", tmp), snprintf(b, sizeof b, "%s/gpt2_f32", tmp);
    make_gpt2(a, b);
    /* identical weights, F32 accumulation in both: the difference is summation order only */
    compare("gpt2", a, b, 130, 2e-5);
    compare("gpt2", a, b, 5, 2e-5);
    snprintf(a, sizeof a, "%s/gemma2_bf16", tmp), snprintf(b, sizeof b, "%s/gemma2_f32", tmp);
    make_gemma2(a, b);
    compare("gemma2", a, b, 130, 2e-5);
    compare("gemma2", a, b, 5, 2e-5);
    return TEST_DONE();
}
