/* capi.c — the flat binding API of capi.h over the public saetox API. */
#include "capi.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "analysis.h"
#include "datasets.h"
#include "steering.h"
#include "tokenizer.h"
#include "trainer.h"

void sx_capi_free(void *p) { free(p); }
size_t sx_capi_err_size(void) { return sizeof(sx_err); }

void sx_capi_model_dims(const sx_model *m, int *vocab, int *d_model, int *n_layers, int *n_ctx, int *bos,
                        int *eos) {
    const sx_model_config *c = sx_model_cfg(m);
    if (vocab) *vocab = c->vocab_size;
    if (d_model) *d_model = c->d_model;
    if (n_layers) *n_layers = c->n_layers;
    if (n_ctx) *n_ctx = c->n_ctx;
    if (bos) *bos = c->bos_id;
    if (eos) *eos = c->eos_id;
}

/* A load that failed with the unclassified SX_ERROR on a path that does not exist (or cannot be
 * examined) gets the code a binding can branch on: SX_ENOTFOUND / SX_EIO; the message is kept. */
static void classify_missing(const char *path, sx_err *err) {
    struct stat sb;
    if (!err || err->code != SX_ERROR || !path) return;
    if (stat(path, &sb) != 0) err->code = errno == ENOENT || errno == ENOTDIR ? SX_ENOTFOUND : SX_EIO;
}

int sx_capi_model_load(const char *dir, sx_model **out, sx_err *err) {
    *out = NULL;
    if (!dir) return sx_failc(err, SX_EINVAL, "model path is NULL");
    if (sx_model_load(dir, out, err)) {
        classify_missing(dir, err);
        return -1;
    }
    return 0;
}

int sx_capi_tokenizer_load(const char *dir, sx_tokenizer **out, sx_err *err) {
    *out = NULL;
    if (!dir) return sx_failc(err, SX_EINVAL, "tokenizer path is NULL");
    if (sx_tokenizer_load(dir, out, err)) {
        classify_missing(dir, err);
        return -1;
    }
    return 0;
}

/* ---------- steering ---------- */
static int steer_build(sx_model *m, const sx_capi_steer *s, sx_intervention *iv, sx_err *err) {
    const sx_model_config *c = sx_model_cfg(m);
    sx_tier t;
    if (!s->tier || sx_tier_parse(s->tier, &t) || (t != SX_TIER_ABLATE && t != SX_TIER_SUPPRESS && t != SX_TIER_STEER))
        return sx_failc(err, SX_EINVAL, "steering tier: expected ablate, suppress or steer, got '%s'",
                        s->tier ? s->tier : "(null)");
    const char *hook = s->hook && s->hook[0] ? s->hook : s->sae->hook_name;
    if (!hook[0]) return sx_failc(err, SX_EINVAL, "steering: the SAE names no hook_name; give the hook");
    if (s->n_latents <= 0 || !s->latents) return sx_failc(err, SX_EINVAL, "steering: no latents given");
    return sx_intervention_sae(iv, t, s->sae, hook, c->d_model, c->n_layers, s->latents, s->n_latents, s->scales,
                               s->alpha, err);
}

/* ---------- forward with captures ---------- */
typedef struct {
    float *dst;
    int n, d;
} capture;

static int capture_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    capture *c = user;
    for (int r = 0; r < ctx->n_rows; r++) {
        int p = ctx->pos_of_row[r];
        if (p < 0 || p >= c->n) return sx_failc(err, SX_ERROR, "capture: position %d out of range", p);
        memcpy(c->dst + (size_t)p * c->d, x + (size_t)r * ctx->d, sizeof(float) * (size_t)c->d);
    }
    return 0;
}

int sx_capi_forward(sx_model *m, const int32_t *ids, int n, const char *const *hook_names, int n_hooks,
                    float *logits_out, float *const *hooks_out, const sx_capi_steer *steer, sx_err *err) {
    const sx_model_config *c = sx_model_cfg(m);
    if (n <= 0 || !ids) return sx_failc(err, SX_EINVAL, "forward: no token ids given");
    if (n_hooks < 0 || (n_hooks > 0 && (!hook_names || !hooks_out)))
        return sx_failc(err, SX_EINVAL, "forward: hook names and output buffers must be given together");
    sx_hook *hooks = calloc((size_t)n_hooks + 1, sizeof *hooks);
    capture *caps = calloc((size_t)n_hooks + 1, sizeof *caps);
    sx_intervention iv;
    int have_iv = 0, nh = 0, rc = -1, max_layer = -1;
    if (!hooks || !caps) {
        sx_failc(err, SX_ENOMEM, "forward: out of memory");
        goto done;
    }
    if (steer && steer->sae) {
        if (steer_build(m, steer, &iv, err)) goto done;
        have_iv = 1;
        sx_gen_opts go = {0};
        nh += sx_intervention_attach(&iv, &hooks[nh], &go);
    }
    for (int i = 0; i < n_hooks; i++) {
        int layer;
        sx_hook_point pt;
        if (!hook_names[i] || !hooks_out[i]) {
            sx_failc(err, SX_EINVAL, "forward: hook %d has no name or no output buffer", i);
            goto done;
        }
        if (sx_hook_parse(hook_names[i], &layer, &pt, err)) goto done;
        if (layer < 0 || layer >= c->n_layers) {
            sx_failc(err, SX_ENOTFOUND, "forward: hook '%s': the model has %d layers", hook_names[i], c->n_layers);
            goto done;
        }
        caps[i] = (capture){hooks_out[i], n, c->d_model};
        hooks[nh++] = (sx_hook){layer, pt, capture_hook, &caps[i]};
        if (layer > max_layer) max_layer = layer;
    }
    sx_forward_opts fo = {hooks, nh, logits_out ? -1 : (max_layer < 0 ? 0 : max_layer), logits_out ? 1 : 0};
    rc = sx_forward(m, ids, &n, 1, &fo, logits_out, err);
done:
    if (have_iv) sx_intervention_free(&iv);
    free(hooks);
    free(caps);
    return rc;
}

int sx_capi_generate(sx_model *m, const int32_t *ids, int n, int max_new_tokens, float temperature, float top_p,
                     int top_k, uint64_t seed, const int32_t *stop_ids, int n_stop, const sx_capi_steer *steer,
                     int32_t *out, int *n_out, sx_err *err) {
    *n_out = 0;
    if (n <= 0 || !ids) return sx_failc(err, SX_EINVAL, "generate: no prompt ids given");
    if (max_new_tokens < 0) return sx_failc(err, SX_EINVAL, "generate: max_new_tokens %d is negative", max_new_tokens);
    if (max_new_tokens == 0) return 0;
    if (!(top_p > 0 && top_p <= 1)) return sx_failc(err, SX_EINVAL, "generate: top_p %g is not in (0, 1]", top_p);
    if (top_k < 0) return sx_failc(err, SX_EINVAL, "generate: top_k %d is negative", top_k);
    sx_gen_opts go = {.max_new_tokens = max_new_tokens, .temperature = temperature, .top_p = top_p, .top_k = top_k,
                      .seed = seed, .stop_ids = stop_ids, .n_stop = n_stop};
    sx_intervention iv;
    sx_hook hook;
    int have_iv = 0;
    if (steer && steer->sae) {
        if (steer_build(m, steer, &iv, err)) return -1;
        have_iv = 1;
        go.n_hooks = sx_intervention_attach(&iv, &hook, &go);
        go.hooks = go.n_hooks ? &hook : NULL;
    }
    int32_t *gen = NULL;
    int glen = 0;
    const int32_t *pr = ids;
    int rc = sx_generate(m, &pr, &n, 1, &go, &gen, &glen, err);
    if (rc == 0) {
        if (glen > max_new_tokens) glen = max_new_tokens;
        memcpy(out, gen, sizeof *gen * (size_t)glen);
        *n_out = glen;
    }
    free(gen);
    if (have_iv) sx_intervention_free(&iv);
    return rc;
}

/* ---------- SAEs ---------- */
sx_sae *sx_capi_sae_load(const char *path, sx_err *err) {
    if (!path) return sx_failc(err, SX_EINVAL, "SAE path is NULL"), NULL;
    sx_sae *s = calloc(1, sizeof *s);
    if (!s) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path), NULL;
    if (sx_sae_load(path, s, err)) {
        classify_missing(path, err);
        free(s);
        return NULL;
    }
    return s;
}

void sx_capi_sae_free(sx_sae *sae) {
    if (!sae) return;
    sx_sae_free(sae);
    free(sae);
}

void sx_capi_sae_dims(const sx_sae *sae, int *arch, int *d_in, int *d_sae, int *k, int *apply_b_dec,
                      float *norm_scale) {
    if (arch) *arch = (int)sae->arch;
    if (d_in) *d_in = sae->d_in;
    if (d_sae) *d_sae = sae->d_sae;
    if (k) *k = sae->k;
    if (apply_b_dec) *apply_b_dec = sae->apply_b_dec_to_input;
    if (norm_scale) *norm_scale = sae->norm_scale;
}

const char *sx_capi_sae_hook_name(const sx_sae *sae) { return sae->hook_name; }
const char *sx_capi_sae_model_name(const sx_sae *sae) { return sae->model_name; }

float *sx_capi_sae_param(sx_sae *sae, const char *name) {
    if (!name) return NULL;
    if (!strcmp(name, "W_enc")) return sae->W_enc;
    if (!strcmp(name, "b_enc")) return sae->b_enc;
    if (!strcmp(name, "W_dec")) return sae->W_dec;
    if (!strcmp(name, "b_dec")) return sae->b_dec;
    if (!strcmp(name, "threshold")) return sae->threshold;
    return NULL;
}

int sx_capi_sae_encode(const sx_sae *sae, const float *x, int64_t n, int d, float *feature_acts,
                       float *hidden_pre, sx_err *err) {
    if (d != sae->d_in)
        return sx_failc(err, SX_EINVAL, "SAE encode: x has %d columns but the SAE's d_in is %d", d, sae->d_in);
    if (n < 0) return sx_failc(err, SX_EINVAL, "SAE encode: negative row count %lld", (long long)n);
    if (n == 0) return 0;
    return sx_sae_encode(sae, x, n, feature_acts, hidden_pre, err);
}

int sx_capi_sae_decode(const sx_sae *sae, const float *f, int64_t n, int d, float *recon, sx_err *err) {
    if (d != sae->d_sae)
        return sx_failc(err, SX_EINVAL, "SAE decode: feature_acts has %d columns but the SAE's d_sae is %d", d,
                        sae->d_sae);
    if (n < 0) return sx_failc(err, SX_EINVAL, "SAE decode: negative row count %lld", (long long)n);
    if (n > 0) sx_sae_decode(sae, f, n, recon);
    return 0;
}

/* ---------- training ---------- */
int sx_capi_train(const char *const *caches, int n_caches, const char *out_dir, const char *arch,
                  const int *widths, int n_widths, const int *ks, int n_k, int64_t tokens, int64_t batch,
                  double lr, uint64_t seed, int normalize, const char *eval_cache, sx_err *err) {
    if (n_caches <= 0 || !caches) return sx_failc(err, SX_EINVAL, "train: no activation cache given");
    if (!out_dir || !out_dir[0]) return sx_failc(err, SX_EINVAL, "train: no output folder given");
    if (n_widths <= 0 || n_widths > SX_TRAIN_MAX_SAES || !widths)
        return sx_failc(err, SX_EINVAL, "train: give 1..%d widths", SX_TRAIN_MAX_SAES);
    if (n_k < 0 || n_k > 8) return sx_failc(err, SX_EINVAL, "train: give at most 8 values of k");
    if (tokens <= 0) return sx_failc(err, SX_EINVAL, "train: tokens must be positive");
    sx_train_opts o;
    sx_train_opts_default(&o);
    if (!arch) arch = "";
    if (!strcmp(arch, "relu") || !strcmp(arch, "standard")) o.arch = SX_SAE_STANDARD;
    else if (!strcmp(arch, "topk")) o.arch = SX_SAE_TOPK;
    else if (!strcmp(arch, "batchtopk")) o.arch = SX_SAE_BATCHTOPK;
    else if (!strcmp(arch, "jumprelu")) o.arch = SX_SAE_JUMPRELU;
    else return sx_failc(err, SX_EINVAL, "train: arch must be relu, topk, batchtopk or jumprelu, got '%s'", arch);
    o.n_widths = n_widths;
    memcpy(o.widths, widths, sizeof *widths * (size_t)n_widths);
    if (n_k > 0) {
        if (!ks) return sx_failc(err, SX_EINVAL, "train: ks is NULL");
        if (o.arch != SX_SAE_TOPK && o.arch != SX_SAE_BATCHTOPK)
            return sx_failc(err, SX_EINVAL, "train: k applies to topk and batchtopk");
        o.n_k = n_k;
        memcpy(o.ks, ks, sizeof *ks * (size_t)n_k);
    }
    o.tokens = tokens;
    if (batch > 0) o.batch = batch;
    if (lr > 0) o.lr = lr;
    o.seed = seed;
    if (normalize >= 0) o.normalize = normalize != 0;
    o.out_dir = out_dir;
    o.progress = 0;
    sx_cache_info info;
    if (sx_cache_info_read(caches[0], &info, err)) {
        classify_missing(caches[0], err);
        return -1;
    }
    if (info.hook_name[0]) o.hook_name = info.hook_name;
    if (info.model[0]) o.model_name = info.model;
    if (sx_train_caches(&o, caches, n_caches, err)) {
        for (int i = 0; i < n_caches; i++) classify_missing(caches[i], err);
        return -1;
    }
    if (eval_cache && eval_cache[0] && sx_train_eval(&o, eval_cache, err)) {
        classify_missing(eval_cache, err);
        return -1;
    }
    return 0;
}

/* ---------- eval-sae ---------- */
#define EVAL_FIELDS                                                                                          \
    X(d_sae) X(n_tokens) X(n_spliced) X(n_ce) X(l0) X(mse) X(explained_variance) X(fvu) X(ce_clean)          \
    X(ce_spliced) X(ce_zero) X(ce_loss_score) X(kl_spliced) X(kl_zero) X(kl_div_score) X(dead_frac)        \
    X(dense_frac)

const char *sx_capi_eval_sae_fields(void) {
#define X(f) "," #f
    static const char names[] = EVAL_FIELDS;
#undef X
    return names + 1;
}

int sx_capi_eval_sae(sx_model *m, const sx_sae *const *saes, const char *const *names, int n_saes,
                     const int32_t *ids, int n_ids, const char *data, const char *tokenizer_dir, int context_size,
                     int64_t tokens, const char *default_hook, double *out, sx_err *err) {
    if (n_saes <= 0 || !saes) return sx_failc(err, SX_EINVAL, "eval_sae: no SAE given");
    if (!ids == !(data && data[0])) return sx_failc(err, SX_EINVAL, "eval_sae: give exactly one of ids and data");
    if (data && (!tokenizer_dir || context_size < 2 || tokens <= 0))
        return sx_failc(err, SX_EINVAL, "eval_sae: data needs a tokenizer folder, context_size >= 2 and tokens > 0");
    const char **nm = calloc((size_t)n_saes, sizeof *nm);
    sx_sae_eval_row *rows = calloc((size_t)n_saes, sizeof *rows);
    char(*fallback)[32] = calloc((size_t)n_saes, sizeof *fallback);
    sx_tokenizer *tok = NULL;
    int rc = -1;
    if (!nm || !rows || !fallback) {
        sx_failc(err, SX_ENOMEM, "eval_sae: out of memory");
        goto done;
    }
    for (int i = 0; i < n_saes; i++) {
        snprintf(fallback[i], sizeof fallback[i], "sae%d", i);
        nm[i] = names && names[i] ? names[i] : fallback[i];
    }
    if (data && sx_tokenizer_load(tokenizer_dir, &tok, err)) goto done;
    sx_sae_eval_opts o = {.saes = (const struct sx_sae *const *)saes, .names = nm, .n_saes = n_saes,
                          .model_name = tokenizer_dir ? tokenizer_dir : "the model", .default_hook = default_hook, .ids = ids, .n_ids = ids ? n_ids : 0, .data = data,
                          .tokens = tokens, .batch = 4, .progress = 0,
                          .pack = {.context_size = context_size, .prepend_bos = 1, .bos_id = -1, .separator_id = -2,
                                   .per_doc = 0, .pad_id = 0, .shuffle_windows = 0, .seed = 0}};
    sx_sae_eval_info info;
    if (sx_sae_eval_run(m, tok, &o, rows, &info, err)) goto done;
    int nf = 0;
#define X(f) nf++;
    EVAL_FIELDS
#undef X
    for (int i = 0; i < n_saes; i++) {
        double *o2 = out + (size_t)i * (size_t)nf;
        int j = 0;
#define X(f) o2[j++] = (double)rows[i].f;
        EVAL_FIELDS
#undef X
    }
    rc = 0;
done:
    sx_tokenizer_free(tok);
    free(nm);
    free(rows);
    free(fallback);
    return rc;
}
