/* bench_mpi.c — TopK SAE training (k 32, d_in 768, batch 4096, N(0,1) rows) on 2 MPI ranks x 1
 * thread (--parallel data, --parallel latents) against 1 process x 2 threads, on this machine:
 * tokens/s, the ratio (the communication overhead; target >= 0.85) and the bytes each rank
 * hands to MPI per step.
 *
 *   bench_mpi [timed_steps (default 5)] [widths (default 16384,65536)]
 *
 * The driver runs itself: one process with 2 threads first and last (the machine is shared:
 * both reference runs are printed and their mean is the peer), between them `mpirun -np 2`
 * for each mode.  A worker (bench_mpi --worker MODE WIDTH STEPS THREADS OUT) trains through
 * sx_train_run, exactly as `saetox train`, and times the steps between consecutive batch
 * requests on rank 0 (the first request and the final save are not timed; median of the
 * steps).  Bytes are saetox's payload per collective (an allreduce of n bytes counts n; Open
 * MPI's ring moves about 2(N-1)/N times that per rank).  Without mpirun it prints SKIP. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "sx_mpi.h"
#include "train_internal.h"

enum { D = 768, BATCH = 4096, POOL = 4 };

typedef struct {
    float *pool;
    int64_t calls;
    double t[64], cpu[64]; /* wall and this process's CPU seconds at each batch request */
    int64_t bytes[64];
} src_ctx;

static int64_t src_next(void *ctx, float *out, int64_t rows, sx_err *err) {
    (void)err;
    src_ctx *s = ctx;
    if (s->calls < 64) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        s->t[s->calls] = sx_now(), s->bytes[s->calls] = sx_mpi_bytes_sent();
        s->cpu[s->calls] = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    }
    if (rows > BATCH) rows = BATCH;
    memcpy(out, s->pool + (s->calls % POOL) * (int64_t)BATCH * D, (size_t)rows * D * sizeof(float));
    s->calls++;
    return rows;
}
static int src_skip(void *ctx, int64_t rows, sx_err *err) { return (void)ctx, (void)rows, (void)err, 0; }

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static int worker(const char *mode, int width, int steps, int threads, const char *out) {
    sx_err err = {0};
    if (sx_mpi_init(NULL, NULL, &err)) return fprintf(stderr, "bench_mpi: %s\n", err.msg), 1;
    sx_set_threads(threads);
    sx_train_set_parallel(!strcmp(mode, "data") ? SX_PAR_DATA : !strcmp(mode, "latents") ? SX_PAR_LATENTS : SX_PAR_NONE);
    src_ctx s = {0};
    s.pool = malloc((size_t)POOL * BATCH * D * sizeof(float));
    if (!s.pool) return fprintf(stderr, "bench_mpi: out of memory\n"), 1;
    sx_rng g;
    sx_rng_seed(&g, 7); /* the same rows on every rank */
    for (int64_t i = 0; i < (int64_t)POOL * BATCH * D; i++) s.pool[i] = (float)sx_rng_normal(&g);
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = SX_SAE_TOPK, o.n_widths = 1, o.widths[0] = width, o.n_k = 1, o.ks[0] = 32;
    o.batch = BATCH, o.tokens = (int64_t)(steps + 2) * BATCH, o.seed = 1, o.log_every = 1 << 30;
    o.out_dir = out;
    sx_batch_source src = {&s, D, "random N(0,1)", src_next, src_skip};
    sx_mpi_bytes_reset();
    int rc = sx_train_run(&o, &src, &err);
    if (rc) fprintf(stderr, "bench_mpi: %s\n", err.msg);
    if (!rc && sx_mpi_rank() == 0) {
        double dt[64], dc[64];
        int n = 0;
        int64_t b = 0;
        for (int64_t i = 1; i + 1 < s.calls && i + 1 < 64; i++) dt[n] = s.t[i + 1] - s.t[i], dc[n++] = s.cpu[i + 1] - s.cpu[i];
        if (s.calls > 2) b = s.bytes[2] - s.bytes[1];
        qsort(dt, (size_t)n, sizeof *dt, cmp_d);
        qsort(dc, (size_t)n, sizeof *dc, cmp_d);
        double med = n ? dt[n / 2] : 0;
        /* third field: rank 0's CPU seconds per step (median; a 1x2 process counts both threads) */
        printf("RESULT %.6f %lld %.6f\n", med, (long long)b, n ? dc[n / 2] : 0);
        nftw(out, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(s.pool);
    sx_mpi_finalize();
    return rc ? 1 : 0;
}

/* Run a worker command, parse its RESULT line; 0 on success. */
static int run(const char *cmd, double *step_s, long long *bytes) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    int got = 0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "RESULT %lf %lld", step_s, bytes) == 2) got = 1;
    int st = pclose(p);
    return got && st == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "--worker"))
        return worker(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6]);
    const char *usage = "usage: bench_mpi [timed_steps (default 5)] [widths (default 16384,65536)]\n";
    bench_positional(argc, argv, 2, usage);
    int steps = argc > 1 ? atoi(argv[1]) : 5;
    const char *widths = argc > 2 ? argv[2] : "16384,65536";
    if (steps < 1 || steps > 60) bench_bad_args(argv[0], "timed_steps must be in 1..60:", argv[1], usage);
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("bench_mpi: SKIP (mpirun not found: install openmpi-bin)\n");
        return 0;
    }
    char self[4096];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l <= 0) return fprintf(stderr, "bench_mpi: cannot find itself\n"), 1;
    self[l] = 0;
    const char *root = getuid() == 0 ? " --allow-run-as-root" : "";
    printf("TopK k=32, d_in %d, batch %d, %d timed steps (median); 1 process x 2 threads vs 2 ranks x 1 thread\n", D,
           BATCH, steps);
    printf("%-7s %-8s %-16s %12s %12s %8s %16s\n", "width", "mode", "runs", "step_s", "tok/s", "ratio", "bytes/step/rank");
    char wl[256];
    snprintf(wl, sizeof wl, "%s", widths);
    for (char *sv = NULL, *w = strtok_r(wl, ",", &sv); w; w = strtok_r(NULL, ",", &sv)) {
        int W = atoi(w);
        char cmd[8400], out[128];
        snprintf(out, sizeof out, "/tmp/bench_mpi_%d_%d", (int)getpid(), W);
        double ref[2] = {0, 0}, s = 0;
        long long b = 0;
        const char *modes[] = {"data", "latents"};
        double ms[2] = {0, 0};
        long long mb[2] = {0, 0};
        for (int phase = 0; phase < 4; phase++) {
            if (phase == 0 || phase == 3) {
                snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=PASSIVE '%s' --worker none %d %d 2 %s", self, W, steps, out);
                if (run(cmd, &s, &b)) return fprintf(stderr, "bench_mpi: the 1-process run failed: %s\n", cmd), 1;
                ref[phase == 3] = s;
                printf("%-7d %-8s %-16s %12.3f %12.0f\n", W, "1x2", phase ? "reference, after" : "reference, before", s,
                       BATCH / s);
            } else {
                const char *m = modes[phase - 1];
                snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=PASSIVE mpirun -q --oversubscribe%s -np 2 '%s' --worker %s %d %d 1 %s",
                         root, self, m, W, steps, out);
                if (run(cmd, &s, &b)) return fprintf(stderr, "bench_mpi: the 2-rank run failed: %s\n", cmd), 1;
                ms[phase - 1] = s, mb[phase - 1] = b;
            }
            fflush(stdout);
        }
        double peer = (ref[0] + ref[1]) / 2;
        for (int q = 0; q < 2; q++)
            printf("%-7d %-8s %-16s %12.3f %12.0f %8.2f %16lld\n", W, modes[q], "2x1", ms[q], BATCH / ms[q], peer / ms[q],
                   mb[q]);
    }
    printf("ratio = (2x1 tok/s) / (mean of the two 1x2 reference runs); a shared machine: list every run\n");
    return 0;
}
