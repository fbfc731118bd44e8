/* analysis_isa.h — first include of split.c, which is compiled once per instruction set (its
 * cosine scan is the hot loop of `analyze split`; core/simd_dispatch.h explains the scheme):
 * its external functions get the ISA's suffix.  analysis/dispatch.c lists them. */
#ifndef SAETOX_ANALYSIS_ISA_H
#define SAETOX_ANALYSIS_ISA_H
#ifdef SX_ISA
#include "simd_dispatch.h"
#define sx_split_opts_default SX_ISA_NAME(sx_split_opts_default)
#define sx_split_compute SX_ISA_NAME(sx_split_compute)
#define sx_split_free SX_ISA_NAME(sx_split_free)
#endif
#endif
