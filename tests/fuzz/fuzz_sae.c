/* fuzz_sae.c — a SAELens folder: cfg.json and sae_weights.safetensors (the input holds both,
 * see fz_split); what loads must encode and decode a few rows. */
#include "fuzz_util.h"
#include "sae.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    fz_parts p = fz_split(d, n);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sae", fz_dir());
    sx_err e = {0};
    if (sx_mkdir_p(dir, &e)) abort();
    fz_file("sae/cfg.json", p.a, p.na);
    fz_file("sae/sae_weights.safetensors", p.b, p.nb);
    sx_sae sae;
    int rc = sx_sae_load(dir, &sae, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    if ((int64_t)sae.d_in * sae.d_sae <= (1 << 22)) {
        float *x = calloc((size_t)sae.d_in * 2, sizeof(float));
        float *f = calloc((size_t)sae.d_sae * 2, sizeof(float));
        float *r = calloc((size_t)sae.d_in * 2, sizeof(float));
        for (int i = 0; i < sae.d_in * 2; i++) x[i] = (float)(i % 7) - 3.0f;
        rc = sx_sae_encode(&sae, x, 2, f, NULL, &e);
        fz_check_err(rc, &e);
        if (!rc) sx_sae_decode(&sae, f, 2, r);
        free(x), free(f), free(r);
    }
    sx_sae_free(&sae);
    return 0;
}
