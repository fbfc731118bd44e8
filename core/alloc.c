/* alloc.c — sx__alloc_big (alloc.h).
 *
 * Why huge pages: on this project's VM a first-touch page fault costs microseconds (the
 * kernel's share of a profile of the evaluation was ~9%); 0.5 GB is 122k 4 KB pages or 250
 * 2 MB ones, and a product that streams a 75 MB SAE encoder per decoding step misses the
 * dTLB on every 4 KB page of it. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *sx__alloc_big(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes ? 0 : 64)); /* 64-byte aligned always */
    size_t n = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, n);
#ifdef MADV_HUGEPAGE
    const char *e = getenv("SAETOX_HUGEPAGES"); /* =0: 4 KB pages (A/B runs) */
    if (p && !(e && !strcmp(e, "0"))) (void)madvise(p, n, MADV_HUGEPAGE);
#endif
    return p;
}
