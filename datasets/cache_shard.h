/* cache_shard.h — `saetox cache` under mpirun: one shard per rank and an HDF5 virtual
 * dataset over them (private to datasets/ and the CLI). */
#ifndef SAETOX_CACHE_SHARD_H
#define SAETOX_CACHE_SHARD_H

#include "datasets.h"
#include "models.h"

/* Rows [lo, hi) of the job's stream into J->out (cache_job.c; sx_cache_run is lo 0, hi tokens). */
int ds_cache_run_range(sx_model *m, const sx_tokenizer *tok, const sx_cache_job *J, int64_t lo, int64_t hi,
                       sx_cache_result *res, sx_err *err);

/* "F.h5" -> "F.shard-K-of-N.h5" (a name without .h5 gets the suffix appended). */
void sx_cache_shard_path(const char *out, int k, int n, char *buf, size_t size);

/* Collective over the MPI ranks (core/sx_mpi.h): rank K caches rows [T*K/N, T*(K+1)/N) of the
 * one-process stream into its shard (--resume continues each shard; a complete shard is kept),
 * then rank 0 writes J->out as an HDF5 virtual dataset over the shards: /activations,
 * /token_ids, /doc_ids, /positions with exactly the rows, in the order, of a one-process cache,
 * and its root attributes.  res sums the shards (rows, fresh_rows; seconds = the slowest).
 * Every rank returns the same status; err names the failing rank. */
int sx_cache_run_sharded(sx_model *m, const sx_tokenizer *tok, const sx_cache_job *J, sx_cache_result *res,
                         sx_err *err);

#endif
