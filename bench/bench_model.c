/* bench_model.c — forward-pass throughput of a GPT-2-small-shaped model (124M parameters,
 * random F32 weights written to a temp folder): batch 8 x 128 tokens up to
 * blocks.6.hook_resid_post, the full model with every logit, and KV-cached generation.
 * Targets (2 cores): 2,200 tok/s to layer 6, 750 tok/s with full logits.
 *
 * usage: bench_model [--threads N] [--reps R] [--keep DIR] [--skip-forward 1] [--skip-gen 1]  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "bench_gpt2.h"
#include "models.h"

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int sink_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    memcpy(user, x, (size_t)ctx->n_rows * ctx->d * sizeof(float)); /* what the cache does */
    return 0;
}

int main(int argc, char **argv) {
    int threads = 0, reps = 3, skip_fwd = 0, skip_gen = 0;
    const char *keep = NULL;
    static const char *const names[] = {"--threads", "--reps", "--keep", "--skip-forward", "--skip-gen", NULL};
    const char *v[5] = {NULL};
    bench_options(argc, argv, names, v,
                  "usage: bench_model [--threads N (default all)] [--reps R (default 3, best kept)]\n"
                  "                   [--keep DIR (reuse the model folder)] [--skip-forward 1] [--skip-gen 1]\n");
    if (v[0]) threads = atoi(v[0]);
    if (v[1]) reps = atoi(v[1]);
    keep = v[2];
    if (v[3]) skip_fwd = atoi(v[3]);
    if (v[4]) skip_gen = atoi(v[4]);
    sx_set_threads(threads);
    char dir[4096];
    if (keep) snprintf(dir, sizeof dir, "%s", keep);
    else snprintf(dir, sizeof dir, "/tmp/saetox_bench_model_%d", (int)getpid());
    sx_err err;
    char cfgp[4200];
    snprintf(cfgp, sizeof cfgp, "%s/model.safetensors", dir);
    double t0 = sx_now();
    if (!sx_file_exists(cfgp) && write_model(dir, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    sx_model *m;
    if (sx_model_load(dir, &m, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    extern char *openblas_get_corename(void);
    printf("OpenBLAS core: %s\n", openblas_get_corename());
    printf("model: GPT-2-small shape (124M params, random F32) in %s, setup %.1f s, threads %d\n", dir,
           sx_now() - t0, sx_get_threads());
    const int B = 8, T = 128, V = sx_model_cfg(m)->vocab_size;
    int32_t *tok = malloc((size_t)B * T * sizeof *tok);
    int lens[8];
    sx_rng r;
    sx_rng_seed(&r, 1);
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)sx_rng_below(&r, (uint64_t)V);
    for (int i = 0; i < B; i++) lens[i] = T;
    float *act = malloc((size_t)B * T * 768 * sizeof *act);
    float *logits = malloc((size_t)B * T * V * sizeof *logits);
    sx_hook hk = {6, SX_HOOK_RESID_POST, sink_hook, act};
    /* warm-up (page in the mapping, size the scratch) */
    sx_forward_opts o6 = {&hk, 1, 6, 0}, of = {NULL, 0, -1, 1};
    if (sx_forward(m, tok, lens, B, &o6, NULL, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    double best6 = 1e30, bestf = 1e30, cpu6 = 1e30, cpuf = 1e30;
    for (int k = 0; k < reps && !skip_fwd; k++) {
        double t = sx_now(), c = cpu_now();
        sx_forward(m, tok, lens, B, &o6, NULL, &err);
        t = sx_now() - t, c = cpu_now() - c;
        best6 = t < best6 ? t : best6;
        cpu6 = c < cpu6 ? c : cpu6;
    }
    for (int k = 0; k < reps && !skip_fwd; k++) {
        double t = sx_now(), c = cpu_now();
        sx_forward(m, tok, lens, B, &of, logits, &err);
        t = sx_now() - t, c = cpu_now() - c;
        bestf = t < bestf ? t : bestf;
        cpuf = c < cpuf ? c : cpuf;
    }
    double tps6 = B * T / best6, tpsf = B * T / bestf;
    printf("forward to blocks.6.hook_resid_post, %d x %d tokens: %8.0f tok/s (target 2200, ratio %.2f)"
           "  [%.0f tok per CPU-second]\n", B, T, tps6, tps6 / 2200.0, B * T / cpu6);
    printf("forward, full logits,               %d x %d tokens: %8.0f tok/s (target  750, ratio %.2f)"
           "  [%.0f tok per CPU-second]\n", B, T, tpsf, tpsf / 750.0, B * T / cpuf);
    /* KV-cached generation: 8 prompts of 32 tokens, 64 new tokens each, greedy */
    const int P = 32, NEW = 64;
    const int32_t *prompts[8];
    int plens[8];
    int32_t *outs[8];
    int olens[8];
    for (int i = 0; i < B; i++) prompts[i] = tok + i * T, plens[i] = P;
    sx_gen_opts go = {.max_new_tokens = NEW, .temperature = 0, .top_p = 1};
    for (int nb = 1; nb <= B && !skip_gen; nb *= 8) {
        double t = sx_now(), c = cpu_now();
        if (sx_generate(m, prompts, plens, nb, &go, outs, olens, &err)) {
            fprintf(stderr, "bench_model: %s\n", err.msg);
            return 1;
        }
        t = sx_now() - t, c = cpu_now() - c;
        int total = 0;
        for (int i = 0; i < nb; i++) total += olens[i], free(outs[i]);
        printf("KV-cached generation, batch %d, prompt %d, %d new:  %8.1f new tok/s (%.1f ms/step, incl. prefill)"
               "  [%.1f per CPU-second]\n", nb, P, NEW, total / t, 1000.0 * t / NEW, total / c);
    }
    printf("note: the machine is shared; figures are noisy (best of %d runs)%s\n", reps,
           sx_machine_busy() ? "; load average > CPUs: passes ran single-threaded (SAETOX_LOAD_ADAPT=1 was set)"
                             : "");
    sx_model_free(m);
    free(tok), free(act), free(logits);
    if (!keep) {
        unlink(cfgp);
        snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
        unlink(cfgp);
        rmdir(dir);
    }
    return 0;
}
