/* fuzz_scorer.c — toxicity-scorer weights (the binary format of steering/weights/) loaded from
 * memory; what loads must score a text to a probability. */
#include <math.h>

#include "fuzz_util.h"
#include "steering.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    sx_scorer *s = NULL;
    sx_err e = {0};
    int rc = sx_scorer_load_mem(d, n, "fuzz.bin", &s, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    static const char text[] = "you are a lovely idiot, friend";
    double p = sx_scorer_score(s, text, sizeof text - 1);
    if (!(p >= 0 && p <= 1) && !isnan(p)) abort();
    sx_scorer_free(s);
    return 0;
}
