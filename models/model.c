/* model.c — sx_model lifetime, config access and the grow-only scratch buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model_internal.h"

int sx_model_load(const char *dir, sx_model **out, sx_err *err) {
    *out = NULL;
    sx_blas_fix_coretype(); /* before the first BLAS call (lazy part of sx_init) */
    if (!dir || !*dir) return sx_failc(err, SX_EINVAL, "model folder not given");
    if (!sx_is_dir(dir))
        return access(dir, F_OK) != 0 ? sx_failc(err, SX_ENOTFOUND, "%s: no such model folder", dir)
                                      : sx_failc(err, SX_EINVAL, "%s: not a directory", dir);
    sx_model *m = calloc(1, sizeof *m);
    if (!m) return sx_failc(err, SX_ENOMEM, "%s: out of memory", dir);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    if (sx__config_load(dir, &m->cfg, &m->act, err) || sx__weights_load(m, err)) {
        sx_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void sx_model_free(sx_model *m) {
    if (!m) return;
    sx__weights_free(m);
    for (int i = 0; i < 12; i++) free(m->ws[i]);
    for (int i = 0; i < 4; i++) free(m->iws[i]);
    sx_model_trim(m);
    free(m);
}

void sx_model_trim(sx_model *m) {
    if (!m) return;
    for (int i = 0; i < SX__BIG_SLOTS; i++) free(m->big[i]), m->big[i] = NULL, m->big_cap[i] = 0;
}

const sx_model_config *sx_model_cfg(const sx_model *m) { return &m->cfg; }

float *sx__ws(sx_model *m, int slot, size_t n, sx_err *err) {
    if (n == 0) n = 1;
    if (m->ws_cap[slot] < n) {
        free(m->ws[slot]);
        m->ws[slot] = malloc(n * sizeof(float));
        m->ws_cap[slot] = m->ws[slot] ? n : 0;
        if (!m->ws[slot]) {
            sx_failc(err, SX_ENOMEM, "%s: out of memory for %zu floats of scratch", m->dir, n);
            return NULL;
        }
    }
    return m->ws[slot];
}

int *sx__iws(sx_model *m, int slot, size_t n, sx_err *err) {
    if (n == 0) n = 1;
    if (m->iws_cap[slot] < n) {
        free(m->iws[slot]);
        m->iws[slot] = malloc(n * sizeof(int));
        m->iws_cap[slot] = m->iws[slot] ? n : 0;
        if (!m->iws[slot]) {
            sx_failc(err, SX_ENOMEM, "%s: out of memory for scratch", m->dir);
            return NULL;
        }
    }
    return m->iws[slot];
}

void sx_model_embedding_row(const sx_model *m, int token, float *out) {
    if (token < 0 || token >= m->cfg.vocab_size) {
        memset(out, 0, (size_t)m->cfg.d_model * sizeof *out);
        return;
    }
    size_t d = (size_t)m->cfg.d_model, o = (size_t)token * d;
    for (size_t i = 0; i < d; i++) out[i] = sx__wget(m->unembed, o + i);
}

/* A BF16 model keeps its unembedding BF16; the F32 view this API promises is made on the
 * first call (vocab x d floats: 2.4 GB for Gemma-2-2B, so only if someone asks) and freed
 * with the model.  NULL if that allocation fails. */
const float *sx_model_unembed_weights(const sx_model *m) {
    if (m->unembed.f) return m->unembed.f;
    if (!m->unembed_f32) {
        size_t n = (size_t)m->cfg.vocab_size * m->cfg.d_model;
        float *p = malloc(n * sizeof *p);
        if (!p) return NULL;
        for (size_t i = 0; i < n; i++) p[i] = sx__wget(m->unembed, i);
        ((sx_model *)m)->unembed_f32 = p; /* a cache, not a change of the model */
    }
    return m->unembed_f32;
}

/* Why a cache: on this project's VM the first touch of fresh memory costs ~3 ms of kernel
 * time per MB even with huge pages (measured: 512 MB took 1.3-2.1 s of sys time, a memset of
 * the same pages afterwards 0.04 s), and an evaluation makes one sx_generate_many call per
 * (condition, prompt chunk), each needing ~0.5 GB of KV slots and logits rows, which free()
 * returned to the kernel.  Bounded: at most SX__BIG_SLOTS blocks and BIG_POOL_MAX bytes are
 * kept; the smallest cached block that fits is taken. */
#define BIG_POOL_MAX ((size_t)3 << 30)

void *sx__big_take(sx_model *m, size_t bytes) {
    int best = -1;
    for (int i = 0; i < SX__BIG_SLOTS; i++)
        if (m->big[i] && m->big_cap[i] >= bytes && (best < 0 || m->big_cap[i] < m->big_cap[best])) best = i;
    if (best < 0) return sx__alloc_big(bytes);
    void *p = m->big[best];
    m->big[best] = NULL, m->big_cap[best] = 0;
    return p;
}

void sx__big_give(sx_model *m, void *p, size_t bytes) {
    if (!p) return;
    size_t held = 0;
    int freei = -1;
    for (int i = 0; i < SX__BIG_SLOTS; i++) {
        held += m->big_cap[i];
        if (!m->big[i] && freei < 0) freei = i;
    }
    if (freei < 0 || held + bytes > BIG_POOL_MAX) { /* full: keep the larger of p and the smallest kept */
        int small = -1;
        for (int i = 0; i < SX__BIG_SLOTS; i++)
            if (m->big[i] && (small < 0 || m->big_cap[i] < m->big_cap[small])) small = i;
        if (small < 0 || m->big_cap[small] >= bytes || held - m->big_cap[small] + bytes > BIG_POOL_MAX) {
            free(p);
            return;
        }
        free(m->big[small]);
        m->big[small] = NULL, m->big_cap[small] = 0;
        freei = small;
    }
    m->big[freei] = p, m->big_cap[freei] = bytes;
}
