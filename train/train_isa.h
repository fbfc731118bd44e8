/* train_isa.h — first include of the train/ files compiled once per instruction set
 * (encode_fused.c, arch_sparse.c, arch_dense.c, adam.c; core/simd_dispatch.h explains the
 * scheme): their external functions get the ISA's suffix.  train/dispatch.c lists them. */
#ifndef SAETOX_TRAIN_ISA_H
#define SAETOX_TRAIN_ISA_H
#ifdef SX_ISA
#include "simd_dispatch.h"
#define sx_enc_pack_rows SX_ISA_NAME(sx_enc_pack_rows)
#define sx_enc_pack_latents SX_ISA_NAME(sx_enc_pack_latents)
#define sx_encode_topk_fused SX_ISA_NAME(sx_encode_topk_fused)
#define sx_step_sparse SX_ISA_NAME(sx_step_sparse)
#define sx_step_sparse_lp SX_ISA_NAME(sx_step_sparse_lp)
#define sx_step_dense SX_ISA_NAME(sx_step_dense)
#define sx_adam_update SX_ISA_NAME(sx_adam_update)
#define sx_column_sums SX_ISA_NAME(sx_column_sums)
#endif
#endif
