/* test_reader_hostile.c — an activation cache whose chunks are declared far larger than the
 * file (HDF5 reads a whole chunk into one buffer of that size: a 17 KB file made every read
 * allocate 4 GB; found by fuzz_cache_reader) is refused when opened, with a message naming
 * the file; ordinary chunking still opens. */
#include <hdf5.h>

#include "datasets.h"
#include "test.h"

static void make(const char *path, hsize_t chunk_rows, int deflate) {
    hsize_t dims[2] = {16, 8}, maxd[2] = {H5S_UNLIMITED, 8}, ch[2] = {chunk_rows, 8};
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(2, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, 2, ch);
    if (deflate) H5Pset_deflate(pl, 1);
    hid_t d = H5Dcreate2(f, "activations", H5T_IEEE_F32LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Dclose(d), H5Pclose(pl), H5Sclose(sp), H5Fclose(f);
}

int main(void) {
    const char *dir = test_tmpdir("ds_reader_hostile");
    char p[4200];
    sx_err err = {0};
    sx_cache_info info;
    struct { hsize_t rows; int deflate; int ok; } cases[] = {
        {1 << 20, 0, 0}, /* 32 MB unfiltered chunks in a file of a few KB */
        {1 << 26, 1, 0}, /* 2 GiB compressed chunks: over the 1 GiB cap */
        {4, 0, 1},       {1024, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(p, sizeof p, "%s/c%zu.h5", dir, i);
        make(p, cases[i].rows, cases[i].deflate);
        err.msg[0] = 0;
        int rc = sx_cache_info_read(p, &info, &err);
        if (cases[i].ok)
            CHECK(rc == 0 && info.rows == 16 && info.d_in == 8, "chunks of %llu rows open: %s",
                  (unsigned long long)cases[i].rows, err.msg);
        else
            CHECK(rc == -1 && strstr(err.msg, p) && strstr(err.msg, "chunks of"), "chunks of %llu rows: %s",
                  (unsigned long long)cases[i].rows, err.msg);
        sx_act_reader *r = NULL;
        const char *paths[1] = {p};
        sx_act_reader_opts o = {0};
        rc = sx_act_reader_open(paths, 1, &o, &r, &err);
        CHECK((rc == 0) == cases[i].ok, "reader on chunks of %llu rows: rc %d %s", (unsigned long long)cases[i].rows,
              rc, rc ? err.msg : "");
        sx_act_reader_close(r);
    }
    return TEST_DONE();
}
