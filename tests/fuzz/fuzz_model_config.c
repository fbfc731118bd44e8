/* fuzz_model_config.c — a Hugging Face model folder: config.json and model.safetensors (the
 * input holds both, see fz_split), loaded as saetox loads a model (config, then weights
 * checked against it). */
#include "fuzz_util.h"
#include "models.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    fz_parts p = fz_split(d, n);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model", fz_dir());
    sx_err e = {0};
    if (sx_mkdir_p(dir, &e)) abort();
    fz_file("model/config.json", p.a, p.na);
    fz_file("model/model.safetensors", p.b, p.nb);
    sx_model *m = NULL;
    int rc = sx_model_load(dir, &m, &e);
    fz_check_err(rc, &e);
    if (!rc) sx_model_free(m);
    return 0;
}
