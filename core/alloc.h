/* alloc.h — large, long-lived buffers (internal to the library).
 *
 * sx__alloc_big: malloc for weights, KV slots and logits rows, which the products stream
 * whole many times: 64-byte aligned always (the gemm reads F32 B [K, N] in place with aligned
 * loads only there, core/gemm.c), and from 2 MB up 2 MB aligned and marked for transparent
 * huge pages where the kernel allows them on request (a no-op where THP is off;
 * SAETOX_HUGEPAGES=0 keeps 4 KB pages, for A/B runs).  free() releases it. */
#ifndef SAETOX_ALLOC_H
#define SAETOX_ALLOC_H

#include <stddef.h>

void *sx__alloc_big(size_t bytes);

#endif
