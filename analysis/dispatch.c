/* dispatch.c — the plain names of split.c's per-ISA builds (analysis_isa.h), each a switch
 * on the path chosen at start-up (core/simd_dispatch.h). */
#include "simd_dispatch.h"

#include "analysis.h"

SX_DISPATCH_V(sx_split_opts_default, (sx_split_opts *o), (o))
SX_DISPATCH_R(int, sx_split_compute,
              (const float *Wa, int n_a, const float *Wb, int n_b, int d, const sx_split_opts *o, sx_split_result *r,
               sx_err *err),
              (Wa, n_a, Wb, n_b, d, o, r, err))
SX_DISPATCH_V(sx_split_free, (sx_split_result *r), (r))
