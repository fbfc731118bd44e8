/* bench_eval_sae.c — throughput of sx_sae_eval_run (`saetox eval-sae`) on the GPT-2-small-shaped
 * random model (bench_gpt2.h), beside one clean forward pass with every logit on the same
 * windows.  Byte-level text (tokenizer NULL: each byte is a token), windows of 128, batch 4.
 * Cost model per token (sgemm flops): clean = 12 blocks + unembedding (170 + 77 MFLOP); each
 * SAE adds the blocks from its hook on + unembedding, and so does each distinct hook's zero
 * ablation.  With one SAE at blocks.6.hook_resid_pre that is 247 + 2 x (85 + 77) = 571 MFLOP,
 * 2.3x the clean pass; the softmax / KL work (a few vocab-long loops per row) comes on top.
 *
 * usage: bench_eval_sae [--threads N] [--tokens N] [--keep DIR] [--d-sae M]  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "bench_args.h"
#include "bench_gpt2.h"
#include "models.h"
#include "sae.h"

static void random_sae(sx_sae *s, int d, int m, const char *hook, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->arch = SX_SAE_STANDARD, s->d_in = d, s->d_sae = m, s->apply_b_dec_to_input = 1, s->norm_scale = 1;
    sx_rng r;
    sx_rng_seed(&r, seed);
    s->W_enc = randn(&r, (size_t)d * m, 0.05f, 0);
    s->b_enc = randn(&r, (size_t)m, 0.02f, -0.05f);
    s->W_dec = randn(&r, (size_t)m * d, 0.05f, 0);
    s->b_dec = randn(&r, (size_t)d, 0.02f, 0);
    snprintf(s->hook_name, sizeof s->hook_name, "%s", hook);
}

int main(int argc, char **argv) {
    static const char *const names[] = {"--threads", "--tokens", "--keep", "--d-sae", NULL};
    const char *v[4] = {NULL};
    bench_options(argc, argv, names, v,
                  "usage: bench_eval_sae [--threads N (default all)] [--tokens N (default 2048)]\n"
                  "                      [--keep DIR (reuse the model folder)] [--d-sae M (default 6144)]\n");
    int threads = v[0] ? atoi(v[0]) : 0, d_sae = v[3] ? atoi(v[3]) : 6144;
    int64_t tokens = v[1] ? atoll(v[1]) : 2048;
    sx_set_threads(threads);
    char dir[4096], txt[4200], p[4200];
    if (v[2]) snprintf(dir, sizeof dir, "%s", v[2]);
    else snprintf(dir, sizeof dir, "/tmp/saetox_bench_eval_sae_%d", (int)getpid());
    sx_err err = {0};
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (!sx_file_exists(p) && write_model(dir, &err)) return fprintf(stderr, "bench_eval_sae: %s\n", err.msg), 1;
    /* text: pseudo-random words, enough bytes for the tokens */
    snprintf(txt, sizeof txt, "%s/text.txt", dir);
    FILE *f = fopen(txt, "w");
    if (!f) return fprintf(stderr, "bench_eval_sae: cannot write %s\n", txt), 1;
    sx_rng r;
    sx_rng_seed(&r, 3);
    for (int64_t i = 0; i < tokens + 4096; i++) {
        int c = (int)(sx_rng_uniform(&r) * 27);
        fputc(c == 26 ? ' ' : 'a' + c, f);
        if (i % 4000 == 3999) fputc('\n', f);
    }
    fclose(f);
    sx_model *m;
    if (sx_model_load(dir, &m, &err)) return fprintf(stderr, "bench_eval_sae: %s\n", err.msg), 1;
    const sx_model_config *c = sx_model_cfg(m);
    const int C = 128, Bw = 4;
    /* the clean pass alone on Bw windows (best of 3) */
    int32_t *toks = malloc(sizeof *toks * Bw * C);
    float *lg = malloc(sizeof *lg * (size_t)Bw * C * c->vocab_size);
    int lens[4] = {C, C, C, C};
    for (int i = 0; i < Bw * C; i++) toks[i] = 97 + (int)(sx_rng_uniform(&r) * 26);
    sx_forward_opts fo = {NULL, 0, -1, 1};
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = sx_now();
        if (sx_forward(m, toks, lens, Bw, &fo, lg, &err)) return fprintf(stderr, "bench_eval_sae: %s\n", err.msg), 1;
        double t = sx_now() - t0;
        best = t < best ? t : best;
    }
    printf("model: GPT-2-small shape, threads %d, windows %d x %d tokens, SAE d_sae %d\n", sx_get_threads(), Bw, C,
           d_sae);
    printf("clean forward with every logit: %.0f tok/s\n", Bw * C / best);
    free(toks), free(lg);
    sx_sae saes[2];
    random_sae(&saes[0], c->d_model, d_sae, "blocks.6.hook_resid_pre", 11);
    random_sae(&saes[1], c->d_model, d_sae, "blocks.10.hook_resid_pre", 12);
    for (int n = 1; n <= 2; n++) {
        const sx_sae *sp[2] = {&saes[0], &saes[1]};
        const char *nm[2] = {"L6", "L10"};
        char spec[4300];
        snprintf(spec, sizeof spec, "text:%s", txt);
        sx_sae_eval_opts o = {.saes = (const struct sx_sae *const *)sp, .names = nm, .n_saes = n, .data = spec,
                              .tokens = tokens, .batch = Bw,
                              .pack = {.context_size = C, .bos_id = -1, .separator_id = -1, .pad_id = 0}};
        sx_sae_eval_row rows[2];
        sx_sae_eval_info info;
        if (sx_sae_eval_run(m, NULL, &o, rows, &info, &err)) return fprintf(stderr, "bench_eval_sae: %s\n", err.msg), 1;
        printf("eval-sae, %d SAE%s (%s): %lld tokens, %.0f tok/s (%.2fx the clean pass's time per token)\n", n,
               n > 1 ? "s" : "", n > 1 ? "blocks.6 + blocks.10 hook_resid_pre" : "blocks.6.hook_resid_pre",
               (long long)info.n_tokens, info.n_tokens / info.seconds, (info.seconds / info.n_tokens) / (best / (Bw * C)));
        printf("  time: clean passes %.1f s, passes from the hooks %.1f s, SAE encode/decode %.1f s, "
               "softmax/CE/KL %.1f s, total %.1f s\n",
               info.clean_seconds, info.from_hook_seconds, info.sae_seconds, info.loss_seconds, info.seconds);
    }
    sx_sae_free(&saes[0]);
    sx_sae_free(&saes[1]);
    sx_model_free(m);
    if (!v[2]) {
        snprintf(p, sizeof p, "rm -rf '%s'", dir);
        if (system(p) != 0) fprintf(stderr, "bench_eval_sae: could not remove %s\n", dir);
    }
    return 0;
}
