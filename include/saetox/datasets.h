/* datasets.h — text sources (plain text, JSONL, CSV, read straight out of archives),
 * labelled contrast streams, SAELens-style token packing, and the HDF5 activation cache
 * (writer with crash-safe resume, and the shuffling, prefetching reader the trainer uses).
 *
 * Library code reports failures through sx_err (one line naming the file and the problem)
 * and a -1 return; it never exits and never prints to stdout. */
#ifndef SAETOX_DATASETS_H
#define SAETOX_DATASETS_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "io.h"
#include "models.h"
#include "tokenizer.h"

SX_BEGIN_DECLS

/* =====================================================================================
 * Activation-cache reader (contract used by train/)
 *
 * Accepts any HDF5 file with a dataset /activations of rank 2 [N, d_in], float32 or
 * float16 (float64 is converted too); every other dataset and attribute is optional.
 * Rows are streamed by hyperslab (a cache may be larger than RAM).  With shuffle_rows > 0
 * each epoch visits the row blocks of all files in a random order and shuffles groups of
 * about shuffle_rows rows in memory: every row is returned exactly once per epoch, memory
 * stays at ~2 x shuffle_rows x d_in x 4 bytes, and the same seed gives the same order.
 * A background thread (pthread) reads the next group while the caller consumes this one.
 * The reader object is not safe for concurrent calls from several threads.
 * ===================================================================================== */
typedef struct sx_act_reader sx_act_reader;
typedef struct sx_act_reader_opts {
    uint64_t seed;
    int64_t shuffle_rows; /* 0 = sequential */
    int loop;             /* wrap around at the end */
} sx_act_reader_opts;

int sx_act_reader_open(const char *const *paths, int n_paths, const sx_act_reader_opts *o,
                       sx_act_reader **out, sx_err *err);
int sx_act_reader_d_in(const sx_act_reader *r);
int64_t sx_act_reader_rows(const sx_act_reader *r); /* total rows, all files */
/* fill out[rows, d_in] as float32; returns rows filled (short only at the end when !loop),
   0 at the end, -1 on error (err names file and problem: NaN policy is the caller's) */
int64_t sx_act_reader_next(sx_act_reader *r, float *out, int64_t rows, sx_err *err);
int sx_act_reader_skip(sx_act_reader *r, int64_t rows, sx_err *err); /* for resume */
void sx_act_reader_close(sx_act_reader *r);

/* Normalisation statistics (SAELens normalize_activations="expected_average_only_in"):
 * mean L2 norm of the rows of the caches, estimated from at most max_rows rows spread
 * evenly over all files (max_rows <= 0: every row).  The trainer scales activations by
 * sqrt(d_in) / mean_norm; *scale receives that factor (may be NULL). */
int sx_act_mean_norm(const char *const *paths, int n_paths, int64_t max_rows,
                     double *mean_norm, double *scale, sx_err *err);

/* Describe one cache without reading its rows (d_in, rows, dtype size 2 or 4 or 8). */
typedef struct sx_cache_info {
    int64_t rows;
    int d_in;
    int elem_size;
    int complete;         /* root attribute complete == 1 (0 when absent) */
    int context_size;     /* 0 when absent */
    char hook_name[128];  /* "" when absent */
    char model[256];      /* "" when absent */
} sx_cache_info;
int sx_cache_info_read(const char *path, sx_cache_info *info, sx_err *err);

/* Text sources (sx_source_open, the KIND:PATH[//MEMBER][#FIELD] syntax) and the HTML-entity
 * decoder are in include/saetox/io.h, included above. */

/* =====================================================================================
 * Packing (as SAELens): tokenise documents, optionally put BOS at the start of every
 * context window, concatenate with a separator and cut into context_size windows; or one
 * document per window (truncated, padded).  Deterministic window shuffle by seed.
 * ===================================================================================== */
typedef struct sx_pack_opts {
    int context_size;
    int prepend_bos;      /* BOS as the first token of every window */
    int bos_id;           /* -1: the tokenizer's */
    int separator_id;     /* between concatenated documents; -2: the tokenizer's EOS (or
                             BOS), -1: none */
    int per_doc;          /* 1: one document per window, padded with pad_id */
    int pad_id;
    int shuffle_windows;  /* > 0: shuffle windows within a buffer of this many, by seed */
    uint64_t seed;
    int add_special;      /* passed to sx_tokenizer_encode (0 by default: BOS via prepend) */
} sx_pack_opts;

typedef struct sx_packer sx_packer;
/* The packer borrows tok and src (both must outlive it).  tok == NULL: every byte of the
 * text is one token id (tests, byte-level models). */
int sx_packer_new(const sx_tokenizer *tok, sx_text_source *src, const sx_pack_opts *o,
                  sx_packer **out, sx_err *err);
/* One window: tokens[context_size], doc_ids (index of the document in the source stream,
 * -1 for BOS/padding), *len = real tokens (context_size except padded per-doc windows).
 * Returns 1, 0 at the end, -1 on error. */
int sx_packer_next(sx_packer *p, int32_t *tokens, int64_t *doc_ids, int *len, sx_err *err);
void sx_packer_free(sx_packer *p);

/* =====================================================================================
 * Activation-cache writer (DESIGN.md format, see README for every name)
 *   /activations [N, d_in] f32|f16, chunked (chunk_rows rows), optional shuffle+gzip
 *   /token_ids int32 [N], /doc_ids int64 [N], /positions int32 [N]
 *   root attributes: format="saetox-activations-v1", d_in, hook_name, model, context_size,
 *   dtype, n_tokens_target, drop_first, prepend_bos, seed, source, chunk_rows,
 *   rows_committed, rows_hash (checksum of the committed rows of all four datasets),
 *   complete (1 only when finished).
 * Rows are appended in memory and written a chunk group at a time by a writer thread.  The
 * file is written as OUT.partial and renamed to OUT by sx_cache_writer_finish; after a
 * crash (or a full disk: rows are recorded only after their data is flushed and fsynced),
 * resume=1 reopens OUT.partial, truncates every dataset to rows_committed, verifies them and
 * reports that count so the producer can continue from there.
 * ===================================================================================== */
typedef struct sx_cache_meta {
    int d_in;
    int f16;              /* store float16 instead of float32 */
    int compress;         /* shuffle + gzip level 1 */
    int chunk_rows;       /* 0 = 1024 */
    const char *hook_name;
    const char *model;
    const char *source;
    int context_size;
    int64_t n_tokens_target;
    int drop_first;
    int prepend_bos;
    uint64_t seed;
} sx_cache_meta;

typedef struct sx_cache_writer sx_cache_writer;
/* resume=1: continue OUT.partial (metadata must agree); *rows_done gets the committed row
 * count (0 for a fresh file). */
int sx_cache_writer_open(const char *path, const sx_cache_meta *m, int resume,
                         sx_cache_writer **out, int64_t *rows_done, sx_err *err);
/* Append rows (token_ids/doc_ids/positions may be NULL: stored as -1). */
int sx_cache_writer_append(sx_cache_writer *w, const float *acts, const int32_t *token_ids,
                           const int64_t *doc_ids, const int32_t *positions, int64_t rows,
                           sx_err *err);
int64_t sx_cache_writer_rows(const sx_cache_writer *w); /* appended so far (incl. resumed) */
/* After a resume: NULL, or why OUT.partial could not be trusted (killed in the middle of a
 * flush: unreadable, or its committed rows fail the rows_hash checksum) so the writer
 * started over.  A partial file of another job (other hook, model, ...) is an error. */
const char *sx_cache_writer_note(const sx_cache_writer *w);
/* Write what is buffered (even a partial chunk) and commit it (rows_committed + flush). */
int sx_cache_writer_flush(sx_cache_writer *w, sx_err *err);
/* Flush, set complete=1, close and rename OUT.partial -> OUT. */
int sx_cache_writer_finish(sx_cache_writer *w, sx_err *err);
/* Close without completing: OUT.partial stays (resumable) when keep != 0 and it holds
 * committed rows, else it is deleted. */
void sx_cache_writer_abort(sx_cache_writer *w, int keep);

/* The temp name used for OUT (OUT.partial). */
void sx_cache_partial_path(const char *out, char *buf, size_t n);

/* =====================================================================================
 * The caching job (`saetox cache`, bench_cache): source -> packer -> sx_forward to the hook
 * (stop_after_layer; resid_pre L runs only blocks < L) -> writer.  `tokens` rows are
 * cached; the positions < drop_first of each window are not.
 * ===================================================================================== */
typedef struct sx_cache_job {
    const char *data;       /* source spec (see sx_source_open) */
    sx_source_opts src;
    sx_pack_opts pack;      /* context_size, prepend_bos, per_doc, shuffle_windows, seed... */
    const char *hook;       /* blocks.L.hook_resid_pre|post */
    const char *out;
    const char *model_name; /* stored in the "model" attribute */
    int64_t tokens;
    int batch;              /* windows per forward pass */
    int drop_first;
    int f16, compress, chunk_rows, resume;
    int progress;           /* progress bar on stderr (when it is a terminal) */
    int64_t stop_after_rows; /* testing: stop like a crash once this many rows were appended */
} sx_cache_job;

typedef struct sx_cache_result {
    int64_t rows;           /* rows in the cache (or appended when stopped) */
    int64_t fresh_rows;     /* rows computed by this run (not resumed) */
    int64_t resumed_from;   /* rows found committed in OUT.partial */
    int64_t docs, bad_records;
    int exhausted;          /* the source ran out before `tokens` */
    int stopped;            /* stop_after_rows was hit (OUT.partial left for a resume) */
    double seconds, forward_seconds;
    char note[SX_ERR_LEN + 4400]; /* the writer's note on a damaged partial file, or "" */
    char first_bad[SX_ERR_LEN];   /* the first skipped bad record, or "" */
} sx_cache_result;

/* On failure OUT.partial keeps its committed rows (a later resume continues them). */
int sx_cache_run(sx_model *m, const sx_tokenizer *tok, const sx_cache_job *job,
                 sx_cache_result *res, sx_err *err);

SX_END_DECLS
#endif
