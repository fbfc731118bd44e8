/* sae.h — sparse autoencoders: the in-memory model, SAELens / Gemma Scope file formats,
 * encode and decode.  (Training lives in trainer.h.) */
#ifndef SAETOX_SAE_H
#define SAETOX_SAE_H

#include "sx_defs.h"
#include <stdint.h>

#include "core.h"

SX_BEGIN_DECLS

typedef enum {
    SX_SAE_STANDARD = 1, /* ReLU (SAELens "standard") */
    SX_SAE_TOPK = 2,
    SX_SAE_BATCHTOPK = 3, /* trained with batch top-k; inference uses a threshold */
    SX_SAE_JUMPRELU = 4,
    SX_SAE_MATRYOSHKA = 5, /* Matryoshka BatchTopK (nested prefixes); inference as batchtopk */
    SX_SAE_GATED = 6       /* Gated SAE: b_enc holds b_gate, plus r_mag and b_mag */
} sx_sae_arch;

#define SX_SAE_MAX_GROUPS 16

typedef struct sx_sae {
    sx_sae_arch arch;
    int d_in, d_sae, k;          /* k for topk / batchtopk */
    int apply_b_dec_to_input;    /* SAELens: 1; Gemma Scope: 0 */
    float *W_enc;                /* [d_in, d_sae] */
    float *b_enc;                /* [d_sae] */
    float *W_dec;                /* [d_sae, d_in] */
    float *b_dec;                /* [d_in] */
    float *threshold;            /* [d_sae] for jumprelu (and batchtopk / matryoshka inference), else NULL */
    float *r_mag, *b_mag;        /* [d_sae] gated only: W_mag = W_enc * exp(r_mag); b_enc is b_gate */
    int n_groups;                /* matryoshka: prefix widths groups[0] < .. < groups[n-1] = d_sae */
    int groups[SX_SAE_MAX_GROUPS];
    float norm_scale;            /* activations are multiplied by this before encoding (1: none) */
    char hook_name[128];
    char model_name[128];
} sx_sae;

/* Load a SAELens folder (cfg.json + sae_weights.safetensors), a path to its
 * sae_weights.safetensors, or a Gemma Scope params.npz. */
int sx_sae_load(const char *path, sx_sae *sae, sx_err *err);
/* Write a SAELens folder (cfg.json + sae_weights.safetensors), atomically per file. */
int sx_sae_save(const sx_sae *sae, const char *dir, sx_err *err);
/* Same, adding the members of extra (nullable) under cfg.json "saetox" (training facts). */
int sx_sae_save_meta(const sx_sae *sae, const char *dir, const struct cJSON *extra, sx_err *err);
void sx_sae_free(sx_sae *sae);

/* feature_acts [n, d_sae]; hidden_pre (nullable) [n, d_sae]: each architecture's own
 * convention (see DESIGN.md and the fixtures README). */
int sx_sae_encode(const sx_sae *sae, const float *x, int64_t n, float *feature_acts,
                  float *hidden_pre, sx_err *err);
/* reconstruction [n, d_in] = feature_acts @ W_dec + b_dec  (divided by norm_scale when that is
 * not 1, so the reconstruction is in the units of the input x; saved SAEs always have it 1). */
void sx_sae_decode(const sx_sae *sae, const float *feature_acts, int64_t n, float *recon);

SX_END_DECLS

#endif
