/* cache_read.c — the activation-cache reader: several HDF5 caches streamed by hyperslab,
 * block-shuffled + in-memory shuffled, prefetched by a background thread.
 *
 * Order: the rows of all files are cut into blocks (aligned to the dataset's chunk rows so a
 * block read touches each chunk once).  Epoch e permutes the blocks with
 * rng_stream(seed, e); consecutive permuted blocks form groups of <= group_cap rows; group g
 * of epoch e is permuted in memory with rng_stream(seed ^ K, e << 32 | g).  Everything is a
 * function of (seed, epoch, group), so the order never depends on thread timing, and a
 * resume (skip) can jump to any row without reading the rows before it.
 *
 * Cost floor: one pass over the bytes (I/O, f16->f32 conversion) plus one gather copy of
 * d_in x 4 bytes per row into the caller's buffer. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

#define SEQ_GROUP_BYTES (8u << 20) /* sequential reads: ~8 MB per group */
#define SHUF_BLOCK_ROWS 1024       /* shuffled reads: blocks of ~1024 rows */
#define PERM_KEY 0x5a17c0ffee5eedull

typedef struct rfile {
    char *path;
    hid_t f, d;
    int64_t rows;
    int esz;
    int64_t chunk_rows; /* 0 = contiguous */
} rfile;

typedef struct rblock {
    int file;
    int64_t start, n;
} rblock;

typedef struct rslot {
    float *buf;      /* [group_cap, d_in] */
    uint32_t *perm;  /* [group_cap] when shuffling */
    int64_t n;       /* rows in this group; 0 = end of stream */
    int ready;       /* filled by the producer, not yet drained by the consumer */
    int failed;
    sx_err err;
} rslot;

struct sx_act_reader {
    int nf;
    rfile *f;
    int d_in;
    int64_t total;
    rblock *blocks;
    int64_t nblocks;
    int64_t group_cap;
    sx_act_reader_opts o;
    /* producer */
    pthread_t th;
    int th_running, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rslot slot[2];
    int64_t start_epoch, start_group; /* where the producer begins */
    /* consumer */
    int cur;            /* slot being drained */
    int64_t cur_idx;    /* next row within it */
    int64_t first_skip; /* rows to drop from the first group after a seek */
    int64_t consumed;   /* absolute rows handed out (across epochs) */
    int eof;
};

hid_t ds_h5_f16_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_precision(t, 16);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

/* HDF5 reads (and decompresses) a whole chunk into one buffer of the chunk's declared size,
 * so a 17 KB file declaring 4 GB chunks made every read allocate 4 GB (found by
 * fuzz_cache_reader).  An unfiltered chunk takes its full size on disk, so it cannot be
 * larger than the file; a compressed one is capped at 1 GiB (saetox writes at most a few MB;
 * h5py's automatic chunks are at most 1 MB).  NULL when fine, else the message in msg. */
/* A virtual dataset (a sharded cache, cache_shard.c) reads fill values where a source file is
 * missing, silently; so every source must exist (a relative name is relative to the folder of
 * the file that holds the virtual dataset, where HDF5 looks).  NULL when fine. */
static const char *virtual_source_missing(const char *path, hid_t d, char *msg, size_t msgsz) {
    hid_t pl = H5Dget_create_plist(d);
    const char *bad = NULL;
    size_t n = 0;
    if (H5Pget_layout(pl) == H5D_VIRTUAL && H5Pget_virtual_count(pl, &n) >= 0) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *sl = strrchr(dir, '/');
        if (sl) sl[1] = 0;
        else dir[0] = 0;
        for (size_t i = 0; i < n && !bad; i++) {
            char name[4096] = "", full[8200];
            if (H5Pget_virtual_filename(pl, i, name, sizeof name) < 0) continue;
            if (strcmp(name, ".") == 0) continue; /* this file */
            snprintf(full, sizeof full, "%s%s", name[0] == '/' ? "" : dir, name);
            if (!sx_file_exists(full)) {
                snprintf(msg, msgsz, "/activations is a virtual dataset over %.4000s, which is missing (a shard of a sharded cache?)", full);
                bad = msg;
            }
        }
    }
    H5Pclose(pl);
    return bad;
}

static const char *chunk_too_big(hid_t f, hid_t d, size_t esz, char *msg, size_t msgsz) {
    hid_t pl = H5Dget_create_plist(d);
    const char *bad = NULL;
    hsize_t c[2] = {0, 0}, fsize = 0;
    if (H5Pget_layout(pl) == H5D_CHUNKED && H5Pget_chunk(pl, 2, c) == 2) {
        double bytes = (double)c[0] * (double)c[1] * (double)esz;
        int filtered = H5Pget_nfilters(pl) > 0;
        H5Fget_filesize(f, &fsize);
        double cap = filtered ? (double)(1u << 30) : (double)fsize;
        if (bytes > cap) {
            snprintf(msg, msgsz, "/activations chunks of %llu x %llu are %.0f bytes, more than %s (%.0f bytes)",
                     (unsigned long long)c[0], (unsigned long long)c[1], bytes,
                     filtered ? "the 1 GiB limit for compressed chunks" : "the file", cap);
            bad = msg;
        }
    }
    H5Pclose(pl);
    return bad;
}

int ds_open_activations(const char *path, hid_t *file, hid_t *dset, int64_t *rows, int *d_in,
                        int *elem_size, sx_err *err) {
    ds_h5_quiet();
    *file = *dset = -1;
    if (!sx_file_exists(path)) return sx_failc(err, SX_ENOTFOUND, "%s: no such file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sx_failc(err, SX_ECORRUPT, "%s: not a readable HDF5 file (corrupt or truncated?)", path);
    if (H5Lexists(f, "activations", H5P_DEFAULT) <= 0) {
        H5Fclose(f);
        return sx_failc(err, SX_ENOTFOUND, "%s: no /activations dataset", path);
    }
    /* blocks are whole chunks, each read once: HDF5's chunk cache would only add a copy */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
    hid_t d = H5Dopen2(f, "activations", dapl);
    H5Pclose(dapl);
    if (d < 0) {
        H5Fclose(f);
        return sx_failc(err, SX_EINVAL, "%s: /activations is not a dataset", path);
    }
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[2] = {0, 0};
    const char *bad = NULL;
    char msg[4400];
    if (rank != 2) {
        snprintf(msg, sizeof msg, "/activations has rank %d; expected 2 [rows, d_in]", rank);
        bad = msg;
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        size_t sz = H5Tget_size(ty);
        if (H5Tget_class(ty) != H5T_FLOAT || (sz != 2 && sz != 4 && sz != 8)) {
            snprintf(msg, sizeof msg,
                     "/activations has a non-float dtype (class %d, %zu bytes); expected "
                     "float32 or float16", (int)H5Tget_class(ty), sz);
            bad = msg;
        } else if (dims[0] == 0) {
            bad = "/activations has 0 rows";
        } else if (dims[1] == 0 || dims[1] > (1u << 24)) {
            snprintf(msg, sizeof msg, "/activations has an unusable d_in of %llu",
                     (unsigned long long)dims[1]);
            bad = msg;
        } else {
            *elem_size = (int)sz;
            bad = chunk_too_big(f, d, sz, msg, sizeof msg);
            if (!bad) bad = virtual_source_missing(path, d, msg, sizeof msg);
        }
    }
    H5Sclose(sp);
    H5Tclose(ty);
    if (bad) {
        H5Dclose(d);
        H5Fclose(f);
        return sx_fail(err, "%s: %s", path, bad);
    }
    *file = f;
    *dset = d;
    *rows = (int64_t)dims[0];
    *d_in = (int)dims[1];
    return 0;
}

static int64_t chunk_rows_of(hid_t d) {
    hid_t pl = H5Dget_create_plist(d);
    int64_t cr = 0;
    if (H5Pget_layout(pl) == H5D_CHUNKED) {
        hsize_t c[2] = {0, 0};
        if (H5Pget_chunk(pl, 2, c) == 2) cr = (int64_t)c[0];
    }
    H5Pclose(pl);
    return cr;
}

/* A sharded cache's virtual /activations has no chunks of its own; its blocks (and so the
 * training order) follow the chunk_rows its shards were written with, the root attribute the
 * one-process cache has too, so both give the same order. */
static int64_t virtual_chunk_rows(hid_t f, hid_t d) {
    hid_t pl = H5Dget_create_plist(d);
    int virt = H5Pget_layout(pl) == H5D_VIRTUAL;
    H5Pclose(pl);
    int64_t v = 0;
    if (!virt || H5Aexists(f, "chunk_rows") <= 0) return 0;
    hid_t a = H5Aopen(f, "chunk_rows", H5P_DEFAULT);
    if (a < 0) return 0;
    if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0 || v < 0 || v > (1 << 24)) v = 0;
    H5Aclose(a);
    return v;
}

/* ---------- the order: a pure function of (seed, epoch, group) ---------- */

static void epoch_order(const sx_act_reader *r, int64_t epoch, int64_t *order) {
    for (int64_t i = 0; i < r->nblocks; i++) order[i] = i;
    if (r->o.shuffle_rows <= 0) return;
    sx_rng g;
    sx_rng_stream(&g, r->o.seed, (uint64_t)epoch);
    for (int64_t i = r->nblocks - 1; i > 0; i--) {
        int64_t j = (int64_t)sx_rng_below(&g, (uint64_t)i + 1);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Group g spans order[*b0 .. *b1): greedily fill up to group_cap rows. Returns the number
 * of rows, 0 past the last group. */
static int64_t next_group(const sx_act_reader *r, const int64_t *order, int64_t b0,
                          int64_t *b1) {
    int64_t n = 0, b = b0;
    while (b < r->nblocks) {
        int64_t bn = r->blocks[order[b]].n;
        if (n > 0 && n + bn > r->group_cap) break;
        n += bn;
        b++;
    }
    *b1 = b;
    return n;
}

int ds_read_rows(hid_t d, int esz, int d_in, int64_t start, int64_t rows, float *dst,
                 const char *path, sx_err *err) {
    hsize_t off[2] = {(hsize_t)start, 0}, cnt[2] = {(hsize_t)rows, (hsize_t)d_in};
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    herr_t st;
    size_t n = (size_t)rows * (size_t)d_in;
    if (esz == 2) {
        /* read the halves into the upper half of dst, then widen forward in place: write
         * position 4i never passes the unread input at 2n + 2i (i < n) */
        uint16_t *half = (uint16_t *)dst + n;
        hid_t t16 = ds_h5_f16_type();
        st = H5Dread(d, t16, ms, fs, H5P_DEFAULT, half);
        H5Tclose(t16);
        if (st >= 0)
            for (size_t i = 0; i < n; i++) dst[i] = sx_f16_to_f32(half[i]);
    } else {
        st = H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, dst);
    }
    H5Sclose(ms);
    H5Sclose(fs);
    if (st < 0)
        return sx_failc(err, SX_EIO, "%s: cannot read /activations rows %lld..%lld (corrupt file?)",
                       path, (long long)start, (long long)(start + rows));
    return 0;
}

static int read_block(sx_act_reader *r, const rblock *bl, float *dst, sx_err *err) {
    rfile *f = &r->f[bl->file];
    return ds_read_rows(f->d, f->esz, r->d_in, bl->start, bl->n, dst, f->path, err);
}

/* ---------- producer thread ---------- */

static rslot *wait_free_slot(sx_act_reader *r, int k) {
    pthread_mutex_lock(&r->mu);
    while (r->slot[k].ready && !r->stop) pthread_cond_wait(&r->cv, &r->mu);
    int stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop ? NULL : &r->slot[k];
}

static void publish(sx_act_reader *r, rslot *s) {
    pthread_mutex_lock(&r->mu);
    s->ready = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void *producer(void *arg) {
    sx_act_reader *r = arg;
    ds_h5_quiet();
    int64_t *order = malloc(sizeof *order * (size_t)r->nblocks);
    int k = 0;
    for (int64_t epoch = r->start_epoch;; epoch++) {
        if (order) epoch_order(r, epoch, order);
        int64_t b0 = 0, b1, g = 0;
        int64_t n = order ? next_group(r, order, b0, &b1) : 0;
        for (; n > 0; b0 = b1, n = next_group(r, order, b0, &b1), g++) {
            if (epoch == r->start_epoch && g < r->start_group) continue;
            rslot *s = wait_free_slot(r, k);
            if (!s) goto done;
            s->n = n;
            s->failed = 0;
            int64_t row = 0;
            for (int64_t b = b0; b < b1 && !s->failed; b++) {
                const rblock *bl = &r->blocks[order[b]];
                if (read_block(r, bl, s->buf + (size_t)row * (size_t)r->d_in, &s->err))
                    s->failed = 1;
                row += bl->n;
            }
            if (!s->failed && r->o.shuffle_rows > 0) {
                sx_rng pr;
                sx_rng_stream(&pr, r->o.seed ^ PERM_KEY, ((uint64_t)epoch << 32) | (uint64_t)g);
                for (int64_t i = 0; i < n; i++) s->perm[i] = (uint32_t)i;
                for (int64_t i = n - 1; i > 0; i--) {
                    int64_t j = (int64_t)sx_rng_below(&pr, (uint64_t)i + 1);
                    uint32_t t = s->perm[i];
                    s->perm[i] = s->perm[j];
                    s->perm[j] = t;
                }
            }
            publish(r, s);
            k ^= 1;
            if (s->failed) goto done;
        }
        if (!order || !r->o.loop) {
            rslot *s = wait_free_slot(r, k);
            if (!s) goto done;
            s->n = 0;
            s->failed = !order;
            if (!order) sx_failc(&s->err, SX_ENOMEM, "%s: out of memory", r->f[0].path);
            publish(r, s);
            goto done;
        }
    }
done:
    free(order);
    return NULL;
}

static void stop_producer(sx_act_reader *r) {
    if (!r->th_running) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    r->th_running = 0;
    r->stop = 0;
    r->slot[0].ready = r->slot[1].ready = 0;
}

/* Place the producer/consumer at absolute row `pos` of the (possibly looping) stream. */
static int seek_to(sx_act_reader *r, int64_t pos, sx_err *err) {
    stop_producer(r);
    r->consumed = pos;
    r->cur = 0;
    r->cur_idx = 0;
    r->eof = 0;
    if (!r->o.loop && pos >= r->total) {
        r->eof = 1;
        return 0;
    }
    int64_t epoch = pos / r->total, rem = pos % r->total;
    int64_t *order = malloc(sizeof *order * (size_t)r->nblocks);
    if (!order) return sx_failc(err, SX_ENOMEM, "%s: out of memory", r->f[0].path);
    epoch_order(r, epoch, order);
    int64_t b0 = 0, b1, g = 0, n, acc = 0;
    while ((n = next_group(r, order, b0, &b1)) > 0 && acc + n <= rem) {
        acc += n;
        b0 = b1;
        g++;
    }
    free(order);
    r->start_epoch = epoch;
    r->start_group = g;
    r->first_skip = rem - acc;
    return 0;
}

static int start_producer(sx_act_reader *r, sx_err *err) {
    r->stop = 0;
    if (pthread_create(&r->th, NULL, producer, r) != 0)
        return sx_failc(err, SX_EIO, "%s: cannot start the reader thread", r->f[0].path);
    r->th_running = 1;
    r->cur_idx = r->first_skip;
    r->first_skip = 0;
    return 0;
}

/* ---------- public API ---------- */

void sx_act_reader_close(sx_act_reader *r) {
    if (!r) return;
    stop_producer(r);
    for (int i = 0; i < r->nf; i++) {
        if (r->f[i].d >= 0) H5Dclose(r->f[i].d);
        if (r->f[i].f >= 0) H5Fclose(r->f[i].f);
        free(r->f[i].path);
    }
    for (int k = 0; k < 2; k++) {
        free(r->slot[k].buf);
        free(r->slot[k].perm);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->f);
    free(r->blocks);
    free(r);
}

static int build_blocks(sx_act_reader *r, sx_err *err) {
    int64_t target;
    if (r->o.shuffle_rows > 0)
        target = r->o.shuffle_rows < SHUF_BLOCK_ROWS ? r->o.shuffle_rows : SHUF_BLOCK_ROWS;
    else
        target = (int64_t)(SEQ_GROUP_BYTES / ((size_t)r->d_in * 4));
    if (target < 1) target = 1;
    int64_t nb = 0, maxb = 1;
    int64_t *brows = malloc(sizeof *brows * (size_t)r->nf);
    if (!brows) return sx_failc(err, SX_ENOMEM, "%s: out of memory", r->f[0].path);
    for (int i = 0; i < r->nf; i++) {
        int64_t cr = r->f[i].chunk_rows, b = target;
        if (cr > 0) b = ((target + cr - 1) / cr) * cr; /* whole chunks per block */
        if (b > r->f[i].rows) b = r->f[i].rows;
        brows[i] = b;
        if (b > maxb) maxb = b;
        nb += (r->f[i].rows + b - 1) / b;
    }
    r->blocks = malloc(sizeof *r->blocks * (size_t)nb);
    if (!r->blocks) {
        free(brows);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", r->f[0].path);
    }
    r->nblocks = 0;
    for (int i = 0; i < r->nf; i++)
        for (int64_t s = 0; s < r->f[i].rows; s += brows[i]) {
            int64_t n = r->f[i].rows - s < brows[i] ? r->f[i].rows - s : brows[i];
            r->blocks[r->nblocks++] = (rblock){i, s, n};
        }
    free(brows);
    r->group_cap = r->o.shuffle_rows > maxb ? r->o.shuffle_rows : maxb;
    if (r->group_cap > r->total) r->group_cap = r->total; /* small caches: no larger buffers */
    if (r->group_cap > (int64_t)UINT32_MAX) r->group_cap = (int64_t)UINT32_MAX;
    return 0;
}

int sx_act_reader_open(const char *const *paths, int n_paths, const sx_act_reader_opts *o,
                       sx_act_reader **out, sx_err *err) {
    *out = NULL;
    ds_h5_quiet();
    if (n_paths <= 0) return sx_failc(err, SX_EINVAL, "activation reader: no cache files given");
    sx_act_reader *r = calloc(1, sizeof *r);
    if (!r) return sx_failc(err, SX_ENOMEM, "%s: out of memory", paths[0]);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (o) r->o = *o;
    r->f = calloc((size_t)n_paths, sizeof *r->f);
    if (!r->f) {
        free(r);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", paths[0]);
    }
    for (int i = 0; i < n_paths; i++) {
        rfile *f = &r->f[r->nf++];
        f->f = f->d = -1;
        f->path = strdup(paths[i]);
        int d_in;
        if (!f->path ||
            ds_open_activations(paths[i], &f->f, &f->d, &f->rows, &d_in, &f->esz, err))
            goto fail;
        if (i == 0) {
            r->d_in = d_in;
        } else if (d_in != r->d_in) {
            sx_failc(err, SX_EINVAL, "%s: d_in %d does not match %s (d_in %d)", paths[i], d_in, paths[0],
                    r->d_in);
            goto fail;
        }
        f->chunk_rows = chunk_rows_of(f->d);
        if (f->chunk_rows == 0) f->chunk_rows = virtual_chunk_rows(f->f, f->d);
        r->total += f->rows;
    }
    if (build_blocks(r, err)) goto fail;
    for (int k = 0; k < 2; k++) {
        r->slot[k].buf = malloc(sizeof(float) * (size_t)r->group_cap * (size_t)r->d_in);
        if (r->o.shuffle_rows > 0)
            r->slot[k].perm = malloc(sizeof(uint32_t) * (size_t)r->group_cap);
        if (!r->slot[k].buf || (r->o.shuffle_rows > 0 && !r->slot[k].perm)) {
            sx_failc(err, SX_ENOMEM, "%s: out of memory for a %lld-row read buffer", paths[0],
                    (long long)r->group_cap);
            goto fail;
        }
    }
    if (seek_to(r, 0, err)) goto fail;
    *out = r;
    return 0;
fail:
    sx_act_reader_close(r);
    return -1;
}

int sx_act_reader_d_in(const sx_act_reader *r) { return r->d_in; }
int64_t sx_act_reader_rows(const sx_act_reader *r) { return r->total; }

int64_t sx_act_reader_next(sx_act_reader *r, float *out, int64_t rows, sx_err *err) {
    int64_t got = 0;
    size_t rowb = sizeof(float) * (size_t)r->d_in;
    if (r->eof || rows <= 0) return 0;
    if (!r->th_running && start_producer(r, err)) return -1;
    while (got < rows) {
        rslot *s = &r->slot[r->cur];
        pthread_mutex_lock(&r->mu);
        while (!s->ready) pthread_cond_wait(&r->cv, &r->mu);
        pthread_mutex_unlock(&r->mu);
        if (s->failed) {
            if (err) *err = s->err;
            return -1;
        }
        if (s->n == 0) {
            r->eof = 1;
            break;
        }
        int64_t take = s->n - r->cur_idx;
        if (take > rows - got) take = rows - got;
        float *dst = out + (size_t)got * (size_t)r->d_in;
        if (s->perm) {
            for (int64_t i = 0; i < take; i++)
                memcpy(dst + (size_t)i * (size_t)r->d_in,
                       s->buf + (size_t)s->perm[r->cur_idx + i] * (size_t)r->d_in, rowb);
        } else {
            memcpy(dst, s->buf + (size_t)r->cur_idx * (size_t)r->d_in, rowb * (size_t)take);
        }
        got += take;
        r->cur_idx += take;
        if (r->cur_idx == s->n) {
            pthread_mutex_lock(&r->mu);
            s->ready = 0;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
            r->cur ^= 1;
            r->cur_idx = 0;
        }
    }
    r->consumed += got;
    return got;
}

int sx_act_reader_skip(sx_act_reader *r, int64_t rows, sx_err *err) {
    if (rows < 0) return sx_failc(err, SX_EINVAL, "%s: cannot skip a negative row count", r->f[0].path);
    if (rows == 0) return 0;
    return seek_to(r, r->consumed + rows, err);
}
