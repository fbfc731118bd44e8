/* fuzz_cache_reader.c — an HDF5 activation cache: sx_cache_info_read, then the training reader
 * (sequential and shuffled) over its rows. */
#include <hdf5.h>

#include "datasets.h"
#include "fuzz_util.h"

/* HDF5 keeps freed blocks on its own free lists; libFuzzer then sees more mallocs than frees
 * in every run and stops the world for a leak scan each time (6 runs/s).  Hand the lists
 * back after each input. */
static int run(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    run(d, n);
    /* every file, dataset, type and space the readers opened must be closed again */
    ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    hsize_t spaces = 0;
    H5Inmembers(H5I_DATASPACE, &spaces);
    if (open_ids > 0 || spaces > 0) {
        fprintf(stderr, "HDF5 ids left open: %zd objects, %llu dataspaces\n", open_ids,
                (unsigned long long)spaces);
        abort();
    }
    H5garbage_collect();
    return 0;
}

static int run(const uint8_t *d, size_t n) {
    const char *p = fz_file("c.h5", d, n);
    sx_err e = {0};
    sx_cache_info info;
    int rc = sx_cache_info_read(p, &info, &e);
    fz_check_err(rc, &e);
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        sx_act_reader_opts o = {.seed = 1, .shuffle_rows = shuffle ? 64 : 0, .loop = 0};
        sx_act_reader *r = NULL;
        const char *paths[1] = {p};
        rc = sx_act_reader_open(paths, 1, &o, &r, &e);
        fz_check_err(rc, &e);
        if (rc) return 0;
        int dd = sx_act_reader_d_in(r);
        if (dd > 0 && dd <= 4096) {
            float *buf = malloc(sizeof(float) * (size_t)dd * 64);
            int64_t got, total = 0;
            while ((got = sx_act_reader_next(r, buf, 64, &e)) > 0 && (total += got) < 100000) {}
            fz_check_err(got < 0, &e);
            free(buf);
        }
        sx_act_reader_close(r);
    }
    return 0;
}
