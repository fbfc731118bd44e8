/* bench_sample.c — the top-p sampler (models/generate.c, sx__sample) on one row of logits at a
 * time, microseconds per row: N(0, sigma) logits (sigma 0.3 and 1: the near-flat rows of a
 * random model, a nucleus of most of the vocabulary; sigma 3: a nucleus of a few thousand),
 * and a peaked row (N(0, 1) plus 8 tokens 16 above: a nucleus of those 8), at GPT-2's and
 * Gemma's vocabulary sizes, temperature 1, top_p 0.9; the nucleus size (by a sort) is
 * printed with each case.  "sample" is the whole sx__sample call (max, exp, selection);
 * "exp" is sx__sum_exp alone, the exp pass of the other sampler modes (the top-p path
 * fuses its own with the histogram).  16 different rows per case (the logits come from L3,
 * as a batch's rows do), each case run for ~0.1 s; the best of `runs` repetitions (default
 * 3) is printed with every run.  SAETOX_SIMD=generic|avx2|avx512 picks the kernel path.
 * ~4 s per repetition.
 * usage: bench_sample [runs] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_args.h"

#include "model_internal.h"

enum { ROWS = 16 };

static int cmp_fdesc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* tokens in the nucleus of row l (top_p 0.9, T 1), by a sort: printed beside the times */
static int nucleus_size(const float *l, int V, float *p) {
    double sum = sx__sum_exp(l, V, l[0], 1.0f, p), cum = 0;
    qsort(p, (size_t)V, sizeof *p, cmp_fdesc);
    int n = 0;
    while (n < V && cum < 0.9 * sum) cum += p[n++];
    return n;
}

static void fill(float *l, int V, int kind, sx_rng *r) {
    static const double sig[] = {0.3, 1.0, 3.0, 1.0};
    for (int j = 0; j < V; j++) l[j] = (float)(sig[kind] * sx_rng_normal(r));
    if (kind == 3)
        for (int k = 0; k < 8; k++) l[(int)(sx_rng_uniform(r) * V)] += 16.0f;
}

/* seconds per row: the whole sampler (mode 0) or the exp pass alone (mode 1) */
static double time_rows(float *l, int V, int mode, int *idx, float *p, int *sink) {
    sx_rng rng;
    sx_rng_seed(&rng, 9);
    long n = 0;
    double t0 = sx_now(), t;
    do {
        for (int r = 0; r < ROWS; r++, n++) {
            float *lr = l + (size_t)r * V;
            if (mode == 0) *sink += sx__sample(lr, V, 1.0f, 0.9f, 0, &rng, idx, p);
            else *sink += (int)sx__sum_exp(lr, V, lr[0], 1.0f, p);
        }
        t = sx_now() - t0;
    } while (t < 0.1);
    return t / (double)n;
}

int main(int argc, char **argv) {
    bench_positional(argc, argv, 1, "usage: bench_sample [runs (default 3)]\n");
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    if (runs < 1) runs = 1;
    static const char *names[] = {"sigma0.3", "sigma1", "sigma3", "peaked"};
    static const int Vs[] = {50257, 256000};
    int sink = 0;
    printf("bench_sample: top_p 0.9, T 1, us per row (best of %d; every run in brackets)\n", runs);
    for (int v = 0; v < 2; v++) {
        int V = Vs[v];
        float *l = malloc((size_t)ROWS * V * sizeof *l), *p = malloc((size_t)V * sizeof *p);
        int *idx = malloc((size_t)V * sizeof *idx);
        if (!l || !p || !idx) {
            fprintf(stderr, "bench_sample: out of memory\n");
            return 1;
        }
        for (int kind = 0; kind < 4; kind++) {
            sx_rng r;
            sx_rng_seed(&r, 100u + (uint64_t)kind);
            for (int row = 0; row < ROWS; row++) fill(l + (size_t)row * V, V, kind, &r);
            printf("  V %6d %-9s nucleus %d tokens\n", V, names[kind], nucleus_size(l, V, p));
            for (int mode = 0; mode < 2; mode++) {
                double best = 1e30, t[64];
                for (int k = 0; k < runs && k < 64; k++) {
                    t[k] = 1e6 * time_rows(l, V, mode, idx, p, &sink);
                    if (t[k] < best) best = t[k];
                }
                printf("  V %6d %-9s %-6s %8.1f  [", V, names[kind], mode ? "exp" : "sample", best);
                for (int k = 0; k < runs && k < 64; k++) printf("%s%.1f", k ? " " : "", t[k]);
                printf("]\n");
            }
        }
        free(l), free(p), free(idx);
    }
    return sink == 42 ? 1 : 0; /* keeps the results live */
}
