/* bench_gpt2.h — the GPT-2-small-shaped random model (124M parameters, F32) that several
 * benchmarks build in a temporary folder.  Header-only, for bench/ programs. */
#ifndef SAETOX_BENCH_GPT2_H
#define SAETOX_BENCH_GPT2_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static float *randn(sx_rng *r, size_t n, float sd, float mean) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = mean + sd * (float)(2.0 * sx_rng_uniform(r) - 1.0) * 1.7320508f;
    return v;
}

static int write_model(const char *dir, sx_err *err) {
    const int d = 768, L = 12, V = 50257, C = 1024, F = 3072;
    char path[4200];
    if (sx_mkdir_p(dir, err)) return -1;
    snprintf(path, sizeof path, "%s/config.json", dir);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\":\"gpt2\",\"vocab_size\":%d,\"n_embd\":%d,\"n_layer\":%d,\"n_head\":12,"
             "\"n_positions\":%d,\"n_inner\":null,\"layer_norm_epsilon\":1e-5,\"activation_function\":\"gelu_new\"}",
             V, d, L, C);
    if (sx_write_file_atomic(path, cfg, strlen(cfg), err)) return -1;
    sx_rng r;
    sx_rng_seed(&r, 7);
    sx_st_writer *w = sx_stw_new();
    float *bufs[200];
    int nb = 0;
#define ADD(name, sd, mean, nd, ...)                                                      \
    do {                                                                                   \
        int64_t sh[] = {__VA_ARGS__};                                                      \
        size_t ne = 1;                                                                     \
        for (int q = 0; q < nd; q++) ne *= (size_t)sh[q];                                  \
        bufs[nb] = randn(&r, ne, sd, mean);                                                \
        if (sx_stw_add(w, name, SX_F32, nd, sh, bufs[nb++], err)) return -1;               \
    } while (0)
    ADD("wte.weight", 0.02f, 0, 2, V, d);
    ADD("wpe.weight", 0.01f, 0, 2, C, d);
    ADD("ln_f.weight", 0.1f, 1, 1, d);
    ADD("ln_f.bias", 0.02f, 0, 1, d);
    for (int l = 0; l < L; l++) {
        char n[12][64];
        const char *s[12] = {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                             "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                             "mlp.c_proj.weight", "mlp.c_proj.bias"};
        for (int k = 0; k < 12; k++) snprintf(n[k], sizeof n[k], "h.%d.%s", l, s[k]);
        ADD(n[0], 0.1f, 1, 1, d);
        ADD(n[1], 0.02f, 0, 1, d);
        ADD(n[2], 0.02f, 0, 2, d, 3 * d);
        ADD(n[3], 0.02f, 0, 1, 3 * d);
        ADD(n[4], 0.02f, 0, 2, d, d);
        ADD(n[5], 0.02f, 0, 1, d);
        ADD(n[6], 0.1f, 1, 1, d);
        ADD(n[7], 0.02f, 0, 1, d);
        ADD(n[8], 0.02f, 0, 2, d, F);
        ADD(n[9], 0.02f, 0, 1, F);
        ADD(n[10], 0.02f, 0, 2, F, d);
        ADD(n[11], 0.02f, 0, 1, d);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = sx_stw_write(w, path, err);
    sx_stw_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    return rc;
}

#endif
