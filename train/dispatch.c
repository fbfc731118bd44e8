/* dispatch.c — the plain names of train/'s per-ISA kernels (train_isa.h), each a switch on
 * the path chosen at start-up (core/simd_dispatch.h). */
#include "simd_dispatch.h"

#include "encode_fused.h"
#include "train_internal.h"

SX_DISPATCH_V(sx_enc_pack_rows, (const float *x, int B, int d, float *ap), (x, B, d, ap))
SX_DISPATCH_V(sx_enc_pack_latents, (const float *w_t, int m, int d, float *wp), (w_t, m, d, wp))
SX_DISPATCH_V(sx_encode_topk_fused,
              (const float *ap, const float *wp, const float *b_enc, int B, int d, int m, const uint64_t *dead_bits,
               const sx_enc_sink *k),
              (ap, wp, b_enc, B, d, m, dead_bits, k))
SX_DISPATCH_R(int, sx_step_sparse, (sx_tsae *t, const sx_step_ctx *c, sx_err *err), (t, c, err))
SX_DISPATCH_R(int, sx_step_sparse_lp, (sx_tsae *t, const sx_step_ctx *c, sx_err *err), (t, c, err))
SX_DISPATCH_R(int, sx_step_dense, (sx_tsae *t, const sx_step_ctx *c, sx_err *err), (t, c, err))
SX_DISPATCH_V(sx_adam_update,
              (float *p, float *m, float *v, const float *g, int64_t n, float gscale, const sx_adam *a),
              (p, m, v, g, n, gscale, a))
SX_DISPATCH_V(sx_column_sums, (const float *a, int rows, int cols, float *out), (a, rows, cols, out))
