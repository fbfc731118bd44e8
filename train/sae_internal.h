/* sae_internal.h — pieces shared inside train/ (not part of the public API). */
#ifndef SAETOX_SAE_INTERNAL_H
#define SAETOX_SAE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sae.h"

/* A float array decoded from one .npy member. */
typedef struct sx_npy_array {
    char name[128]; /* member name without ".npy" */
    int ndim;
    int64_t shape[SX_MAX_DIMS];
    size_t numel;
    float *data; /* converted to float32, malloc'd */
} sx_npy_array;

/* Parse one .npy image (bytes in memory).  Accepts versions 1/2/3, descr '<f4' '<f2' '<f8'
 * (and '|'/'=' spellings of little-endian where unambiguous), fortran_order False. */
int sx_npy_parse(const unsigned char *buf, size_t len, const char *ctx, sx_npy_array *out,
                 sx_err *err);
/* Read every .npy member of an .npz (zip) file via libarchive.  *arrs is malloc'd. */
int sx_npz_read(const char *path, sx_npy_array **arrs, int *n, sx_err *err);
void sx_npz_free(sx_npy_array *arrs, int n);

/* Indices of the k largest values of v[0..n) (ties: lower index first), unordered.
 * heap_v / heap_i are caller scratch of size k.  FLOP floor: n compares. */
void sx_topk_select(const float *v, int n, int k, float *heap_v, int *heap_i);


/* Allocate the arrays of an SAE of the given shape (zeroed); threshold when needed. */
int sx_sae_alloc(sx_sae *sae, sx_sae_arch arch, int d_in, int d_sae, int k, sx_err *err);
const char *sx_sae_arch_name(sx_sae_arch a); /* "standard", "topk", "batchtopk", "jumprelu" */
/* cfg.json of sx_sae_save_meta alone (only the SAE's shape and names are read, none of its
 * arrays): for writers that place sae_weights.safetensors themselves (train/sae_write_lp.c). */
int sx_sae_save_cfg(const sx_sae *sae, const char *dir, const struct cJSON *extra, sx_err *err);

#endif
