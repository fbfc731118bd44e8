/* encode_fused.h — TopK-family encoder fused with the candidate selection (see the .c). */
#ifndef SAETOX_ENCODE_FUSED_H
#define SAETOX_ENCODE_FUSED_H

#include <stdint.h>

#define SX_ENC_MR 8  /* rows per register tile */
#define SX_ENC_NR 48 /* latents per register tile (three AVX-512 vectors) */

/* Where the selection goes: per row, a list of the C strongest positive pre-activations and
 * one of the kaux strongest positive dead latents (kaux 0: none). */
typedef struct sx_enc_sink {
    int C, kaux, cand_stride, aux_stride;
    int *cand_idx, *aux_idx, *row_n, *row_naux;
    float *cand_val, *aux_val;
} sx_enc_sink;

/* Packed layouts: rows as [ceil(B/MR)][d][MR], latents as [ceil(m/NR)][d][NR], zero-padded. */
static inline int64_t sx_enc_rows_floats(int B, int d) { return (int64_t)((B + SX_ENC_MR - 1) / SX_ENC_MR) * SX_ENC_MR * d; }
static inline int64_t sx_enc_latents_floats(int m, int d) { return (int64_t)((m + SX_ENC_NR - 1) / SX_ENC_NR) * SX_ENC_NR * d; }
void sx_enc_pack_rows(const float *x, int B, int d, float *ap);
void sx_enc_pack_latents(const float *w_t, int m, int d, float *wp); /* w_t: [m, d] */

/* pre = x_c W_enc + b_enc, offered tile by tile to the sink's lists (each row's entries
 * sorted by strength: value descending, ties to the lower latent).
 * dead_bits: one word per latent panel (bit l = latent panel*NR + l is dead). */
void sx_encode_topk_fused(const float *ap, const float *wp, const float *b_enc, int B, int d, int m,
                          const uint64_t *dead_bits, const sx_enc_sink *k);

#endif
