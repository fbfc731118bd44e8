/* mpi.c — the private MPI layer (sx_mpi.h).  Without SAETOX_HAVE_MPI (a build where CMake's
 * FindMPI found nothing) every call is the single-process case. */
#include "sx_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SAETOX_HAVE_MPI
#include <mpi.h>
#endif

static int g_on, g_rank, g_size = 1, g_lrank, g_lsize = 1, g_agreed;
static int64_t g_sent;

int sx_mpi_built(void) {
#ifdef SAETOX_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}
int sx_mpi_rank(void) { return g_rank; }
int sx_mpi_size(void) { return g_size; }
int sx_mpi_local_rank(void) { return g_lrank; }
int sx_mpi_local_size(void) { return g_lsize; }
int sx_mpi_failure_agreed(void) { return g_agreed; }
void sx_mpi_mark_agreed(void) { g_agreed = 1; }
int64_t sx_mpi_bytes_sent(void) { return g_sent; }
void sx_mpi_bytes_reset(void) { g_sent = 0; }

/* Started by a launcher?  Open MPI's mpirun, MPICH/Hydra and Slurm's PMI/PMIx set these. */
static int launched(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int sx_mpi_init(int *argc, char ***argv, sx_err *err) {
    if (!launched()) return 0;
#ifdef SAETOX_HAVE_MPI
    int prov = 0;
    /* FUNNELED: only the main thread calls MPI; OpenMP workers never do. */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov) != MPI_SUCCESS)
        return sx_failc(err, SX_ERROR, "MPI_Init_thread failed");
    g_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_lrank);
        MPI_Comm_size(node, &g_lsize);
        MPI_Comm_free(&node);
    }
    return 0;
#else
    (void)argc, (void)argv;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return sx_failc(err, SX_EUNSUPPORTED, "started by mpirun/srun with %s ranks, but this saetox was built without MPI "
                        "(install libopenmpi-dev and re-run cmake)", n);
    return 0;
#endif
}

void sx_mpi_finalize(void) {
#ifdef SAETOX_HAVE_MPI
    if (g_on) MPI_Finalize();
    g_on = 0;
#endif
}

#ifdef SAETOX_HAVE_MPI
static MPI_Op op_of(sx_mpi_op op) { return op == SX_MPI_SUM ? MPI_SUM : op == SX_MPI_MAX ? MPI_MAX : MPI_MIN; }
/* MPI counts are int: large buffers go in pieces of 2^28 elements. */
#define CHUNK ((int64_t)1 << 28)
static void allreduce(void *buf, int64_t n, MPI_Datatype t, size_t es, sx_mpi_op op) {
    if (!g_on || g_size == 1) return;
    for (int64_t o = 0; o < n; o += CHUNK) {
        int64_t c = n - o < CHUNK ? n - o : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + o * es, (int)c, t, op_of(op), MPI_COMM_WORLD);
    }
    g_sent += n * (int64_t)es;
}
#endif

void sx_mpi_allreduce_f(float *buf, int64_t n, sx_mpi_op op) {
#ifdef SAETOX_HAVE_MPI
    allreduce(buf, n, MPI_FLOAT, sizeof(float), op);
#else
    (void)buf, (void)n, (void)op;
#endif
}
void sx_mpi_allreduce_d(double *buf, int64_t n, sx_mpi_op op) {
#ifdef SAETOX_HAVE_MPI
    allreduce(buf, n, MPI_DOUBLE, sizeof(double), op);
#else
    (void)buf, (void)n, (void)op;
#endif
}
void sx_mpi_allreduce_i64(int64_t *buf, int64_t n, sx_mpi_op op) {
#ifdef SAETOX_HAVE_MPI
    allreduce(buf, n, MPI_INT64_T, sizeof(int64_t), op);
#else
    (void)buf, (void)n, (void)op;
#endif
}
void sx_mpi_allreduce_u8(unsigned char *buf, int64_t n, sx_mpi_op op) {
#ifdef SAETOX_HAVE_MPI
    allreduce(buf, n, MPI_UNSIGNED_CHAR, 1, op);
#else
    (void)buf, (void)n, (void)op;
#endif
}

void sx_mpi_allgatherv(const void *send, int64_t bytes, void *recv, const int64_t *counts) {
#ifdef SAETOX_HAVE_MPI
    if (g_on && g_size > 1) {
        /* byte counts above 2^31 go as rounds of at most 2^30 bytes per rank */
        int64_t done[g_size], left = 1;
        int rc[g_size], disp[g_size];
        memset(done, 0, sizeof done);
        int64_t base[g_size];
        base[0] = 0;
        for (int r = 1; r < g_size; r++) base[r] = base[r - 1] + counts[r - 1];
        while (left) {
            left = 0;
            int64_t off = 0;
            char *tmp = NULL;
            for (int r = 0; r < g_size; r++) {
                int64_t c = counts[r] - done[r];
                if (c > ((int64_t)1 << 30)) c = (int64_t)1 << 30;
                rc[r] = (int)c, disp[r] = (int)off, off += c;
            }
            tmp = malloc(off > 0 ? (size_t)off : 1);
            if (!tmp) sx_mpi_abort(3);
            MPI_Allgatherv((const char *)send + done[g_rank], rc[g_rank], MPI_BYTE, tmp, rc, disp, MPI_BYTE,
                           MPI_COMM_WORLD);
            g_sent += rc[g_rank];
            for (int r = 0; r < g_size; r++) {
                memcpy((char *)recv + base[r] + done[r], tmp + disp[r], (size_t)rc[r]);
                done[r] += rc[r];
                if (done[r] < counts[r]) left = 1;
            }
            free(tmp);
        }
        return;
    }
#endif
    (void)counts;
    if (recv != send) memmove(recv, send, (size_t)bytes);
}

void sx_mpi_allgather(const void *send, int64_t bytes, void *recv) {
    int64_t counts[g_size > 0 ? g_size : 1];
    for (int r = 0; r < g_size; r++) counts[r] = bytes;
    sx_mpi_allgatherv(send, bytes, recv, counts);
}

void sx_mpi_bcast(void *buf, int64_t bytes, int root) {
#ifdef SAETOX_HAVE_MPI
    if (!g_on || g_size == 1) return;
    for (int64_t o = 0; o < bytes; o += CHUNK) {
        int64_t c = bytes - o < CHUNK ? bytes - o : CHUNK;
        MPI_Bcast((char *)buf + o, (int)c, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    if (g_rank == root) g_sent += bytes;
#else
    (void)buf, (void)bytes, (void)root;
#endif
}

void sx_mpi_barrier(void) {
#ifdef SAETOX_HAVE_MPI
    if (g_on && g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void sx_mpi_send(const void *buf, int64_t bytes, int to, int tag) {
#ifdef SAETOX_HAVE_MPI
    if (!g_on) return;
    for (int64_t o = 0; o < bytes || o == 0; o += CHUNK) {
        int64_t c = bytes - o < CHUNK ? bytes - o : CHUNK;
        MPI_Send((const char *)buf + o, (int)c, MPI_BYTE, to, tag, MPI_COMM_WORLD);
        if (bytes == 0) break;
    }
    g_sent += bytes;
#else
    (void)buf, (void)bytes, (void)to, (void)tag;
#endif
}

void sx_mpi_recv(void *buf, int64_t bytes, int from, int tag) {
#ifdef SAETOX_HAVE_MPI
    if (!g_on) return;
    for (int64_t o = 0; o < bytes || o == 0; o += CHUNK) {
        int64_t c = bytes - o < CHUNK ? bytes - o : CHUNK;
        MPI_Recv((char *)buf + o, (int)c, MPI_BYTE, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (bytes == 0) break;
    }
#else
    (void)buf, (void)bytes, (void)from, (void)tag;
#endif
}

int sx_mpi_check(int rc, sx_err *err) {
    if (g_size == 1) return rc ? -1 : 0;
    int64_t first = rc ? g_rank : g_size;
    sx_mpi_allreduce_i64(&first, 1, SX_MPI_MIN);
    if (first == g_size) return 0;
    sx_err e = {0};
    if (g_rank == first && err) e = *err;
    sx_mpi_bcast(&e, sizeof e, (int)first);
    if (err) {
        *err = e;
        if (strncmp(e.msg, "rank ", 5) != 0) sx_fail_prefix(err, "rank %d of %d", (int)first, g_size);
    }
    g_agreed = 1;
    return -1;
}

int sx_mpi_same_string(const char *s, const char *what, int show, sx_err *err) {
    if (g_size == 1) return 0;
    char mine[1024] = {0}, root[1024] = {0};
    snprintf(mine, sizeof mine, "%s", s ? s : "");
    memcpy(root, mine, sizeof root);
    sx_mpi_bcast(root, sizeof root, 0);
    int differ = strcmp(root, mine) != 0;
    int rc = !differ ? 0 : show ? sx_failc(err, SX_EINVAL, "%s differ from rank 0's (%s here, %s on rank 0)", what, mine, root)
                                : sx_failc(err, SX_EINVAL, "%s differ from rank 0's", what);
    return sx_mpi_check(rc, err);
}

_Noreturn void sx_mpi_abort(int code) {
#ifdef SAETOX_HAVE_MPI
    if (g_on) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}
