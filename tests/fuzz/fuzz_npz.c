/* fuzz_npz.c — the .npy parser on the bytes themselves, and the same bytes as a Gemma Scope
 * params.npz (zip of .npy) through sx_npz_read and the SAE loader. */
#include "fuzz_util.h"
#include "sae.h"
#include "sae_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    sx_err e = {0};
    sx_npy_array a;
    int rc = sx_npy_parse(d, n, "fuzz.npy", &a, &e);
    fz_check_err(rc, &e);
    if (!rc) free(a.data);
    const char *p = fz_file("params.npz", d, n);
    sx_npy_array *arrs = NULL;
    int na = 0;
    rc = sx_npz_read(p, &arrs, &na, &e);
    fz_check_err(rc, &e);
    sx_npz_free(arrs, na);
    if (rc) return 0;
    sx_sae sae;
    rc = sx_sae_load(p, &sae, &e);
    fz_check_err(rc, &e);
    if (!rc) sx_sae_free(&sae);
    return 0;
}
