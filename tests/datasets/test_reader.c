/* test_reader.c — the activation-cache reader: f32/f16/chunked/contiguous caches written
 * here with the plain HDF5 C API (no saetox attributes), determinism, every row exactly once
 * per epoch, loop, skip == read-and-discard, norm statistic, and bad inputs. */
#include <hdf5.h>
#include <math.h>

#include "datasets.h"
#include "test.h"

/* Row i of file k holds value base+i in column 0 and (base+i)*0.5 + j in column j. */
static void make_cache(const char *path, int64_t rows, int d, int f16, int64_t chunk, int base) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)d};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk > 0 && rows > 0) {
        hsize_t c[2] = {(hsize_t)chunk, (hsize_t)d};
        H5Pset_chunk(pl, 2, c);
    }
    hid_t ft = f16 ? H5Tcopy(H5T_IEEE_F32LE) : H5Tcopy(H5T_IEEE_F32LE);
    if (f16) {
        H5Tset_fields(ft, 15, 10, 5, 0, 10);
        H5Tset_size(ft, 2);
        H5Tset_ebias(ft, 15);
    }
    hid_t ds = H5Dcreate2(f, "activations", ft, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    float *x = malloc(sizeof(float) * (size_t)(rows ? rows : 1) * d);
    for (int64_t i = 0; i < rows; i++)
        for (int j = 0; j < d; j++) x[i * d + j] = j == 0 ? (float)(base + i) : (float)((base + i) % 64) * 0.5f + j;
    if (rows) H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    free(x);
    H5Tclose(ft);
    H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
    H5Fclose(f);
}

static void make_bad(const char *path, int kind) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {10, 4};
    hid_t sp = H5Screate_simple(kind == 0 ? 1 : 2, dims, NULL);
    hid_t ty = kind == 1 ? H5T_STD_I32LE : H5T_IEEE_F32LE;
    hid_t ds = H5Dcreate2(f, kind == 2 ? "other" : "activations", ty, sp, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
}

/* Read one full epoch and return the column-0 values. */
static float *read_all(const char *const *paths, int n, sx_act_reader_opts o, int64_t batch,
                       int64_t *count) {
    sx_act_reader *r;
    sx_err err;
    if (sx_act_reader_open(paths, n, &o, &r, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    int d = sx_act_reader_d_in(r);
    int64_t total = sx_act_reader_rows(r);
    float *col = malloc(sizeof(float) * (size_t)total), *buf = malloc(sizeof(float) * batch * d);
    int64_t c = 0, got;
    while ((got = sx_act_reader_next(r, buf, batch, &err)) > 0) {
        for (int64_t i = 0; i < got && c < total; i++) col[c++] = buf[i * d];
        if (c >= total && o.loop) break;
    }
    if (got < 0) fprintf(stderr, "%s\n", err.msg);
    free(buf);
    sx_act_reader_close(r);
    *count = c;
    return col;
}

static int covers_once(const float *col, int64_t n, int64_t total) {
    char *seen = calloc((size_t)total, 1);
    int ok = n == total;
    for (int64_t i = 0; i < n && ok; i++) {
        int64_t v = (int64_t)col[i];
        if (v < 0 || v >= total || seen[v]) ok = 0;
        else seen[v] = 1;
    }
    free(seen);
    return ok;
}

int main(void) {
    const char *dir = test_tmpdir("ds_reader");
    char a[4200], b[4200], c[4200], bad[4200];
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(b, sizeof b, "%s/b.h5", dir);
    snprintf(c, sizeof c, "%s/c16.h5", dir);
    make_cache(a, 3000, 16, 0, 100, 0);    /* chunked f32 */
    make_cache(b, 1500, 16, 0, 0, 3000);   /* contiguous f32 */
    sx_err err;
    const char *ab[2] = {a, b};

    /* sequential: exact order */
    sx_act_reader_opts seq = {0};
    int64_t n;
    float *col = read_all(ab, 2, seq, 77, &n);
    CHECK(col && n == 4500, "sequential count %lld", (long long)n);
    int inorder = 1;
    for (int64_t i = 0; col && i < n; i++) inorder &= col[i] == (float)i;
    CHECK(inorder, "sequential order");
    free(col);

    /* shuffled: every row once, deterministic, seed-dependent */
    sx_act_reader_opts sh = {.seed = 7, .shuffle_rows = 500};
    float *c1 = read_all(ab, 2, sh, 64, &n);
    CHECK(c1 && covers_once(c1, n, 4500), "shuffle covers every row once");
    float *c2 = read_all(ab, 2, sh, 300, &n);
    CHECK(c2 && memcmp(c1, c2, sizeof(float) * 4500) == 0, "same seed, other batch: same order");
    sh.seed = 8;
    float *c3 = read_all(ab, 2, sh, 64, &n);
    CHECK(c3 && memcmp(c1, c3, sizeof(float) * 4500) != 0, "other seed: other order");
    int moved = 0;
    for (int i = 0; i < 4500 && c1; i++) moved += c1[i] != (float)i;
    CHECK(moved > 4000, "shuffle moved %d rows", moved);
    free(c2);
    free(c3);

    /* rows and values of the whole row survive */
    {
        sx_act_reader *r;
        sh.seed = 7;
        CHECK(sx_act_reader_open(ab, 2, &sh, &r, &err) == 0, "open: %s", err.msg);
        CHECK(sx_act_reader_d_in(r) == 16 && sx_act_reader_rows(r) == 4500, "d_in/rows");
        float buf[10 * 16];
        CHECK(sx_act_reader_next(r, buf, 10, &err) == 10, "next 10");
        int ok = 1;
        for (int i = 0; i < 10; i++) {
            int64_t v = (int64_t)buf[i * 16];
            for (int j = 1; j < 16; j++) ok &= buf[i * 16 + j] == (float)(v % 64) * 0.5f + j;
        }
        CHECK(ok, "row contents intact");
        /* skip: same as reading and discarding */
        CHECK(sx_act_reader_skip(r, 1234, &err) == 0, "skip");
        CHECK(sx_act_reader_next(r, buf, 10, &err) == 10, "next after skip");
        int same = 1;
        for (int i = 0; i < 10; i++) same &= buf[i * 16] == c1[1244 + i];
        CHECK(same, "skip lands on row 1244 of the epoch order");
        sx_act_reader_close(r);
    }
    /* loop: epoch 2 is a permutation too, different from epoch 1, and skip crosses epochs */
    {
        sx_act_reader *r;
        sx_act_reader_opts lo = {.seed = 7, .shuffle_rows = 500, .loop = 1};
        CHECK(sx_act_reader_open(ab, 2, &lo, &r, &err) == 0, "open loop");
        float *buf = malloc(sizeof(float) * 9000 * 16);
        CHECK(sx_act_reader_next(r, buf, 9000, &err) == 9000, "loop reads two epochs");
        float *e2 = malloc(sizeof(float) * 4500);
        int same1 = 1;
        for (int i = 0; i < 4500; i++) {
            e2[i] = buf[(4500 + i) * 16];
            same1 &= buf[i * 16] == c1[i];
        }
        CHECK(same1, "loop epoch 1 == non-loop order");
        CHECK(covers_once(e2, 4500, 4500), "epoch 2 covers every row once");
        CHECK(memcmp(e2, c1, sizeof(float) * 4500) != 0, "epoch 2 reshuffled");
        sx_act_reader_close(r);
        CHECK(sx_act_reader_open(ab, 2, &lo, &r, &err) == 0, "reopen loop");
        CHECK(sx_act_reader_skip(r, 6000, &err) == 0, "skip into epoch 2");
        CHECK(sx_act_reader_next(r, buf, 5, &err) == 5, "next");
        int ok = 1;
        for (int i = 0; i < 5; i++) ok &= buf[i * 16] == e2[1500 + i];
        CHECK(ok, "skip across epochs");
        sx_act_reader_close(r);
        free(buf);
        free(e2);
    }
    /* non-loop end: short read then 0 */
    {
        sx_act_reader *r;
        CHECK(sx_act_reader_open(ab, 2, &seq, &r, &err) == 0, "open");
        float *buf = malloc(sizeof(float) * 4000 * 16);
        CHECK(sx_act_reader_next(r, buf, 4000, &err) == 4000, "4000");
        CHECK(sx_act_reader_next(r, buf, 4000, &err) == 500, "short 500");
        CHECK(sx_act_reader_next(r, buf, 4000, &err) == 0, "then 0");
        free(buf);
        sx_act_reader_close(r);
    }
    free(c1);

    /* float16 cache */
    make_cache(c, 2000, 8, 1, 256, 0);
    const char *cc[1] = {c};
    col = read_all(cc, 1, seq, 100, &n);
    inorder = col && n == 2000;
    for (int64_t i = 0; col && i < n; i++) inorder &= col[i] == (float)i;
    CHECK(inorder, "f16 sequential values");
    free(col);
    sh.seed = 3;
    col = read_all(cc, 1, sh, 128, &n);
    CHECK(col && covers_once(col, n, 2000), "f16 shuffle covers all");
    free(col);

    /* norm statistic: exact for a constant-norm cache */
    {
        char p[4200];
        snprintf(p, sizeof p, "%s/norm.h5", dir);
        hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[2] = {1000, 4};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(f, "activations", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                              H5P_DEFAULT);
        float *x = malloc(sizeof(float) * 4000);
        for (int i = 0; i < 1000; i++) {
            float s = i < 500 ? 3.0f : 1.0f; /* norms 6 then 2: mean 4 only if rows count once */
            for (int j = 0; j < 4; j++) x[i * 4 + j] = (j % 2 ? -s : s);
        }
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
        free(x);
        H5Dclose(ds);
        H5Sclose(sp);
        H5Fclose(f);
        const char *pp[1] = {p};
        double mn = 0, sc = 0;
        CHECK(sx_act_mean_norm(pp, 1, 0, &mn, &sc, &err) == 0, "norm: %s", err.msg);
        CHECK_NEAR(mn, 4.0, 1e-9, "mean norm (all rows)");
        CHECK_NEAR(sc, 0.5, 1e-9, "scale sqrt(4)/4");
        CHECK(sx_act_mean_norm(pp, 1, 512, &mn, &sc, &err) == 0, "norm sample");
        CHECK_NEAR(mn, 4.0, 1e-9, "mean norm (sample of two windows, one per half)");
        const char *two[2] = {p, p};
        CHECK(sx_act_mean_norm(two, 2, 0, &mn, &sc, &err) == 0, "norm two files");
        CHECK_NEAR(mn, 4.0, 1e-9, "mean norm (two files)");
    }

    /* caches written by h5py with nothing but /activations (f32 chunked+gzip, f16 default) */
    {
        char cmd[9000], p32[4200], p16[4200];
        snprintf(p32, sizeof p32, "%s/h5py32.h5", dir);
        snprintf(p16, sizeof p16, "%s/h5py16.h5", dir);
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import h5py,numpy as np,sys\n"
                 "x=np.zeros((1000,24),np.float32); x[:,0]=np.arange(1000); x[:,1:]=np.arange(23)*0.25\n"
                 "h5py.File(sys.argv[1],'w').create_dataset('activations',data=x,chunks=(64,24),compression='gzip')\n"
                 "h5py.File(sys.argv[2],'w')['activations']=x.astype(np.float16)\" '%s' '%s' 2>/dev/null",
                 p32, p16);
        if (system(cmd) != 0) {
            printf("note: /usr/bin/python3 with h5py unavailable; skipping the h5py-written caches\n");
        } else {
            const char *hp[2] = {p32, p16};
            for (int k = 0; k < 2; k++) {
                float *cl = read_all(hp + k, 1, seq, 100, &n);
                int ok = cl && n == 1000;
                for (int64_t i = 0; ok && i < n; i++) ok = cl[i] == (float)i;
                CHECK(ok, "h5py %s cache read in order", k ? "f16" : "f32");
                free(cl);
                sx_act_reader *hr;
                sx_act_reader_opts so = {.seed = 1, .shuffle_rows = 256};
                CHECK(sx_act_reader_open(hp + k, 1, &so, &hr, &err) == 0, "open h5py: %s", err.msg);
                float row[24 * 3];
                CHECK(sx_act_reader_next(hr, row, 3, &err) == 3, "next");
                CHECK(row[24 + 5] == 1.0f && row[48 + 23] == 5.5f, "h5py row contents");
                sx_act_reader_close(hr);
            }
            sx_cache_info info;
            CHECK(sx_cache_info_read(p16, &info, &err) == 0 && info.rows == 1000 && info.d_in == 24 &&
                      info.elem_size == 2 && !info.complete && !info.hook_name[0], "info of a bare cache");
        }
    }

    /* bad inputs: one line naming the file */
    sx_act_reader *r = NULL;
    snprintf(bad, sizeof bad, "%s/corrupt.h5", dir);
    FILE *fp = fopen(bad, "wb");
    fputs("this is not an HDF5 file at all\n", fp);
    fclose(fp);
    const char *p1[1] = {bad};
    CHECK(sx_act_reader_open(p1, 1, &seq, &r, &err) == -1 && strstr(err.msg, bad) &&
              strstr(err.msg, "HDF5") && !strchr(err.msg, '\n'),
          "corrupt: %s", err.msg);
    snprintf(bad, sizeof bad, "%s/zero.h5", dir);
    make_cache(bad, 0, 8, 0, 0, 0);
    CHECK(sx_act_reader_open(p1, 1, &seq, &r, &err) == -1 && strstr(err.msg, "0 rows"),
          "zero rows: %s", err.msg);
    snprintf(bad, sizeof bad, "%s/rank1.h5", dir);
    make_bad(bad, 0);
    CHECK(sx_act_reader_open(p1, 1, &seq, &r, &err) == -1 && strstr(err.msg, "rank"),
          "rank: %s", err.msg);
    snprintf(bad, sizeof bad, "%s/int.h5", dir);
    make_bad(bad, 1);
    CHECK(sx_act_reader_open(p1, 1, &seq, &r, &err) == -1 && strstr(err.msg, "non-float"),
          "int dtype: %s", err.msg);
    snprintf(bad, sizeof bad, "%s/noact.h5", dir);
    make_bad(bad, 2);
    CHECK(sx_act_reader_open(p1, 1, &seq, &r, &err) == -1 && strstr(err.msg, "/activations"),
          "missing: %s", err.msg);
    snprintf(bad, sizeof bad, "%s/missing.h5", dir);
    CHECK(sx_act_reader_open(p1, 1, &seq, &r, &err) == -1 && strstr(err.msg, "no such file"),
          "absent: %s", err.msg);
    const char *mix[2] = {a, c};
    CHECK(sx_act_reader_open(mix, 2, &seq, &r, &err) == -1 && strstr(err.msg, a) &&
              strstr(err.msg, c) && strstr(err.msg, "d_in"),
          "d_in mismatch: %s", err.msg);
    return TEST_DONE();
}
