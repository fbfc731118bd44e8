/* dispatch.c — the plain names of models/' per-ISA kernels (models_isa.h), each a switch
 * on the path chosen at start-up (core/simd_dispatch.h). */
#include "simd_dispatch.h"

#include "lmtrain_kernels.h"
#include "model_internal.h"

/* The few-row matmul's OpenMP switch (kernels.c reads it; one flag for every path). */
_Thread_local int sx__g_small_par = 1;
void sx__small_parallel(int on) { sx__g_small_par = on; }
int sx__att_decode_rows = 1; /* model_internal.h */

SX_DISPATCH_V(sx__layernorm, (const float *x, float *y, int n, int d, const float *w, const float *b, float eps),
              (x, y, n, d, w, b, eps))
SX_DISPATCH_V(sx__rmsnorm, (const float *x, float *y, int n, int d, const float *w1, float eps), (x, y, n, d, w1, eps))
SX_DISPATCH_V(sx__gelu_tanh, (float *x, size_t n), (x, n))
SX_DISPATCH_V(sx__gelu_erf, (float *x, size_t n), (x, n))
SX_DISPATCH_V(sx__relu, (float *x, size_t n), (x, n))
SX_DISPATCH_V(sx__geglu, (float *g, const float *u, size_t n), (g, u, n))
SX_DISPATCH_V(sx__softcap, (float *x, size_t n, float cap), (x, n, cap))
SX_DISPATCH_V(sx__add_bias, (float *y, int n, int d, const float *b), (y, n, d, b))
SX_DISPATCH_V(sx__fill_rows, (float *y, int n, int d, const float *b), (y, n, d, b))
SX_DISPATCH_V(sx__matmul, (const float *x, int n, int in, sx_wmat w, int out, int trans_w, float beta, float *y),
              (x, n, in, w, out, trans_w, beta, y))
SX_DISPATCH_R(double, sx__sum_exp, (const float *l, int n, float sub, float scale, float *out), (l, n, sub, scale, out))
SX_DISPATCH_R(int, sx__bin_members, (const float *p, int n, int bin, int *idx), (p, n, bin, idx))
SX_DISPATCH_V(sx__nucleus_hist, (const float *p, int n, uint64_t *S), (p, n, S))
SX_DISPATCH_V(sx__nucleus_exp_hist, (const float *l, int n, float sub, float scale, float *p, uint64_t *S),
              (l, n, sub, scale, p, S))

SX_DISPATCH_R(size_t, sx__attention_ws, (const sx_model_config *c, const sx_rowset *rs), (c, rs))
SX_DISPATCH_V(sx__attention,
              (const sx_model_config *c, int layer, const sx_rowset *rs, const float *q, int q_stride, const sx_kv *kv,
               float *out, float *ws),
              (c, layer, rs, q, q_stride, kv, out, ws))

SX_DISPATCH_V(lmk_encoder_fwd, (float *out, const int32_t *in, const float *wte, const float *wpe, int B, int T, int C),
              (out, in, wte, wpe, B, T, C))
SX_DISPATCH_V(lmk_encoder_bwd,
              (float *dwte, float *dwpe, const float *dout, const int32_t *in, int B, int T, int C),
              (dwte, dwpe, dout, in, B, T, C))
SX_DISPATCH_V(lmk_layernorm_fwd,
              (float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int N, int C),
              (out, mean, rstd, x, w, b, N, C))
SX_DISPATCH_V(lmk_layernorm_bwd,
              (float *dx, float *dw, float *db, const float *dout, const float *x, const float *w, const float *mean,
               const float *rstd, int N, int C),
              (dx, dw, db, dout, x, w, mean, rstd, N, C))
SX_DISPATCH_V(lmk_matmul_fwd,
              (float *out, const float *x, const float *w, const float *bias, int N, int IC, int OC, float beta),
              (out, x, w, bias, N, IC, OC, beta))
SX_DISPATCH_V(lmk_matmul_bwd,
              (float *dx, float *dw, float *db, const float *dout, const float *x, const float *w, int N, int IC,
               int OC, float dx_beta),
              (dx, dw, db, dout, x, w, N, IC, OC, dx_beta))
SX_DISPATCH_V(lmk_attention_fwd, (float *out, float *att, const float *qkv, int B, int T, int C, int NH),
              (out, att, qkv, B, T, C, NH))
SX_DISPATCH_V(lmk_attention_bwd,
              (float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T, int C, int NH),
              (dqkv, dout, qkv, att, B, T, C, NH))
SX_DISPATCH_V(lmk_gelu_fwd, (float *out, const float *x, int64_t n), (out, x, n))
SX_DISPATCH_V(lmk_gelu_bwd, (float *dx, const float *x, const float *dout, int64_t n), (dx, x, dout, n))
SX_DISPATCH_R(double, lmk_classifier,
              (float *dx, float *dwte, const float *x, const float *wte, const int32_t *tgt, int N, int C, int V,
               float scale, float *scratch, int chunk),
              (dx, dwte, x, wte, tgt, N, C, V, scale, scratch, chunk))
