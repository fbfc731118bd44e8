/* core_isa.h — first include of the core/ files compiled once per instruction set (gemm.c;
 * core/simd_dispatch.h explains the scheme): their external functions get the ISA's
 * suffix.  core/gemm_dispatch.c lists the same names. */
#ifndef SAETOX_CORE_ISA_H
#define SAETOX_CORE_ISA_H
#ifdef SX_ISA
#include "simd_dispatch.h"
#define sx__gemm SX_ISA_NAME(sx__gemm)
#define sx__gemm_own SX_ISA_NAME(sx__gemm_own)
#define sx__bf16_probe SX_ISA_NAME(sx__bf16_probe)
#endif
#endif
