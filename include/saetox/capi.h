/* capi.h — a flat C API for language bindings (the Python package python/saetox uses it
 * through ctypes): opaque handles, plain scalars, strings and caller-provided output buffers,
 * so a binding fills its own arrays in place and never has to mirror a C struct.
 *
 * Conventions: every call that can fail returns -1 (or NULL) and fills *err (code + one line);
 * output buffers are row-major float32 / int32 of exactly the documented size; memory the
 * library allocates for the caller (strings, id lists) is released with sx_capi_free.
 * Everything here is a thin layer over the public API of the other headers. */
#ifndef SAETOX_CAPI_H
#define SAETOX_CAPI_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "models.h"
#include "sae.h"
#include "tokenizer.h"

SX_BEGIN_DECLS

/* Release memory returned by the calls below (free()). */
void sx_capi_free(void *p);
/* sizeof(sx_err), for a binding to check its own mirror of the struct. */
size_t sx_capi_err_size(void);

/* ---------- models ---------- */
/* sx_model_load / sx_tokenizer_load, with a path that does not exist reported as SX_ENOTFOUND
 * (SX_EIO when it cannot be examined) rather than the unclassified SX_ERROR. */
int sx_capi_model_load(const char *dir, sx_model **out, sx_err *err);
int sx_capi_tokenizer_load(const char *dir, sx_tokenizer **out, sx_err *err);
/* vocab_size, d_model, n_layers, n_ctx, bos_id, eos_id (any pointer may be NULL). */
void sx_capi_model_dims(const sx_model *m, int *vocab, int *d_model, int *n_layers, int *n_ctx, int *bos,
                        int *eos);

/* An SAE intervention, given flat.  sae NULL: none.  tier "ablate" | "suppress" | "steer";
 * hook NULL or "": the SAE's hook_name; scales NULL: all 1. */
typedef struct sx_capi_steer {
    const sx_sae *sae;
    const char *hook;
    const char *tier;
    const int *latents;
    int n_latents;
    const float *scales;
    float alpha;
} sx_capi_steer;

/* One sequence ids[n] through the model.  logits_out (nullable) receives [n, vocab]; for each
 * of the n_hooks names ("blocks.L.hook_resid_pre|post") hooks_out[i] receives the residual
 * [n, d_model] at that hook.  steer (nullable, or steer->sae NULL) applies the intervention
 * during the pass (at its hook; a capture at the same hook sees the residual after it). */
int sx_capi_forward(sx_model *m, const int32_t *ids, int n, const char *const *hook_names, int n_hooks,
                    float *logits_out, float *const *hooks_out, const sx_capi_steer *steer, sx_err *err);

/* KV-cached generation from one prompt.  temperature <= 0: greedy.  stop_ids (nullable):
 * generation ends after one of them is emitted.  out[max_new_tokens] receives the new tokens,
 * *n_out their count. */
int sx_capi_generate(sx_model *m, const int32_t *ids, int n, int max_new_tokens, float temperature, float top_p,
                     int top_k, uint64_t seed, const int32_t *stop_ids, int n_stop, const sx_capi_steer *steer,
                     int32_t *out, int *n_out, sx_err *err);

/* ---------- SAEs ---------- */
/* A heap-allocated loaded SAE (sx_sae_load: SAELens folder, its sae_weights.safetensors or a
 * Gemma Scope params.npz; a missing path is SX_ENOTFOUND); sx_capi_sae_free releases it. */
sx_sae *sx_capi_sae_load(const char *path, sx_err *err);
void sx_capi_sae_free(sx_sae *sae);
/* arch (sx_sae_arch), d_in, d_sae, k, apply_b_dec_to_input; *norm_scale; any may be NULL. */
void sx_capi_sae_dims(const sx_sae *sae, int *arch, int *d_in, int *d_sae, int *k, int *apply_b_dec,
                      float *norm_scale);
const char *sx_capi_sae_hook_name(const sx_sae *sae);
const char *sx_capi_sae_model_name(const sx_sae *sae);
/* The SAE's own parameter memory (valid until sx_capi_sae_free; writes change the SAE):
 * "W_enc" [d_in, d_sae], "b_enc" [d_sae], "W_dec" [d_sae, d_in], "b_dec" [d_in],
 * "threshold" [d_sae] (NULL when the SAE has none).  NULL for another name. */
float *sx_capi_sae_param(sx_sae *sae, const char *name);
/* x [n, d] -> feature_acts [n, d_sae] (and hidden_pre, nullable); d must equal d_in. */
int sx_capi_sae_encode(const sx_sae *sae, const float *x, int64_t n, int d, float *feature_acts,
                       float *hidden_pre, sx_err *err);
/* f [n, d] -> reconstruction [n, d_in]; d must equal d_sae. */
int sx_capi_sae_decode(const sx_sae *sae, const float *f, int64_t n, int d, float *recon, sx_err *err);

/* ---------- SAE training (sx_train_caches, as `saetox train`) ---------- */
/* arch "relu" | "topk" | "batchtopk" | "jumprelu"; widths[n_widths]; ks (nullable) for the
 * top-k archs; batch <= 0 / lr <= 0: the defaults; normalize < 0: the default.  The hook and
 * model names come from the first cache's attributes.  eval_cache (nullable): the held-out
 * evaluation into OUT/eval.jsonl. */
int sx_capi_train(const char *const *caches, int n_caches, const char *out_dir, const char *arch,
                  const int *widths, int n_widths, const int *ks, int n_k, int64_t tokens, int64_t batch,
                  double lr, uint64_t seed, int normalize, const char *eval_cache, sx_err *err);

/* ---------- SAE quality spliced into the model (sx_sae_eval_run, as `saetox eval-sae`) ---------- */
/* The names of the per-SAE result fields, comma-separated, in the order sx_capi_eval_sae
 * writes them. */
const char *sx_capi_eval_sae_fields(void);
/* Evaluate n_saes SAEs on either ids[n_ids] (one sequence) or a text source data (datasets.h
 * syntax) packed into context_size windows (BOS prepended) up to `tokens` positions, the
 * tokenizer loaded from tokenizer_dir.  default_hook (nullable): the hook of an SAE that names
 * none (Gemma Scope).  out[n_saes * n_fields] receives the fields above. */
int sx_capi_eval_sae(sx_model *m, const sx_sae *const *saes, const char *const *names, int n_saes,
                     const int32_t *ids, int n_ids, const char *data, const char *tokenizer_dir, int context_size,
                     int64_t tokens, const char *default_hook, double *out, sx_err *err);

SX_END_DECLS
#endif
