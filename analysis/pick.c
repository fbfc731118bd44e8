/* pick.c — choosing the latents to steer from the analysis tables: the narrow SAE's top
 * toxic latents (toxic_latents.csv), and the feature-splitting family of one of them in the
 * wide SAE (pairs.csv: the wide latents at decoder cosine >= the split threshold). */
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "export.h"

#define MAX_CANDIDATES 64
#define MAX_WIDE_RANK 64

typedef struct {
    int64_t latent, rank;
} ranked;

/* Toxic latents of one SAE in rank order (at most max). */
static int ranked_latents(const sx_csv_table *t, const char *sae, ranked *out, int max, sx_err *err) {
    int cs = sx_csv_col(t, "sae"), cl = sx_csv_col(t, "latent"), cr = sx_csv_col(t, "rank");
    int n = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        if (strcmp(sx_csv_cell(t, r, cs), sae) != 0) continue;
        ranked x;
        if (sx_csv_get_int(t, r, cl, &x.latent, 0, 0, err) || sx_csv_get_int(t, r, cr, &x.rank, 0, 0, err))
            return -1;
        int pos;
        if (n < max) {
            pos = n++;
        } else {
            if (out[max - 1].rank <= x.rank) continue; /* full, and x ranks below the last */
            pos = max - 1;
        }
        out[pos] = x;
        for (int k = pos; k > 0 && out[k].rank < out[k - 1].rank; k--) {
            ranked tmp = out[k];
            out[k] = out[k - 1];
            out[k - 1] = tmp;
        }
    }
    return n;
}

/* The children of narrow latent `parent`: the wide latents of the pairs, most similar first
 * (ties: lower index); at most max. */
static int children_of(const sx_csv_table *p, int64_t parent, int32_t *lat, double *cos, int max, sx_err *err) {
    int cs = sx_csv_col(p, "small_latent"), cw = sx_csv_col(p, "wide_latent"), cc = sx_csv_col(p, "cosine");
    int n = 0;
    for (int64_t r = 0; r < p->nrows; r++) {
        int64_t small, w;
        double c;
        if (sx_csv_get_int(p, r, cs, &small, 0, 0, err)) return -1;
        if (small != parent) continue;
        if (sx_csv_get_int(p, r, cw, &w, 0, 0, err) || sx_csv_get_num(p, r, cc, &c, err)) return -1;
        if (n == max && !(c > cos[max - 1])) continue; /* full; ties keep the lower index */
        int pos = n < max ? n++ : max - 1;
        lat[pos] = (int32_t)w, cos[pos] = c;
        for (int k = pos; k > 0 && (cos[k] > cos[k - 1] || (cos[k] == cos[k - 1] && lat[k] < lat[k - 1])); k--) {
            int32_t tl = lat[k];
            double tc = cos[k];
            lat[k] = lat[k - 1], cos[k] = cos[k - 1];
            lat[k - 1] = tl, cos[k - 1] = tc;
        }
    }
    return n;
}

int sx_pick_latents(const sx_csv_table *toxic, const sx_csv_table *pairs, const char *narrow, const char *wide,
                    int n_steer, int n_candidates, sx_latent_pick *out, sx_err *err) {
    static const char *const pair_cols[] = {"small_latent", "wide_latent", "cosine"};
    static const char *const tox_cols[] = {"sae", "latent", "rank"};
    memset(out, 0, sizeof *out);
    if (n_steer < 1 || n_steer > SX_PICK_MAX_TOP || n_candidates < 1 || n_candidates > MAX_CANDIDATES)
        return sx_failc(err, SX_EINVAL, "sx_pick_latents: n_steer must be in 1..%d, n_candidates in 1..%d", SX_PICK_MAX_TOP,
                       MAX_CANDIDATES);
    if (sx_csv_require(pairs, pair_cols, 3, err) || sx_csv_require(toxic, tox_cols, 3, err)) return -1;
    ranked top[MAX_CANDIDATES], wide_rank[MAX_WIDE_RANK];
    int n = ranked_latents(toxic, narrow, top, n_candidates > n_steer ? n_candidates : n_steer, err);
    int nw = n < 0 ? -1 : ranked_latents(toxic, wide, wide_rank, MAX_WIDE_RANK, err);
    if (n < 0 || nw < 0) return -1;
    if (n == 0 || nw == 0)
        return sx_fail(err, "%s: no toxic latents listed for %s or %s", toxic->path, narrow, wide);
    out->n_top = n < n_steer ? n : n_steer;
    for (int i = 0; i < out->n_top; i++) out->top[i] = (int32_t)top[i].latent;
    /* Feature splitting as in the paper: a narrow toxic latent whose direction the wide SAE
     * shares out among several children.  Take the best-ranked candidate with at least two
     * children; failing that, the top latent's single child; failing that, the wide SAE's own
     * top latent. */
    out->parent = (int32_t)top[0].latent;
    int nk = 0;
    for (int i = 0; i < n && i < n_candidates; i++) {
        int k = children_of(pairs, top[i].latent, out->child, out->child_cos, SX_PICK_MAX_CHILDREN, err);
        if (k < 0) return -1;
        if (k >= 2) {
            out->parent = (int32_t)top[i].latent, nk = k;
            break;
        }
    }
    if (nk == 0 && (nk = children_of(pairs, top[0].latent, out->child, out->child_cos, SX_PICK_MAX_CHILDREN, err)) < 0)
        return -1;
    out->n_children = nk;
    for (int k = 0; k < nk; k++) out->family[k] = out->child[k];
    if (nk == 0) out->family[0] = (int32_t)wide_rank[0].latent, nk = 1;
    out->n_family = nk;
    /* the single latent: the child ranked best among the wide SAE's toxic latents (else the
     * most similar child) */
    out->single = out->family[0];
    for (int i = 0, found = 0; i < nw && !found; i++)
        for (int k = 0; k < nk; k++)
            if (out->family[k] == wide_rank[i].latent) {
                out->single = out->family[k];
                found = 1;
                break;
            }
    return 0;
}
