/* mpi.c — the private MPI layer (sx_mpi.h).  Without SAETOX_HAVE_MPI (a build where CMake's
 * FindMPI found nothing) every call is the single-process case. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "sx_mpi.h"
#include "gemm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SAETOX_HAVE_MPI
#include <mpi.h>
#include <stdatomic.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#endif

static int g_on, g_rank, g_size = 1, g_lrank, g_lsize = 1, g_agreed;
static int64_t g_sent;
#ifdef SAETOX_HAVE_MPI
/* Node-local shared memory for the big reductions (see shm_allreduce_f). */
static MPI_Comm g_node = MPI_COMM_NULL, g_leaders = MPI_COMM_NULL;
static MPI_Win g_win = MPI_WIN_NULL;
static char *g_seg[1024];    /* each local rank's input segment (S bytes); local rank 0's is
                              * followed by the result area (S bytes, g_res) */
static int g_shm_ok;         /* every node has the same number of ranks (the chunks line up) */
static int64_t g_seg_bytes;  /* S: bytes per input segment */
static float *g_res;         /* the node's sums, contiguous (shm_sum_reduce) */
/* The node's passive barrier (node_barrier): a counter and a generation in a small shared
 * window of its own (the big one is re-allocated when it grows). */
typedef struct {
    _Atomic int count, gen, sleepers;
} sx_node_bar;
static MPI_Win g_bwin = MPI_WIN_NULL;
static sx_node_bar *g_bar;
#endif

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
static int g_shm_off;
void sx_mpi_set_shm(int on) { g_shm_off = !on; }

/* Started by a launcher?  Open MPI's mpirun, MPICH/Hydra and Slurm's PMI/PMIx set these. */
static int launched(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int sx_mpi_init(int *argc, char ***argv, sx_err *err) {
    if (!launched()) {
        /* srun without a PMI plugin starts N independent copies: they would all write the same
         * outputs; say so instead (SLURM_STEP_NUM_TASKS is set by srun, not by sbatch) */
        const char *st = getenv("SLURM_STEP_NUM_TASKS");
        if (st && atoi(st) > 1)
            return sx_failc(err, SX_EINVAL, "started by srun as one of %s tasks without an MPI environment: use srun --mpi=pmix (or mpirun)", st);
        return 0;
    }
#ifdef SAETOX_HAVE_MPI
    int prov = 0;
    /* FUNNELED: only the main thread calls MPI; OpenMP workers never do. */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov) != MPI_SUCCESS)
        return sx_failc(err, SX_ERROR, "MPI_Init_thread failed");
    g_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &g_node) == MPI_SUCCESS) {
        MPI_Comm_rank(g_node, &g_lrank);
        MPI_Comm_size(g_node, &g_lsize);
        /* one leader per node (local rank 0) carries the node's sum between nodes */
        MPI_Comm_split(MPI_COMM_WORLD, g_lrank == 0 ? 0 : MPI_UNDEFINED, g_rank, &g_leaders);
        int mm[2] = {g_lsize, -g_lsize};
        MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        g_shm_ok = mm[0] == -mm[1] && g_lsize <= 1024 && !getenv("SAETOX_MPI_NO_SHM");
        /* SAETOX_MPI_BUSY_WAIT=1: Open MPI's own (polling) barriers, for A/B measurements */
        if (g_lsize > 1 && !getenv("SAETOX_MPI_NO_SHM") && !getenv("SAETOX_MPI_BUSY_WAIT")) {
            char *base = NULL;
            MPI_Aint sz = g_lrank == 0 ? (MPI_Aint)sizeof(sx_node_bar) : 0;
            int du;
            if (MPI_Win_allocate_shared(sz, 1, MPI_INFO_NULL, g_node, &base, &g_bwin) == MPI_SUCCESS &&
                MPI_Win_shared_query(g_bwin, 0, &sz, &du, &base) == MPI_SUCCESS) {
                g_bar = (sx_node_bar *)base;
                if (g_lrank == 0) atomic_init(&g_bar->count, 0), atomic_init(&g_bar->gen, 0), atomic_init(&g_bar->sleepers, 0);
                MPI_Barrier(g_node);
            } else {
                g_bar = NULL;
            }
        }
    }
    /* The BF16 kernel is picked by a timing probe (core/gemm_dispatch.c) and the two kernels
     * round differently (~1e-6), so ranks timed under different load could pick differently
     * and the "same bits as one process" of the sweep and the cache would hold on some ranks
     * only (seen in the ASan build at load average 10: one continuation of 54 differed on a
     * 3-rank sweep).  Rank 0's pick binds every rank: the others get it through SAETOX_BF16,
     * which their probe reads at its first use (nothing has multiplied yet). */
    int dot = g_rank == 0 ? sx__gemm_bf16dot() : 0;
    MPI_Bcast(&dot, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (g_rank != 0) setenv("SAETOX_BF16", dot ? "dot" : "widen", 1);
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
    if (g_on && g_win != MPI_WIN_NULL) MPI_Win_unlock_all(g_win), MPI_Win_free(&g_win);
    if (g_on && g_bwin != MPI_WIN_NULL) MPI_Win_free(&g_bwin), g_bar = NULL;
    if (g_on && g_leaders != MPI_COMM_NULL) MPI_Comm_free(&g_leaders);
    if (g_on && g_node != MPI_COMM_NULL) MPI_Comm_free(&g_node);
    if (g_on) MPI_Finalize();
    g_on = 0;
#endif
}

#ifdef SAETOX_HAVE_MPI
/* Wait for every rank of this node, giving the core away while waiting.  Open MPI's barrier
 * and collectives busy-poll; with more runnable threads than cores (ranks oversubscribed, or
 * a machine shared with other jobs) the rank that arrived first spins through its time slices
 * while the one it waits for queues for a core: profiled on this 2-core machine at load 3, 11%
 * of a latent-parallel rank's CPU was Open MPI polling.  Here: spin ~20 us, then sleep on a
 * futex (1 ms timeouts, so a missed wake-up costs a millisecond, never a hang).  A sense-
 * reversing counter; seq_cst atomics order the shared-memory data around it. */
static void node_barrier(void) {
    sx_node_bar *b = g_bar;
    const int gen = atomic_load(&b->gen);
    if (atomic_fetch_add(&b->count, 1) == g_lsize - 1) {
        atomic_store(&b->count, 0);
        atomic_fetch_add(&b->gen, 1);
#ifdef __linux__
        if (atomic_load(&b->sleepers) > 0) syscall(SYS_futex, (int *)&b->gen, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
#endif
        return;
    }
    for (int i = 0; i < 4000; i++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != gen) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    atomic_fetch_add(&b->sleepers, 1);
    while (atomic_load(&b->gen) == gen) {
#ifdef __linux__
        struct timespec to = {0, 1000000};
        syscall(SYS_futex, (int *)&b->gen, FUTEX_WAIT, gen, &to, NULL, 0);
#else
        struct timespec to = {0, 50000};
        nanosleep(&to, NULL);
#endif
    }
    atomic_fetch_sub(&b->sleepers, 1);
}
/* Before an MPI collective: let the node's ranks arrive passively (node_barrier), so that the
 * collective itself, with everyone present, polls for microseconds only. */
static void pre_collective(void) {
    if (g_bar && !g_shm_off) node_barrier();
}
static MPI_Op op_of(sx_mpi_op op) { return op == SX_MPI_SUM ? MPI_SUM : op == SX_MPI_MAX ? MPI_MAX : MPI_MIN; }
/* MPI counts are int: large buffers go in pieces of 2^28 elements. */
#define CHUNK ((int64_t)1 << 28)
static void allreduce(void *buf, int64_t n, MPI_Datatype t, size_t es, sx_mpi_op op) {
    if (!g_on || g_size == 1) return;
    for (int64_t o = 0; o < n; o += CHUNK) {
        int64_t c = n - o < CHUNK ? n - o : CHUNK;
        pre_collective();
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + o * es, (int)c, t, op_of(op), MPI_COMM_WORLD);
    }
    g_sent += n * (int64_t)es;
}
#endif

#ifdef SAETOX_HAVE_MPI
/* The node's shared window, big enough for `bytes` per rank (collective over the node; all
 * ranks ask for the same size, so they grow it together). */
static int shm_reserve(int64_t bytes) {
    if (bytes <= g_seg_bytes && g_win != MPI_WIN_NULL) return 0;
    if (g_lsize > 1024) return -1;
    if (g_win != MPI_WIN_NULL) MPI_Win_unlock_all(g_win), MPI_Win_free(&g_win), g_win = MPI_WIN_NULL;
    int64_t want = (bytes < ((int64_t)16 << 20) ? ((int64_t)16 << 20) : bytes + 63) / 64 * 64;
    MPI_Aint mine = (MPI_Aint)(g_lrank == 0 ? 2 * want : want);
    char *base = NULL;
    if (MPI_Win_allocate_shared(mine, 1, MPI_INFO_NULL, g_node, &base, &g_win) != MPI_SUCCESS) {
        g_win = MPI_WIN_NULL;
        return -1;
    }
    for (int p = 0; p < g_lsize; p++) {
        MPI_Aint sz;
        int du;
        MPI_Win_shared_query(g_win, p, &sz, &du, &g_seg[p]);
    }
    MPI_Win_lock_all(MPI_MODE_NOCHECK, g_win);
    g_seg_bytes = want;
    g_res = (float *)(g_seg[0] + want);
    return 0;
}

static void node_sync(void) {
    MPI_Win_sync(g_win);
    if (g_bar) node_barrier();
    else MPI_Barrier(g_node);
    MPI_Win_sync(g_win);
}

/* Sum of n floats over all ranks, through the node's shared memory: every rank has put its n
 * floats in its input segment; each of the L local ranks sums its 1/L of the elements over the
 * L inputs in local rank order into the contiguous result area (so every rank gets the same
 * bits), the node leaders add the nodes' sums with MPI_Allreduce, and every rank reads g_res.
 * Two or three node barriers instead of MPI's fragment-by-fragment hand-offs, which on a
 * loaded machine wait on the scheduler for each fragment (100 MB took 2 s by MPI_Allreduce on
 * 2 ranks here, about 0.1 s this way).  g_res stays valid until this rank's next call of this
 * layer: the next writer of g_res passes a node barrier that every reader must reach first. */
static const float *shm_sum_reduce(int64_t n) {
    const int L = g_lsize;
    node_sync();
    const int64_t per = (n + L - 1) / L, lo = per * g_lrank < n ? per * g_lrank : n, hi = lo + per < n ? lo + per : n;
    float *out = g_res + lo;
    if (hi > lo) memcpy(out, (const float *)g_seg[0] + lo, (size_t)(hi - lo) * sizeof(float));
    for (int p = 1; p < L; p++) {
        const float *in = (const float *)g_seg[p] + lo;
#pragma omp parallel for schedule(static) if (hi - lo > (1 << 18))
        for (int64_t i = 0; i < hi - lo; i++) out[i] += in[i];
    }
    node_sync();
    if (g_size > g_lsize) { /* several nodes: the leaders add the nodes' sums */
        if (g_leaders != MPI_COMM_NULL)
            for (int64_t o = 0; o < n; o += CHUNK) {
                int64_t c = n - o < CHUNK ? n - o : CHUNK;
                MPI_Allreduce(MPI_IN_PLACE, g_res + o, (int)c, MPI_FLOAT, MPI_SUM, g_leaders);
            }
        node_sync();
    }
    g_sent += n * (int64_t)sizeof(float);
    return g_res;
}
/* Bytes moved per rank: 4n in, 4n out of memory; between nodes 4n per leader. */
static int shm_allreduce_f(float *buf, int64_t n) {
    const int64_t bytes = n * (int64_t)sizeof(float);
    if (shm_reserve(bytes)) return -1;
    memcpy(g_seg[g_lrank], buf, (size_t)bytes);
    const float *r = shm_sum_reduce(n);
    memcpy(buf, r, (size_t)bytes);
    return 0;
}
static int shm_sum_ok(int64_t n) {
    return g_on && g_size > 1 && n >= (1 << 16) && g_shm_ok && !g_shm_off;
}
#endif

float *sx_mpi_sum_begin(int64_t n) {
#ifdef SAETOX_HAVE_MPI
    if (shm_sum_ok(n) && shm_reserve(n * (int64_t)sizeof(float)) == 0) return (float *)g_seg[g_lrank];
#else
    (void)n;
#endif
    return NULL;
}
const float *sx_mpi_sum_end(int64_t n) {
#ifdef SAETOX_HAVE_MPI
    return shm_sum_reduce(n);
#else
    (void)n;
    return NULL;
#endif
}

void sx_mpi_allreduce_f(float *buf, int64_t n, sx_mpi_op op) {
#ifdef SAETOX_HAVE_MPI
    /* big sums go through node shared memory (shm_allreduce_f); small ones are latency-bound */
    if (g_on && g_size > 1 && op == SX_MPI_SUM && n >= (1 << 16) && g_shm_ok && !g_shm_off && shm_allreduce_f(buf, n) == 0)
        return;
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

#ifdef SAETOX_HAVE_MPI
/* All ranks on one node: each copies its part into its segment, then every part out (two node
 * barriers; the same reason as shm_allreduce_f). */
static int shm_allgatherv(const void *send, int64_t bytes, void *recv, const int64_t *counts) {
    int64_t mx = 0;
    for (int r = 0; r < g_size; r++) mx = counts[r] > mx ? counts[r] : mx;
    if (shm_reserve(mx)) return -1;
    memcpy(g_seg[g_lrank], send, (size_t)bytes);
    node_sync();
    int64_t off = 0;
    for (int r = 0; r < g_size; r++) { /* on one node, local rank = world rank order */
        memcpy((char *)recv + off, g_seg[r], (size_t)counts[r]);
        off += counts[r];
    }
    node_sync();
    g_sent += bytes;
    return 0;
}
#endif

void sx_mpi_allgatherv(const void *send, int64_t bytes, void *recv, const int64_t *counts) {
#ifdef SAETOX_HAVE_MPI
    int64_t tot = 0;
    for (int r = 0; r < g_size; r++) tot += counts[r];
    if (g_on && g_size > 1 && g_shm_ok && !g_shm_off && g_lsize == g_size && tot >= (1 << 18) && shm_allgatherv(send, bytes, recv, counts) == 0)
        return;
    if (g_on && g_size > 1 && tot < ((int64_t)1 << 31)) { /* the usual case: straight into recv */
        int rc[g_size], disp[g_size];
        for (int r = 0, o = 0; r < g_size; o += (int)counts[r], r++) rc[r] = (int)counts[r], disp[r] = o;
        pre_collective();
        MPI_Allgatherv(send, rc[g_rank], MPI_BYTE, recv, rc, disp, MPI_BYTE, MPI_COMM_WORLD);
        g_sent += bytes;
        return;
    }
    if (g_on && g_size > 1) {
        /* byte counts above 2^31 go as rounds of at most 2^30 bytes per rank (a bounce buffer;
         * a rank that cannot get one cannot leave the collective, so it ends the job) */
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
    pre_collective();
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
    if (g_on && g_size > 1) pre_collective(), MPI_Barrier(MPI_COMM_WORLD);
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

/* ---------- one file written by every rank (sx_mpi_file_*) ---------- */
static void file_fail(sx_mpi_file *f, const char *what, const char *why) {
    if (!f->bad) snprintf(f->msg, sizeof f->msg, "%s: %.40s: %.300s", f->tmp, what, why);
    f->bad = 1;
}
#ifdef SAETOX_HAVE_MPI
_Static_assert(sizeof(MPI_File) <= sizeof(((sx_mpi_file *)0)->mh), "MPI_File fits sx_mpi_file.mh");
static void file_fail_mpi(sx_mpi_file *f, const char *what, int code) {
    char s[MPI_MAX_ERROR_STRING + 1];
    int n = 0;
    if (MPI_Error_string(code, s, &n) != MPI_SUCCESS) n = 0;
    s[n] = 0;
    file_fail(f, what, n ? s : "MPI-IO error");
}
#endif

/* Collective: close what is open and remove the temporary file (rank 0). */
static void file_discard(sx_mpi_file *f) {
#ifdef SAETOX_HAVE_MPI
    if (f->mpi) {
        MPI_File fh;
        memcpy(&fh, f->mh, sizeof fh);
        MPI_File_close(&fh);
        f->mpi = 0;
    }
#endif
    if (f->fd >= 0) close(f->fd), f->fd = -1;
    if (g_rank == 0 && f->tmp[0]) unlink(f->tmp);
}

int sx_mpi_file_open(sx_mpi_file *f, const char *path, int64_t bytes, sx_err *err) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    long pid = (long)getpid(); /* every rank names rank 0's temporary file */
    sx_mpi_bcast(&pid, sizeof pid, 0);
    if (strlen(path) >= sizeof f->path) {
        snprintf(f->tmp, sizeof f->tmp, "%.200s...", path);
        file_fail(f, "cannot create", "path too long");
    } else {
        snprintf(f->path, sizeof f->path, "%s", path);
        snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld", path, pid);
    }
#ifdef SAETOX_HAVE_MPI
    if (g_on && g_size > 1) {
        MPI_File fh;
        pre_collective();
        /* a rank whose path was too long still takes part in the collective open */
        int e = MPI_File_open(MPI_COMM_WORLD, f->tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
        if (e != MPI_SUCCESS) {
            file_fail_mpi(f, "cannot create", e);
        } else {
            memcpy(f->mh, &fh, sizeof fh), f->mpi = 1;
            e = MPI_File_set_size(fh, (MPI_Offset)bytes); /* collective; also truncates */
            if (e != MPI_SUCCESS) file_fail_mpi(f, "cannot size", e);
        }
    } else
#endif
    if (!f->bad) {
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (f->fd < 0) file_fail(f, "cannot create", strerror(errno));
        else if (ftruncate(f->fd, (off_t)bytes) != 0) file_fail(f, "cannot size", strerror(errno));
    }
    int rc = f->bad ? sx_failc(err, SX_EIO, "%s", f->msg) : 0;
    if (sx_mpi_check(rc, err)) {
        file_discard(f);
        return -1;
    }
    return 0;
}

int sx_mpi_file_write(sx_mpi_file *f, int64_t off, const void *buf, int64_t bytes) {
    if (f->bad) return -1;
    const char *p = buf;
#ifdef SAETOX_HAVE_MPI
    if (f->mpi) {
        MPI_File fh;
        memcpy(&fh, f->mh, sizeof fh);
        for (int64_t o = 0; o < bytes; o += CHUNK) {
            int c = (int)(bytes - o < CHUNK ? bytes - o : CHUNK), got = 0;
            MPI_Status st;
            int e = MPI_File_write_at(fh, (MPI_Offset)(off + o), p + o, c, MPI_BYTE, &st);
            if (e != MPI_SUCCESS) return file_fail_mpi(f, "write failed", e), -1;
            if (MPI_Get_count(&st, MPI_BYTE, &got) != MPI_SUCCESS || got != c) return file_fail(f, "write failed", "short write"), -1;
        }
        return 0;
    }
#endif
    for (int64_t o = 0; o < bytes;) {
        ssize_t n = pwrite(f->fd, p + o, (size_t)(bytes - o), (off_t)(off + o));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return file_fail(f, "write failed", n < 0 ? strerror(errno) : "no progress"), -1;
        o += n;
    }
    return 0;
}

int sx_mpi_file_commit(sx_mpi_file *f, int rc, sx_err *err) {
#ifdef SAETOX_HAVE_MPI
    if (f->mpi) {
        MPI_File fh;
        memcpy(&fh, f->mh, sizeof fh);
        pre_collective();
        int e = MPI_File_sync(fh); /* collective: the data is on stable storage before the rename */
        if (e != MPI_SUCCESS) file_fail_mpi(f, "cannot flush", e);
        e = MPI_File_close(&fh);
        f->mpi = 0;
        if (e != MPI_SUCCESS) file_fail_mpi(f, "cannot close", e);
    }
#endif
    if (f->fd >= 0) {
        if (fsync(f->fd) != 0) file_fail(f, "cannot flush", strerror(errno));
        if (close(f->fd) != 0) file_fail(f, "cannot close", strerror(errno));
        f->fd = -1;
    }
    if (!rc && f->bad) rc = sx_failc(err, SX_EIO, "%s", f->msg);
    if (sx_mpi_check(rc, err)) {
        file_discard(f);
        return -1;
    }
    rc = 0;
    if (g_rank == 0 && rename(f->tmp, f->path) != 0) {
        rc = sx_failc(err, SX_EIO, "%s: cannot rename into place: %s", f->path, strerror(errno));
        unlink(f->tmp);
    }
    return sx_mpi_check(rc, err);
}
