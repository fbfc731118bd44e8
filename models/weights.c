/* weights.c — open a Hugging Face checkpoint (model.safetensors, or shards listed by
 * model.safetensors.index.json), check every tensor against the config, and expose the
 * weights.
 *
 * Memory: F32 and BF16 matrices are used in place in the mapping (no copy; the page cache
 * holds them), so a BF16 checkpoint stays BF16 (Gemma-2-2B: 5.2 GB instead of 10.5 GB as
 * F32) and the products widen it on the fly or run BF16 dot products (core/gemm.h).  F16
 * matrices, unaligned tensors and every vector (norms, biases: O(d)) become owned F32
 * copies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "sx_json.h"

static int add_owned(sx_model *m, float *p, sx_err *err) {
    if (m->n_owned == m->cap_owned) {
        int nc = m->cap_owned ? 2 * m->cap_owned : 64;
        float **no = realloc(m->owned, (size_t)nc * sizeof *no);
        if (!no) {
            free(p);
            return sx_failc(err, SX_ENOMEM, "%s: out of memory", m->dir);
        }
        m->owned = no;
        m->cap_owned = nc;
    }
    m->owned[m->n_owned++] = p;
    return 0;
}

static int open_shard(sx_model *m, const char *file, sx_err *err) {
    char path[4096];
    if (strstr(file, "..") || sx_path_join(path, sizeof path, m->dir, file))
        return sx_failc(err, SX_ECORRUPT, "%s: bad shard file name '%s'", m->dir, file);
    for (int i = 0; i < m->n_shards; i++)
        if (!strcmp(m->shards[i].path, path)) return 0;
    sx_safetensors *ns = realloc(m->shards, (size_t)(m->n_shards + 1) * sizeof *ns);
    if (!ns) return sx_failc(err, SX_ENOMEM, "%s: out of memory", m->dir);
    m->shards = ns;
    if (sx_st_open(&m->shards[m->n_shards], path, err)) return -1;
    m->n_shards++;
    return 0;
}

static int open_files(sx_model *m, sx_err *err) {
    char idx[4096], single[4096];
    sx_path_join(idx, sizeof idx, m->dir, "model.safetensors.index.json");
    sx_path_join(single, sizeof single, m->dir, "model.safetensors");
    if (sx_file_exists(single) || !sx_file_exists(idx)) {
        if (!sx_file_exists(single))
            return sx_failc(err, SX_ENOTFOUND, "%s: no model.safetensors or model.safetensors.index.json", m->dir);
        return open_shard(m, "model.safetensors", err);
    }
    cJSON *j = sx_json_parse_file(idx, 64u << 20, err);
    if (!j) return -1;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    int rc = 0;
    if (!cJSON_IsObject(wm) || !wm->child) {
        rc = sx_failc(err, SX_ECORRUPT, "%s: missing or empty 'weight_map'", idx);
    } else {
        for (const cJSON *e = wm->child; e && !rc; e = e->next) {
            if (!cJSON_IsString(e))
                rc = sx_failc(err, SX_ECORRUPT, "%s: weight_map['%s'] is not a file name", idx, e->string);
            else
                rc = open_shard(m, e->valuestring, err);
        }
    }
    cJSON_Delete(j);
    return rc;
}

static const sx_tensor_view *find_any(const sx_model *m, const char *name, int *shard) {
    for (int i = 0; i < m->n_shards; i++) {
        const sx_tensor_view *tv = sx_st_find(&m->shards[i], name);
        if (tv) {
            *shard = i;
            return tv;
        }
    }
    return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Fetch `name` (or "transformer."+name for GPT-2), check shape/dtype, give an F32 pointer,
 * or, when bf16 is not NULL and the tensor is BF16, its bits in place in *bf16 (*out NULL).
 * optional: a missing tensor is not an error (*out = NULL). */
static int get_wx(sx_model *m, const char *name, int ndim, const int64_t *shape, const float **out,
                  const uint16_t **bf16, int optional, sx_err *err) {
    int sh = 0;
    const sx_tensor_view *tv = find_any(m, name, &sh);
    char alt[256];
    if (!tv && m->cfg.arch == SX_ARCH_GPT2) {
        snprintf(alt, sizeof alt, "transformer.%s", name);
        tv = find_any(m, alt, &sh);
    }
    *out = NULL;
    if (bf16) *bf16 = NULL;
    if (!tv) {
        if (optional) return 0;
        return sx_failc(err, SX_ENOTFOUND, "%s: missing tensor '%s'", m->n_shards == 1 ? m->shards[0].path : m->dir, name);
    }
    const char *file = m->shards[sh].path;
    int bad = tv->ndim != ndim;
    for (int i = 0; !bad && i < ndim; i++) bad = tv->shape[i] != shape[i];
    if (bad) {
        char want[96], got[96];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, tv->ndim, tv->shape);
        return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s' has shape %s but config.json implies %s", file, tv->name, got, want);
    }
    if (tv->dtype != SX_F32 && tv->dtype != SX_F16 && tv->dtype != SX_BF16)
        return sx_failc(err, SX_EUNSUPPORTED, "%s: tensor '%s' has dtype %s (expected F32, F16 or BF16)", file, tv->name,
                       sx_dtype_name(tv->dtype));
    if (tv->dtype == SX_F32 && ((uintptr_t)tv->data % sizeof(float)) == 0) {
        *out = tv->data;
        return 0;
    }
    if (tv->dtype == SX_BF16 && bf16 && ((uintptr_t)tv->data % sizeof(uint16_t)) == 0) {
        *bf16 = tv->data;
        return 0;
    }
    /* on a cache line (the products read F32 B in place only there, core/gemm.c), large
     * ones on huge pages */
    float *buf = sx__alloc_big((tv->numel ? tv->numel : 1) * sizeof(float));
    if (!buf) return sx_failc(err, SX_ENOMEM, "%s: out of memory converting tensor '%s'", file, tv->name);
    sx_to_f32(tv->data, tv->dtype, buf, tv->numel);
    if (add_owned(m, buf, err)) return -1;
    *out = buf;
    return 0;
}

static int get_w(sx_model *m, const char *name, int ndim, const int64_t *shape, const float **out,
                 int optional, sx_err *err) {
    return get_wx(m, name, ndim, shape, out, NULL, optional, err);
}

/* A matrix: F32 or BF16 as stored (see the top). */
static int get_m(sx_model *m, const char *name, int64_t rows, int64_t cols, sx_wmat *out, int optional,
                 sx_err *err) {
    return get_wx(m, name, 2, (int64_t[]){rows, cols}, &out->f, &out->h, optional, err);
}

/* Gemma-2 RMSNorm weights are stored as w; the forward pass multiplies by (1 + w). */
static int get_norm1p(sx_model *m, const char *name, int d, const float **out, sx_err *err) {
    const float *w;
    int64_t sh[1] = {d};
    if (get_w(m, name, 1, sh, &w, 0, err)) return -1;
    float *p = malloc((size_t)d * sizeof *p);
    if (!p) return sx_failc(err, SX_ENOMEM, "%s: out of memory", m->dir);
    for (int i = 0; i < d; i++) p[i] = 1.0f + w[i];
    if (add_owned(m, p, err)) return -1;
    *out = p;
    return 0;
}

/* Tensors for layers the config does not have mean the config and weights disagree. */
static int check_extra_layers(const sx_model *m, sx_err *err) {
    const char *pre[3] = {"h.", "transformer.h.", "model.layers."};
    for (int s = 0; s < m->n_shards; s++)
        for (int i = 0; i < m->shards[s].n; i++) {
            const char *nm = m->shards[s].t[i].name;
            for (int k = 0; k < 3; k++) {
                size_t pl = strlen(pre[k]);
                if (strncmp(nm, pre[k], pl) || nm[pl] < '0' || nm[pl] > '9') continue;
                long li = strtol(nm + pl, NULL, 10);
                if (li >= m->cfg.n_layers)
                    return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s' is for layer %ld but config.json has %d layers",
                                   m->shards[s].path, nm, li, m->cfg.n_layers);
            }
        }
    return 0;
}

static int load_gpt2(sx_model *m, sx_err *err) {
    const sx_model_config *c = &m->cfg;
    int64_t d = c->d_model, V = c->vocab_size, f = c->d_ff;
    if (get_m(m, "wte.weight", V, d, &m->embed, 0, err) ||
        get_w(m, "wpe.weight", 2, (int64_t[]){c->n_ctx, d}, &m->wpe, 0, err) ||
        get_w(m, "ln_f.weight", 1, (int64_t[]){d}, &m->lnf_w, 0, err) ||
        get_w(m, "ln_f.bias", 1, (int64_t[]){d}, &m->lnf_b, 0, err) ||
        get_m(m, "lm_head.weight", V, d, &m->unembed, 1, err))
        return -1;
    if (!m->unembed.f && !m->unembed.h) m->unembed = m->embed;
    for (int l = 0; l < c->n_layers; l++) {
        sx_layer_w *L = &m->layers[l];
        char n[12][96];
        const char *suf[12] = {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                               "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                               "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
        for (int k = 0; k < 12; k++) snprintf(n[k], sizeof n[k], "h.%d.%s", l, suf[k]);
        if (get_w(m, n[0], 1, (int64_t[]){d}, &L->ln1_w, 0, err) ||
            get_w(m, n[1], 1, (int64_t[]){d}, &L->ln1_b, 0, err) ||
            get_m(m, n[2], d, 3 * d, &L->attn_w, 0, err) ||
            get_w(m, n[3], 1, (int64_t[]){3 * d}, &L->attn_b, 0, err) ||
            get_m(m, n[4], d, d, &L->proj_w, 0, err) ||
            get_w(m, n[5], 1, (int64_t[]){d}, &L->proj_b, 0, err) ||
            get_w(m, n[6], 1, (int64_t[]){d}, &L->ln2_w, 0, err) ||
            get_w(m, n[7], 1, (int64_t[]){d}, &L->ln2_b, 0, err) ||
            get_m(m, n[8], d, f, &L->fc_w, 0, err) ||
            get_w(m, n[9], 1, (int64_t[]){f}, &L->fc_b, 0, err) ||
            get_m(m, n[10], f, d, &L->fc2_w, 0, err) ||
            get_w(m, n[11], 1, (int64_t[]){d}, &L->fc2_b, 0, err))
            return -1;
    }
    return 0;
}

static int load_gemma2(sx_model *m, sx_err *err) {
    const sx_model_config *c = &m->cfg;
    int64_t d = c->d_model, V = c->vocab_size, f = c->d_ff;
    int64_t qd = (int64_t)c->n_heads * c->head_dim, kd = (int64_t)c->n_kv_heads * c->head_dim;
    if (get_m(m, "model.embed_tokens.weight", V, d, &m->embed, 0, err) ||
        get_norm1p(m, "model.norm.weight", (int)d, &m->lnf_w, err) ||
        get_m(m, "lm_head.weight", V, d, &m->unembed, 1, err))
        return -1;
    if (!m->unembed.f && !m->unembed.h) m->unembed = m->embed;
    for (int l = 0; l < c->n_layers; l++) {
        sx_layer_w *L = &m->layers[l];
        char n[11][112];
        const char *suf[11] = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                               "self_attn.o_proj", "post_attention_layernorm", "pre_feedforward_layernorm",
                               "post_feedforward_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
        for (int k = 0; k < 11; k++) snprintf(n[k], sizeof n[k], "model.layers.%d.%s.weight", l, suf[k]);
        if (get_norm1p(m, n[0], (int)d, &L->in_norm, err) ||
            get_m(m, n[1], qd, d, &L->q_w, 0, err) ||
            get_m(m, n[2], kd, d, &L->k_w, 0, err) ||
            get_m(m, n[3], kd, d, &L->v_w, 0, err) ||
            get_m(m, n[4], d, qd, &L->o_w, 0, err) ||
            get_norm1p(m, n[5], (int)d, &L->post_attn_norm, err) ||
            get_norm1p(m, n[6], (int)d, &L->pre_ffw_norm, err) ||
            get_norm1p(m, n[7], (int)d, &L->post_ffw_norm, err) ||
            get_m(m, n[8], f, d, &L->gate_w, 0, err) ||
            get_m(m, n[9], f, d, &L->up_w, 0, err) ||
            get_m(m, n[10], d, f, &L->down_w, 0, err))
            return -1;
    }
    return 0;
}

/* RoPE table in the HF convention: inv_freq in fp32, angle = (fp32) pos * inv_freq, then
 * cos/sin of that fp32 angle. */
static int rope_table(sx_model *m, sx_err *err) {
    int half = m->cfg.head_dim / 2, np = m->cfg.n_ctx;
    m->n_rope_pos = np;
    m->rope_cos = malloc((size_t)np * half * sizeof(float));
    m->rope_sin = malloc((size_t)np * half * sizeof(float));
    if (!m->rope_cos || !m->rope_sin) return sx_failc(err, SX_ENOMEM, "%s: out of memory for the RoPE table", m->dir);
    for (int i = 0; i < half; i++) {
        float inv = (float)(1.0 / pow((double)m->cfg.rope_theta, (2.0 * i) / m->cfg.head_dim));
        for (int p = 0; p < np; p++) {
            float ang = (float)p * inv;
            m->rope_cos[(size_t)p * half + i] = (float)cos((double)ang);
            m->rope_sin[(size_t)p * half + i] = (float)sin((double)ang);
        }
    }
    return 0;
}

int sx__weights_load(sx_model *m, sx_err *err) {
    if (open_files(m, err)) return -1;
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    if (!m->layers) return sx_failc(err, SX_ENOMEM, "%s: out of memory", m->dir);
    if (check_extra_layers(m, err)) return -1;
    if (m->cfg.arch == SX_ARCH_GPT2) {
        m->embed_scale = 1.0f;
        return load_gpt2(m, err);
    }
    m->embed_scale = (float)sqrt((double)m->cfg.d_model);
    if (load_gemma2(m, err)) return -1;
    return rope_table(m, err);
}

void sx__weights_free(sx_model *m) {
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    for (int i = 0; i < m->n_shards; i++) sx_st_close(&m->shards[i]);
    free(m->shards);
    free(m->layers);
    free((void *)m->unembed_f32);
    free(m->rope_cos);
    free(m->rope_sin);
}
