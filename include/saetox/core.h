/* core.h — small shared pieces of saetox: errors, files, dtypes, safetensors, JSON helpers,
 * RNG, progress bar, threads, timing.  Library code reports failures through sx_err and a
 * -1 return; it never exits and never prints to stdout. */
#ifndef SAETOX_CORE_H
#define SAETOX_CORE_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cJSON; /* cJSON's object type, for the few calls that take or return one */

SX_BEGIN_DECLS

/* ---------- errors ---------- */
/* Every fallible call returns -1 and fills an sx_err: a result code a caller can branch on
 * (as SQLite's) and one line of text naming the file or argument and the problem. */
typedef enum sx_code {
    SX_OK = 0,
    SX_ERROR = 1,       /* anything not classified below */
    SX_ENOMEM = 2,      /* out of memory, or a size too large to allocate */
    SX_EIO = 3,         /* a file or folder could not be opened, read, written or renamed */
    SX_ENOTFOUND = 4,   /* a named thing is absent: file, tensor, column, hook, latent, member */
    SX_ECORRUPT = 5,    /* an input is malformed, truncated or inconsistent with itself */
    SX_EINVAL = 6,      /* an argument, option or shape is out of range or does not match */
    SX_EUNSUPPORTED = 7,/* well-formed input saetox does not handle (dtype, arch, format) */
    SX_ENUMERIC = 8     /* NaN or infinity in the data, or a loss that diverged */
} sx_code;
#define SX_CODE_COUNT 9
#define SX_ERR_LEN 1024
typedef struct sx_err {
    char msg[SX_ERR_LEN];
    int code; /* an sx_code; SX_OK until a call fails */
} sx_err;

/* Fill err (if not NULL) with code and a printf-style message; always returns -1. */
int sx_failc(sx_err *err, sx_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with code SX_ERROR. */
int sx_fail(sx_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix an existing message: "<prefix>: <old message>"; the code is kept. Returns -1. */
int sx_fail_prefix(sx_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "SX_ENOMEM", ... ("SX_?" for an unknown code) and a short description. */
const char *sx_code_name(int code);
/* The code for a failed system call's errno: SX_ENOTFOUND (ENOENT, ENOTDIR), SX_ENOMEM, else
 * SX_EIO. */
sx_code sx_code_from_errno(int e);
const char *sx_code_text(int code);

/* ---------- library ---------- */
/* "0.3.0": the version of the library that is running (the headers' is SAETOX_VERSION_STRING
 * in saetox/version.h). */
const char *sx_version(void);
/* Optional explicit start-up: picks the kernel path (SAETOX_SIMD, else the best the CPU
 * has) and, for a DYNAMIC_ARCH OpenBLAS that fell back to SSE3 kernels on a CPU it does not
 * know, reselects its kernels (never when OPENBLAS_CORETYPE is set).  Idempotent and thread
 * safe.  Without it both happen lazily on first use (model and SAE loading, training, thread
 * setup); call it yourself to get a bad SAETOX_SIMD reported as an error. */
int sx_init(sx_err *err);

/* ---------- files ---------- */
/* Read a whole file (at most max_bytes) into a NUL-terminated malloc'd buffer. */
int sx_read_file(const char *path, size_t max_bytes, char **data, size_t *len, sx_err *err);
int sx_file_exists(const char *path);
/* Length of the whole, valid UTF-8 character at s (n bytes left), else 0 (truncated, overlong,
 * a surrogate or past U+10FFFF). */
size_t sx_utf8_whole(const unsigned char *s, size_t n);
int sx_is_dir(const char *path);
int sx_mkdir_p(const char *path, sx_err *err);
/* Join a directory and a file name into out (size outsz). Returns -1 if it does not fit. */
int sx_path_join(char *out, size_t outsz, const char *dir, const char *name);
/* The name an SAE path goes by in tables (analyze, compare, export): its folder's name, also
 * when the path is the folder's sae_weights.safetensors, params.npz or cfg.json. */
void sx_sae_label(const char *path, char *out, size_t outsz);

/* Atomic output: write to "<path>.tmp.<pid>", then fsync + rename on commit.
 * A crash or abort never leaves a half-written file under the final name. */
typedef struct sx_atomic_file {
    char path[4096];
    char tmp_path[4096 + 32];
    FILE *f;
} sx_atomic_file;
int sx_atomic_open(sx_atomic_file *af, const char *path, sx_err *err);
int sx_atomic_commit(sx_atomic_file *af, sx_err *err); /* closes, fsyncs, renames */
void sx_atomic_abort(sx_atomic_file *af);               /* closes and unlinks the temp */
/* Write a whole buffer atomically. */
int sx_write_file_atomic(const char *path, const void *data, size_t len, sx_err *err);

/* The shared data folder: $SAETOX_SHARED if set, else the compiled-in default
 * (<source>/../shared).  Returns NULL when it does not exist. */
const char *sx_shared_dir(void);
/* saetox's own data folder (models/embedded, datasets/demo, steering/weights): $SAETOX_HOME
 * if set; else share/saetox beside the running libsaetox or program (<prefix>/lib -> <prefix>/
 * share/saetox); else the source tree of the build (a program run from its build folder);
 * else the configured install prefix's.
 * NULL when none holds the embedded model. */
const char *sx_data_dir(void);

/* ---------- dtypes ---------- */
typedef enum sx_dtype {
    SX_DT_INVALID = 0,
    SX_F64, SX_F32, SX_F16, SX_BF16,
    SX_I64, SX_I32, SX_I16, SX_I8, SX_U8, SX_BOOL,
    SX_U16, SX_U32, SX_U64
} sx_dtype;
size_t sx_dtype_size(sx_dtype dt);
const char *sx_dtype_name(sx_dtype dt);       /* safetensors spelling: "F32", "BF16", ... */
sx_dtype sx_dtype_from_name(const char *name); /* SX_DT_INVALID when unknown */

float sx_bf16_to_f32(uint16_t h);
uint16_t sx_f32_to_bf16(float f); /* round to nearest even, NaN stays NaN */
float sx_f16_to_f32(uint16_t h);
uint16_t sx_f32_to_f16(float f);  /* round to nearest even */
/* Convert n elements of a floating dtype (F32/F16/BF16/F64) to float. Returns -1 for
 * non-float dtypes. */
int sx_to_f32(const void *src, sx_dtype dt, float *dst, size_t n);

/* ---------- safetensors ---------- */
#define SX_MAX_DIMS 8
typedef struct sx_tensor_view {
    char *name;
    sx_dtype dtype;
    int ndim;
    int64_t shape[SX_MAX_DIMS];
    size_t numel;
    const void *data; /* points into the mapping; may be unaligned for the dtype */
    size_t nbytes;
} sx_tensor_view;

typedef struct sx_safetensors {
    char path[4096];
    void *map;
    size_t map_len;
    int n;
    sx_tensor_view *t;
    struct cJSON *metadata; /* the "__metadata__" object or NULL */
} sx_safetensors;

/* Memory-map and validate: header length bounded by the file, JSON well formed, known dtypes,
 * shape x dtype size == byte span, offsets in range, no overlaps. */
int sx_st_open(sx_safetensors *st, const char *path, sx_err *err);
void sx_st_close(sx_safetensors *st);
const sx_tensor_view *sx_st_find(const sx_safetensors *st, const char *name);
/* Find a tensor, check its shape (ndim dims; a -1 dim matches anything), and return a
 * malloc'd float copy (converted from F32/F16/BF16/F64). */
int sx_st_read_f32(const sx_safetensors *st, const char *name, int ndim, const int64_t *shape,
                   float **out, sx_err *err);
/* Same, into caller memory of exactly the expected element count. */
int sx_st_read_f32_into(const sx_safetensors *st, const char *name, int ndim,
                        const int64_t *shape, float *dst, sx_err *err);

/* Writer: collects borrowed tensor pointers, then writes one file atomically. */
typedef struct sx_st_writer sx_st_writer;
sx_st_writer *sx_stw_new(void);
void sx_stw_free(sx_st_writer *w);
/* data is borrowed until sx_stw_write returns; it must hold numel * dtype size bytes (NULL:
 * the entry is laid out only, for sx_stw_layout; sx_stw_write refuses it). */
int sx_stw_add(sx_st_writer *w, const char *name, sx_dtype dt, int ndim, const int64_t *shape,
               const void *data, sx_err *err);
int sx_stw_meta(sx_st_writer *w, const char *key, const char *value, sx_err *err);
int sx_stw_write(sx_st_writer *w, const char *path, sx_err *err);
/* For writers that place the data themselves (MPI ranks writing their slices of one file):
 * *head (malloc'd, *head_bytes long) is the file's start: the 8-byte header length, the JSON
 * header, its padding (to a multiple of 64 bytes); offsets[i] (when not NULL) is the
 * absolute file offset of the i-th added entry's data.  The data has no holes: the entries
 * whose size is a multiple of 64 bytes come first, in the order added (each starts on a
 * 64-byte boundary), then the others.  sx_stw_write writes the same bytes. */
int sx_stw_layout(const sx_st_writer *w, char **head, size_t *head_bytes, uint64_t *offsets, sx_err *err);

/* ---------- hashes (fingerprints, not cryptographic) ---------- */
#define SX_FNV_OFFSET 0xcbf29ce484222325ULL
/* FNV-1a over n bytes, continuing from h (SX_FNV_OFFSET to start). */
uint64_t sx_fnv1a(uint64_t h, const void *p, size_t n);
/* The FNV-1a step over 8-byte words (native order), then the tail bytes: about 8x faster on
 * bulk data (a cache's rows, a trainer's weights), other values than sx_fnv1a. */
uint64_t sx_hash_words(uint64_t h, const void *p, size_t n);

/* ---------- RNG: xoshiro256**, seeded by splitmix64 ---------- */
typedef struct sx_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} sx_rng;
void sx_rng_seed(sx_rng *r, uint64_t seed);
uint64_t sx_rng_u64(sx_rng *r);
double sx_rng_uniform(sx_rng *r);           /* [0, 1) */
uint64_t sx_rng_below(sx_rng *r, uint64_t n); /* [0, n), unbiased */
double sx_rng_normal(sx_rng *r);            /* N(0, 1) */
/* Independent stream i of a seed (for per-thread / per-item determinism). */
void sx_rng_stream(sx_rng *r, uint64_t seed, uint64_t stream);
/* Deterministic held-out membership from a hash of the text (independent of any seed, so
 * duplicates of a text always fall on the same side): 1 for a share frac of texts.  The
 * scorer's held-out set, `saetox study --split` and `lm-train --holdout-split` share it. */
int sx_text_is_holdout(const char *text, double frac);

/* ---------- progress bar (stderr, only on a terminal) ---------- */
typedef struct sx_progress {
    char label[64];
    char unit[16];
    double total;
    double done;
    double t0, last_draw;
    int enabled;
} sx_progress;
void sx_progress_start(sx_progress *p, const char *label, double total, const char *unit);
void sx_progress_update(sx_progress *p, double done);
void sx_progress_finish(sx_progress *p);

/* ---------- SIMD paths (simd.c) ---------- */
/* The hot kernels exist once per instruction set; one is chosen per process, from
 * SAETOX_SIMD (generic|avx2|avx512) when set, else the best this CPU supports. */
typedef enum sx_simd_level { SX_SIMD_GENERIC = 0, SX_SIMD_AVX2 = 1, SX_SIMD_AVX512 = 2, SX_SIMD_NATIVE = 3 } sx_simd_level;
/* Choose the path now.  -1 when SAETOX_SIMD names an unknown path or one this CPU lacks
 * (the kernels then run the best path); programs call it first and stop on an error. */
int sx_simd_init(sx_err *err);
sx_simd_level sx_simd(void);           /* the path in use (chosen on first use) */
sx_simd_level sx_simd_best(void);      /* the best path this CPU and build support */
int sx_simd_supported(sx_simd_level l); /* 1 when this CPU and build can run l */
const char *sx_simd_name(sx_simd_level l);

/* ---------- threads and time ---------- */
/* Make a DYNAMIC_ARCH OpenBLAS that fell back to its SSE3 "Prescott" kernels on an
 * unrecognised AVX-512/AVX2 CPU use SkylakeX/Haswell kernels (5-15x faster sgemm).  Part of
 * sx_init (and called lazily by the loaders); idempotent, thread safe; a set
 * OPENBLAS_CORETYPE wins.  No constructor: linking libsaetox changes nothing by itself. */
void sx_blas_fix_coretype(void);
/* Set OpenMP and OpenBLAS threads (n <= 0: leave the defaults). */
void sx_set_threads(int n);
int sx_get_threads(void);
double sx_now(void); /* monotonic seconds */

SX_END_DECLS
#endif
