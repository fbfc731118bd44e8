/* bench_mpi_sum.c — the float sum over ranks that data-parallel training runs every step
 * (sx_mpi_allreduce_f, core/mpi.c), through the node's shared-memory window and through
 * MPI_Allreduce (sx_mpi_set_shm(0), as SAETOX_MPI_NO_SHM=1), timed on rank 0; the result is
 * checked against the exact sum (small integers: no rounding).
 *
 *   mpirun -np 2 bench_mpi_sum [MB (default 100)] [repeats (default 4)]
 *
 * Without mpirun it prints SKIP. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_args.h"
#include "sx_mpi.h"

int main(int argc, char **argv) {
    const char *usage = "usage: mpirun -np N bench_mpi_sum [MB (default 100)] [repeats (default 4)]\n";
    bench_positional(argc, argv, 2, usage);
    sx_err err = {0};
    if (sx_mpi_init(&argc, &argv, &err)) return fprintf(stderr, "bench_mpi_sum: %s\n", err.msg), 1;
    if (sx_mpi_size() < 2) {
        printf("bench_mpi_sum: SKIP (run it under mpirun -np 2 or more)\n");
        return 0;
    }
    double mb = argc > 1 ? atof(argv[1]) : 100;
    int reps = argc > 2 ? atoi(argv[2]) : 4;
    int64_t n = (int64_t)(mb * 1e6 / 4);
    float *b = malloc((size_t)n * sizeof(float));
    if (!b) return fprintf(stderr, "bench_mpi_sum: out of memory\n"), 1;
    const int me = sx_mpi_rank(), P = sx_mpi_size();
    for (int way = 0; way < 2; way++)
        for (int r = 0; r < reps; r++) {
            for (int64_t i = 0; i < n; i++) b[i] = (float)((i + me) % 7);
            sx_mpi_barrier();
            sx_mpi_set_shm(way == 0);
            double t = sx_now();
            sx_mpi_allreduce_f(b, n, SX_MPI_SUM);
            t = sx_now() - t;
            int64_t bad = 0;
            for (int64_t i = 0; i < n; i++) {
                float want = 0;
                for (int q = 0; q < P; q++) want += (float)((i + q) % 7);
                bad += b[i] != want;
            }
            if (me == 0)
                printf("%-26s %7.1f MB  %2d ranks  %.3f s  %s\n", way ? "MPI_Allreduce (no shm)" : "shared-memory window", mb, P, t,
                       bad ? "WRONG" : "exact");
        }
    free(b);
    sx_mpi_finalize();
    return 0;
}
