/* features.c — the detail of a feature dashboard for a few latents (sx_feature_details):
 * exact activation histograms, firing density, top and quantile-band contexts with every
 * token's activation, decoder vectors.  One sequential pass over the cache keeps the chosen
 * latents' activation columns (n x rows floats, bounded below); everything else is derived
 * from them, so contexts show the true activation of every token, not only the centre one.
 *
 * Bands follow SAEDashboard's "interval" groups: equal-width activation intervals over
 * (0, max], examples drawn uniformly at random from the firing tokens of each interval, and
 * the interval's share of the firing tokens (Neuronpedia's bin_contains). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"
#include "datasets.h"
#include "sae.h"
#include "tokenizer.h"

#define FEAT_MAX_FLOATS ((int64_t)1 << 24) /* 64 MB of activation columns */

typedef struct rowval {
    float v;
    int64_t r;
} rowval;

static int cmp_desc(const void *a, const void *b) {
    const rowval *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->r < y->r ? -1 : x->r > y->r;
}

/* Window around row r: up to `before` / `after` rows of the same context. */
static int make_example(sx_feature_example *e, const sx_ana_tape *t, const float *col, int64_t r,
                        int before, int after, const sx_tokenizer *tok) {
    int nb = 0, na = 0;
    if (t->have) {
        while (nb < before && sx_ana_same_ctx(t, r, r - nb - 1)) nb++;
        while (na < after && sx_ana_same_ctx(t, r, r + na + 1)) na++;
    }
    e->n_tok = nb + 1 + na;
    e->centre = nb;
    e->act = col[r];
    e->ids = malloc((size_t)e->n_tok * sizeof *e->ids);
    e->vals = malloc((size_t)e->n_tok * sizeof *e->vals);
    e->text = calloc((size_t)e->n_tok, sizeof *e->text);
    if (!e->ids || !e->vals || !e->text) return -1;
    for (int i = 0; i < e->n_tok; i++) {
        int64_t q = r - nb + i;
        char buf[512];
        e->ids[i] = t->have ? t->tok[q] : -1;
        e->vals[i] = col[q];
        if (!tok || sx_tokenizer_token_display(tok, e->ids[i], buf, sizeof buf) < 0)
            snprintf(buf, sizeof buf, "<%d>", e->ids[i]);
        e->text[i] = strdup(buf);
        if (!e->text[i]) return -1;
    }
    return 0;
}

static int detail_one(sx_feature_detail *d, const float *col, int64_t rows, const sx_ana_tape *t,
                      const sx_feature_opts *o, const sx_tokenizer *tok, sx_rng *rng) {
    d->n_rows = rows;
    rowval *fire = malloc((size_t)(rows ? rows : 1) * sizeof *fire);
    if (!fire) return -1;
    int64_t nf = 0;
    double mx = 0;
    for (int64_t r = 0; r < rows; r++)
        if (col[r] > 0) {
            fire[nf].v = col[r], fire[nf].r = r, nf++;
            if (col[r] > mx) mx = col[r];
        }
    d->n_fire = nf, d->max_act = mx;
    d->n_bins = o->n_bins;
    d->bin_lo = malloc((size_t)(o->n_bins + 1) * sizeof *d->bin_lo);
    d->bin_count = calloc((size_t)o->n_bins, sizeof *d->bin_count);
    int nbands = o->n_bands;
    int64_t *band_n = calloc((size_t)nbands, sizeof *band_n);
    d->ex = calloc((size_t)(o->n_top + nbands * o->per_band) + 1, sizeof *d->ex);
    int rc = 0;
    if (!d->bin_lo || !d->bin_count || !band_n || !d->ex) rc = -1;
    for (int b = 0; !rc && b <= o->n_bins; b++) d->bin_lo[b] = mx * b / o->n_bins;
    /* bin of v in (0, mx]: equal width, the top edge belongs to the last bin */
#define BIN_OF(v, nb) ((int)fmin((double)(nb) - 1, floor((double)(v) / mx * (nb))))
    for (int64_t i = 0; !rc && i < nf; i++) {
        d->bin_count[BIN_OF(fire[i].v, o->n_bins)]++;
        band_n[BIN_OF(fire[i].v, nbands)]++;
    }
    if (!rc && nf) {
        qsort(fire, (size_t)nf, sizeof *fire, cmp_desc);
        for (int k = 0; k < o->n_top && k < nf && !rc; k++) {
            sx_feature_example *e = &d->ex[d->n_ex++];
            e->band = -1, e->bin_min = -1, e->bin_max = mx, e->bin_contains = -1;
            rc = make_example(e, t, col, fire[k].r, o->before, o->after, tok);
        }
        /* fire is sorted descending: band b (low to high) is a contiguous run of it */
        int64_t end = nf;
        for (int b = 0; b < nbands && !rc; b++) {
            int64_t cnt = band_n[b], start = end - cnt;
            /* choose per_band distinct members (partial Fisher-Yates on the run) */
            int take = cnt < o->per_band ? (int)cnt : o->per_band;
            for (int k = 0; k < take && !rc; k++) {
                int64_t j = start + k + (int64_t)(sx_rng_u64(rng) % (uint64_t)(cnt - k));
                rowval tmp = fire[start + k];
                fire[start + k] = fire[j], fire[j] = tmp;
                sx_feature_example *e = &d->ex[d->n_ex++];
                e->band = b;
                e->bin_min = mx * b / nbands, e->bin_max = mx * (b + 1) / nbands;
                e->bin_contains = (double)cnt / (double)nf;
                rc = make_example(e, t, col, fire[start + k].r, o->before, o->after, tok);
            }
            end = start; /* the next band up is the run just before this one */
        }
    }
#undef BIN_OF
    free(fire), free(band_n);
    return rc;
}

int sx_feature_details(const sx_feature_opts *opts, const int64_t *latents, int n,
                       sx_feature_detail **out, sx_err *err) {
    sx_feature_opts o = *opts;
    if (o.n_top <= 0) o.n_top = 10;
    if (o.n_bands <= 0) o.n_bands = 10;
    if (o.per_band <= 0) o.per_band = 5;
    if (o.n_bins <= 0) o.n_bins = 40;
    if (o.before <= 0) o.before = 12;
    if (o.after <= 0) o.after = 4;
    *out = NULL;
    if (n <= 0) return 0;
    sx_sae S;
    memset(&S, 0, sizeof S);
    if (sx_sae_load(o.sae, &S, err)) return -1;
    for (int i = 0; i < n; i++)
        if (latents[i] < 0 || latents[i] >= S.d_sae) {
            sx_sae_free(&S);
            return sx_failc(err, SX_EINVAL, "%s: latent %lld is outside 0..%d", o.sae, (long long)latents[i], S.d_sae - 1);
        }
    sx_tokenizer *tok = NULL;
    sx_act_reader *rd = NULL;
    sx_ana_tape t;
    memset(&t, 0, sizeof t);
    float *x = NULL, *a = NULL, *cols = NULL;
    sx_feature_detail *D = calloc((size_t)n, sizeof *D);
    int rc = 0;
    if (!D) { rc = sx_failc(err, SX_ENOMEM, "out of memory"); goto done; }
    if (o.tokenizer_dir && o.tokenizer_dir[0] && sx_tokenizer_load(o.tokenizer_dir, &tok, err)) { rc = -1; goto done; }
    const char *paths[1] = {o.cache};
    sx_act_reader_opts ro = {0, 0, 0};
    if (sx_act_reader_open(paths, 1, &ro, &rd, err)) { rc = -1; goto done; }
    if (sx_act_reader_d_in(rd) != S.d_in) {
        rc = sx_failc(err, SX_EINVAL, "%s: d_in %d differs from the SAE's %d (%s)", o.cache, sx_act_reader_d_in(rd), S.d_in, o.sae);
        goto done;
    }
    int64_t rows = sx_act_reader_rows(rd);
    if (o.rows > 0 && o.rows < rows) rows = o.rows;
    if (rows * n > FEAT_MAX_FLOATS) rows = FEAT_MAX_FLOATS / n;
    const int64_t B = 256;
    x = malloc((size_t)B * S.d_in * sizeof *x);
    a = malloc((size_t)B * S.d_sae * sizeof *a);
    cols = malloc((size_t)n * (size_t)(rows ? rows : 1) * sizeof *cols);
    if (!x || !a || !cols) { rc = sx_failc(err, SX_ENOMEM, "out of memory for %d activation columns", n); goto done; }
    const int64_t stride = rows; /* column stride, even if the cache turns out shorter */
    int64_t done_rows = 0;
    while (done_rows < rows) {
        int64_t want = rows - done_rows < B ? rows - done_rows : B;
        int64_t got = sx_act_reader_next(rd, x, want, err);
        if (got < 0) { rc = -1; goto done; }
        if (got == 0) break;
        for (int64_t i = 0; i < got * S.d_in; i++)
            if (!isfinite(x[i])) {
                rc = sx_failc(err, SX_ENUMERIC, "%s: non-finite activation in row %lld", o.cache, (long long)(done_rows + i / S.d_in));
                goto done;
            }
        if (sx_sae_encode(&S, x, got, a, NULL, err)) { rc = -1; goto done; }
        for (int64_t r = 0; r < got; r++)
            for (int l = 0; l < n; l++)
                cols[(size_t)l * stride + done_rows + r] = a[(size_t)r * S.d_sae + latents[l]];
        done_rows += got;
    }
    rows = done_rows;
    if (sx_ana_tape_from_cache(&t, o.cache, rows, err)) { rc = -1; goto done; }
    sx_rng rng;
    sx_rng_seed(&rng, o.seed ? o.seed : 1);
    for (int l = 0; l < n && !rc; l++) {
        const float *col = cols + (size_t)l * stride;
        D[l].latent = latents[l];
        D[l].d_in = S.d_in;
        D[l].dec = malloc((size_t)S.d_in * sizeof *D[l].dec);
        if (!D[l].dec) { rc = sx_failc(err, SX_ENOMEM, "out of memory"); break; }
        memcpy(D[l].dec, S.W_dec + (size_t)latents[l] * S.d_in, (size_t)S.d_in * sizeof *D[l].dec);
        if (detail_one(&D[l], col, rows, &t, &o, tok, &rng)) rc = sx_failc(err, SX_ENOMEM, "out of memory");
    }
done:
    free(x), free(a), free(cols);
    sx_ana_tape_free(&t);
    sx_act_reader_close(rd);
    sx_tokenizer_free(tok);
    sx_sae_free(&S);
    if (rc) {
        sx_feature_details_free(D, n);
        return -1;
    }
    *out = D;
    return 0;
}

void sx_feature_details_free(sx_feature_detail *d, int n) {
    if (!d) return;
    for (int l = 0; l < n; l++) {
        for (int i = 0; i < d[l].n_ex; i++) {
            sx_feature_example *e = &d[l].ex[i];
            for (int k = 0; e->text && k < e->n_tok; k++) free(e->text[k]);
            free(e->ids), free(e->vals), free(e->text);
        }
        free(d[l].ex), free(d[l].bin_lo), free(d[l].bin_count), free(d[l].dec);
    }
    free(d);
}
