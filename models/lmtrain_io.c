/* lmtrain_io.c — files of the GPT-2 trainer: the Hugging Face export (config.json,
 * model.safetensors with GPT-2 names, tokenizer files) and resumable checkpoints. */
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
    const sx_lm_cfg *c = &m->cfg;
    int64_t C = c->d, L = c->n_layer;
    sx_st_writer *w = sx_stw_new();
    char names[16][64];
    rc = w ? 0 : sx_failc(err, SX_ENOMEM, "out of memory");
#define ADD(nm, id, idx, nd, ...)                                                              \
    do {                                                                                       \
        int64_t shp[] = {__VA_ARGS__};                                                         \
        size_t per = m->numel[id] / ((id) >= SX_LM_LN1W && (id) <= SX_LM_FPB ? (size_t)L : 1); \
        if (!rc) rc = sx_stw_add(w, nm, dt, nd, shp, buf + (m->off[id] + (idx)*per) * es, err); \
    } while (0)
    ADD("wte.weight", SX_LM_WTE, 0, 2, c->vocab, C);
    ADD("wpe.weight", SX_LM_WPE, 0, 2, c->n_ctx, C);
    /* per-layer tensors are views into the stacked [L, ...] arrays (the writer copies names) */
    for (int l = 0; l < L && !rc; l++) {
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
        for (int k = 0; k < 12 && !rc; k++) {
            snprintf(names[k], sizeof names[k], "h.%d.%s", l, T[k].suffix);
            if (T[k].nd == 2) ADD(names[k], T[k].id, l, 2, T[k].r * C, T[k].k * C);
            else ADD(names[k], T[k].id, l, 1, T[k].k * C);
        }
    }
    ADD("ln_f.weight", SX_LM_LNFW, 0, 1, C);
    ADD("ln_f.bias", SX_LM_LNFB, 0, 1, C);
#undef ADD
    if (!rc) rc = sx_stw_meta(w, "format", "pt", err);
    if (!rc && sx_path_join(path, sizeof path, dir, "model.safetensors"))
        rc = sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    if (!rc) rc = sx_stw_write(w, path, err);
    sx_stw_free(w);
    free(buf);
    if (rc) return -1;
    if (tok_dir) {
        if (copy_file(tok_dir, "encoder.json", dir, 1, err) ||
            copy_file(tok_dir, "vocab.bpe", dir, 1, err) || copy_file(tok_dir, "LICENSE", dir, 0, err))
            return -1;
    }
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
