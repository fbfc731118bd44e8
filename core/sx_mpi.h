/* sx_mpi.h — the one place saetox talks to MPI (private; not installed).
 *
 * Everything here compiles to single-process no-ops in a build without MPI (SAETOX_HAVE_MPI is
 * defined for core/mpi.c alone), and is a no-op at run time too unless the program was started
 * by a launcher (mpirun / srun: sx_mpi_init finds its environment), so a plain `saetox` never
 * initialises MPI: no start-up cost, nothing for valgrind or ASan to see.
 *
 * Rules the callers follow:
 * - Every reduction is over MPI_COMM_WORLD and collective: all ranks call it in the same order.
 * - A failure that all ranks can reach goes through sx_mpi_check() (collective): every rank
 *   learns that some rank failed and the first failing rank's message, prefixed "rank K of N: ";
 *   the CLI then prints it on rank 0 only and every rank exits nonzero.  A failure that the
 *   other ranks cannot learn of (they may be blocked in a collective) ends the job with
 *   sx_mpi_abort() from the CLI (never from the library).
 * - sx_mpi_bytes_sent() counts the payload each rank hands to MPI (the logical volume of a
 *   collective: an allreduce of n bytes counts n, an allgather counts its own contribution). */
#ifndef SAETOX_SX_MPI_H
#define SAETOX_SX_MPI_H

#include <stdint.h>

#include "core.h"

typedef enum { SX_MPI_SUM = 0, SX_MPI_MAX = 1, SX_MPI_MIN = 2 } sx_mpi_op;

/* 1 when this build has MPI. */
int sx_mpi_built(void);
/* Initialise MPI when started by a launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK or
 * PMI_RANK in the environment); else stay a single process.  0 or -1 (also for srun with
 * several tasks but no PMI: each would run alone and write the same outputs). */
int sx_mpi_init(int *argc, char ***argv, sx_err *err);
void sx_mpi_finalize(void);
int sx_mpi_rank(void);
int sx_mpi_size(void);
/* Ranks on this node (MPI_COMM_TYPE_SHARED) and this rank's index among them. */
int sx_mpi_local_size(void);
int sx_mpi_local_rank(void);
/* In-place reductions over all ranks (nothing at size 1). */
void sx_mpi_allreduce_f(float *buf, int64_t n, sx_mpi_op op);
void sx_mpi_allreduce_d(double *buf, int64_t n, sx_mpi_op op);
void sx_mpi_allreduce_i64(int64_t *buf, int64_t n, sx_mpi_op op);
void sx_mpi_allreduce_u8(unsigned char *buf, int64_t n, sx_mpi_op op);
/* Zero-copy float sum (collective, every rank with the same n): p = sx_mpi_sum_begin(n) is
 * this rank's n-float addend in the node's shared window, or NULL (no window, or n below
 * 2^16: sum your own buffer with sx_mpi_allreduce_f; all ranks get NULL alike).  Write the
 * addend into p, call nothing else of this layer, then sx_mpi_sum_end(n) returns the sum over
 * all ranks (the same bits as sx_mpi_allreduce_f), readable until this rank's next call here.
 * Saves the copy in and out (8n bytes of memory traffic each way per rank). */
float *sx_mpi_sum_begin(int64_t n);
const float *sx_mpi_sum_end(int64_t n);
/* recv[r*bytes ..] = rank r's send (bytes each). */
void sx_mpi_allgather(const void *send, int64_t bytes, void *recv);
/* Variable sizes: counts[r] bytes from rank r, placed one after another in recv. */
void sx_mpi_allgatherv(const void *send, int64_t bytes, void *recv, const int64_t *counts);
void sx_mpi_bcast(void *buf, int64_t bytes, int root);
void sx_mpi_barrier(void);
/* Point to point (rank 0 gathering shards of a table, etc.). */
void sx_mpi_send(const void *buf, int64_t bytes, int to, int tag);
void sx_mpi_recv(void *buf, int64_t bytes, int from, int tag);
/* Collective: 0 when rc == 0 on every rank; else -1 on every rank, err = the message of the
 * lowest failing rank ("rank K of N: ..."; at size 1, err untouched). */
int sx_mpi_check(int rc, sx_err *err);
/* 1 after sx_mpi_check reported a failure (all ranks know: exit normally, rank 0 prints). */
int sx_mpi_failure_agreed(void);
/* The caller knows every rank ends with the same nonzero status (e.g. a collective stop). */
void sx_mpi_mark_agreed(void);
/* Collective: -1 on every rank (err names the first rank that differs) when s is not the same
 * string on all ranks (options, cache fingerprints); show = 1 puts both values in the message. */
int sx_mpi_same_string(const char *s, const char *what, int show, sx_err *err);
/* End every rank now (the CLI, for a failure the others cannot learn of). */
_Noreturn void sx_mpi_abort(int code);
int64_t sx_mpi_bytes_sent(void);
/* 1 (default where every node has the same number of ranks): big float sums and all-gathers
 * through the node's shared memory; 0: plain MPI collectives (also SAETOX_MPI_NO_SHM=1). */
void sx_mpi_set_shm(int on);
void sx_mpi_bytes_reset(void);

/* One file that every rank writes at once (--parallel latents: each rank its slice of an SAE),
 * atomically: it is written as PATH.tmp.PID (rank 0's pid) and renamed into place only when
 * every rank succeeded.  Under a launcher with several ranks this is MPI-IO (MPI_File_*), the
 * way to share a file on the filesystems clusters use (NFS, Lustre, GPFS); in one process,
 * POSIX pwrite.  Ranks write at disjoint byte offsets; what no rank writes reads as zeros. */
typedef struct sx_mpi_file {
    _Alignas(8) unsigned char mh[16]; /* the MPI_File handle (an opaque pointer or int) */
    int mpi;          /* 1 while mh is open */
    int fd;           /* POSIX: the descriptor, or -1 */
    int bad;          /* a write here failed: the first failure's message is in msg */
    char msg[4608];
    char path[4096], tmp[4200];
} sx_mpi_file;
/* Collective: create PATH's temporary file of `bytes` bytes.  0 on every rank, or -1 on every
 * rank (err: the first failing rank's message) with nothing left behind. */
int sx_mpi_file_open(sx_mpi_file *f, const char *path, int64_t bytes, sx_err *err);
/* This rank alone: bytes at byte offset off.  0, or -1 (kept for sx_mpi_file_commit). */
int sx_mpi_file_write(sx_mpi_file *f, int64_t off, const void *buf, int64_t bytes);
/* Collective: rc is this rank's own verdict (nonzero: something else failed here, err says
 * what).  Flushes to stable storage, closes, and renames into place when every rank's rc was 0
 * and every write succeeded: then 0 on every rank; else the temporary file is removed and -1
 * on every rank (err: the first failing rank's message). */
int sx_mpi_file_commit(sx_mpi_file *f, int rc, sx_err *err);

#endif
