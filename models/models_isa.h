/* models_isa.h — first include of the models/ files compiled once per instruction set
 * (kernels.c, attention.c, lmtrain_layers.c; core/simd_dispatch.h explains the scheme):
 * their external functions get the ISA's suffix.  models/dispatch.c lists the same names. */
#ifndef SAETOX_MODELS_ISA_H
#define SAETOX_MODELS_ISA_H
#ifdef SX_ISA
#include "simd_dispatch.h"
/* kernels.c */
#define sx__layernorm SX_ISA_NAME(sx__layernorm)
#define sx__rmsnorm SX_ISA_NAME(sx__rmsnorm)
#define sx__gelu_tanh SX_ISA_NAME(sx__gelu_tanh)
#define sx__gelu_erf SX_ISA_NAME(sx__gelu_erf)
#define sx__relu SX_ISA_NAME(sx__relu)
#define sx__geglu SX_ISA_NAME(sx__geglu)
#define sx__softcap SX_ISA_NAME(sx__softcap)
#define sx__add_bias SX_ISA_NAME(sx__add_bias)
#define sx__fill_rows SX_ISA_NAME(sx__fill_rows)
#define sx__matmul SX_ISA_NAME(sx__matmul)
#define sx__sum_exp SX_ISA_NAME(sx__sum_exp)
#define sx__bin_members SX_ISA_NAME(sx__bin_members)
#define sx__nucleus_hist SX_ISA_NAME(sx__nucleus_hist)
#define sx__nucleus_exp_hist SX_ISA_NAME(sx__nucleus_exp_hist)
/* attention.c */
#define sx__attention_ws SX_ISA_NAME(sx__attention_ws)
#define sx__attention SX_ISA_NAME(sx__attention)
/* lmtrain_layers.c */
#define lmk_encoder_fwd SX_ISA_NAME(lmk_encoder_fwd)
#define lmk_encoder_bwd SX_ISA_NAME(lmk_encoder_bwd)
#define lmk_layernorm_fwd SX_ISA_NAME(lmk_layernorm_fwd)
#define lmk_layernorm_bwd SX_ISA_NAME(lmk_layernorm_bwd)
#define lmk_matmul_fwd SX_ISA_NAME(lmk_matmul_fwd)
#define lmk_matmul_bwd SX_ISA_NAME(lmk_matmul_bwd)
#define lmk_attention_fwd SX_ISA_NAME(lmk_attention_fwd)
#define lmk_attention_bwd SX_ISA_NAME(lmk_attention_bwd)
#define lmk_gelu_fwd SX_ISA_NAME(lmk_gelu_fwd)
#define lmk_gelu_bwd SX_ISA_NAME(lmk_gelu_bwd)
#define lmk_classifier SX_ISA_NAME(lmk_classifier)
#endif
#endif
