/* cache_stats.c — cache metadata and the activation-norm statistic used for SAELens-style
 * normalisation (scale = sqrt(d_in) / mean ||x||). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

static void read_str_attr(hid_t f, const char *name, char *out, size_t n) {
    out[0] = 0;
    if (H5Aexists(f, name) <= 0) return;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return;
    hid_t t = H5Aget_type(a);
    if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t)); /* no conversion between character sets */
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(out, n, "%s", s);
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(t);
            char *buf = calloc(1, sz + 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz + 1);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (buf && H5Aread(a, mt, buf) >= 0) snprintf(out, n, "%s", buf);
            H5Tclose(mt);
            free(buf);
        }
    }
    H5Tclose(t);
    H5Aclose(a);
}

static int64_t read_int_attr(hid_t f, const char *name, int64_t dflt) {
    if (H5Aexists(f, name) <= 0) return dflt;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    int64_t v = dflt;
    hid_t t = H5Aget_type(a);
    if (H5Tget_class(t) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_INT64, &v) < 0) v = dflt;
    H5Tclose(t);
    H5Aclose(a);
    return v;
}

int sx_cache_info_read(const char *path, sx_cache_info *info, sx_err *err) {
    memset(info, 0, sizeof *info);
    hid_t f, d;
    if (ds_open_activations(path, &f, &d, &info->rows, &info->d_in, &info->elem_size, err))
        return -1;
    info->complete = (int)read_int_attr(f, "complete", 0);
    info->context_size = (int)read_int_attr(f, "context_size", 0);
    read_str_attr(f, "hook_name", info->hook_name, sizeof info->hook_name);
    read_str_attr(f, "model", info->model, sizeof info->model);
    H5Dclose(d);
    H5Fclose(f);
    return 0;
}

/* Mean row norm from about max_rows rows: windows of up to 256 contiguous rows at the start
 * of equal segments of every file, in proportion to its rows (contiguous reads are cheap).
 * Cost floor: reading max_rows x d_in values once, 2 flops each. */
#define NORM_WIN 256
int sx_act_mean_norm(const char *const *paths, int n_paths, int64_t max_rows,
                     double *mean_norm, double *scale, sx_err *err) {
    ds_h5_quiet();
    hid_t *fs = calloc((size_t)(n_paths > 0 ? n_paths : 1), sizeof *fs);
    hid_t *ds = calloc((size_t)(n_paths > 0 ? n_paths : 1), sizeof *ds);
    int64_t *rows = calloc((size_t)(n_paths > 0 ? n_paths : 1), sizeof *rows);
    int *esz = calloc((size_t)(n_paths > 0 ? n_paths : 1), sizeof *esz);
    float *buf = NULL;
    int d_in = 0, opened = 0, rc = -1;
    int64_t total = 0;
    if (n_paths <= 0) {
        sx_failc(err, SX_EINVAL, "activation norm: no cache files given");
        goto out;
    }
    if (!fs || !ds || !rows || !esz) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory", paths[0]);
        goto out;
    }
    for (int i = 0; i < n_paths; i++, opened++) {
        int d;
        if (ds_open_activations(paths[i], &fs[i], &ds[i], &rows[i], &d, &esz[i], err)) goto out;
        if (i == 0) d_in = d;
        else if (d != d_in) {
            sx_failc(err, SX_EINVAL, "%s: d_in %d does not match %s (d_in %d)", paths[i], d, paths[0], d_in);
            opened++;
            goto out;
        }
        total += rows[i];
    }
    if (max_rows <= 0 || max_rows > total) max_rows = total;
    buf = malloc(sizeof(float) * NORM_WIN * (size_t)d_in);
    if (!buf) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory", paths[0]);
        goto out;
    }
    double sum = 0;
    int64_t count = 0;
    for (int i = 0; i < n_paths; i++) {
        /* this file's share of the sample, in windows spread evenly over its rows */
        int64_t share = (int64_t)((double)max_rows * (double)rows[i] / (double)total + 0.5);
        if (share < 1) share = 1;
        if (share > rows[i]) share = rows[i];
        int64_t nwin = (share + NORM_WIN - 1) / NORM_WIN;
        for (int64_t w = 0; w < nwin; w++) {
            /* the first rows of equal, disjoint segments: every row once when share == rows */
            int64_t start = w * rows[i] / nwin, end = (w + 1) * rows[i] / nwin;
            int64_t n = end - start < NORM_WIN ? end - start : NORM_WIN;
            if (n <= 0) continue;
            if (ds_read_rows(ds[i], esz[i], d_in, start, n, buf, paths[i], err)) goto out;
            for (int64_t k = 0; k < n; k++) {
                const float *x = buf + (size_t)k * (size_t)d_in;
                double s = 0;
                for (int j = 0; j < d_in; j++) s += (double)x[j] * x[j];
                sum += sqrt(s);
            }
            count += n;
        }
    }
    if (count == 0 || !(sum > 0) || !isfinite(sum)) {
        sx_failc(err, SX_ENUMERIC, "%s: cannot compute a mean activation norm (zero or non-finite values)",
                paths[0]);
        goto out;
    }
    *mean_norm = sum / (double)count;
    if (scale) *scale = sqrt((double)d_in) / *mean_norm;
    rc = 0;
out:
    for (int i = 0; i < opened && i < n_paths; i++) {
        if (ds[i] > 0) H5Dclose(ds[i]);
        if (fs[i] > 0) H5Fclose(fs[i]);
    }
    free(fs);
    free(ds);
    free(rows);
    free(esz);
    free(buf);
    return rc;
}
