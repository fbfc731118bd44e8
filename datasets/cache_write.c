/* cache_write.c — the HDF5 activation-cache writer.
 *
 * Appended rows are staged in memory; every full group of chunks is handed to a writer
 * thread (double buffering) that converts (f16), extends the four datasets, writes, flushes
 * and fsyncs, and only then records rows_committed (and flushes again), so the forward pass
 * never waits on I/O unless the disk is slower than the model.  The file lives under
 * OUT.partial until finish() renames it; resume reopens OUT.partial, truncates every dataset
 * to rows_committed and checks the rows_hash of all four datasets before trusting them.
 *
 * Cost floor per row: one copy of d_in x 4 bytes into the stage, the (compressed) write. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds_internal.h"

#define GROUP_BYTES (4u << 20) /* hand ~4 MB of activations at a time to the writer */

typedef struct stage {
    float *acts;
    int32_t *tok, *pos;
    int64_t *doc;
    int64_t n;
} stage;

struct sx_cache_writer {
    char path[4096], tmp[4200];
    sx_cache_meta m;
    hid_t f, d_act, d_tok, d_doc, d_pos;
    int fd;            /* the same file, for fsync: data is durable before it is recorded */
    int64_t chunk_rows, group_rows;
    int64_t committed; /* rows on disk and recorded (writer thread) */
    uint64_t hash;     /* sx_hash_words over the committed rows */
    char note[SX_ERR_LEN + 4400];   /* why a resume had to start over, or "" */
    int64_t appended;  /* rows given to append (caller) */
    stage st[2];       /* st[cur] fills while the other may be written */
    int cur;
    uint16_t *half;    /* f16 conversion buffer (writer thread) */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job, quit, failed, th_running; /* job: stage index + 1 waiting for the writer */
    sx_err err;
};

/* The running hash (sx_hash_words from SX_FNV_OFFSET) of n rows of all four datasets, row by
 * row (activation row as stored, token id, doc id, position): a resume recomputes it to detect
 * a file damaged by a crash or a full disk in the middle of a flush.  It does not depend on how
 * rows were grouped into commits, so a resume can check them in blocks of any size (a stop
 * flushes a partial group). */
static uint64_t hash_rows(uint64_t h, const void *acts, size_t row_bytes, const int32_t *tok,
                          const int64_t *doc, const int32_t *pos, int64_t n) {
    const unsigned char *a = acts;
    for (int64_t i = 0; i < n; i++) {
        h = sx_hash_words(h, a + (size_t)i * row_bytes, row_bytes);
        h = sx_hash_words(h, &tok[i], sizeof *tok);
        h = sx_hash_words(h, &doc[i], sizeof *doc);
        h = sx_hash_words(h, &pos[i], sizeof *pos);
    }
    return h;
}

void sx_cache_partial_path(const char *out, char *buf, size_t n) {
    snprintf(buf, n, "%s.partial", out);
}

/* ---------- attributes ---------- */

static int set_attr_str(hid_t f, const char *name, const char *v) {
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *s = v ? v : "";
    herr_t st = a >= 0 ? H5Awrite(a, t, &s) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return st < 0 ? -1 : 0;
}

static int set_attr_i64(hid_t f, const char *name, int64_t v) {
    hid_t a;
    if (H5Aexists(f, name) > 0) {
        a = H5Aopen(f, name, H5P_DEFAULT);
    } else {
        hid_t sp = H5Screate(H5S_SCALAR);
        a = H5Acreate2(f, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
    }
    herr_t st = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT64, &v) : -1;
    if (a >= 0) H5Aclose(a);
    return st < 0 ? -1 : 0;
}

static int get_attr_i64(hid_t f, const char *name, int64_t *v) {
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    herr_t st = H5Aread(a, H5T_NATIVE_INT64, v);
    H5Aclose(a);
    return st < 0 ? -1 : 0;
}

static int get_attr_str(hid_t f, const char *name, char *out, size_t n) {
    out[0] = 0;
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0) {
        H5Tclose(ft);
        H5Aclose(a);
        return -1;
    }
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5Tget_cset(ft)); /* HDF5 will not convert between character sets */
    H5Tclose(ft);
    char *s = NULL;
    herr_t st = H5Aread(a, t, &s);
    if (st >= 0 && s) {
        snprintf(out, n, "%s", s);
        H5free_memory(s);
    }
    H5Tclose(t);
    H5Aclose(a);
    return st < 0 ? -1 : 0;
}

static int write_meta(sx_cache_writer *w) {
    const sx_cache_meta *m = &w->m;
    int rc = 0;
    rc |= set_attr_str(w->f, "format", "saetox-activations-v1");
    rc |= set_attr_i64(w->f, "d_in", m->d_in);
    rc |= set_attr_str(w->f, "hook_name", m->hook_name);
    rc |= set_attr_str(w->f, "model", m->model);
    rc |= set_attr_str(w->f, "source", m->source);
    rc |= set_attr_str(w->f, "dtype", m->f16 ? "float16" : "float32");
    rc |= set_attr_i64(w->f, "context_size", m->context_size);
    rc |= set_attr_i64(w->f, "n_tokens_target", m->n_tokens_target);
    rc |= set_attr_i64(w->f, "drop_first", m->drop_first);
    rc |= set_attr_i64(w->f, "prepend_bos", m->prepend_bos);
    rc |= set_attr_i64(w->f, "seed", (int64_t)m->seed);
    rc |= set_attr_i64(w->f, "chunk_rows", w->chunk_rows);
    rc |= set_attr_i64(w->f, "rows_committed", 0);
    rc |= set_attr_i64(w->f, "rows_hash", (int64_t)SX_FNV_OFFSET);
    rc |= set_attr_i64(w->f, "complete", 0);
    return rc;
}

/* ---------- datasets ---------- */

static hid_t make_dset(sx_cache_writer *w, const char *name, hid_t type, int rank, int64_t cols) {
    hsize_t dims[2] = {0, (hsize_t)cols}, maxd[2] = {H5S_UNLIMITED, (hsize_t)cols};
    hsize_t chunk[2] = {(hsize_t)w->chunk_rows, (hsize_t)cols};
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, rank, chunk);
    if (w->m.compress) {
        H5Pset_shuffle(pl);
        H5Pset_deflate(pl, 1);
    }
    hid_t d = H5Dcreate2(w->f, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Pclose(pl);
    H5Sclose(sp);
    return d;
}

static int append_rows(hid_t d, hid_t memtype, int rank, int64_t cols, int64_t at, int64_t n,
                       const void *data) {
    hsize_t newd[2] = {(hsize_t)(at + n), (hsize_t)cols};
    if (H5Dset_extent(d, newd) < 0) return -1;
    hsize_t off[2] = {(hsize_t)at, 0}, cnt[2] = {(hsize_t)n, (hsize_t)cols};
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(rank, cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    herr_t st = H5Dwrite(d, memtype, ms, fs, H5P_DEFAULT, data);
    H5Sclose(ms);
    H5Sclose(fs);
    return st < 0 ? -1 : 0;
}

/* Write stage s after the committed rows, then record and flush (writer thread). */
static int commit_stage(sx_cache_writer *w, stage *s) {
    if (s->n == 0) return 0;
    int64_t at = w->committed, n = s->n, d = w->m.d_in;
    const void *acts = s->acts;
    hid_t mt = H5T_NATIVE_FLOAT, t16 = -1;
    if (w->m.f16) {
        for (int64_t i = 0; i < n * d; i++) w->half[i] = sx_f32_to_f16(s->acts[i]);
        t16 = ds_h5_f16_type();
        mt = t16;
        acts = w->half;
    }
    int rc = append_rows(w->d_act, mt, 2, d, at, n, acts);
    if (t16 >= 0) H5Tclose(t16);
    if (!rc) rc = append_rows(w->d_tok, H5T_NATIVE_INT32, 1, 1, at, n, s->tok);
    if (!rc) rc = append_rows(w->d_doc, H5T_NATIVE_INT64, 1, 1, at, n, s->doc);
    if (!rc) rc = append_rows(w->d_pos, H5T_NATIVE_INT32, 1, 1, at, n, s->pos);
    uint64_t h = hash_rows(w->hash, acts, (size_t)d * (w->m.f16 ? 2 : 4), s->tok, s->doc, s->pos, n);
    /* Two phases.  The data goes out of HDF5's caches and to the disk first; the record that
     * covers it is written only once that succeeded.  With one flush for both, a full disk
     * could fail the raw-data writes while the updated rows_committed still reached the file
     * (a resume then trusted rows whose /positions were never written). */
    if (!rc) rc = H5Fflush(w->f, H5F_SCOPE_LOCAL) < 0 ? -1 : 0;
    if (!rc && w->fd >= 0) rc = fsync(w->fd) != 0 && errno != EINVAL ? -1 : 0;
    if (!rc) rc = set_attr_i64(w->f, "rows_hash", (int64_t)h);
    if (!rc) rc = set_attr_i64(w->f, "rows_committed", at + n);
    if (!rc) rc = H5Fflush(w->f, H5F_SCOPE_LOCAL) < 0 ? -1 : 0;
    if (rc) return sx_failc(&w->err, SX_EIO, "%s: cannot write rows %lld..%lld (disk full?)", w->tmp,
                           (long long)at, (long long)(at + n));
    w->committed = at + n;
    w->hash = h;
    s->n = 0;
    return 0;
}

static void *writer_main(void *arg) {
    sx_cache_writer *w = arg;
    ds_h5_quiet();
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job && w->quit) break;
        stage *s = &w->st[w->job - 1];
        pthread_mutex_unlock(&w->mu);
        int rc = w->failed ? -1 : commit_stage(w, s);
        pthread_mutex_lock(&w->mu);
        if (rc) {
            w->failed = 1;
            s->n = 0;
        }
        w->job = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Wait until the writer is idle; returns -1 (err copied) if it has failed. */
static int wait_idle(sx_cache_writer *w, sx_err *err) {
    pthread_mutex_lock(&w->mu);
    while (w->job) pthread_cond_wait(&w->cv, &w->mu);
    int failed = w->failed;
    pthread_mutex_unlock(&w->mu);
    if (failed && err) *err = w->err;
    return failed ? -1 : 0;
}

static int submit(sx_cache_writer *w, sx_err *err) {
    if (wait_idle(w, err)) return -1;
    pthread_mutex_lock(&w->mu);
    w->job = w->cur + 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    w->cur ^= 1;
    return 0;
}

/* ---------- open / resume ---------- */

/* Recompute the hash of the committed rows (reads them once: far cheaper than the forward
 * passes that made them). */
static int read_rows(hid_t d, hid_t mt, int rank, int64_t cols, int64_t at, int64_t n, void *buf) {
    hsize_t off[2] = {(hsize_t)at, 0}, cnt[2] = {(hsize_t)n, (hsize_t)cols};
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    int ok = H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) >= 0;
    H5Sclose(ms);
    H5Sclose(fs);
    return ok;
}

static int verify_rows(sx_cache_writer *w, uint64_t want) {
    int64_t blk = w->group_rows, d = w->m.d_in, esz = w->m.f16 ? 2 : 4;
    void *a = malloc((size_t)(blk * d * esz));
    int32_t *t = malloc(sizeof *t * (size_t)blk), *p = malloc(sizeof *p * (size_t)blk);
    int64_t *dd = malloc(sizeof *dd * (size_t)blk);
    hid_t mt = w->m.f16 ? ds_h5_f16_type() : H5Tcopy(H5T_IEEE_F32LE);
    uint64_t h = SX_FNV_OFFSET;
    int ok = a && t && p && dd;
    for (int64_t at = 0; ok && at < w->committed; at += blk) {
        int64_t n = w->committed - at < blk ? w->committed - at : blk;
        ok = read_rows(w->d_act, mt, 2, d, at, n, a) &&
             read_rows(w->d_tok, H5T_NATIVE_INT32, 1, 1, at, n, t) &&
             read_rows(w->d_doc, H5T_NATIVE_INT64, 1, 1, at, n, dd) &&
             read_rows(w->d_pos, H5T_NATIVE_INT32, 1, 1, at, n, p);
        if (ok) h = hash_rows(h, a, (size_t)(d * esz), t, dd, p, n);
    }
    H5Tclose(mt);
    free(a), free(t), free(p), free(dd);
    w->hash = h;
    return ok && h == want ? 0 : -1;
}

/* 0 = resumable, -1 = the partial file belongs to another job (err set; leave it alone),
 * -2 = the partial file is damaged (err set; start over). */
static int check_resume(sx_cache_writer *w, sx_err *err) {
    int64_t v = 0;
    char s[4096];
    const sx_cache_meta *m = &w->m;
    struct { const char *name; int64_t want; } ints[] = {
        {"d_in", m->d_in}, {"context_size", m->context_size}, {"drop_first", m->drop_first},
        {"prepend_bos", m->prepend_bos}, {"seed", (int64_t)m->seed},
        {"chunk_rows", w->chunk_rows}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (get_attr_i64(w->f, ints[i].name, &v))
            return sx_failc(err, SX_ECORRUPT, "attribute %s is unreadable", ints[i].name), -2;
        if (v != ints[i].want)
            return sx_failc(err, SX_EINVAL, "%s: cannot resume: %s is %lld in the file but %lld now", w->tmp,
                           ints[i].name, (long long)v, (long long)ints[i].want);
    }
    struct { const char *name; const char *want; } strs[] = {
        {"hook_name", m->hook_name}, {"model", m->model}, {"source", m->source},
        {"dtype", m->f16 ? "float16" : "float32"}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (get_attr_str(w->f, strs[i].name, s, sizeof s))
            return sx_failc(err, SX_ECORRUPT, "attribute %s is unreadable", strs[i].name), -2;
        if (strcmp(s, strs[i].want ? strs[i].want : ""))
            return sx_failc(err, SX_EINVAL, "%s: cannot resume: %s is '%s' in the file but '%s' now", w->tmp,
                           strs[i].name, s, strs[i].want ? strs[i].want : "");
    }
    int64_t hash;
    if (get_attr_i64(w->f, "rows_committed", &w->committed) || w->committed < 0 ||
        get_attr_i64(w->f, "rows_hash", &hash))
        return sx_failc(err, SX_ECORRUPT, "rows_committed / rows_hash unreadable"), -2;
    hid_t *ds[4] = {&w->d_act, &w->d_tok, &w->d_doc, &w->d_pos};
    const char *names[4] = {"activations", "token_ids", "doc_ids", "positions"};
    for (int i = 0; i < 4; i++) {
        *ds[i] = H5Dopen2(w->f, names[i], H5P_DEFAULT);
        if (*ds[i] < 0) return sx_failc(err, SX_ENOTFOUND, "no /%s", names[i]), -2;
        hid_t sp = H5Dget_space(*ds[i]);
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp);
        if ((int64_t)dims[0] < w->committed)
            return sx_failc(err, SX_ECORRUPT, "/%s has fewer rows than committed", names[i]), -2;
        dims[0] = (hsize_t)w->committed; /* drop rows written after the last record */
        dims[1] = (hsize_t)m->d_in;
        if (H5Dset_extent(*ds[i], dims) < 0)
            return sx_failc(err, SX_EIO, "cannot truncate /%s", names[i]), -2;
    }
    if (verify_rows(w, (uint64_t)hash)) return sx_failc(err, SX_ECORRUPT, "committed rows fail their checksum"), -2;
    set_attr_i64(w->f, "n_tokens_target", m->n_tokens_target);
    return 0;
}

static void close_h5(sx_cache_writer *w);

static int create_file(sx_cache_writer *w, sx_err *err) {
    w->committed = 0;
    w->hash = SX_FNV_OFFSET;
    w->f = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->f < 0) return sx_failc(err, SX_EIO, "%s: cannot create: %s", w->tmp, strerror(errno));
    w->fd = open(w->tmp, O_RDONLY);
    hid_t ft = w->m.f16 ? ds_h5_f16_type() : H5Tcopy(H5T_IEEE_F32LE);
    w->d_act = make_dset(w, "activations", ft, 2, w->m.d_in);
    H5Tclose(ft);
    w->d_tok = make_dset(w, "token_ids", H5T_STD_I32LE, 1, 1);
    w->d_doc = make_dset(w, "doc_ids", H5T_STD_I64LE, 1, 1);
    w->d_pos = make_dset(w, "positions", H5T_STD_I32LE, 1, 1);
    if (w->d_act < 0 || w->d_tok < 0 || w->d_doc < 0 || w->d_pos < 0 || write_meta(w) ||
        H5Fflush(w->f, H5F_SCOPE_LOCAL) < 0)
        return sx_failc(err, SX_EIO, "%s: cannot create the cache datasets", w->tmp);
    return 0;
}

/* The end-of-file address an HDF5 superblock at offset 0 records (versions 0-3, 8-byte
 * addresses), or 0 when it cannot be read. */
static uint64_t stored_eof(const char *path) {
    unsigned char sb[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t got = read(fd, sb, sizeof sb);
    close(fd);
    if (got < 52 || memcmp(sb, "\x89HDF\r\n\x1a\n", 8) != 0) return 0;
    int v = sb[8];
    size_t at = v == 0 ? 40 : v == 1 ? 44 : 28;
    if ((v <= 1 ? sb[13] : sb[9]) != 8 || v > 3) return 0;
    uint64_t e = 0;
    for (int i = 7; i >= 0; i--) e = e << 8 | sb[at + (size_t)i];
    return e;
}

/* A full disk stops the file short of the size its superblock already records, and HDF5
 * refuses to open it ("truncated file").  The rows committed before the failure were
 * flushed and fsynced before they were recorded, so extend the file to that size (a sparse
 * hole) and let check_resume verify them, instead of redoing the whole cache. */
static hid_t open_short_file(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f >= 0) return f;
    struct stat sb;
    uint64_t eof = stored_eof(path);
    if (!eof || stat(path, &sb) != 0 || (uint64_t)sb.st_size >= eof || eof > ((uint64_t)1 << 50) ||
        truncate(path, (off_t)eof) != 0)
        return -1;
    return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
}

static int open_file(sx_cache_writer *w, int resume, sx_err *err) {
    if (resume && sx_file_exists(w->tmp)) {
        int rc;
        w->f = open_short_file(w->tmp);
        if (w->f >= 0) w->fd = open(w->tmp, O_RDONLY);
        if (w->f < 0) {
            sx_fail(err, "not a readable HDF5 file");
            rc = -2;
        } else {
            rc = check_resume(w, err);
        }
        if (rc != -2) return rc;
        /* killed in the middle of a flush: the rows cannot be trusted, redo them */
        snprintf(w->note, sizeof w->note, "%s: damaged (%s; killed or out of space while flushing?): "
                 "starting over",
                 w->tmp, err->msg);
        close_h5(w);
    }
    return create_file(w, err);
}

static void close_h5(sx_cache_writer *w) {
    hid_t *ds[4] = {&w->d_act, &w->d_tok, &w->d_doc, &w->d_pos};
    for (int i = 0; i < 4; i++)
        if (*ds[i] >= 0) H5Dclose(*ds[i]), *ds[i] = -1;
    if (w->f >= 0) H5Fclose(w->f), w->f = -1;
    if (w->fd >= 0) close(w->fd), w->fd = -1;
}

static void free_writer(sx_cache_writer *w) {
    for (int k = 0; k < 2; k++) {
        free(w->st[k].acts);
        free(w->st[k].tok);
        free(w->st[k].pos);
        free(w->st[k].doc);
    }
    free(w->half);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static void stop_thread(sx_cache_writer *w) {
    if (!w->th_running) return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    w->th_running = 0;
}

int sx_cache_writer_open(const char *path, const sx_cache_meta *m, int resume,
                         sx_cache_writer **out, int64_t *rows_done, sx_err *err) {
    *out = NULL;
    ds_h5_quiet();
    if (m->d_in <= 0) return sx_failc(err, SX_EINVAL, "%s: d_in must be positive", path);
    sx_cache_writer *w = calloc(1, sizeof *w);
    if (!w) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->f = w->d_act = w->d_tok = w->d_doc = w->d_pos = -1;
    w->fd = -1;
    w->m = *m;
    snprintf(w->path, sizeof w->path, "%s", path);
    sx_cache_partial_path(path, w->tmp, sizeof w->tmp);
    w->chunk_rows = m->chunk_rows > 0 ? m->chunk_rows : 1024;
    /* ~GROUP_BYTES per hand-off, but at most 8 chunks so small models still commit often */
    int64_t per = (int64_t)(GROUP_BYTES / ((size_t)m->d_in * 4) / (size_t)w->chunk_rows);
    if (per > 8) per = 8;
    w->group_rows = w->chunk_rows * (per > 1 ? per : 1);
    size_t gr = (size_t)w->group_rows;
    for (int k = 0; k < 2; k++) {
        w->st[k].acts = malloc(sizeof(float) * gr * (size_t)m->d_in);
        w->st[k].tok = malloc(sizeof(int32_t) * gr);
        w->st[k].pos = malloc(sizeof(int32_t) * gr);
        w->st[k].doc = malloc(sizeof(int64_t) * gr);
        if (!w->st[k].acts || !w->st[k].tok || !w->st[k].pos || !w->st[k].doc) {
            free_writer(w);
            return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
        }
    }
    if (m->f16 && !(w->half = malloc(sizeof(uint16_t) * gr * (size_t)m->d_in))) {
        free_writer(w);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    }
    if (open_file(w, resume, err)) {
        close_h5(w);
        free_writer(w);
        return -1;
    }
    w->appended = w->committed;
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
        close_h5(w);
        free_writer(w);
        return sx_failc(err, SX_EIO, "%s: cannot start the writer thread", path);
    }
    w->th_running = 1;
    if (rows_done) *rows_done = w->committed;
    *out = w;
    return 0;
}

int sx_cache_writer_append(sx_cache_writer *w, const float *acts, const int32_t *token_ids,
                           const int64_t *doc_ids, const int32_t *positions, int64_t rows,
                           sx_err *err) {
    size_t d = (size_t)w->m.d_in;
    int64_t done = 0;
    while (done < rows) {
        stage *s = &w->st[w->cur];
        int64_t take = w->group_rows - s->n;
        if (take > rows - done) take = rows - done;
        memcpy(s->acts + (size_t)s->n * d, acts + (size_t)done * d, sizeof(float) * d * (size_t)take);
        for (int64_t i = 0; i < take; i++) {
            s->tok[s->n + i] = token_ids ? token_ids[done + i] : -1;
            s->doc[s->n + i] = doc_ids ? doc_ids[done + i] : -1;
            s->pos[s->n + i] = positions ? positions[done + i] : -1;
        }
        s->n += take;
        done += take;
        w->appended += take;
        if (s->n == w->group_rows && submit(w, err)) return -1;
    }
    return 0;
}

int64_t sx_cache_writer_rows(const sx_cache_writer *w) { return w->appended; }
const char *sx_cache_writer_note(const sx_cache_writer *w) { return w->note[0] ? w->note : NULL; }

int sx_cache_writer_flush(sx_cache_writer *w, sx_err *err) {
    if (w->st[w->cur].n > 0 && submit(w, err)) return -1;
    return wait_idle(w, err);
}

int sx_cache_writer_finish(sx_cache_writer *w, sx_err *err) {
    int rc = sx_cache_writer_flush(w, err);
    stop_thread(w);
    if (!rc && (set_attr_i64(w->f, "complete", 1) || H5Fflush(w->f, H5F_SCOPE_GLOBAL) < 0))
        rc = sx_failc(err, SX_EIO, "%s: cannot finalise the cache", w->tmp);
    close_h5(w);
    if (!rc) {
        int fd = open(w->tmp, 0);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        if (rename(w->tmp, w->path) != 0)
            rc = sx_failc(err, SX_EIO, "%s: cannot rename to %s: %s", w->tmp, w->path, strerror(errno));
    }
    if (rc) unlink(w->tmp);
    free_writer(w);
    return rc;
}

void sx_cache_writer_abort(sx_cache_writer *w, int keep) {
    if (!w) return;
    /* rows staged but not committed are dropped: resume regenerates them */
    wait_idle(w, NULL);
    stop_thread(w);
    close_h5(w);
    if (!keep || w->committed == 0) unlink(w->tmp); /* nothing worth resuming */
    free_writer(w);
}
