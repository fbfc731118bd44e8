/* models_test_util.h — helpers shared by the models tests: load a fixture, run one sequence
 * capturing every residual hook. */
#ifndef MODELS_TEST_UTIL_H
#define MODELS_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "test.h"

typedef struct capture {
    int n_layers, d;
    float **buf; /* [n_layers + 1] of [rows, d]: resid_pre.0 then resid_post.i */
    int rows;
} capture;

static inline int cap_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    capture *c = user;
    (void)err;
    float *dst = c->buf[ctx->point == SX_HOOK_RESID_PRE ? 0 : ctx->layer + 1];
    memcpy(dst, x, (size_t)ctx->n_rows * ctx->d * sizeof(float));
    c->rows = ctx->n_rows;
    return 0;
}

static inline void capture_init(capture *c, const sx_model *m, int rows, sx_hook *hooks) {
    const sx_model_config *cfg = sx_model_cfg(m);
    c->n_layers = cfg->n_layers;
    c->d = cfg->d_model;
    c->buf = calloc((size_t)cfg->n_layers + 1, sizeof *c->buf);
    for (int i = 0; i <= cfg->n_layers; i++) {
        c->buf[i] = calloc((size_t)rows * cfg->d_model, sizeof(float));
        hooks[i] = (sx_hook){i == 0 ? 0 : i - 1, i == 0 ? SX_HOOK_RESID_PRE : SX_HOOK_RESID_POST, cap_hook, c};
    }
}

static inline void capture_free(capture *c) {
    for (int i = 0; i <= c->n_layers; i++) free(c->buf[i]);
    free(c->buf);
}

static inline sx_model *load_or_die(const char *dir) {
    sx_err err;
    sx_model *m = NULL;
    if (sx_model_load(dir, &m, &err)) {
        fprintf(stderr, "load %s: %s\n", dir, err.msg);
        exit(1);
    }
    return m;
}

static inline const sx_tensor_view *need_t(const sx_safetensors *st, const char *name) {
    const sx_tensor_view *t = sx_st_find(st, name);
    if (!t) {
        fprintf(stderr, "%s: missing %s\n", st->path, name);
        exit(1);
    }
    return t;
}

static inline int32_t *ids_of(const sx_safetensors *st, const char *name, int *n) {
    const sx_tensor_view *t = need_t(st, name);
    int32_t *v = malloc(t->numel * sizeof *v);
    memcpy(v, t->data, t->numel * sizeof *v);
    *n = (int)t->numel;
    return v;
}

static inline float *f32_of(const sx_safetensors *st, const char *name, size_t *n) {
    const sx_tensor_view *t = need_t(st, name);
    float *v = malloc(t->numel * sizeof *v);
    sx_to_f32(t->data, t->dtype, v, t->numel);
    if (n) *n = t->numel;
    return v;
}

#endif
