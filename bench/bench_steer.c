/* bench_steer.c — steered vs unsteered KV-cached generation on a GPT-2-small-shaped model
 * (124M parameters, random F32 weights written to a temp folder) with a random standard SAE
 * of width 24576 at blocks.6.hook_resid_pre and 4 latents: tokens/s for none, ablate,
 * suppress, steer, meandiff and the banned-token filter; target: steered within 5% of
 * unsteered (ratio >= 0.95).  The intervention costs ~4 d |S| FLOPs per row (a_i for the
 * latents in S + the update) against ~24 d^2 + 2 d V for the model: < 0.1%.
 *
 * usage: bench_steer [--threads N] [--reps R] [--batch B] [--keep DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_args.h"

#include "bench_gpt2.h"
#include "steering.h"


static void make_sae(sx_sae *s, int d, int m) {
    memset(s, 0, sizeof *s);
    s->arch = SX_SAE_STANDARD;
    s->d_in = d;
    s->d_sae = m;
    s->apply_b_dec_to_input = 1;
    s->norm_scale = 1;
    snprintf(s->hook_name, sizeof s->hook_name, "blocks.6.hook_resid_pre");
    sx_rng r;
    sx_rng_seed(&r, 3);
    s->W_enc = randn(&r, (size_t)d * m, 0.05f, 0);
    s->W_dec = randn(&r, (size_t)d * m, 0.05f, 0);
    s->b_enc = randn(&r, (size_t)m, 0.05f, 0);
    s->b_dec = randn(&r, (size_t)d, 0.02f, 0);
}

static double gen_tps(sx_model *m, const int32_t *const *prompts, const int *plens, int nb, sx_gen_opts *go, int reps,
                      sx_err *err) {
    double best = 0;
    int32_t *outs[64];
    int olens[64];
    for (int k = 0; k < reps; k++) {
        double t = sx_now();
        if (sx_generate(m, prompts, plens, nb, go, outs, olens, err)) return -1;
        t = sx_now() - t;
        int total = 0;
        for (int i = 0; i < nb; i++) total += olens[i], free(outs[i]);
        if (total / t > best) best = total / t;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = 0, reps = 3, B = 8;
    const char *keep = NULL;
    static const char *const names[] = {"--threads", "--reps", "--batch", "--keep", NULL};
    const char *opt[4] = {NULL};
    bench_options(argc, argv, names, opt,
                  "usage: bench_steer [--threads N (default all)] [--reps R (default 3)] [--batch B (1-64, default 8)]\n"
                  "                   [--keep DIR (reuse the model folder)]\n");
    if (opt[0]) threads = atoi(opt[0]);
    if (opt[1]) reps = atoi(opt[1]);
    if (opt[2]) B = atoi(opt[2]);
    keep = opt[3];
    if (B < 1 || B > 64) B = 8;
    sx_set_threads(threads);
    char dir[4096];
    if (keep) snprintf(dir, sizeof dir, "%s", keep);
    else snprintf(dir, sizeof dir, "/tmp/saetox_bench_steer_%d", (int)getpid());
    sx_err err;
    char cfgp[4200];
    snprintf(cfgp, sizeof cfgp, "%s/model.safetensors", dir);
    double t0 = sx_now();
    if (!sx_file_exists(cfgp) && write_model(dir, &err)) {
        fprintf(stderr, "bench_steer: %s\n", err.msg);
        return 1;
    }
    sx_model *m;
    if (sx_model_load(dir, &m, &err)) {
        fprintf(stderr, "bench_steer: %s\n", err.msg);
        return 1;
    }
    const int d = 768, W = 24576, V = sx_model_cfg(m)->vocab_size;
    sx_sae sae;
    make_sae(&sae, d, W);
    printf("model: GPT-2-small shape (random F32) in %s, SAE standard %d x %d, setup %.1f s, threads %d\n", dir, d, W,
           sx_now() - t0, sx_get_threads());
    const int P = 32, NEW = 48;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)B * P);
    sx_rng r;
    sx_rng_seed(&r, 1);
    for (int i = 0; i < B * P; i++) tok[i] = (int32_t)sx_rng_below(&r, (uint64_t)V);
    const int32_t *prompts[64];
    int plens[64];
    for (int i = 0; i < B; i++) prompts[i] = tok + i * P, plens[i] = P;
    int lat[] = {11, 2024, 7000, 19999};
    float sc[] = {2, 2, 2, 2};
    float *v = randn(&r, d, 0.1f, 0);
    int ban[64];
    for (int i = 0; i < 64; i++) ban[i] = (int)(i * 701 % V);
    /* the hook alone, on 8 rows (one decoding step of the batch): noise-free overhead figure */
    {
        float *x = randn(&r, (size_t)8 * d, 1.0f, 0);
        int pos[8] = {0}, seq[8] = {0};
        sx_hook_ctx ctx = {.layer = 6, .point = SX_HOOK_RESID_PRE, .n_rows = 8, .d = d, .seq_of_row = seq, .pos_of_row = pos};
        const sx_tier ht[] = {SX_TIER_ABLATE, SX_TIER_SUPPRESS, SX_TIER_STEER};
        for (int t = 0; t < 3; t++) {
            sx_intervention iv;
            if (sx_intervention_sae(&iv, ht[t], &sae, "blocks.6.hook_resid_pre", d, 12, lat, 4, sc, 1.0f, &err)) {
                fprintf(stderr, "bench_steer: %s\n", err.msg);
                return 1;
            }
            const int calls = 20000;
            double t0h = sx_now();
            for (int c = 0; c < calls; c++) sx_intervention_hook(&iv, &ctx, x, &err);
            double us = 1e6 * (sx_now() - t0h) / calls;
            printf("hook %-8s on 8 rows (4 latents, d 768): %7.2f us per decoding step\n", sx_tier_name(ht[t]), us);
            sx_intervention_free(&iv);
        }
        free(x);
    }
    /* warm-up */
    sx_gen_opts go = {.max_new_tokens = NEW, .temperature = 0, .top_p = 1};
    if (gen_tps(m, prompts, plens, B, &go, 1, &err) < 0) {
        fprintf(stderr, "bench_steer: %s\n", err.msg);
        return 1;
    }
    printf("batch %d, prompt %d, %d new tokens, greedy; each tier timed alternately with the unsteered run\n"
           "(best of %d each) so that load changes on a shared machine hit both sides\n", B, P, NEW, reps);
    const sx_tier tiers[] = {SX_TIER_ABLATE, SX_TIER_SUPPRESS, SX_TIER_STEER, SX_TIER_MEANDIFF, SX_TIER_BANNED};
    for (size_t t = 0; t < sizeof tiers / sizeof tiers[0]; t++) {
        sx_intervention iv;
        int rc = tiers[t] == SX_TIER_MEANDIFF ? sx_intervention_meandiff(&iv, "blocks.6.hook_resid_pre", d, 12, v, 1, &err)
                 : tiers[t] == SX_TIER_BANNED ? sx_intervention_banned(&iv, ban, 64, V, &err)
                                              : sx_intervention_sae(&iv, tiers[t], &sae, "blocks.6.hook_resid_pre", d, 12,
                                                                    lat, 4, sc, 1.0f, &err);
        if (rc) {
            fprintf(stderr, "bench_steer: %s\n", err.msg);
            return 1;
        }
        sx_gen_opts g2 = go;
        sx_hook h;
        int nh = sx_intervention_attach(&iv, &h, &g2);
        g2.hooks = nh ? &h : NULL;
        g2.n_hooks = nh;
        double base = 0, tps = 0;
        for (int k = 0; k < reps; k++) {
            double b0 = gen_tps(m, prompts, plens, B, &go, 1, &err), t0s = gen_tps(m, prompts, plens, B, &g2, 1, &err);
            if (b0 < 0 || t0s < 0) {
                fprintf(stderr, "bench_steer: %s\n", err.msg);
                return 1;
            }
            base = b0 > base ? b0 : base;
            tps = t0s > tps ? t0s : tps;
        }
        printf("  %-9s %8.1f new tok/s vs unsteered %8.1f: ratio %.3f (target >= 0.95)\n", sx_tier_name(tiers[t]), tps,
               base, tps / base);
        fflush(stdout);
        sx_intervention_free(&iv);
    }
    printf("note: the machine is shared; figures are noisy (best of %d runs)\n", reps);
    sx_sae_free(&sae);
    sx_model_free(m);
    free(tok), free(v);
    if (!keep) {
        unlink(cfgp);
        snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
        unlink(cfgp);
        rmdir(dir);
    }
    return 0;
}
