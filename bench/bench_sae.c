/* bench_sae.c — SAE training throughput: tokens/s per (arch, width) on random normal data
 * (d_in 768, batch 4096), the share of the sgemm floor that reaches, and peak RSS (each
 * configuration runs in its own child process) against params + Adam state + batch buffers.
 *
 *   bench_sae [timed_steps (default 7)] [threads (default all)] [only e.g. topk-16384]
 *
 * Floors: the dense encoder alone costs 2*d_in*width FLOP/token (TopK / BatchTopK); ReLU and
 * JumpReLU run five products of that size (10*d_in*width).  The floor is that work at the
 * rate OpenBLAS sgemm reaches on the encoder's own shape (with OpenBLAS's own threads; timed
 * after every training step, the median taken, so both see the machine in the same minutes).
 * Step 0 warms up and is not timed.  Targets: TopK k=32 16384 >= 8000 tok/s, 65536 >= 2000 tok/s;
 * ReLU 16384 >= 1600 tok/s.  The machine may be shared: read figures with that in mind. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_args.h"
#include "encode_fused.h"
#include "train_internal.h"

enum { D = 768, BATCH = 4096 };

typedef struct {
    sx_sae_arch arch;
    const char *name;
    int width, k;
    double target, flop_mult;
} cfg;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The floor probe: the encoder's own product (all BATCH rows x all m latents, in blocks of
 * 4096 latents so C stays 64 MB) with OpenBLAS's own threads.  It runs between the training
 * steps, so step and floor are measured in the same minutes: this VM's speed drifts by
 * 10-30% from one minute to the next. */
static double encoder_sgemm_secs(const float *x, const float *w_enc_t, int m, float *c) {
    const int NB = m < 4096 ? m : 4096;
    sx_blas_single(0);
    double t0 = sx_now();
    for (int c0 = 0; c0 < m; c0 += NB) {
        int nb = m - c0 < NB ? m - c0 : NB;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, nb, D, 1.0f, x, D, w_enc_t + (size_t)c0 * D, D,
                    0.0f, c, NB);
    }
    double t = sx_now() - t0;
    sx_blas_single(1);
    return t;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs in a child: prints one result line. */
static void run_cfg(const cfg *c, int steps) {
    sx_err err = {0};
    sx_tsae t;
    sx_scratch s;
    int dense = c->arch == SX_SAE_STANDARD || c->arch == SX_SAE_JUMPRELU || c->arch == SX_SAE_GATED;
    int bt = c->arch == SX_SAE_BATCHTOPK || c->arch == SX_SAE_MATRYOSHKA;
    if (sx_tsae_init(&t, c->arch, D, c->width, c->k, dense ? 5.0 : 0, c->name, &err) ||
        sx_scratch_init(&s, BATCH, D, c->width, c->k > 0 ? c->k : 1, D / 2, dense, bt, &err) ||
        (c->arch == SX_SAE_GATED && sx_scratch_gated(&s, &err)) ||
        (c->arch == SX_SAE_MATRYOSHKA && sx_scratch_groups(&s, 2, &err))) {
        printf("%-10s %6d  error: %s\n", c->name, c->width, err.msg);
        return;
    }
    float *x = malloc((size_t)BATCH * D * sizeof(float));
    sx_rng rng;
    sx_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)BATCH * D; i++) x[i] = (float)sx_rng_normal(&rng);
    sx_tsae_init_params(&t, 1, 0, x, BATCH, 0.001);
    if (c->arch == SX_SAE_MATRYOSHKA) t.n_groups = 2, t.groups[0] = c->width / 4, t.groups[1] = c->width;
    sx_blas_single(1);
    sx_step_ctx ctx = {0};
    ctx.B = BATCH, ctx.x = x, ctx.s = &s, ctx.lr = 1e-4, ctx.sparsity_scale = 1;
    ctx.dead_tokens = 1000000000, ctx.aux_coef = 1.0 / 32, ctx.aux_k = D / 2, ctx.eps = 0.001, ctx.bt_ema = 0.99;
    double busy = 0, *dt = malloc((size_t)steps * sizeof *dt), *probe = malloc((size_t)steps * sizeof *probe);
    float *cprobe = NULL;
    struct rusage ru;
    for (int st = 0; st <= steps; st++) {
        double ts = sx_now();
        ctx.adam_t = st + 1, ctx.tokens_before = (int64_t)st * BATCH;
        int rc = c->arch == SX_SAE_GATED ? sx_step_gated(&t, &ctx, &err)
                 : dense                 ? sx_step_dense(&t, &ctx, &err)
                                         : sx_step_sparse(&t, &ctx, &err);
        if (rc) {
            printf("%-10s %6d  error: %s\n", c->name, c->width, err.msg);
            return;
        }
        if (st > 0) {
            dt[st - 1] = sx_now() - ts;
            busy += dt[st - 1];
            probe[st - 1] = encoder_sgemm_secs(x, t.WencT, c->width, cprobe);
        } else { /* the step's peak RSS is reached; then the probe's output buffer */
            getrusage(RUSAGE_SELF, &ru);
            cprobe = malloc((size_t)BATCH * (c->width < 4096 ? c->width : 4096) * sizeof(float));
        }
    }
    double tps = (double)steps * BATCH / busy;
    /* The shared VM's neighbours make single steps 10-30% slower at random: the median step
     * is the figure compared with the target; the mean over all steps is printed too. */
    double tps_med = BATCH / median(dt, steps);
    double gf = 2.0 * BATCH * D * c->width / median(probe, steps) / 1e9;
    free(dt), free(probe), free(cprobe);
    double floor_tps = gf * 1e9 / (c->flop_mult * D * c->width);
    double rss = ru.ru_maxrss / 1024.0;
    double params = 3.0 * t.np * 4 / 1048576.0; /* params + Adam m, v */
    double grads = t.g ? t.np * 4 / 1048576.0 : 0;
    /* x, xc, G, Gaux; dense: three [R, m] blocks; topk family: packed rows and latents */
    size_t bb = (size_t)BATCH * D * 4 * 4 +
                (dense ? (size_t)s.R * c->width * 4 * 3
                       : (size_t)(sx_enc_rows_floats(BATCH, D) + sx_enc_latents_floats(c->width, D)) * 4) +
                (size_t)BATCH * (s.cand_max + s.aux_max) * (8 + sizeof(sx_entry));
    double batch = bb / 1048576.0;
    char target[48] = "no target      ";
    if (c->target > 0) snprintf(target, sizeof target, "target %5.0f (x%.2f)", c->target, tps_med / c->target);
    printf("%-10s %6d  %7.0f tok/s (median step; mean %6.0f)  %s  sgemm %6.1f GFLOP/s (between steps) -> floor"
           " %7.0f tok/s (%3.0f%% of floor)  RSS %6.0f MB  params+Adam %6.0f + grads %5.0f + batch %5.0f MB"
           " (RSS/(params+Adam+batch) %.2f)\n",
           c->name, c->width, tps_med, tps, target, gf, floor_tps, 100 * tps_med / floor_tps, rss, params, grads, batch,
           rss / (params + batch));
    fflush(stdout);
    free(x);
    sx_scratch_free(&s);
    sx_tsae_free(&t);
}

int main(int argc, char **argv) {
    bench_positional(argc, argv, 3,
                     "usage: bench_sae [timed_steps (default 7)] [threads (default all)] [only: one of topk-16384,\n"
                     "                 topk-65536, batchtopk-16384, relu-16384, jumprelu-16384, matryoshka-16384,\n"
                     "                 gated-16384]\n");
    int steps = argc > 1 ? atoi(argv[1]) : 7;
    int threads = argc > 2 ? atoi(argv[2]) : 0;
    if (steps < 1) steps = 1;
    cfg cfgs[] = {
        {SX_SAE_TOPK, "topk", 16384, 32, 8000, 2},
        {SX_SAE_TOPK, "topk", 65536, 32, 2000, 2},
        {SX_SAE_BATCHTOPK, "batchtopk", 16384, 32, 0, 2}, /* the issue sets no target */
        {SX_SAE_STANDARD, "relu", 16384, 0, 1600, 10},
        {SX_SAE_JUMPRELU, "jumprelu", 16384, 0, 0, 10},
        {SX_SAE_MATRYOSHKA, "matryoshka", 16384, 32, 0, 2}, /* groups 4096,16384 */
        {SX_SAE_GATED, "gated", 16384, 0, 0, 14},
    };
    const char *only = argc > 3 ? argv[3] : NULL;
    int matched = !only;
    for (size_t i = 0; only && i < sizeof cfgs / sizeof cfgs[0]; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s-%d", cfgs[i].name, cfgs[i].width);
        matched |= !strcmp(only, nm);
    }
    if (!matched) {
        fprintf(stderr, "bench_sae: no configuration is called '%s' (see --help)\n", only);
        return 2;
    }
    printf("bench_sae: d_in %d, batch %d, %d timed steps per configuration, random N(0,1) data\n", D, BATCH, steps);
    printf("(the machine may be shared with other jobs: figures are lower bounds)\n");
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s-%d", cfgs[i].name, cfgs[i].width);
        if (only && strcmp(only, nm) != 0) continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            sx_set_threads(threads);
            run_cfg(&cfgs[i], steps);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
    }
    return 0;
}
