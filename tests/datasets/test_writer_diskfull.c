/* test_writer_diskfull.c — the disk fills up while the cache is written (simulated with
 * RLIMIT_FSIZE: writes past the limit fail with EFBIG, as they would with ENOSPC), at each of
 * many file sizes; then `--resume` continues the partial file.  Whatever the failure point,
 * the finished cache must hold exactly the rows written: every committed row of every
 * dataset intact (a resume once trusted a file whose /positions were zero in 378 rows, as
 * rows_committed reached the disk before the data did and the checksum left positions out),
 * or the partial rejected and redone. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "datasets.h"
#include "test.h"

#define D 64
#define ROWS 12000
#define BATCH 100

static float act(int64_t r, int j) { return (float)((r * 7 + j * 3) % 1000) * 0.125f; } /* exact in f16 */
static int32_t tok(int64_t r) { return (int32_t)(r % 50000) + 1; }
static int64_t doc(int64_t r) { return r / 97 + 1; }
static int32_t pos(int64_t r) { return (int32_t)(r % 97) + 1; }

static int append_from(sx_cache_writer *w, int64_t from, sx_err *err) {
    static float x[BATCH * D];
    int32_t t[BATCH], p[BATCH];
    int64_t dd[BATCH];
    for (int64_t at = from; at < ROWS; at += BATCH) {
        int64_t n = ROWS - at < BATCH ? ROWS - at : BATCH;
        for (int64_t i = 0; i < n; i++) {
            for (int j = 0; j < D; j++) x[i * D + j] = act(at + i, j);
            t[i] = tok(at + i), p[i] = pos(at + i), dd[i] = doc(at + i);
        }
        if (sx_cache_writer_append(w, x, t, dd, p, n, err)) return -1;
    }
    return 0;
}

static hid_t f16_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

/* Every dataset of the finished cache against the generator; the first bad row or -1. */
static int64_t first_bad_row(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    float *a = malloc(sizeof(float) * ROWS * D);
    int32_t *t = malloc(sizeof(int32_t) * ROWS), *p = malloc(sizeof(int32_t) * ROWS);
    int64_t *dd = malloc(sizeof(int64_t) * ROWS), bad = -1;
    hid_t da = H5Dopen2(f, "activations", H5P_DEFAULT), dt = H5Dopen2(f, "token_ids", H5P_DEFAULT);
    hid_t dp = H5Dopen2(f, "positions", H5P_DEFAULT), ddo = H5Dopen2(f, "doc_ids", H5P_DEFAULT);
    hsize_t dims[2] = {0, 0};
    hid_t sp = H5Dget_space(da);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    if (dims[0] != ROWS || H5Dread(da, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) < 0 ||
        H5Dread(dt, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, t) < 0 ||
        H5Dread(dp, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, p) < 0 ||
        H5Dread(ddo, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, dd) < 0)
        bad = 0;
    for (int64_t r = 0; bad < 0 && r < ROWS; r++) {
        int ok = t[r] == tok(r) && p[r] == pos(r) && dd[r] == doc(r);
        for (int j = 0; ok && j < D; j++) ok = a[r * D + j] == act(r, j);
        if (!ok) bad = r;
    }
    H5Dclose(da), H5Dclose(dt), H5Dclose(dp), H5Dclose(ddo), H5Fclose(f);
    free(a), free(t), free(p), free(dd);
    return bad;
}

/* Zero rows [from, to) of a 1-D dataset of a closed file, as the failed flush left /positions. */
static void zero_rows(const char *path, const char *name, hid_t mt, size_t esz, int64_t from, int64_t to) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), d = H5Dopen2(f, name, H5P_DEFAULT);
    hsize_t off = (hsize_t)from, cnt = (hsize_t)(to - from);
    void *z = calloc((size_t)cnt, esz);
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    CHECK(H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, z) >= 0, "zeroing %s", name);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d), H5Fclose(f);
    free(z);
}

/* A partial file whose committed rows lost their /positions or /doc_ids (what a full disk
 * left in the report: zeros in 378 rows) must not be resumed into a "complete" cache. */
static void damaged_dataset(const char *out, const char *part, const sx_cache_meta *m, const char *name) {
    sx_cache_writer *w;
    sx_err err = {0};
    unlink(out), unlink(part);
    CHECK(sx_cache_writer_open(out, m, 0, &w, NULL, &err) == 0, "open: %s", err.msg);
    /* three committed groups of 1024 rows, then a "crash" */
    static float x[BATCH * D];
    int32_t t[BATCH], p[BATCH];
    int64_t dd[BATCH];
    for (int64_t at = 0; at < 3100; at += BATCH) {
        for (int64_t i = 0; i < BATCH; i++) {
            for (int j = 0; j < D; j++) x[i * D + j] = act(at + i, j);
            t[i] = tok(at + i), p[i] = pos(at + i), dd[i] = doc(at + i);
        }
        sx_cache_writer_append(w, x, t, dd, p, BATCH, &err);
    }
    sx_cache_writer_flush(w, &err);
    sx_cache_writer_abort(w, 1);
    if (!strcmp(name, "positions")) zero_rows(part, name, H5T_NATIVE_INT32, 4, 1500, 1878);
    else zero_rows(part, name, H5T_NATIVE_INT64, 8, 1500, 1878);
    int64_t done = -1;
    CHECK(sx_cache_writer_open(out, m, 1, &w, &done, &err) == 0, "resume: %s", err.msg);
    CHECK(done == 0 && sx_cache_writer_note(w) && strstr(sx_cache_writer_note(w), "checksum"),
          "/%s zeroed in 378 committed rows: resumed at %lld (note: %s)", name, (long long)done,
          sx_cache_writer_note(w) ? sx_cache_writer_note(w) : "none");
    CHECK(append_from(w, done, &err) == 0 && sx_cache_writer_finish(w, &err) == 0, "finish: %s", err.msg);
    int64_t bad = first_bad_row(out);
    CHECK(bad < 0, "/%s damaged: the finished cache is wrong from row %lld", name, (long long)bad);
}

int main(void) {
    const char *dir = test_tmpdir("ds_writer_diskfull");
    char out[4200], part[4300];
    snprintf(out, sizeof out, "%s/c.h5", dir);
    sx_cache_partial_path(out, part, sizeof part);
    sx_cache_meta m = {.d_in = D, .f16 = 1, .chunk_rows = 128, .hook_name = "blocks.1.hook_resid_pre",
                       .model = "m", .source = "text:x", .context_size = 97, .n_tokens_target = ROWS};
    (void)f16_type;
    damaged_dataset(out, part, &m, "positions");
    damaged_dataset(out, part, &m, "doc_ids");
    int n_limits = 0, n_failed = 0, n_resumed = 0, n_redone = 0;
    /* the full file is ~1.7 MB; run out of space at 40 points from 16 KB to ~1.7 MB */
    for (long limit = 16 << 10; limit < (1730 << 10); limit += 43 << 10, n_limits++) {
        unlink(out), unlink(part);
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            signal(SIGXFSZ, SIG_IGN); /* then write() fails with EFBIG instead of killing us */
            struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
            setrlimit(RLIMIT_FSIZE, &rl);
            sx_cache_writer *w;
            sx_err e = {0};
            if (sx_cache_writer_open(out, &m, 0, &w, NULL, &e)) _exit(2);
            if (append_from(w, 0, &e)) {
                if (getenv("DISKFULL_VERBOSE")) fprintf(stderr, "limit %ld: %s\n", limit, e.msg);
                sx_cache_writer_abort(w, 1);
                _exit(1);
            }
            if (sx_cache_writer_finish(w, &e)) {
                if (getenv("DISKFULL_VERBOSE")) fprintf(stderr, "limit %ld (finish): %s\n", limit, e.msg);
                _exit(1);
            }
            _exit(0);
        }
        int st = 0;
        waitpid(c, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 2) {
            CHECK(0, "limit %ld: writer crashed or could not open (status %d)", limit, st);
            continue;
        }
        if (WEXITSTATUS(st) == 0) continue; /* fitted */
        n_failed++;
        if (!sx_file_exists(part)) continue; /* nothing committed: nothing to resume */
        sx_cache_writer *w;
        sx_err err = {0};
        int64_t done = -1;
        if (sx_cache_writer_open(out, &m, 1, &w, &done, &err)) {
            CHECK(0, "limit %ld: resume failed: %s", limit, err.msg);
            continue;
        }
        if (sx_cache_writer_note(w)) n_redone++;
        if (sx_cache_writer_note(w) && getenv("DISKFULL_VERBOSE"))
            fprintf(stderr, "limit %ld: %s\n", limit, sx_cache_writer_note(w));
        else n_resumed++;
        CHECK(done >= 0 && done <= ROWS,
              "limit %ld: resumed at %lld", limit, (long long)done);
        int rc = append_from(w, done, &err) || sx_cache_writer_finish(w, &err);
        CHECK(rc == 0, "limit %ld: finishing after resume: %s", limit, err.msg);
        if (rc) continue;
        int64_t bad = first_bad_row(out);
        CHECK(bad < 0, "limit %ld: resumed at row %lld, the finished cache is wrong from row %lld", limit,
              (long long)done, (long long)bad);
    }
    printf("%d limits: %d ran out of space, %d resumed, %d partial files rejected and redone\n", n_limits,
           n_failed, n_resumed, n_redone);
    CHECK(n_failed > 30 && n_resumed > 20, "the sweep exercised resumes");
    return TEST_DONE();
}
