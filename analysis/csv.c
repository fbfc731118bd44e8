/* csv.c — the pairs / families CSV files of `analyze split` and the readers of analysis's own
 * per-latent CSVs (families.csv, latent_effects.csv, toxic_latents.csv), all through the io
 * layer's RFC 4180 writer and reader and the schemas of include/saetox/schema.h. */
#include "analysis.h"
#include "schema.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int sx_pairs_write_csv(const char *path, const sx_split_result *r, sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_PAIRS, err)) return -1;
    for (int64_t k = 0; k < r->n_pairs; k++) {
        sx_csv_int(&w, r->pairs[k].a);
        sx_csv_int(&w, r->pairs[k].b);
        sx_csv_numf(&w, (double)r->pairs[k].cos, 6);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

int sx_families_write_csv(const char *path, const sx_families *f, const char *label_a,
                          const char *label_b, sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_FAMILIES, err)) return -1;
    /* grouped by family: A members then B members, each ascending */
    int n = f->n_a + f->n_b;
    int64_t *start = calloc((size_t)f->n_families + 1, sizeof *start);
    int32_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!start || !order) {
        free(start), free(order);
        sx_csv_abort(&w);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) if (f->fam[i] >= 0) start[f->fam[i] + 1]++;
    for (int k = 0; k < f->n_families; k++) start[k + 1] += start[k];
    for (int i = 0; i < n; i++) if (f->fam[i] >= 0) order[start[f->fam[i]]++] = i;
    int64_t k = 0;
    for (int fid = 0; fid < f->n_families; fid++)
        for (int32_t c = 0; c < f->size[fid]; c++, k++) {
            int i = order[k];
            sx_csv_int(&w, fid);
            sx_csv_str(&w, i < f->n_a ? label_a : label_b);
            sx_csv_int(&w, i < f->n_a ? i : i - f->n_a);
            sx_csv_row(&w);
        }
    free(start), free(order);
    return sx_csv_close(&w, err);
}

int sx_families_read_csv(const char *path, const char *label, int d_sae, int32_t *fam_of,
                         int32_t *size_of, int64_t *n_rows_label, sx_err *err) {
    sx_csv_table t;
    if (sx_csv_read(path, &t, err)) return -1;
    int rc = sx_csv_require_schema(&t, &SX_SCHEMA_FAMILIES, err);
    int cf = sx_csv_col(&t, "family_id"), cs = sx_csv_col(&t, "sae"), cl = sx_csv_col(&t, "latent");
    int64_t nlab = 0;
    int32_t *fam_size = NULL;
    int64_t fam_cap = 0;
    for (int i = 0; i < d_sae; i++) fam_of[i] = -1;
    for (int64_t r = 0; r < t.nrows && !rc; r++) {
        int64_t fid, lat;
        if (sx_csv_get_int(&t, r, cf, &fid, 0, 0, err) || sx_csv_get_int(&t, r, cl, &lat, 0, 0, err)) {
            rc = -1;
            break;
        }
        if (fid < 0 || fid > 100000000) {
            rc = sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": family_id %" PRId64 " out of range", path, t.line[r], fid);
            break;
        }
        if (fid >= fam_cap) {
            int64_t nc = fam_cap ? fam_cap : 1024;
            while (nc <= fid) nc *= 2;
            int32_t *ns = realloc(fam_size, (size_t)nc * sizeof *ns);
            if (!ns) { rc = sx_failc(err, SX_ENOMEM, "%s: out of memory", path); break; }
            memset(ns + fam_cap, 0, (size_t)(nc - fam_cap) * sizeof *ns);
            fam_size = ns, fam_cap = nc;
        }
        fam_size[fid]++;
        if (strcmp(sx_csv_cell(&t, r, cs), label)) continue;
        if (lat < 0 || lat >= d_sae) {
            rc = sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": latent %" PRId64 " is beyond d_sae %d of SAE '%s'",
                         path, t.line[r], lat, d_sae, label);
            break;
        }
        fam_of[lat] = (int32_t)fid;
        nlab++;
    }
    sx_csv_free(&t);
    if (!rc)
        for (int i = 0; i < d_sae; i++) size_of[i] = fam_of[i] >= 0 ? fam_size[fam_of[i]] : 1;
    free(fam_size);
    if (n_rows_label) *n_rows_label = nlab;
    return rc;
}

int sx_ana_read_latent_column(const char *path, const char *label, const char *column, int d_sae,
                              double *out, int64_t *n_rows, sx_err *err) {
    sx_csv_table t;
    for (int i = 0; i < d_sae; i++) out[i] = NAN;
    if (n_rows) *n_rows = 0;
    if (sx_csv_read(path, &t, err)) return -1;
    int ci = sx_csv_col(&t, column), li = sx_csv_col(&t, "latent"), si = sx_csv_col(&t, "sae");
    int rc = 0;
    int64_t nr = 0;
    if (ci < 0 || li < 0) rc = sx_failc(err, SX_ENOTFOUND, "%s: no '%s' or 'latent' column", path, column);
    for (int64_t r = 0; r < t.nrows && !rc; r++) {
        if (label && si >= 0 && strcmp(sx_csv_cell(&t, r, si), label)) continue;
        int64_t lat;
        if (sx_csv_get_int(&t, r, li, &lat, 0, 0, err)) {
            rc = -1;
            break;
        }
        if (lat < 0 || lat >= d_sae) {
            rc = sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": latent %" PRId64 " is beyond d_sae %d", path,
                         t.line[r], lat, d_sae);
            break;
        }
        if (sx_csv_get_num(&t, r, ci, &out[lat], err)) {
            rc = -1;
            break;
        }
        nr++;
    }
    sx_csv_free(&t);
    if (n_rows) *n_rows = nr;
    return rc;
}

int sx_ana_read_toxic_latents(const char *path, const char *label, int32_t *latents, int max,
                              sx_err *err) {
    sx_csv_table t;
    if (sx_csv_read(path, &t, err)) return -1;
    int li = sx_csv_col(&t, "latent"), si = sx_csv_col(&t, "sae"), n = 0;
    if (li < 0) n = sx_failc(err, SX_ENOTFOUND, "%s: no 'latent' column", path);
    for (int64_t r = 0; r < t.nrows && n >= 0 && n < max; r++) {
        if (label && si >= 0 && strcmp(sx_csv_cell(&t, r, si), label)) continue;
        int64_t lat;
        if (sx_csv_get_int(&t, r, li, &lat, 0, 0, err)) {
            n = -1;
            break;
        }
        if (lat < 0 || lat > INT32_MAX) {
            n = sx_failc(err, SX_ECORRUPT, "%s:%" PRId64 ": bad latent '%s'", path, t.line[r], sx_csv_cell(&t, r, li));
            break;
        }
        latents[n++] = (int32_t)lat;
    }
    sx_csv_free(&t);
    return n;
}
