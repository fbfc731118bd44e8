/* cache_shard.c — the activation cache split over MPI ranks (cache_shard.h).
 *
 * Each rank regenerates the whole window stream (tokenisation only, as a resume does) and runs
 * the forward pass on the batches that hold its rows, so shard K is bit for bit rows
 * T*K/N .. T*(K+1)/N - 1 of the one-process cache (the batch composition is the same; a
 * batch that straddles two shards is run by both, at most one batch of extra work per rank).
 * Rank 0 then writes F.h5: four virtual datasets mapping shard K's rows to their place, the
 * shards named relative to F.h5's folder (HDF5 looks for them there), so the folder can move as
 * a whole.  Under mpirun the shards must be on a filesystem every rank sees. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_shard.h"
#include "ds_internal.h"
#include "sx_mpi.h"

void sx_cache_shard_path(const char *out, int k, int n, char *buf, size_t size) {
    size_t l = strlen(out);
    int strip = l > 3 && strcmp(out + l - 3, ".h5") == 0;
    snprintf(buf, size, "%.*s.shard-%d-of-%d.h5", (int)(strip ? l - 3 : l), out, k, n);
}

/* Copy every root attribute of `from` to `to` (the shard's metadata becomes the cache's). */
static herr_t copy_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
    (void)info;
    hid_t to = *(hid_t *)op;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    size_t sz = H5Tget_size(t) * (size_t)(n > 0 ? n : 1);
    void *buf = calloc(1, sz);
    herr_t st = buf ? H5Aread(a, t, buf) : -1;
    if (st >= 0) {
        hid_t b = H5Acreate2(to, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        st = b >= 0 ? H5Awrite(b, t, buf) : -1;
        if (b >= 0) H5Aclose(b);
        if (H5Tdetect_class(t, H5T_STRING) > 0 && H5Tis_variable_str(t) > 0) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
    }
    free(buf);
    H5Sclose(sp), H5Tclose(t), H5Aclose(a);
    return st < 0 ? -1 : 0;
}

static int set_i64(hid_t f, const char *name, int64_t v) {
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT64, &v) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return st < 0 ? -1 : 0;
}

/* One virtual dataset: shard k's /name rows go to [off_k, off_k + rows_k). */
static int virtual_dset(hid_t f, const char *name, hid_t type, int rank, int64_t d, int n, char names[][4200],
                        const int64_t *rows) {
    int64_t total = 0;
    for (int k = 0; k < n; k++) total += rows[k];
    hsize_t dims[2] = {(hsize_t)total, (hsize_t)d};
    hid_t vs = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = 0;
    int64_t off = 0;
    for (int k = 0; k < n && !rc; k++) {
        if (rows[k] == 0) continue;
        hsize_t o[2] = {(hsize_t)off, 0}, c[2] = {(hsize_t)rows[k], (hsize_t)d};
        hid_t ss = H5Screate_simple(rank, c, NULL);
        rc = H5Sselect_hyperslab(vs, H5S_SELECT_SET, o, NULL, c, NULL) < 0 ||
             H5Pset_virtual(dcpl, vs, names[k], name, ss) < 0;
        H5Sclose(ss);
        off += rows[k];
    }
    H5Sselect_all(vs);
    hid_t ds = rc ? -1 : H5Dcreate2(f, name, type, vs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0) rc = -1;
    else H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(vs);
    return rc;
}

/* Rank 0: F.h5 (through F.h5.partial and a rename) over the n shards. */
static int write_vds(const char *out, int n, const int64_t *rows, sx_err *err) {
    ds_h5_quiet();
    char(*names)[4200] = calloc((size_t)n, sizeof *names), first[4200], tmp[4200];
    if (!names) return sx_failc(err, SX_ENOMEM, "%s: out of memory", out);
    for (int k = 0; k < n; k++) { /* relative to F.h5's folder: HDF5 searches there */
        char p[4200];
        sx_cache_shard_path(out, k, n, p, sizeof p);
        snprintf(names[k], sizeof names[k], "%s", basename(p));
    }
    sx_cache_shard_path(out, 0, n, first, sizeof first);
    sx_cache_partial_path(out, tmp, sizeof tmp);
    int rc = -1;
    hid_t src = H5Fopen(first, H5F_ACC_RDONLY, H5P_DEFAULT), f = -1, da = -1, ta = -1;
    if (src < 0) {
        sx_failc(err, SX_EIO, "%s: cannot open the first shard", first);
        goto done;
    }
    da = H5Dopen2(src, "activations", H5P_DEFAULT);
    ta = da >= 0 ? H5Dget_type(da) : -1;
    hid_t sp = da >= 0 ? H5Dget_space(da) : -1;
    hsize_t dims[2] = {0, 0};
    if (sp >= 0) H5Sget_simple_extent_dims(sp, dims, NULL), H5Sclose(sp);
    if (ta < 0 || dims[1] == 0) {
        sx_failc(err, SX_ECORRUPT, "%s: no usable /activations", first);
        goto done;
    }
    unlink(tmp);
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        sx_failc(err, SX_EIO, "%s: cannot create", tmp);
        goto done;
    }
    int64_t total = 0;
    for (int k = 0; k < n; k++) total += rows[k];
    hsize_t idx = 0;
    if (H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, copy_attr, &f) < 0 ||
        virtual_dset(f, "activations", ta, 2, (int64_t)dims[1], n, names, rows) ||
        virtual_dset(f, "token_ids", H5T_STD_I32LE, 1, 1, n, names, rows) ||
        virtual_dset(f, "doc_ids", H5T_STD_I64LE, 1, 1, n, names, rows) ||
        virtual_dset(f, "positions", H5T_STD_I32LE, 1, 1, n, names, rows) ||
        set_i64(f, "rows_committed", total) || set_i64(f, "complete", 1) || set_i64(f, "shards", n) ||
        (H5Aexists(f, "rows_hash") > 0 && H5Adelete(f, "rows_hash") < 0) || H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
        sx_failc(err, SX_EIO, "%s: cannot write the virtual datasets over the %d shards", tmp, n);
        goto done;
    }
    H5Fclose(f);
    f = -1;
    if (rename(tmp, out) != 0) {
        sx_failc(err, SX_EIO, "%s: cannot rename to %s", tmp, out);
        goto done;
    }
    rc = 0;
done:
    if (f >= 0) H5Fclose(f);
    if (rc) unlink(tmp);
    if (ta >= 0) H5Tclose(ta);
    if (da >= 0) H5Dclose(da);
    if (src >= 0) H5Fclose(src);
    free(names);
    return rc;
}

int sx_cache_run_sharded(sx_model *m, const sx_tokenizer *tok, const sx_cache_job *J, sx_cache_result *res,
                         sx_err *err) {
    const int n = sx_mpi_size(), k = sx_mpi_rank();
    memset(res, 0, sizeof *res);
    char shard[4200];
    sx_cache_shard_path(J->out, k, n, shard, sizeof shard);
    const int64_t lo = J->tokens * k / n, hi = J->tokens * (k + 1) / n;
    int rc = 0;
    if (hi <= lo)
        rc = sx_failc(err, SX_EINVAL, "%s: --tokens %lld gives rank %d no rows over %d ranks", J->out,
                      (long long)J->tokens, k, n);
    sx_cache_job J2 = *J;
    J2.out = shard;
    J2.progress = J->progress && k == 0; /* rank 0's share stands for the whole */
    sx_cache_info info;
    int kept = 0;
    if (!rc && J->resume && sx_file_exists(shard) && sx_cache_info_read(shard, &info, NULL) == 0 && info.complete &&
        info.rows == hi - lo) {
        kept = 1; /* finished before the interruption */
        res->rows = info.rows, res->resumed_from = info.rows;
    }
    if (!rc && !kept) { /* can this rank write its shard at all?  Ask before anyone works */
        char part[4300];
        sx_cache_partial_path(shard, part, sizeof part);
        int existed = sx_file_exists(part);
        FILE *t = fopen(part, "ab");
        if (!t) rc = sx_failc(err, sx_code_from_errno(errno), "%s: cannot open this rank's shard for writing: %s", part, strerror(errno));
        else {
            fclose(t);
            if (!existed) unlink(part);
        }
    }
    if (sx_mpi_check(rc, err)) return -1;
    if (!rc && !kept) rc = ds_cache_run_range(m, tok, &J2, lo, hi, res, err);
    if (!rc && res->stopped) rc = 0;
    if (sx_mpi_check(rc, err)) return -1;
    /* what every shard holds: F.h5 maps them in rank order */
    int64_t mine[4] = {res->rows, res->fresh_rows, res->stopped, res->exhausted}, all[4 * n];
    sx_mpi_allgather(mine, sizeof mine, all);
    int64_t rows[n];
    int stopped = 0;
    for (int q = 0; q < n; q++) rows[q] = all[4 * q], stopped |= all[4 * q + 2] != 0;
    for (int q = 0; q + 1 < n; q++) /* a shard that ran out must be the last with rows */
        if (all[4 * q + 3] && rows[q + 1] > 0) rc = sx_failc(err, SX_ECORRUPT, "%s: shard %d ran out of data but shard %d has rows", J->out, q, q + 1);
    if (!rc && !stopped && k == 0) rc = write_vds(J->out, n, rows, err);
    if (sx_mpi_check(rc, err)) return -1;
    double sec = res->seconds;
    sx_mpi_allreduce_d(&sec, 1, SX_MPI_MAX);
    res->seconds = sec;
    res->rows = res->fresh_rows = 0;
    res->exhausted = 0;
    for (int q = 0; q < n; q++) res->rows += rows[q], res->fresh_rows += all[4 * q + 1], res->exhausted |= all[4 * q + 3] != 0;
    res->stopped = stopped;
    return 0;
}
