/* split_run.c — `analyze split` driver: load two SAEs, compute decoder-cosine pairs and
 * families, write DIR/pairs.csv, DIR/families.csv and DIR/best_matches.csv. */
#include "analysis.h"
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "sae.h"


static int write_best(const char *path, const sx_split_result *r, const char *la,
                      const char *lb, sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_BEST_MATCHES, err)) return -1;
    for (int i = 0; i < r->n_a; i++) {
        sx_csv_str(&w, la);
        sx_csv_int(&w, i);
        sx_csv_int(&w, r->best_a[i]);
        sx_csv_numf(&w, (double)r->best_a_cos[i], 6);
        sx_csv_int(&w, r->n_children[i]);
        sx_csv_row(&w);
    }
    for (int j = 0; j < r->n_b; j++) {
        sx_csv_str(&w, lb);
        sx_csv_int(&w, j);
        sx_csv_int(&w, r->best_b[j]);
        sx_csv_numf(&w, (double)r->best_b_cos[j], 6);
        sx_csv_empty(&w);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

int sx_ana_split_run(const sx_split_run_opts *o, sx_err *err) {
    sx_sae A, B;
    memset(&A, 0, sizeof A), memset(&B, 0, sizeof B);
    if (sx_sae_load(o->sae_a, &A, err)) return -1;
    if (sx_sae_load(o->sae_b, &B, err)) {
        sx_sae_free(&A);
        return -1;
    }
    int rc = 0;
    sx_split_result r;
    sx_families f;
    memset(&r, 0, sizeof r), memset(&f, 0, sizeof f);
    char la[256], lb[256], path[4200];
    if (o->label_a) snprintf(la, sizeof la, "%s", o->label_a); else sx_sae_label(o->sae_a, la, sizeof la);
    if (o->label_b) snprintf(lb, sizeof lb, "%s", o->label_b); else sx_sae_label(o->sae_b, lb, sizeof lb);
    if (!strcmp(la, lb)) { /* both folders have the same basename: keep the rows apart */
        snprintf(la + strlen(la), sizeof la - strlen(la), "%s", "#A");
        snprintf(lb + strlen(lb), sizeof lb - strlen(lb), "%s", "#B");
    }
    if (A.d_in != B.d_in) {
        rc = sx_failc(err, SX_EINVAL, "%s: d_in %d differs from d_in %d of %s", o->sae_b, B.d_in, A.d_in,
                     o->sae_a);
        goto done;
    }
    if (A.d_sae > B.d_sae && o->verbose)
        fprintf(stderr, "note: the first SAE (%d latents) is wider than the second (%d); "
                "pairs are still small_latent = first, wide_latent = second\n", A.d_sae, B.d_sae);
    if (sx_mkdir_p(o->out_dir, err)) { rc = -1; goto done; }
    if (sx_split_compute(A.W_dec, A.d_sae, B.W_dec, B.d_sae, A.d_in, &o->split, &r, err)) {
        rc = sx_fail_prefix(err, "%s vs %s", o->sae_a, o->sae_b);
        goto done;
    }
    if (sx_families_from_pairs(&r, &f, err)) { rc = -1; goto done; }
    if (o->linkage && *o->linkage) {
        if (strcmp(o->linkage, "average")) {
            rc = sx_failc(err, SX_EINVAL, "unknown linkage '%s' (only 'average')", o->linkage);
            goto done;
        }
        if (sx_families_average_linkage(A.W_dec, B.W_dec, A.d_in, o->cut, o->max_linkage_nodes,
                                        &f, err)) { rc = -1; goto done; }
    }
    sx_path_join(path, sizeof path, o->out_dir, "pairs.csv");
    if (sx_pairs_write_csv(path, &r, err)) { rc = -1; goto done; }
    sx_path_join(path, sizeof path, o->out_dir, "families.csv");
    if (sx_families_write_csv(path, &f, la, lb, err)) { rc = -1; goto done; }
    sx_path_join(path, sizeof path, o->out_dir, "best_matches.csv");
    if (write_best(path, &r, la, lb, err)) { rc = -1; goto done; }
    if (o->verbose) {
        int with_children = 0;
        for (int i = 0; i < r.n_a; i++) with_children += r.n_children[i] > 0;
        fprintf(stderr, "split: %s (%d) vs %s (%d), d_in %d: %lld pairs >= %.3f, %d of %d "
                "latents with children, %d families; %.2f s (%.1f GFLOP/s)\n", la, r.n_a, lb,
                r.n_b, r.d, (long long)r.n_pairs, (double)r.threshold, with_children, r.n_a,
                f.n_families, r.seconds, r.gflop / r.seconds);
    }
done:
    sx_families_free(&f);
    sx_split_free(&r);
    sx_sae_free(&A);
    sx_sae_free(&B);
    return rc;
}
