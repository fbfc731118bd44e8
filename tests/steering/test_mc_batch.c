/* test_mc_batch.c — the multiple-choice benchmark batched (sx_mc_eval_opts with block sizes 3
 * and the default: every (item, choice) pair in sx_loglik_many passes, an item's choices sharing
 * one prefill of its context) against the unbatched path (block -1: one sx_loglik per pair), on
 * the embedded model and the demo benchmark, without and with a mean-difference hook: the same
 * acc and acc_norm (the per-pair log-likelihoods agree to float rounding, far below the gaps
 * between choices). */
#include "steering.h"
#include "test.h"

int main(void) {
    const char *src = getenv("SAETOX_SOURCE");
    if (!src) {
        printf("SKIP: SAETOX_SOURCE not set\n");
        return 77;
    }
    char dir[4200], bench[4300];
    snprintf(dir, sizeof dir, "%s/models/embedded", src);
    snprintf(bench, sizeof bench, "%s/datasets/demo/benchmark.jsonl", src);
    sx_err err;
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_mc_item *items = NULL;
    int64_t n = 0;
    if (sx_model_load(dir, &m, &err) || sx_tokenizer_load(dir, &tok, &err) || sx_mc_load(bench, 60, &items, &n, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const int d = sx_model_cfg(m)->d_model;
    float *v = malloc(sizeof(float) * (size_t)d);
    for (int j = 0; j < d; j++) v[j] = 0.3f * (float)((j * 13) % 7 - 3);
    sx_intervention iv;
    CHECK(sx_intervention_meandiff(&iv, "blocks.1.hook_resid_post", d, sx_model_cfg(m)->n_layers, v, 1.0f, &err) == 0,
          "meandiff: %s", err.msg);
    sx_hook h;
    sx_gen_opts dummy = {0};
    sx_intervention_attach(&iv, &h, &dummy);
    for (int hooked = 0; hooked < 2; hooked++) {
        double a0, n0;
        CHECK(sx_mc_eval_opts(m, tok, items, n, hooked ? &h : NULL, hooked, -1, &a0, &n0, &err) == 0, "unbatched: %s",
              err.msg);
        static const int blocks[] = {3, 0};
        for (int b = 0; b < 2; b++) {
            double a, an;
            CHECK(sx_mc_eval_opts(m, tok, items, n, hooked ? &h : NULL, hooked, blocks[b], &a, &an, &err) == 0,
                  "batched: %s", err.msg);
            CHECK(a == a0 && an == n0, "%s, block %d: acc %g / %g vs unbatched %g / %g", hooked ? "hook" : "no hook",
                  blocks[b], a, an, a0, n0);
        }
        printf("%s: %lld items, acc %.3f, acc_norm %.3f on every path\n", hooked ? "meandiff hook" : "no hook",
               (long long)n, a0, n0);
    }
    sx_intervention_free(&iv);
    free(v);
    sx_mc_free(items, n);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return TEST_DONE();
}
