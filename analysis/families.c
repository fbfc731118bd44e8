/* families.c — feature families: connected components of the thresholded bipartite
 * decoder-cosine graph (union-find), optionally refined by average-linkage clustering
 * (nearest-neighbour chain, exact for this reducible linkage). */
#include "analysis.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sx_families_free(sx_families *f) {
    if (!f) return;
    free(f->fam);
    free(f->size);
    memset(f, 0, sizeof *f);
}

static int32_t uf_find(int32_t *p, int32_t x) {
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

static void uf_union(int32_t *p, int32_t a, int32_t b) {
    a = uf_find(p, a), b = uf_find(p, b);
    if (a == b) return;
    if (a < b) p[b] = a; else p[a] = b; /* root = smallest node: deterministic */
}

/* Number the groups given by root[] (only nodes with keep[] set), in order of their
 * smallest node, skipping groups of one member.  Fills f->fam, f->size. */
static int number_groups(const int32_t *root, int n, sx_families *f, sx_err *err) {
    int32_t *cnt = calloc((size_t)n, sizeof *cnt), *id = malloc((size_t)n * sizeof *id);
    f->fam = malloc((size_t)n * sizeof *f->fam);
    if (!cnt || !id || !f->fam) {
        free(cnt), free(id);
        return sx_failc(err, SX_ENOMEM, "families: out of memory");
    }
    for (int i = 0; i < n; i++) if (root[i] >= 0) cnt[root[i]]++;
    int nf = 0;
    for (int i = 0; i < n; i++) id[i] = -1;
    /* nodes are visited in increasing order, so a group gets its id at its smallest node */
    for (int i = 0; i < n; i++) {
        int32_t r = root[i];
        if (r < 0 || cnt[r] < 2) { f->fam[i] = -1; continue; }
        if (id[r] < 0) id[r] = nf++;
        f->fam[i] = id[r];
    }
    f->n_families = nf;
    f->size = calloc((size_t)(nf ? nf : 1), sizeof *f->size);
    if (!f->size) {
        free(cnt), free(id);
        return sx_failc(err, SX_ENOMEM, "families: out of memory");
    }
    for (int i = 0; i < n; i++) if (f->fam[i] >= 0) f->size[f->fam[i]]++;
    free(cnt), free(id);
    return 0;
}

int sx_families_from_pairs(const sx_split_result *r, sx_families *f, sx_err *err) {
    memset(f, 0, sizeof *f);
    int n = r->n_a + r->n_b;
    f->n_a = r->n_a, f->n_b = r->n_b;
    int32_t *p = malloc((size_t)n * sizeof *p);
    if (!p) return sx_failc(err, SX_ENOMEM, "families: out of memory");
    for (int i = 0; i < n; i++) p[i] = i;
    for (int64_t k = 0; k < r->n_pairs; k++) uf_union(p, r->pairs[k].a, r->n_a + r->pairs[k].b);
    for (int i = 0; i < n; i++) p[i] = uf_find(p, i);
    int rc = number_groups(p, n, f, err);
    free(p);
    if (rc) sx_families_free(f);
    return rc;
}

/* ---- average linkage, nearest-neighbour chain ----
 * dist is a full m x m matrix (overwritten).  Average linkage is reducible, so the NN-chain
 * finds the same merges as the greedy algorithm; its dendrogram is monotone, so the cut at
 * height h is exactly "apply every merge of height <= h". */
int sx_average_linkage_cut(float *dist, int m, double cut, int32_t *labels, sx_err *err) {
    if (m <= 0) return 0;
    int32_t *size = malloc((size_t)m * sizeof *size), *chain = malloc((size_t)m * sizeof *chain);
    int32_t *par = malloc((size_t)m * sizeof *par);
    char *alive = malloc((size_t)m);
    if (!size || !chain || !par || !alive) {
        free(size), free(chain), free(par), free(alive);
        return sx_failc(err, SX_ENOMEM, "linkage: out of memory for %d latents", m);
    }
    for (int i = 0; i < m; i++) size[i] = 1, alive[i] = 1, par[i] = i;
    int len = 0, n_alive = m;
    while (n_alive > 1) {
        if (len == 0) {
            int i = 0;
            while (!alive[i]) i++;
            chain[len++] = i;
        }
        int a = chain[len - 1], prev = len >= 2 ? chain[len - 2] : -1;
        /* nearest alive neighbour of a; prefer prev on ties (guarantees termination) */
        int b = -1;
        float bd = INFINITY;
        const float *row = dist + (size_t)a * m;
        for (int j = 0; j < m; j++) {
            if (!alive[j] || j == a) continue;
            if (row[j] < bd) bd = row[j], b = j;
        }
        if (prev >= 0 && row[prev] <= bd) b = prev, bd = row[prev];
        if (b != prev) {
            chain[len++] = b;
            continue;
        }
        /* a and b are reciprocal nearest neighbours: merge b into a (keep the smaller id) */
        len -= 2;
        int keep = a < b ? a : b, gone = a < b ? b : a;
        float *rk = dist + (size_t)keep * m;
        const float *rg = dist + (size_t)gone * m;
        double sk = size[keep], sg = size[gone];
        for (int j = 0; j < m; j++) {
            if (!alive[j] || j == keep || j == gone) continue;
            float v = (float)((sk * rk[j] + sg * rg[j]) / (sk + sg)); /* Lance-Williams */
            rk[j] = v;
            dist[(size_t)j * m + keep] = v;
        }
        size[keep] += size[gone];
        alive[gone] = 0;
        n_alive--;
        /* union at the cut: remember the merge through par[] (gone -> keep) */
        par[gone] = bd <= cut ? keep : -1 - keep;
    }
    /* resolve: follow merges applied at the cut */
    for (int i = 0; i < m; i++) {
        int x = i;
        while (par[x] >= 0 && par[x] != x) x = par[x];
        labels[i] = x;  /* representative */
    }
    /* renumber representatives in order of smallest member */
    int32_t *id = chain; /* reuse */
    for (int i = 0; i < m; i++) id[i] = -1;
    int nc = 0;
    for (int i = 0; i < m; i++) {
        if (id[labels[i]] < 0) id[labels[i]] = nc++;
        labels[i] = id[labels[i]];
    }
    free(size), free(chain), free(par), free(alive);
    return nc;
}

int sx_families_average_linkage(const float *Wa, const float *Wb, int d, double cut,
                                int max_nodes, sx_families *f, sx_err *err) {
    int n = f->n_a + f->n_b, m = 0;
    for (int i = 0; i < n; i++) m += f->fam[i] >= 0;
    if (max_nodes <= 0) max_nodes = 8192;
    if (m > max_nodes)
        return sx_failc(err, SX_EINVAL, "linkage: %d latents belong to families, more than the cap of %d "
                       "(O(m^2) memory); raise the threshold or the cap", m, max_nodes);
    if (m == 0) return 0;
    int32_t *node = malloc((size_t)m * sizeof *node), *lab = malloc((size_t)m * sizeof *lab);
    float *X = malloc((size_t)m * d * sizeof *X), *D = malloc((size_t)m * m * sizeof *D);
    if (!node || !lab || !X || !D) {
        free(node), free(lab), free(X), free(D);
        return sx_failc(err, SX_ENOMEM, "linkage: out of memory for %d latents", m);
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (f->fam[i] < 0) continue;
        const float *w = i < f->n_a ? Wa + (size_t)i * d : Wb + (size_t)(i - f->n_a) * d;
        double s = 0;
        for (int t = 0; t < d; t++) s += (double)w[t] * w[t];
        float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
        for (int t = 0; t < d; t++) X[(size_t)k * d + t] = w[t] * inv;
        node[k++] = i;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0f, X, d, X, d, 0.0f, D, m);
    for (size_t t = 0; t < (size_t)m * m; t++) D[t] = 1.0f - D[t];
    int rc = sx_average_linkage_cut(D, m, cut, lab, err);
    if (rc >= 0) {
        int32_t *root = malloc((size_t)n * sizeof *root), *first = malloc((size_t)m * sizeof *first);
        if (!root || !first) {
            rc = sx_failc(err, SX_ENOMEM, "linkage: out of memory");
        } else {
            for (int i = 0; i < n; i++) root[i] = -1;
            for (int c = 0; c < m; c++) first[c] = -1;
            for (int t = 0; t < m; t++) {
                if (first[lab[t]] < 0) first[lab[t]] = node[t];
                root[node[t]] = first[lab[t]];
            }
            free(f->fam), free(f->size);
            f->fam = NULL, f->size = NULL;
            rc = number_groups(root, n, f, err);
        }
        free(root), free(first);
    }
    free(node), free(lab), free(X), free(D);
    return rc < 0 ? -1 : 0;
}
