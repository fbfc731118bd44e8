/* lmtrain_io.c — files of the GPT-2 trainer: the Hugging Face export (config.json,
 * model.safetensors with GPT-2 names, tokenizer files) and resumable checkpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtrain.h"
#include "sx_json.h"

static cJSON *hf_config(const sx_lm *m, sx_dtype dt) {
    const sx_lm_cfg *c = &m->cfg;
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddStringToObject(j, "model_type", "gpt2");
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab);
    cJSON_AddNumberToObject(j, "n_positions", c->n_ctx);
    cJSON_AddNumberToObject(j, "n_ctx", c->n_ctx);
    cJSON_AddNumberToObject(j, "n_embd", c->d);
    cJSON_AddNumberToObject(j, "n_layer", c->n_layer);
    cJSON_AddNumberToObject(j, "n_head", c->n_head);
    cJSON_AddNullToObject(j, "n_inner");
    cJSON_AddNumberToObject(j, "layer_norm_epsilon", 1e-5);
    cJSON_AddStringToObject(j, "activation_function", "gelu_new");
    cJSON_AddBoolToObject(j, "tie_word_embeddings", 1);
    cJSON_AddBoolToObject(j, "scale_attn_weights", 1);
    cJSON_AddNumberToObject(j, "bos_token_id", c->vocab - 1);
    cJSON_AddNumberToObject(j, "eos_token_id", c->vocab - 1);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "resid_pdrop", 0.0);
    cJSON_AddNumberToObject(j, "embd_pdrop", 0.0);
    cJSON_AddNumberToObject(j, "attn_pdrop", 0.0);
    cJSON_AddStringToObject(j, "torch_dtype", dt == SX_BF16 ? "bfloat16" : dt == SX_F16 ? "float16"
                                                                                    : "float32");
    return j;
}

static int copy_file(const char *src_dir, const char *name, const char *dst_dir, int required,
                     sx_err *err) {
    char src[4096], dst[4096];
    if (sx_path_join(src, sizeof src, src_dir, name) || sx_path_join(dst, sizeof dst, dst_dir, name))
        return sx_failc(err, SX_EINVAL, "%s: path too long", src_dir);
    if (!sx_file_exists(src)) return required ? sx_failc(err, SX_ENOTFOUND, "%s: missing", src) : 0;
    char *data;
    size_t len;
    if (sx_read_file(src, (size_t)1 << 30, &data, &len, err)) return -1;
    int rc = sx_write_file_atomic(dst, data, len, err);
    free(data);
    return rc;
}

/* The GPT-2 names and shapes of every parameter, in file order; per-layer tensors are slices
 * of the stacked [L, ...] arrays.  One table for the export and for --init-from. */
typedef int (*tensor_fn)(void *user, const char *name, size_t off, int nd, const int64_t *shape,
                         sx_err *err);
static int each_tensor(const sx_lm *m, tensor_fn fn, void *user, sx_err *err) {
    const sx_lm_cfg *c = &m->cfg;
    int64_t C = c->d, L = c->n_layer;
    char name[64];
    int64_t shp[2] = {c->vocab, C};
    if (fn(user, "wte.weight", m->off[SX_LM_WTE], 2, shp, err)) return -1;
    shp[0] = c->n_ctx;
    if (fn(user, "wpe.weight", m->off[SX_LM_WPE], 2, shp, err)) return -1;
    static const struct {
        const char *suffix;
        int id, nd;
        int r, k; /* shape = {r*C, k*C} or {k*C} when nd == 1 */
    } T[] = {{"ln_1.weight", SX_LM_LN1W, 1, 0, 1},       {"ln_1.bias", SX_LM_LN1B, 1, 0, 1},
             {"attn.c_attn.weight", SX_LM_QKVW, 2, 1, 3}, {"attn.c_attn.bias", SX_LM_QKVB, 1, 0, 3},
             {"attn.c_proj.weight", SX_LM_APW, 2, 1, 1},  {"attn.c_proj.bias", SX_LM_APB, 1, 0, 1},
             {"ln_2.weight", SX_LM_LN2W, 1, 0, 1},       {"ln_2.bias", SX_LM_LN2B, 1, 0, 1},
             {"mlp.c_fc.weight", SX_LM_FCW, 2, 1, 4},     {"mlp.c_fc.bias", SX_LM_FCB, 1, 0, 4},
             {"mlp.c_proj.weight", SX_LM_FPW, 2, 4, 1},   {"mlp.c_proj.bias", SX_LM_FPB, 1, 0, 1}};
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 12; k++) {
            snprintf(name, sizeof name, "h.%d.%s", l, T[k].suffix);
            size_t per = m->numel[T[k].id] / (size_t)L;
            if (T[k].nd == 2) shp[0] = T[k].r * C, shp[1] = T[k].k * C;
            else shp[0] = T[k].k * C;
            if (fn(user, name, m->off[T[k].id] + (size_t)l * per, T[k].nd, shp, err)) return -1;
        }
    shp[0] = C;
    if (fn(user, "ln_f.weight", m->off[SX_LM_LNFW], 1, shp, err)) return -1;
    return fn(user, "ln_f.bias", m->off[SX_LM_LNFB], 1, shp, err);
}

typedef struct save_ctx {
    sx_st_writer *w;
    sx_dtype dt;
    const unsigned char *buf;
} save_ctx;

static int add_tensor(void *user, const char *name, size_t off, int nd, const int64_t *shape,
                      sx_err *err) {
    save_ctx *s = user; /* the writer copies names; data is borrowed until sx_stw_write */
    return sx_stw_add(s->w, name, s->dt, nd, shape, s->buf + off * sx_dtype_size(s->dt), err);
}

int sx_lm_save_hf(const sx_lm *m, const char *dir, sx_dtype dt, const char *tok_dir,
                  sx_err *err) {
    if (dt != SX_F32 && dt != SX_F16 && dt != SX_BF16)
        return sx_failc(err, SX_EINVAL, "export dtype must be F32, F16 or BF16");
    if (sx_mkdir_p(dir, err)) return -1;
    char path[4096];
    if (sx_path_join(path, sizeof path, dir, "config.json")) return sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    cJSON *cfg = hf_config(m, dt);
    int rc = sx_json_write_file(path, cfg, err);
    cJSON_Delete(cfg);
    if (rc) return -1;

    /* converted copy of every parameter, then per-layer views into it */
    size_t es = sx_dtype_size(dt);
    unsigned char *buf = malloc(m->n_params * es);
    if (!buf) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n_params; i++) {
        float f = m->params[i];
        if (dt == SX_F32) memcpy(buf + 4 * i, &f, 4);
        else {
            uint16_t h = dt == SX_BF16 ? sx_f32_to_bf16(f) : sx_f32_to_f16(f);
            memcpy(buf + 2 * i, &h, 2);
        }
    }
    save_ctx s = {sx_stw_new(), dt, buf};
    rc = s.w ? each_tensor(m, add_tensor, &s, err) : sx_failc(err, SX_ENOMEM, "out of memory");
    if (!rc) rc = sx_stw_meta(s.w, "format", "pt", err);
    if (!rc && sx_path_join(path, sizeof path, dir, "model.safetensors"))
        rc = sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    if (!rc) rc = sx_stw_write(s.w, path, err);
    sx_stw_free(s.w);
    free(buf);
    if (rc) return -1;
    if (tok_dir) {
        if (copy_file(tok_dir, "encoder.json", dir, 1, err) ||
            copy_file(tok_dir, "vocab.bpe", dir, 1, err) || copy_file(tok_dir, "LICENSE", dir, 0, err))
            return -1;
    }
    return 0;
}

typedef struct load_ctx {
    const sx_safetensors *st;
    float *params;
    const int *src;    /* target block -> source layer, -1: a new block (depth growth) */
    int64_t C, Cs;     /* target and source width: equal, or C == 2 Cs (width growth) */
    const float *init; /* C == 2 Cs: m's params before the load, for the symmetry-breaking split */
    float *tmp;        /* C == 2 Cs: the source tensor */
    int found;
} load_ctx;

/* Width growth maps a target channel to its source channel blockwise: a dimension of k*C
 * (qkv 3C, MLP 4C, residual C) is k blocks of C, and channel q of block p copies channel
 * q mod Cs of source block p.  Every source channel then has exactly two copies; residual
 * channels i and i + Cs are twins, attention head h + H_s is a copy of head h (the head
 * width is kept), MLP unit u + Cs of each block a copy of u. */
static inline int64_t wide_src(int64_t j, int64_t C, int64_t Cs) { return j / C * Cs + j % C % Cs; }

static int read_wide(load_ctx *l, const char *name, size_t off, int nd, const int64_t *shape,
                     sx_err *err) {
    int64_t C = l->C, Cs = l->Cs, ss[2];
    int emb = !strcmp(name, "wte.weight") || !strcmp(name, "wpe.weight"); /* [rows, C] */
    for (int i = 0; i < nd; i++) ss[i] = emb && i == 0 ? shape[i] : shape[i] / 2;
    if (sx_st_read_f32_into(l->st, name, nd, ss, l->tmp, err)) return -1;
    float *t = l->params + off;
    const float *s = l->tmp, *t0 = l->init + off;
    if (nd == 1) { /* LayerNorm gains and biases, linear biases: the same value in both twins;
                    * ln_f halved, since the tied unembedding sums over twice the channels */
        float sc = !strncmp(name, "ln_f.", 5) ? 0.5f : 1.0f;
        for (int64_t j = 0; j < shape[0]; j++) t[j] = sc * s[wide_src(j, C, Cs)];
    } else if (emb) {
        for (int64_t r = 0; r < shape[0]; r++)
            for (int64_t j = 0; j < shape[1]; j++) t[r * shape[1] + j] = s[r * ss[1] + wide_src(j, C, Cs)];
    } else { /* Conv1D [in, out]: the two copies of an input row share its weight, half each,
              * plus and minus a random split (from m's init) that cancels while the twins are
              * equal but gives them different gradients, so training can tell them apart */
        for (int64_t i = 0; i < shape[0]; i++) {
            int64_t i0 = i / C * C + i % C % Cs; /* the first copy of this row */
            float sg = i == i0 ? 0.5f : -0.5f;
            for (int64_t j = 0; j < shape[1]; j++)
                t[i * shape[1] + j] = 0.5f * s[wide_src(i, C, Cs) * ss[1] + wide_src(j, C, Cs)] +
                                      sg * t0[i0 * shape[1] + j];
        }
    }
    return 0;
}

static int read_tensor(void *user, const char *name, size_t off, int nd, const int64_t *shape,
                       sx_err *err) {
    load_ctx *l = user;
    int layer, at = 0;
    char src_name[64];
    if (sscanf(name, "h.%d.%n", &layer, &at) == 1 && at > 0) {
        const char *suffix = name + at;
        if (l->src[layer] < 0) { /* a new block: its output projections start at zero */
            if (!strcmp(suffix, "attn.c_proj.weight") || !strcmp(suffix, "attn.c_proj.bias") ||
                !strcmp(suffix, "mlp.c_proj.weight") || !strcmp(suffix, "mlp.c_proj.bias")) {
                size_t n = 1;
                for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
                memset(l->params + off, 0, n * sizeof(float));
            }
            return 0;
        }
        snprintf(src_name, sizeof src_name, "h.%d.%s", l->src[layer], suffix);
        name = src_name;
    }
    l->found++;
    if (l->C != l->Cs) return read_wide(l, name, off, nd, shape, err);
    return sx_st_read_f32_into(l->st, name, nd, shape, l->params + off, err);
}

/* The source's width: wte.weight [vocab, d]; for width growth its config.json must give a
 * head count with the target's head width. */
static int source_width(const sx_lm *m, const sx_safetensors *st, const char *dir,
                        const char *path, int64_t *Cs, sx_err *err) {
    const sx_tensor_view *v = sx_st_find(st, "wte.weight");
    if (!v || v->ndim != 2) return sx_failc(err, SX_EINVAL, "%s: no 2-D wte.weight", path);
    int64_t C = m->cfg.d;
    *Cs = v->shape[1];
    if (*Cs == C) return 0;
    if (2 * *Cs != C)
        return sx_failc(err, SX_EINVAL, "%s: width %lld; a width-%lld model loads width %lld or %lld",
                        path, (long long)*Cs, (long long)C, (long long)C, (long long)(C / 2));
    char cpath[4096];
    if (sx_path_join(cpath, sizeof cpath, dir, "config.json"))
        return sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    cJSON *j = sx_json_parse_file(cpath, (size_t)1 << 20, err);
    if (!j) return -1;
    int64_t hs = 0;
    int rc = sx_json_int(j, "n_head", &hs, cpath, err);
    cJSON_Delete(j);
    if (rc < 0) return -1;
    if (rc) return sx_failc(err, SX_EINVAL, "%s: no n_head (needed to widen the model)", cpath);
    if (hs < 1 || *Cs % hs || *Cs / hs != C / m->cfg.n_head)
        return sx_failc(err, SX_EINVAL, "%s: %lld heads of width %lld; widening keeps the head width, "
                        "so a width-%lld model needs %lld heads, not %d", cpath, (long long)hs,
                        (long long)(hs > 0 ? *Cs / hs : 0), (long long)C, (long long)(2 * hs), m->cfg.n_head);
    return 0;
}

int sx_lm_load_hf(sx_lm *m, const char *dir, sx_err *err) {
    char path[4096];
    if (sx_path_join(path, sizeof path, dir, "model.safetensors"))
        return sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    sx_safetensors st;
    if (sx_st_open(&st, path, err)) return -1;
    int L = m->cfg.n_layer, Ls = 0;
    int64_t Cs = 0;
    char name[64];
    for (;; Ls++) { /* the source's depth: its h.N blocks are numbered from 0 */
        snprintf(name, sizeof name, "h.%d.ln_1.weight", Ls);
        if (!sx_st_find(&st, name)) break;
    }
    int *src = malloc(sizeof(int) * (size_t)L);
    float *init = NULL, *tmp = NULL;
    int rc = 0;
    if (!src) rc = sx_failc(err, SX_ENOMEM, "out of memory");
    else if (Ls < 1 || Ls > L)
        rc = sx_failc(err, SX_EINVAL, "%s: %d transformer blocks; a %d-layer model loads 1 to %d",
                      path, Ls, L, L);
    else rc = source_width(m, &st, dir, path, &Cs, err);
    if (!rc && Cs != m->cfg.d) {
        size_t big = 0;
        for (int i = 0; i < st.n; i++) big = st.t[i].numel > big ? st.t[i].numel : big;
        init = malloc(m->n_params * sizeof(float));
        tmp = malloc(big * sizeof(float));
        if (!init || !tmp) rc = sx_failc(err, SX_ENOMEM, "out of memory");
        else memcpy(init, m->params, m->n_params * sizeof(float));
    }
    if (!rc) {
        /* depth growth: source layer j lands in block floor(j*L/Ls), spreading the new blocks
         * between them (4 -> 8: the old layers at 0, 2, 4, 6), so a hook at a fraction of
         * the depth still sees the same number of trained layers below it */
        for (int i = 0; i < L; i++) src[i] = -1;
        for (int j = 0; j < Ls; j++) src[(int64_t)j * L / Ls] = j;
        load_ctx l = {&st, m->params, src, m->cfg.d, Cs, init, tmp, 0};
        rc = each_tensor(m, read_tensor, &l, err);
        if (!rc && st.n != l.found) /* a tensor the table does not name would be ignored */
            rc = sx_failc(err, SX_EINVAL, "%s: %d tensors, a %d-layer GPT-2 of this shape has %d",
                          path, st.n, Ls, l.found);
    }
    free(src);
    free(init);
    free(tmp);
    sx_st_close(&st);
    if (rc) return -1;
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->params[i]))
            return sx_failc(err, SX_ENUMERIC, "%s: non-finite weight", path);
    memset(m->m, 0, m->n_params * sizeof(float));
    memset(m->v, 0, m->n_params * sizeof(float));
    m->adam_t = 0;
    return 0;
}

/* ---------- checkpoints ---------- */
#define CKPT_MAGIC "SXLMCKP1"

typedef struct ckpt_head {
    char magic[8];
    int32_t cfg[5];
    int32_t pad;
    int64_t adam_t;
    uint64_t n_params, state_len;
} ckpt_head;

int sx_lm_ckpt_save(const sx_lm *m, const char *path, const void *state, size_t state_len,
                    sx_err *err) {
    ckpt_head h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    int32_t cfg[5] = {m->cfg.vocab, m->cfg.n_ctx, m->cfg.n_layer, m->cfg.n_head, m->cfg.d};
    memcpy(h.cfg, cfg, sizeof cfg);
    h.adam_t = m->adam_t;
    h.n_params = m->n_params;
    h.state_len = state_len;
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) return -1;
    size_t n = m->n_params;
    if (fwrite(&h, sizeof h, 1, af.f) != 1 || (state_len && fwrite(state, state_len, 1, af.f) != 1) ||
        fwrite(m->params, sizeof(float), n, af.f) != n || fwrite(m->m, sizeof(float), n, af.f) != n ||
        fwrite(m->v, sizeof(float), n, af.f) != n) {
        sx_atomic_abort(&af);
        return sx_failc(err, SX_EIO, "%s: write failed", path);
    }
    return sx_atomic_commit(&af, err);
}

int sx_lm_ckpt_load(const char *path, sx_lm **out, void *state, size_t state_len,
                    sx_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sx_failc(err, SX_EIO, "%s: cannot open checkpoint", path);
    ckpt_head h;
    sx_lm *m = NULL;
    int rc = -1;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, CKPT_MAGIC, 8)) {
        sx_failc(err, SX_ECORRUPT, "%s: not a saetox lm-train checkpoint", path);
        goto done;
    }
    if (h.state_len != state_len) {
        sx_failc(err, SX_EINVAL, "%s: trainer state of %llu bytes, expected %zu (other saetox version?)", path,
                (unsigned long long)h.state_len, state_len);
        goto done;
    }
    sx_lm_cfg c = {h.cfg[0], h.cfg[1], h.cfg[2], h.cfg[3], h.cfg[4]};
    if (sx_lm_new(&c, &m, err)) {
        sx_fail_prefix(err, "%s", path);
        goto done;
    }
    size_t n = m->n_params;
    if (h.n_params != n || (state_len && fread(state, state_len, 1, f) != 1) ||
        fread(m->params, sizeof(float), n, f) != n || fread(m->m, sizeof(float), n, f) != n ||
        fread(m->v, sizeof(float), n, f) != n) {
        sx_failc(err, SX_ECORRUPT, "%s: truncated or inconsistent checkpoint", path);
        goto done;
    }
    m->adam_t = h.adam_t;
    rc = 0;
done:
    fclose(f);
    if (rc) sx_lm_free(m);
    else *out = m;
    return rc;
}
