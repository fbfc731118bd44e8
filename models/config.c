/* config.c — read a Hugging Face config.json (GPT-2 family or Gemma-2) into sx_model_config. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"
#include "sx_json.h"

/* Required positive integer key. */
static int need_int(const cJSON *j, const char *key, int *out, const char *ctx, sx_err *err) {
    int64_t v = 0;
    int rc = sx_json_int(j, key, &v, ctx, err);
    if (rc < 0) return -1;
    if (rc > 0) return sx_failc(err, SX_ECORRUPT, "%s: missing '%s'", ctx, key);
    if (v <= 0 || v > (1 << 30)) return sx_failc(err, SX_ECORRUPT, "%s: '%s' = %lld is out of range", ctx, key, (long long)v);
    *out = (int)v;
    return 0;
}

static int opt_num(const cJSON *j, const char *key, float *out, float dflt, const char *ctx,
                   sx_err *err) {
    double v = dflt;
    int rc = sx_json_num(j, key, &v, ctx, err);
    if (rc < 0) return -1;
    if (!isfinite(v)) return sx_failc(err, SX_ECORRUPT, "%s: '%s' is not finite", ctx, key);
    *out = (float)v;
    return 0;
}

/* Token ids may be an integer, null, or a list (Gemma's eos_token_id [1, 107]: take the
 * first).  A negative id means none; anything else must be an integer below vocab_size
 * (1e30 or inf would otherwise reach an int conversion, which is undefined). */
static int opt_tok(const cJSON *j, const char *key, int vocab_size, int *out, const char *ctx,
                   sx_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    *out = -1;
    if (!v || cJSON_IsNull(v)) return 0;
    int64_t id;
    if (cJSON_IsNumber(v) && v->valuedouble < 0 && v->valuedouble >= -(double)(1 << 30) &&
        v->valuedouble == floor(v->valuedouble))
        return 0;
    if (sx_json_int_of(v, 0, (int64_t)vocab_size - 1, &id))
        return sx_failc(err, SX_ECORRUPT, "%s: '%s' must be a token id (an integer below vocab_size %d) or null",
                       ctx, key, vocab_size);
    *out = (int)id;
    return 0;
}

static int parse_act(const char *s, sx_act *act, const char *ctx, sx_err *err) {
    if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast") ||
        !strcmp(s, "gelu_tanh"))
        *act = SX_ACT_GELU_TANH;
    else if (!strcmp(s, "gelu"))
        *act = SX_ACT_GELU_ERF;
    else if (!strcmp(s, "relu"))
        *act = SX_ACT_RELU;
    else
        return sx_failc(err, SX_EUNSUPPORTED, "%s: unsupported activation '%s' (gelu_new, gelu_pytorch_tanh, gelu, relu)", ctx, s);
    return 0;
}

static int load_gpt2(const cJSON *j, sx_model_config *c, sx_act *act, const char *ctx, sx_err *err) {
    c->arch = SX_ARCH_GPT2;
    if (need_int(j, "vocab_size", &c->vocab_size, ctx, err) || need_int(j, "n_embd", &c->d_model, ctx, err) ||
        need_int(j, "n_layer", &c->n_layers, ctx, err) || need_int(j, "n_head", &c->n_heads, ctx, err))
        return -1;
    int64_t v = 0;
    int rc = sx_json_int(j, "n_positions", &v, ctx, err);
    if (rc < 0) return -1;
    if (rc > 0 && (rc = sx_json_int(j, "n_ctx", &v, ctx, err)) != 0)
        return rc < 0 ? -1 : sx_failc(err, SX_ECORRUPT, "%s: missing 'n_positions'", ctx);
    if (v <= 0 || v > (1 << 24)) return sx_failc(err, SX_ECORRUPT, "%s: 'n_positions' = %lld is out of range", ctx, (long long)v);
    c->n_ctx = (int)v;
    rc = sx_json_int_range(j, "n_inner", 1, 1 << 30, &v, ctx, err);
    if (rc < 0) return -1;
    c->d_ff = rc > 0 ? 4 * c->d_model : (int)v;
    if (c->d_ff <= 0) return sx_failc(err, SX_ECORRUPT, "%s: 'n_inner' must be positive", ctx);
    if (c->d_model % c->n_heads)
        return sx_failc(err, SX_ECORRUPT, "%s: n_embd %d is not divisible by n_head %d", ctx, c->d_model, c->n_heads);
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->d_model / c->n_heads;
    if (opt_num(j, "layer_norm_epsilon", &c->norm_eps, 1e-5f, ctx, err)) return -1;
    const char *a = "gelu_new";
    if (sx_json_str(j, "activation_function", &a, ctx, err) < 0) return -1;
    if (parse_act(a, act, ctx, err)) return -1;
    int flag = 0;
    if (sx_json_bool(j, "scale_attn_by_inverse_layer_idx", &flag, ctx, err) < 0) return -1;
    if (flag) return sx_failc(err, SX_EUNSUPPORTED, "%s: scale_attn_by_inverse_layer_idx is not supported", ctx);
    return 0;
}

static int load_gemma2(const cJSON *j, sx_model_config *c, sx_act *act, const char *ctx, sx_err *err) {
    c->arch = SX_ARCH_GEMMA2;
    if (need_int(j, "vocab_size", &c->vocab_size, ctx, err) ||
        need_int(j, "hidden_size", &c->d_model, ctx, err) ||
        need_int(j, "intermediate_size", &c->d_ff, ctx, err) ||
        need_int(j, "num_hidden_layers", &c->n_layers, ctx, err) ||
        need_int(j, "num_attention_heads", &c->n_heads, ctx, err) ||
        need_int(j, "num_key_value_heads", &c->n_kv_heads, ctx, err) ||
        need_int(j, "head_dim", &c->head_dim, ctx, err) ||
        need_int(j, "max_position_embeddings", &c->n_ctx, ctx, err) ||
        need_int(j, "sliding_window", &c->sliding_window, ctx, err))
        return -1;
    if (c->n_heads % c->n_kv_heads)
        return sx_failc(err, SX_ECORRUPT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", ctx,
                       c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2) return sx_failc(err, SX_ECORRUPT, "%s: head_dim %d must be even for RoPE", ctx, c->head_dim);
    if (opt_num(j, "rms_norm_eps", &c->norm_eps, 1e-6f, ctx, err) ||
        opt_num(j, "rope_theta", &c->rope_theta, 10000.f, ctx, err) ||
        opt_num(j, "query_pre_attn_scalar", &c->query_pre_attn_scalar, (float)c->head_dim, ctx, err) ||
        opt_num(j, "attn_logit_softcapping", &c->attn_softcap, 0.f, ctx, err) ||
        opt_num(j, "final_logit_softcapping", &c->final_softcap, 0.f, ctx, err))
        return -1;
    if (c->query_pre_attn_scalar <= 0) return sx_failc(err, SX_ECORRUPT, "%s: query_pre_attn_scalar must be positive", ctx);
    const char *a = "gelu_pytorch_tanh";
    if (sx_json_str(j, "hidden_activation", &a, ctx, err) < 0) return -1;
    if (parse_act(a, act, ctx, err)) return -1;
    if (*act != SX_ACT_GELU_TANH)
        return sx_failc(err, SX_ECORRUPT, "%s: Gemma-2 needs hidden_activation gelu_pytorch_tanh, got '%s'", ctx, a);
    return 0;
}

int sx__config_load(const char *dir, sx_model_config *c, sx_act *act, sx_err *err) {
    char path[4096];
    if (sx_path_join(path, sizeof path, dir, "config.json")) return sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    if (!sx_file_exists(path)) return sx_failc(err, SX_ENOTFOUND, "%s: missing config.json (not a Hugging Face model folder?)", dir);
    cJSON *j = sx_json_parse_file(path, 16u << 20, err);
    if (!j) return -1;
    int rc = -1;
    memset(c, 0, sizeof *c);
    const char *mt = NULL;
    int got = sx_json_str(j, "model_type", &mt, path, err);
    if (got != 0) {
        if (got > 0) sx_failc(err, SX_ECORRUPT, "%s: missing 'model_type'", path);
        goto done;
    }
    snprintf(c->model_type, sizeof c->model_type, "%s", mt);
    if (!strcmp(mt, "gpt2"))
        rc = load_gpt2(j, c, act, path, err);
    else if (!strcmp(mt, "gemma2"))
        rc = load_gemma2(j, c, act, path, err);
    else
        sx_failc(err, SX_EUNSUPPORTED, "%s: unknown model_type '%s' (supported: gpt2, gemma2)", path, mt);
    if (rc == 0) {
        int tied = 1;
        if (opt_tok(j, "bos_token_id", c->vocab_size, &c->bos_id, path, err) ||
            opt_tok(j, "eos_token_id", c->vocab_size, &c->eos_id, path, err) ||
            opt_tok(j, "pad_token_id", c->vocab_size, &c->pad_id, path, err) ||
            sx_json_bool(j, "tie_word_embeddings", &tied, path, err) < 0)
            rc = -1;
    }
done:
    cJSON_Delete(j);
    return rc;
}
