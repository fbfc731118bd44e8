/* bench_split.c — feature splitting at scale: decoder cosines between a 16384-latent and a
 * 65536-latent SAE at d_in 768 (random unit decoders with some planted children), streamed
 * in sgemm blocks.  Target: <= 20 s and <= 2 GB peak RSS.
 * usage: bench_split [n_a n_b d]  */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench_args.h"

#include "analysis.h"
#include "models.h"

char *openblas_get_corename(void);

int main(int argc, char **argv) {
    bench_positional(argc, argv, 3, "usage: bench_split [n_a (default 16384) [n_b (default 65536) [d (default 768)]]]\n");
    sx_blas_fix_coretype(); /* models/: SkylakeX kernels when OpenBLAS fell back to Prescott */
    int n_a = argc > 1 ? atoi(argv[1]) : 16384, n_b = argc > 2 ? atoi(argv[2]) : 65536,
        d = argc > 3 ? atoi(argv[3]) : 768;
    float *A = malloc((size_t)n_a * d * sizeof *A), *B = malloc((size_t)n_b * d * sizeof *B);
    if (!A || !B) {
        fprintf(stderr, "bench_split: out of memory\n");
        return 1;
    }
    sx_rng r;
    sx_rng_seed(&r, 42);
    for (size_t i = 0; i < (size_t)n_a * d; i++) A[i] = (float)sx_rng_normal(&r);
    for (size_t i = 0; i < (size_t)n_b * d; i++) B[i] = (float)sx_rng_normal(&r);
    /* plant: B latent 4k+1 = A latent k + noise for the first 1000 A latents (cos ~ 0.9) */
    int planted = 0;
    for (int k = 0; k < 1000 && 4 * k + 1 < n_b && k < n_a; k++, planted++)
        for (int t = 0; t < d; t++)
            B[(size_t)(4 * k + 1) * d + t] = A[(size_t)k * d + t] + 0.4f * (float)sx_rng_normal(&r);
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double cpu0 = ru0.ru_utime.tv_sec + ru0.ru_utime.tv_usec / 1e6 + ru0.ru_stime.tv_sec +
                  ru0.ru_stime.tv_usec / 1e6;
    sx_err err;
    sx_split_result res;
    if (sx_split_compute(A, n_a, B, n_b, d, NULL, &res, &err)) {
        fprintf(stderr, "bench_split: %s\n", err.msg);
        return 1;
    }
    sx_families f;
    double t0 = sx_now();
    if (sx_families_from_pairs(&res, &f, &err)) {
        fprintf(stderr, "bench_split: %s\n", err.msg);
        return 1;
    }
    double tf = sx_now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_gb = ru.ru_maxrss / 1048576.0;
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6 - cpu0;
    printf("bench_split: %d x %d latents, d_in %d, threads %d\n", n_a, n_b, d, sx_get_threads());
    printf("  pairs >= %.2f: %lld (planted %d), families %d\n", (double)res.threshold,
           (long long)res.n_pairs, planted, f.n_families);
    printf("  seconds %.2f (sgemm %.2f s = %.1f GFLOP/s; scan+normalise %.2f s; families %.3f s)\n",
           res.seconds, res.seconds_gemm, res.gflop / res.seconds_gemm,
           res.seconds - res.seconds_gemm, tf);
    printf("  overall %.1f GFLOP/s, peak RSS %.2f GB, OpenBLAS core %s\n", res.gflop / res.seconds,
           rss_gb, openblas_get_corename());
    printf("  target: <= 20 s and <= 2 GB -> time ratio %.2f, memory ratio %.2f%s\n",
           res.seconds / 20.0, rss_gb / 2.0,
           res.seconds <= 20 && rss_gb <= 2 ? " (met)" : " (NOT met)");
    printf("  CPU time %.2f s over %d threads: %.2f s per thread (the wall time on an idle "
           "machine would be about this)\n", cpu, sx_get_threads(), cpu / sx_get_threads());
    printf("  (the machine is shared: timings depend on other load)\n");
    sx_families_free(&f);
    sx_split_free(&res);
    free(A), free(B);
    return 0;
}
