/* fuzz_safetensors.c — sx_st_open on arbitrary bytes; what it accepts must be safe to read
 * whole, and to convert to float (the loaders do both). */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    const char *p = fz_file("t.safetensors", d, n);
    sx_safetensors st;
    sx_err e = {0};
    int rc = sx_st_open(&st, p, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    for (int i = 0; i < st.n; i++) {
        const sx_tensor_view *t = &st.t[i];
        const volatile unsigned char *b = t->data;
        unsigned char x = 0;
        for (size_t k = 0; k < t->nbytes; k++) x ^= b[k]; /* every accepted byte is mapped */
        (void)x;
        float *out = NULL;
        if (t->numel <= ((size_t)1 << 22)) {
            int r = sx_st_read_f32(&st, t->name, t->ndim, t->shape, &out, &e);
            fz_check_err(r, &e);
        }
        free(out);
    }
    sx_st_close(&st);
    return 0;
}
