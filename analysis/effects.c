/* effects.c — toxic-vs-clean effect sizes per latent: exact rank AUROC (Mann-Whitney U with
 * average ranks), Cohen's d, firing-rate log-odds, and an accumulator that keeps only the
 * nonzero activations (most are exactly 0: one big tie group handled by count).
 *
 * Cost: adding n rows is one pass over n x d_sae floats (memory bound, 4 bytes/element);
 * finishing sorts each latent's nonzeros, O(nz log nz) overall. */
#include "analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

/* Ascending sort of finite floats: LSD radix sort on order-preserving 32-bit keys (4 passes
 * of 8 bits, O(n)); qsort's comparator calls dominated the finish of a 65k-latent run.
 * tmp holds n uint32. */
static void sort_floats(float *v, int64_t n, uint32_t *tmp) {
    if (n < 64) {
        for (int64_t i = 1; i < n; i++) {
            float x = v[i];
            int64_t k = i - 1;
            while (k >= 0 && v[k] > x) v[k + 1] = v[k], k--;
            v[k + 1] = x;
        }
        return;
    }
    uint32_t *a = (uint32_t *)(void *)v, *b = tmp;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        a[i] = (u & 0x80000000u) ? ~u : u ^ 0x80000000u;
    }
    for (int shift = 0; shift < 32; shift += 8) {
        int64_t cnt[257] = {0};
        for (int64_t i = 0; i < n; i++) cnt[((a[i] >> shift) & 0xff) + 1]++;
        for (int k = 0; k < 256; k++) cnt[k + 1] += cnt[k];
        for (int64_t i = 0; i < n; i++) b[cnt[(a[i] >> shift) & 0xff]++] = a[i];
        uint32_t *t = a;
        a = b, b = t;
    }
    /* after 4 passes the data is back in v */
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = a[i];
        u = (u & 0x80000000u) ? u ^ 0x80000000u : ~u;
        memcpy(&v[i], &u, 4);
    }
}

/* U statistic numerator over two sorted arrays, with z_t / z_c implicit zeros (nonzero
 * arrays must not contain 0): the one Mann-Whitney loop, instantiated for the float
 * activations (the accumulator) and for double scores (sx_auroc: the scorer). */
#define MW_U(NAME, T)                                                                         \
    static double NAME(const T *t, int64_t nt, int64_t zt, const T *c, int64_t nc,          \
                       int64_t zc) {                                                          \
        double U = 0, below = 0;                                                              \
        int64_t i = 0, j = 0;                                                                 \
        int zero_done = (zt == 0 && zc == 0);                                                 \
        while (i < nt || j < nc || !zero_done) {                                              \
            T v = (T)INFINITY;                                                                \
            int have = 0;                                                                     \
            if (i < nt) v = t[i], have = 1;                                                   \
            if (j < nc && (!have || c[j] < v)) v = c[j], have = 1;                            \
            double ct, cc;                                                                    \
            if (!zero_done && (!have || v > 0)) {                                             \
                ct = (double)zt, cc = (double)zc;                                             \
                zero_done = 1;                                                                \
            } else {                                                                          \
                int64_t i0 = i, j0 = j;                                                       \
                while (i < nt && t[i] == v) i++;                                              \
                while (j < nc && c[j] == v) j++;                                              \
                ct = (double)(i - i0), cc = (double)(j - j0);                                 \
            }                                                                                 \
            U += ct * (below + 0.5 * cc);                                                     \
            below += cc;                                                                      \
        }                                                                                     \
        return U;                                                                             \
    }
MW_U(mw_u, float)
MW_U(mw_u_d, double)

double sx_ana_auroc_sparse(float *t_nz, int64_t nz_t, int64_t n_t, float *c_nz, int64_t nz_c,
                       int64_t n_c) {
    if (n_t <= 0 || n_c <= 0) return NAN;
    if (nz_t > 1) qsort(t_nz, (size_t)nz_t, sizeof *t_nz, cmp_float);
    if (nz_c > 1) qsort(c_nz, (size_t)nz_c, sizeof *c_nz, cmp_float);
    return mw_u(t_nz, nz_t, n_t - nz_t, c_nz, nz_c, n_c - nz_c) / ((double)n_t * (double)n_c);
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double sx_auroc(const double *score, const int *label, int64_t n) {
    int64_t np = 0;
    for (int64_t i = 0; i < n; i++) np += label[i] != 0;
    int64_t nn = n - np;
    if (np == 0 || nn == 0) return NAN;
    double *t = malloc((size_t)n * sizeof *t);
    if (!t) return NAN;
    double *c = t + np;
    for (int64_t i = 0, a = 0, b = 0; i < n; i++)
        if (label[i]) t[a++] = score[i];
        else c[b++] = score[i];
    qsort(t, (size_t)np, sizeof *t, cmp_double);
    qsort(c, (size_t)nn, sizeof *c, cmp_double);
    double u = mw_u_d(t, np, 0, c, nn, 0) / ((double)np * (double)nn);
    free(t);
    return u;
}

double sx_cohens_d(double sum_t, double sumsq_t, int64_t n_t, double sum_c, double sumsq_c,
                   int64_t n_c) {
    if (n_t <= 0 || n_c <= 0 || n_t + n_c <= 2) return 0;
    double mt = sum_t / n_t, mc = sum_c / n_c;
    double sst = sumsq_t - sum_t * mt, ssc = sumsq_c - sum_c * mc; /* sums of squared dev. */
    if (sst < 0) sst = 0;
    if (ssc < 0) ssc = 0;
    double sd = sqrt((sst + ssc) / (double)(n_t + n_c - 2));
    return sd > 0 ? (mt - mc) / sd : 0;
}

double sx_log_odds(int64_t fire_t, int64_t n_t, int64_t fire_c, int64_t n_c) {
    return log((fire_t + 0.5) / (n_t - fire_t + 0.5)) - log((fire_c + 0.5) / (n_c - fire_c + 0.5));
}

/* ---------- accumulator ---------- */
typedef struct fvec {
    float *v;
    int64_t n, cap;
} fvec;

typedef struct lat_acc {
    double sum[2], sumsq[2];
    int64_t fire[2];
    fvec nz[2];
} lat_acc;

struct sx_effect_acc {
    int d_sae;
    int64_t n[2];
    lat_acc *l;
};

sx_effect_acc *sx_effect_acc_new(int d_sae) {
    if (d_sae <= 0) return NULL;
    sx_effect_acc *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->d_sae = d_sae;
    a->l = calloc((size_t)d_sae, sizeof *a->l);
    if (!a->l) {
        free(a);
        return NULL;
    }
    return a;
}

void sx_effect_acc_free(sx_effect_acc *a) {
    if (!a) return;
    for (int j = 0; j < a->d_sae; j++) free(a->l[j].nz[0].v), free(a->l[j].nz[1].v);
    free(a->l);
    free(a);
}

int64_t sx_effect_acc_count(const sx_effect_acc *a, int cls) { return a->n[cls ? 1 : 0]; }

static int fvec_push(fvec *f, float x) {
    if (f->n == f->cap) {
        int64_t nc = f->cap ? f->cap * 2 : 16;
        float *nv = realloc(f->v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        f->v = nv, f->cap = nc;
    }
    f->v[f->n++] = x;
    return 0;
}

int sx_effect_acc_add(sx_effect_acc *a, int cls, const float *acts, int64_t n, sx_err *err) {
    cls = cls ? 1 : 0;
    const int d = a->d_sae;
    int bad = 0;
    /* each thread owns a range of latents: no sharing, deterministic order of appends */
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int j0 = 0; j0 < d; j0 += 256) {
        int j1 = j0 + 256 < d ? j0 + 256 : d;
        for (int64_t r = 0; r < n; r++) {
            const float *row = acts + (size_t)r * d;
            for (int j = j0; j < j1; j++) {
                float v = row[j];
                if (v == 0) continue;
                if (!isfinite(v)) { bad |= 1; continue; }
                lat_acc *L = &a->l[j];
                L->sum[cls] += v;
                L->sumsq[cls] += (double)v * v;
                L->fire[cls] += v > 0;
                if (fvec_push(&L->nz[cls], v)) bad |= 2;
            }
        }
    }
    if (bad & 2) return sx_failc(err, SX_ENOMEM, "effects: out of memory storing nonzero activations");
    if (bad & 1) return sx_failc(err, SX_ENUMERIC, "effects: non-finite SAE activation");
    a->n[cls] += n;
    return 0;
}

/* quantile (linear interpolation between order statistics) of the positive tail of a
 * sorted array */
static double pos_quantile(const float *v, int64_t n, double q) {
    int64_t k0 = 0;
    while (k0 < n && v[k0] <= 0) k0++; /* n is small after sorting; skip negatives */
    int64_t m = n - k0;
    if (m <= 0) return 0;
    double pos = q * (double)(m - 1);
    int64_t lo = (int64_t)floor(pos);
    int64_t hi = lo + 1 < m ? lo + 1 : lo;
    double f = pos - (double)lo;
    return v[k0 + lo] * (1 - f) + v[k0 + hi] * f;
}

int sx_effect_acc_finish(sx_effect_acc *a, sx_effect *out, sx_err *err) {
    int64_t nt = a->n[1], nc = a->n[0];
    if (nt <= 0) return sx_failc(err, SX_EINVAL, "effects: the toxic set is empty");
    if (nc <= 0) return sx_failc(err, SX_EINVAL, "effects: the clean set is empty");
    int64_t maxnz = 1;
    for (int j = 0; j < a->d_sae; j++)
        for (int c = 0; c < 2; c++) if (a->l[j].nz[c].n > maxnz) maxnz = a->l[j].nz[c].n;
    int oom = 0;
#pragma omp parallel reduction(| : oom)
    {
    uint32_t *tmp = malloc((size_t)maxnz * sizeof *tmp);
    if (!tmp) oom = 1;
#pragma omp for schedule(dynamic, 64)
    for (int j = 0; j < a->d_sae; j++) {
        if (!tmp) continue;
        lat_acc *L = &a->l[j];
        sx_effect *e = &out[j];
        sort_floats(L->nz[1].v, L->nz[1].n, tmp);
        sort_floats(L->nz[0].v, L->nz[0].n, tmp);
        e->auroc = mw_u(L->nz[1].v, L->nz[1].n, nt - L->nz[1].n, L->nz[0].v, L->nz[0].n,
                        nc - L->nz[0].n) / ((double)nt * (double)nc);
        e->mean_toxic = L->sum[1] / nt;
        e->mean_clean = L->sum[0] / nc;
        e->mean_diff = e->mean_toxic - e->mean_clean;
        e->fire_toxic = (double)L->fire[1] / nt;
        e->fire_clean = (double)L->fire[0] / nc;
        e->log_odds = sx_log_odds(L->fire[1], nt, L->fire[0], nc);
        e->cohens_d = sx_cohens_d(L->sum[1], L->sumsq[1], nt, L->sum[0], L->sumsq[0], nc);
        const float *v = L->nz[1].v; /* sorted above */
        int64_t m = L->nz[1].n;
        e->q50_toxic = pos_quantile(v, m, 0.5);
        e->q90_toxic = pos_quantile(v, m, 0.9);
        e->q99_toxic = pos_quantile(v, m, 0.99);
        e->max_toxic = m && v[m - 1] > 0 ? v[m - 1] : 0;
    }
    free(tmp);
    }
    if (oom) return sx_failc(err, SX_ENOMEM, "effects: out of memory sorting activations");
    return 0;
}

int sx_rank_by_parse(const char *s, sx_rank_by *out) {
    static const char *names[] = {"auroc", "cohens_d", "mean_diff", "log_odds"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (sx_rank_by)i;
            return 0;
        }
    return -1;
}

double sx_effect_score(const sx_effect *e, sx_rank_by by) {
    switch (by) {
    case SX_RANK_COHENS_D: return e->cohens_d;
    case SX_RANK_MEAN_DIFF: return e->mean_diff;
    case SX_RANK_LOG_ODDS: return e->log_odds;
    default: return e->auroc;
    }
}

typedef struct scored { double s; int32_t i; } scored;
static int cmp_rank(const void *x, const void *y) {
    const scored *p = x, *q = y;
    if (p->s != q->s) return p->s > q->s ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

void sx_effect_rank(const sx_effect *e, int d_sae, sx_rank_by by, int32_t *order) {
    scored *s = malloc((size_t)d_sae * sizeof *s);
    if (!s) { /* degrade to index order rather than fail */
        for (int i = 0; i < d_sae; i++) order[i] = i;
        return;
    }
    for (int i = 0; i < d_sae; i++) {
        double v = sx_effect_score(&e[i], by);
        s[i] = (scored){v == v ? v : -INFINITY, i};
    }
    qsort(s, (size_t)d_sae, sizeof *s, cmp_rank);
    for (int i = 0; i < d_sae; i++) order[i] = s[i].i;
    free(s);
}
