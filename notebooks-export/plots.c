/* plots.c — the export's PNG figures (900x600, cairo via plot.c): training curves, final L0
 * vs FVU, the toxicity-vs-perplexity trade-off per tier, the decoder-cosine histogram and
 * family sizes. */
#include "export_int.h"
#include "plot.h"

#include <stdlib.h>
#include <string.h>

#define W 900
#define H 600

static int save(xp_plot *p, const char *dir, const char *name, sx_export_notes *notes,
                sx_err *err) {
    char path[4096];
    sx_path_join(path, sizeof path, dir, name);
    if (xp_plot_save(p, path, err)) return -1;
    xp_note(notes, "wrote %s", path);
    return 0;
}

/* ---- training curves: MSE and L0 against tokens, one line per SAE ---- */
static int plot_training(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    int64_t n = run->n_metrics;
    double *x = calloc((size_t)n, sizeof *x), *y0 = calloc((size_t)n, sizeof *y0),
           *y1 = calloc((size_t)n, sizeof *y1), *t = calloc((size_t)n, sizeof *t);
    if (!x || !y0 || !y1 || !t) {
        free(x), free(y0), free(y1), free(t);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) t[i] = run->metrics[i].tokens;
    double tlo, thi, scale = 1;
    xp_range(t, n, 0, &tlo, &thi);
    const char *xl = "training tokens";
    if (thi >= 1e6) scale = 1e6, xl = "training tokens (millions)";
    else if (thi >= 1e4) scale = 1e3, xl = "training tokens (thousands)";
    for (int64_t i = 0; i < n; i++) {
        t[i] /= scale;
        y0[i] = run->metrics[i].mse;
        y1[i] = run->metrics[i].l0;
    }
    double a0, a1, b0, b1, c0, c1;
    xp_range(t, n, 0.02, &a0, &a1);
    xp_range(y0, n, 0.05, &b0, &b1);
    xp_range(y1, n, 0.05, &c0, &c1);
    if (b0 < 0 || b0 < (b1 - b0) * 0.3) b0 = 0; /* errors and counts start at zero */
    if (c0 < 0 || c0 < (c1 - c0) * 0.3) c0 = 0;
    /* TopK-family SAEs have L0 = k by construction: a flat line says nothing.  When every
     * SAE's L0 is constant, the right panel shows what moves instead: the dead fraction. */
    int flat = 1;
    for (int s = 0; s < run->n_sae && flat; s++) {
        double lo = NAN, hi = NAN;
        for (int64_t i = 0; i < n; i++)
            if (run->metrics[i].sae == s) xp_range_add(run->metrics[i].l0, &lo, &hi);
        if (!isnan(lo) && hi - lo > 1e-6 * (fabs(hi) > 1 ? fabs(hi) : 1)) flat = 0;
    }
    if (flat) {
        for (int64_t i = 0; i < n; i++) y1[i] = run->metrics[i].dead_frac;
        xp_range(y1, n, 0.05, &c0, &c1);
        if (c0 < 0 || c0 < (c1 - c0) * 0.3) c0 = 0;
    }
    xp_plot p;
    if (xp_plot_begin(&p, W, H, err)) goto fail;
    const char *labels[XP_MAX_SAE];
    int colors[XP_MAX_SAE], nl = 0;
    for (int panel = 0; panel < 2; panel++) {
        if (panel == 0) xp_plot_panel(&p, 90, 50, 340, 470, a0, a1, b0, b1);
        else xp_plot_panel(&p, 540, 50, 340, 470, a0, a1, c0, c1);
        xp_plot_axes(&p, panel ? (flat ? "Dead latents (L0 = k is fixed for TopK)" : "Sparsity (L0)")
                               : "Reconstruction MSE",
                     xl, panel ? (flat ? "share of latents dead in the window" : "active latents per token") : "MSE");
        for (int s = 0; s < run->n_sae; s++) {
            int m = 0;
            for (int64_t i = 0; i < n; i++)
                if (run->metrics[i].sae == s) {
                    x[m] = t[i];
                    y0[m] = panel ? (flat ? run->metrics[i].dead_frac : run->metrics[i].l0) : run->metrics[i].mse;
                    m++;
                }
            if (!m) continue;
            xp_plot_line(&p, x, y0, m, s);
            if (panel == 0) {
                labels[nl] = run->sae[s];
                colors[nl++] = s;
            }
        }
        if (panel == 1) xp_plot_legend(&p, labels, colors, nl);
    }
    free(x), free(y0), free(y1), free(t);
    return save(&p, dir, "training_curves.png", notes, err);
fail:
    free(x), free(y0), free(y1), free(t);
    return -1;
}

/* ---- final L0 against FVU, one labelled point per SAE ---- */
static int plot_l0_fvu(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    int64_t last[XP_MAX_SAE];
    xp_final_metrics(run, last);
    double x[XP_MAX_SAE], y[XP_MAX_SAE];
    int n = 0;
    for (int s = 0; s < run->n_sae; s++)
        if (last[s] >= 0) {
            x[n] = run->metrics[last[s]].l0;
            y[n++] = run->metrics[last[s]].fvu;
        }
    double x0, x1, y0, y1;
    xp_range(x, n, 0.15, &x0, &x1);
    xp_range(y, n, 0.15, &y0, &y1);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    xp_plot p;
    if (xp_plot_begin(&p, W, H, err)) return -1;
    xp_plot_panel(&p, 100, 50, 760, 470, x0, x1, y0, y1);
    xp_plot_axes(&p, "Sparsity vs fidelity at the end of training", "L0 (active latents per token)",
                 "fraction of variance unexplained");
    for (int s = 0, k = 0; s < run->n_sae; s++) {
        if (last[s] < 0) continue;
        xp_plot_points(&p, &x[k], &y[k], 1, s);
        xp_plot_label(&p, x[k], y[k], run->sae[s]);
        k++;
    }
    return save(&p, dir, "l0_vs_fvu.png", notes, err);
}

/* ---- toxicity (EMT) against perplexity, one series per tier in alpha order ---- */
static int cmp_alpha(const void *a, const void *b) {
    const xp_sweep *x = *(xp_sweep *const *)a, *y = *(xp_sweep *const *)b;
    return (x->alpha > y->alpha) - (x->alpha < y->alpha);
}

void xp_series_of(const xp_run *run, const xp_sweep *r, xp_series *out) {
    const char *cond = r->condition ? r->condition : "", *tier = r->tier ? r->tier : "";
    int fam = strstr(cond, "-family") != NULL, sae = -1;
    for (int k = 0; k < run->n_sae; k++) {
        size_t l = strlen(run->sae[k]);
        if (!strncmp(cond, run->sae[k], l) && cond[l] == ' ') sae = k;
    }
    /* unprefixed SAE tiers belong to the only SAE, else to the narrowest (a single sweep run
     * of the narrow SAE next to a wide one); the baselines belong to no SAE */
    int baseline = !strcmp(tier, "none") || !strcmp(tier, "meandiff") || !strcmp(tier, "banned");
    if (sae < 0 && !baseline)
        for (int k = 0; k < run->n_sae; k++)
            if (sae < 0 || run->sae_width[k] < run->sae_width[sae]) sae = k;
    out->sae = sae;
    out->unsteered = !strcmp(tier, "none");
    if (out->unsteered) snprintf(out->key, sizeof out->key, "unsteered (none)");
    else if (sae >= 0) snprintf(out->key, sizeof out->key, "%s %s%s", run->sae[sae], tier, fam ? " family" : "");
    else snprintf(out->key, sizeof out->key, "%s (baseline)%s", tier, fam ? " family" : "");
}

static int plot_tradeoff(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    int64_t n = run->n_sweep;
    const xp_sweep **rows = malloc((size_t)n * sizeof *rows);
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    if (!rows || !x || !y) {
        free(rows), free(x), free(y);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    double x0 = NAN, x1 = NAN, y0 = NAN, y1 = NAN;
    for (int64_t i = 0; i < n; i++) {
        const double *v = run->sweep[i].v;
        xp_range_add(v[XS_PPL], &x0, &x1);
        xp_range_add(v[XS_EMT], &y0, &y1);
        xp_range_add(v[XS_EMT_LO], &y0, &y1);
        xp_range_add(v[XS_EMT_HI], &y0, &y1);
    }
    if (isnan(x0)) x0 = 0, x1 = 1;
    if (isnan(y0)) y0 = 0, y1 = 1;
    double dx = x1 - x0 > 0 ? x1 - x0 : 1, dy = y1 - y0 > 0 ? y1 - y0 : 0.1;
    x0 -= 0.08 * dx, x1 += 0.12 * dx, y0 -= 0.08 * dy, y1 += 0.08 * dy;
    if (y0 < 0) y0 = 0;
    xp_plot p;
    if (xp_plot_begin(&p, W, H, err)) {
        free(rows), free(x), free(y);
        return -1;
    }
    xp_plot_panel(&p, 100, 50, 760, 470, x0, x1, y0, y1);
    xp_plot_axes(&p, "Toxicity vs fluency per steering tier", "perplexity under the unsteered model",
                 "expected maximum toxicity");
    /* One series per (SAE, tier): a colour of its own (up to XP_NPALETTE - 1 series), a
     * marker per SAE (circle, square, triangle, diamond), the unsteered point a black star. */
    const char *tiers[32];
    xp_series ser[32], cur;
    int colors[32], shapes[32], nt = 0, ncol = 0;
    /* the unsteered point is drawn last (pass 1) so that no series hides it */
    for (int64_t i = 0; i < 2 * n && nt < 32; i++) {
        int seen = 0;
        xp_series_of(run, &run->sweep[i % n], &cur);
        if (cur.unsteered != (i >= n)) continue;
        for (int k = 0; k < nt; k++) seen |= strcmp(ser[k].key, cur.key) == 0;
        if (seen) continue;
        ser[nt] = cur;
        tiers[nt] = ser[nt].key;
        colors[nt] = cur.unsteered ? -1 : ncol++;
        shapes[nt] = cur.unsteered ? 4 : cur.sae >= 0 ? cur.sae % 4 : 0;
        int m = 0;
        for (int64_t j = 0; j < n; j++) {
            xp_series_of(run, &run->sweep[j], &cur);
            if (strcmp(cur.key, ser[nt].key) == 0) rows[m++] = &run->sweep[j];
        }
        qsort(rows, (size_t)m, sizeof *rows, cmp_alpha);
        for (int k = 0; k < m; k++) {
            x[k] = rows[k]->v[XS_PPL];
            y[k] = rows[k]->v[XS_EMT];
            xp_plot_errbar(&p, x[k], rows[k]->v[XS_EMT_LO], rows[k]->v[XS_EMT_HI], colors[nt] < 0 ? 13 : colors[nt]);
        }
        if (colors[nt] >= 0) xp_plot_line(&p, x, y, m, colors[nt]);
        xp_plot_markers(&p, x, y, m, colors[nt], shapes[nt]);
        for (int k = 0; k < m && m > 1; k++) {
            char b[32];
            snprintf(b, sizeof b, "%g", rows[k]->alpha);
            xp_plot_label(&p, x[k], y[k], b);
        }
        nt++;
    }
    xp_plot_legend_m(&p, tiers, colors, shapes, nt);
    free(rows), free(x), free(y);
    return save(&p, dir, "tradeoff.png", notes, err);
}

/* ---- histogram of decoder cosines in pairs.csv ---- */
static int plot_cosines(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    enum { NB = 30 };
    double lo = NAN, hi = NAN;
    for (int64_t i = 0; i < run->n_pairs; i++) xp_range_add(run->pairs[i].cosine, &lo, &hi);
    if (isnan(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-3) lo -= 0.05, hi += 0.05;
    double cnt[NB] = {0}, top = 1;
    for (int64_t i = 0; i < run->n_pairs; i++) {
        double c = run->pairs[i].cosine;
        if (!isfinite(c)) continue;
        int b = (int)((c - lo) / (hi - lo) * NB);
        b = b < 0 ? 0 : b >= NB ? NB - 1 : b;
        if (++cnt[b] > top) top = cnt[b];
    }
    xp_plot p;
    if (xp_plot_begin(&p, W, H, err)) return -1;
    xp_plot_panel(&p, 100, 50, 760, 470, lo, hi, 0, top * 1.08);
    p.yint = 1;
    char title[128];
    snprintf(title, sizeof title, "Decoder cosine of narrow-wide latent pairs (n = %lld)",
             (long long)run->n_pairs);
    xp_plot_axes(&p, title, "cosine similarity of decoder directions", "pairs");
    for (int b = 0; b < NB; b++)
        xp_plot_bar(&p, lo + (hi - lo) * b / NB, lo + (hi - lo) * (b + 1) / NB, cnt[b], 0);
    if (!run->n_pairs) xp_plot_message(&p, "no pairs above the threshold");
    return save(&p, dir, "cosine_hist.png", notes, err);
}

/* ---- family sizes: how many concepts have k latents in the narrow / the wide SAE ---- */
static int plot_families(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    xp_concept *cs;
    int64_t n;
    if (xp_concepts(run, &cs, &n, err)) return -1;
    int64_t kmax = 1;
    for (int64_t i = 0; i < n; i++) {
        if (cs[i].narrow_size > kmax) kmax = cs[i].narrow_size;
        if (cs[i].wide_size > kmax) kmax = cs[i].wide_size;
    }
    if (kmax > 40) kmax = 40; /* the last bar collects the larger families */
    double *cn = calloc((size_t)kmax + 1, sizeof *cn), *cw = calloc((size_t)kmax + 1, sizeof *cw);
    if (!cn || !cw) {
        free(cs), free(cn), free(cw);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    double top = 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = cs[i].narrow_size < kmax ? cs[i].narrow_size : kmax;
        int64_t b = cs[i].wide_size < kmax ? cs[i].wide_size : kmax;
        if (++cn[a] > top) top = cn[a];
        if (++cw[b] > top) top = cw[b];
    }
    xp_plot p;
    if (xp_plot_begin(&p, W, H, err)) {
        free(cs), free(cn), free(cw);
        return -1;
    }
    int64_t kmin = kmax;
    for (int64_t k = 0; k <= kmax; k++)
        if ((cn[k] > 0 || cw[k] > 0) && k < kmin) kmin = k;
    xp_plot_panel(&p, 100, 50, 760, 470, (double)kmin - 0.6, (double)kmax + 0.6, 0, top * 1.12);
    p.xint = p.yint = 1;
    xp_plot_axes(&p, run->n_toxic ? "Family sizes of toxic concepts" : "Family sizes",
                 "latents per family in the SAE", "families");
    for (int64_t k = 0; k <= kmax; k++) {
        xp_plot_bar(&p, (double)k - 0.38, (double)k, cn[k], 0);
        xp_plot_bar(&p, (double)k, (double)k + 0.38, cw[k], 1);
    }
    const char *labels[] = {"narrow SAE", "wide SAE"};
    int colors[] = {0, 1};
    xp_plot_legend(&p, labels, colors, 2);
    if (!n) xp_plot_message(&p, "no families");
    free(cs), free(cn), free(cw);
    return save(&p, dir, "family_sizes.png", notes, err);
}

int xp_write_plots(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    if (sx_mkdir_p(dir, err)) return -1;
    if (run->n_metrics) {
        if (plot_training(run, dir, notes, err) || plot_l0_fvu(run, dir, notes, err)) return -1;
    } else xp_note(notes, "skipped plots training_curves.png, l0_vs_fvu.png: no training metrics");
    if (run->n_sweep) {
        if (plot_tradeoff(run, dir, notes, err)) return -1;
    } else xp_note(notes, "skipped plot tradeoff.png: no steering sweep");
    if (run->pairs_path[0]) {
        if (plot_cosines(run, dir, notes, err)) return -1;
    } else xp_note(notes, "skipped plot cosine_hist.png: no pairs.csv");
    if (run->fam_path[0]) {
        if (plot_families(run, dir, notes, err)) return -1;
    } else xp_note(notes, "skipped plot family_sizes.png: no families.csv");
    return 0;
}
