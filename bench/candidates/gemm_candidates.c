/* gemm_candidates.c — the model's and the SAE trainer's matrix shapes through every candidate
 * engine in one run: OpenBLAS (cblas_sgemm, whatever OPENBLAS_CORETYPE the environment
 * sets), saetox's own kernel (core/gemm.c, F32 and BF16 B), oneDNN 2.x (dnnl_sgemm, row
 * major) and libxsmm 1.17 (libxsmm_sgemm, column major: C^T = B^T A^T; libxsmm_sgemm_omp
 * from libxsmmext for the threaded figure).  Best of R runs per engine, engines alternated
 * inside every round.  Built and run by bench/gemm_candidates.sh (not part of the build: it
 * needs libdnnl-dev and libxsmm-dev, which saetox does not use). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <libxsmm.h>
#include <oneapi/dnnl/dnnl.h>

#include "core.h"
#include "gemm.h"

/* SAETOX_BENCH_CPU=1: process CPU time instead of wall time (with one thread, the figure a
 * loaded machine cannot spoil by descheduling) */
static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("SAETOX_BENCH_CPU") && atoi(getenv("SAETOX_BENCH_CPU"));
    struct timespec t;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct {
    const char *what;
    int M, N, K, tb;
} shp;

enum { E_BLAS, E_OWN, E_OWN_BF16, E_DNNL, E_XSMM, NE };
static const char *EN[NE] = {"openblas", "own", "own-bf16B", "onednn", "libxsmm_omp"};

static void run(int e, const shp *s, const float *A, const float *B, const uint16_t *Bh, float *C) {
    int M = s->M, N = s->N, K = s->K, ldb = s->tb ? K : N;
    switch (e) {
    case E_BLAS:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, K, B, ldb, 0.0f, C,
                    N);
        break;
    case E_OWN: sx__gemm_own(0, s->tb, M, N, K, 1.0f, A, K, B, SX_GEMM_F32, ldb, 0.0f, C, N, 0); break;
    case E_OWN_BF16: sx__gemm_own(0, s->tb, M, N, K, 1.0f, A, K, Bh, SX_GEMM_BF16, ldb, 0.0f, C, N, -1); break;
    case E_DNNL: dnnl_sgemm('N', s->tb ? 'T' : 'N', M, N, K, 1.0f, A, K, B, ldb, 0.0f, C, N); break;
    case E_XSMM: {
        /* column-major C^T[N, M] = op(B)^T A^T */
        libxsmm_blasint m = N, n = M, k = K, la = ldb, lb = K, lc = N;
        float al = 1.0f, be = 0.0f;
        libxsmm_sgemm_omp(s->tb ? "T" : "N", "N", &m, &n, &k, &al, B, &la, A, &lb, &be, C, &lc);
        break;
    }
    }
}

int main(int argc, char **argv) {
    int R = argc > 1 ? atoi(argv[1]) : 3;
    static const shp S[] = {
        {"GPT-2 prefill qkv", 1024, 2304, 768, 0}, {"GPT-2 prefill proj", 1024, 768, 768, 0},
        {"GPT-2 prefill fc", 1024, 3072, 768, 0},  {"GPT-2 prefill fc2", 1024, 768, 3072, 0},
        {"GPT-2 unembed 256 rows", 256, 50257, 768, 1}, {"decode 16 rows fc", 16, 3072, 768, 0},
        {"decode 64 rows fc", 64, 3072, 768, 0},   {"decode 200 rows fc", 200, 3072, 768, 0},
        {"decode 200 rows fc2", 200, 768, 3072, 0}, {"Gemma-2 prefill up (Linear)", 512, 9216, 2304, 1},
        {"SAE dense enc 4096x16384x768", 4096, 16384, 768, 1},
    };
    int ns = (int)(sizeof S / sizeof S[0]);
    libxsmm_init();
    extern char *openblas_get_corename(void);
    printf("OpenBLAS core %s, threads %d, BF16 dot chosen by the probe: %d\n", openblas_get_corename(),
           sx_get_threads(), sx__gemm_bf16dot());
    printf("%-30s %-16s", "shape (M x N x K)", "");
    for (int e = 0; e < NE; e++) printf(" %12s", EN[e]);
    printf("   GFLOP/s (%s), best of %d\n", getenv("SAETOX_BENCH_CPU") ? "per CPU-second" : "wall", R);
    for (int i = 0; i < ns; i++) {
        const shp *s = &S[i];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->N * s->K, nc = (size_t)s->M * s->N;
        float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4);
        uint16_t *Bh = malloc(nb * 2);
        for (size_t j = 0; j < na; j++) A[j] = (float)((j * 7) % 13) * 0.1f - 0.6f;
        for (size_t j = 0; j < nb; j++) B[j] = (float)((j * 5) % 11) * 0.1f - 0.5f, Bh[j] = sx_f32_to_bf16(B[j]);
        double best[NE];
        for (int e = 0; e < NE; e++) best[e] = 1e30, run(e, s, A, B, Bh, C); /* warm-up */
        for (int r = 0; r < R; r++)
            for (int e = 0; e < NE; e++) {
                double t = now();
                run(e, s, A, B, Bh, C);
                t = now() - t;
                if (t < best[e]) best[e] = t;
            }
        char dims[64];
        snprintf(dims, sizeof dims, "%dx%dx%d%s", s->M, s->N, s->K, s->tb ? " B^T" : "");
        printf("%-30s %-16s", s->what, dims);
        for (int e = 0; e < NE; e++) printf(" %12.1f", 2.0 * s->M * s->N * s->K / best[e] * 1e-9);
        printf("\n");
        free(A), free(B), free(C), free(Bh);
    }
    return 0;
}
