/* html_svg.c — the HTML escaper and the dashboard's inline SVG charts (activation histogram
 * from quantiles, steering trade-off).  Everything is inline: no fonts, images or scripts are
 * fetched. */
#include "export_int.h"

#include <stdlib.h>
#include <string.h>

/* Escape text for element content and quoted attributes (& < > " ' / :).  C0 controls other than tab and
 * newline become U+FFFD so odd bytes in generated text cannot break the page. */
void xp_html_esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        /* "/" and ":" too: text such as "http://x" must not appear as a URL anywhere in the
         * file, so no scanner (or person grepping) mistakes data for a link. */
        case '/': fputs("&#47;", f); break;
        case ':': fputs("&#58;", f); break;
        case '\r': break; /* CRLF in generated text displays as one line break */
        default:
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) fputs("\xEF\xBF\xBD", f);
            else fputc(c, f);
        }
    }
}

static const char *const COLORS[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                     "#56b4e9", "#e69f00", "#7a7a00", "#4d4d4d"};

static double nice_step(double span, int want) {
    double raw = span / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* Activation "histogram" of one latent drawn from what the stats give: a piecewise-uniform
 * density with 50% of the mass below q50, 40% in [q50,q90], 9% in [q90,q99] and 1% in
 * [q99,max]; red ticks mark the activations of its top contexts. */
void xp_svg_hist(FILE *f, const xp_stat *st, const xp_ctx *ctx, int64_t nctx) {
    const double X0 = 34, X1 = 290, Y0 = 8, Y1 = 78;
    double mx = st && isfinite(st->max_act) ? st->max_act : 0;
    for (int64_t i = 0; i < nctx; i++)
        if (ctx[i].activation > mx) mx = ctx[i].activation;
    if (!(mx > 0)) mx = 1;
    fprintf(f, "<svg class=\"hist\" width=\"300\" height=\"104\" viewBox=\"0 0 300 104\" "
               "role=\"img\" aria-label=\"activation distribution\">");
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#333\"/>", X0, Y1, X1, Y1);
    if (st && isfinite(st->q50) && isfinite(st->q90) && isfinite(st->q99)) {
        double b[5] = {0, st->q50, st->q90, st->q99, mx}, mass[4] = {0.5, 0.4, 0.09, 0.01};
        double dens[4], dmax = 0;
        for (int k = 0; k < 4; k++) {
            double wdt = b[k + 1] - b[k];
            dens[k] = wdt > mx * 1e-3 ? mass[k] / wdt : -1; /* -1: mass at (almost) a point */
            if (dens[k] > dmax) dmax = dens[k];
        }
        for (int k = 0; k < 4; k++) {
            double xa = X0 + b[k] / mx * (X1 - X0), xb = X0 + b[k + 1] / mx * (X1 - X0);
            double h = dens[k] < 0 ? (Y1 - Y0) * mass[k] * 2 : (Y1 - Y0) * dens[k] / dmax;
            if (h > Y1 - Y0) h = Y1 - Y0;
            if (h < 1.5) h = 1.5;
            if (dens[k] < 0) xb = xa + 3, xa -= 0; /* a spike */
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                       "<title>%g%% of activations in [%.4g, %.4g]</title></rect>",
                    xa, Y1 - h, xb - xa > 1 ? xb - xa : 1, h, COLORS[0], mass[k] * 100, b[k],
                    b[k + 1]);
        }
    }
    for (int64_t i = 0; i < nctx; i++) {
        double x = X0 + ctx[i].activation / mx * (X1 - X0);
        if (!isfinite(x)) continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#d62728\" "
                   "stroke-width=\"1.5\"/>", x, Y1 + 1, x, Y1 + 8);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"middle\">0</text>", X0, Y1 + 19);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"end\">%.3g</text>", X1, Y1 + 19, mx);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"middle\">activation "
               "(red: top contexts)</text>", (X0 + X1) / 2, Y1 + 19);
    fprintf(f, "<text x=\"2\" y=\"%g\" font-size=\"10\" transform=\"rotate(-90 10 %g)\">density</text>",
            (Y0 + Y1) / 2 + 20, (Y0 + Y1) / 2 + 20);
    fputs("</svg>", f);
}

static int cmp_alpha(const void *a, const void *b) {
    const xp_sweep *x = *(xp_sweep *const *)a, *y = *(xp_sweep *const *)b;
    return (x->alpha > y->alpha) - (x->alpha < y->alpha);
}

/* Toxicity (EMT with its CI) against perplexity, one polyline per tier in alpha order. */
void xp_svg_tradeoff(FILE *f, const xp_run *run) {
    const double Wd = 720, Ht = 430, L = 72, R = 150, T = 16, B = 52;
    int64_t n = run->n_sweep;
    double x0 = NAN, x1 = NAN, y0 = NAN, y1 = NAN;
    for (int64_t i = 0; i < n; i++) {
        const double *v = run->sweep[i].v;
        double xs[] = {v[XS_PPL]}, ys[] = {v[XS_EMT], v[XS_EMT_LO], v[XS_EMT_HI]};
        if (isfinite(xs[0])) x0 = isnan(x0) || xs[0] < x0 ? xs[0] : x0, x1 = isnan(x1) || xs[0] > x1 ? xs[0] : x1;
        for (int k = 0; k < 3; k++)
            if (isfinite(ys[k])) y0 = isnan(y0) || ys[k] < y0 ? ys[k] : y0, y1 = isnan(y1) || ys[k] > y1 ? ys[k] : y1;
    }
    if (isnan(x0)) x0 = 0, x1 = 1;
    if (isnan(y0)) y0 = 0, y1 = 1;
    double dx = x1 - x0 > 0 ? x1 - x0 : 1, dy = y1 - y0 > 0 ? y1 - y0 : 0.1;
    x0 -= 0.06 * dx, x1 += 0.06 * dx, y0 -= 0.08 * dy, y1 += 0.08 * dy;
    if (y0 < 0) y0 = 0;
    double pw = Wd - L - R, ph = Ht - T - B;
#define PX(v) (L + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (T + ph - ((v) - y0) / (y1 - y0) * ph)
    fprintf(f, "<svg class=\"chart\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" role=\"img\" "
               "aria-label=\"toxicity versus perplexity\">", Wd, Ht, Wd, Ht);
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#fff\" stroke=\"#333\"/>", L, T, pw, ph);
    double xs = nice_step(x1 - x0, 6), ys = nice_step(y1 - y0, 6);
    for (double v = ceil(x0 / xs) * xs; v <= x1; v += xs)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#e5e5e5\"/>"
                   "<text x=\"%.1f\" y=\"%g\" font-size=\"11\" text-anchor=\"middle\">%.4g</text>",
                PX(v), T, PX(v), T + ph, PX(v), T + ph + 15, v);
    for (double v = ceil(y0 / ys) * ys; v <= y1; v += ys)
        fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                   "<text x=\"%g\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.3g</text>",
                L, PY(v), L + pw, PY(v), L - 6, PY(v) + 4, v);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"13\" text-anchor=\"middle\">perplexity under "
               "the unsteered model</text>", L + pw / 2, Ht - 12);
    fprintf(f, "<text x=\"16\" y=\"%g\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 16 %g)\">"
               "expected maximum toxicity</text>", T + ph / 2, T + ph / 2);
    const xp_sweep **rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    const char *tiers[32];
    int nt = 0;
    for (int64_t i = 0; rows && i < n && nt < 32; i++) {
        int seen = 0;
        for (int k = 0; k < nt; k++) seen |= strcmp(tiers[k], run->sweep[i].tier) == 0;
        if (seen) continue;
        const char *col = COLORS[nt % 8];
        tiers[nt++] = run->sweep[i].tier;
        int m = 0;
        for (int64_t j = 0; j < n; j++)
            if (strcmp(run->sweep[j].tier, run->sweep[i].tier) == 0) rows[m++] = &run->sweep[j];
        qsort(rows, (size_t)m, sizeof *rows, cmp_alpha);
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (int k = 0; k < m; k++)
            if (isfinite(rows[k]->v[XS_PPL]) && isfinite(rows[k]->v[XS_EMT]))
                fprintf(f, "%.1f,%.1f ", PX(rows[k]->v[XS_PPL]), PY(rows[k]->v[XS_EMT]));
        fputs("\"/>", f);
        for (int k = 0; k < m; k++) {
            const double *v = rows[k]->v;
            if (!isfinite(v[XS_PPL]) || !isfinite(v[XS_EMT])) continue;
            if (isfinite(v[XS_EMT_LO]) && isfinite(v[XS_EMT_HI]))
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>",
                        PX(v[XS_PPL]), PY(v[XS_EMT_LO]), PX(v[XS_PPL]), PY(v[XS_EMT_HI]), col);
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"#fff\"><title>",
                    PX(v[XS_PPL]), PY(v[XS_EMT]), col);
            xp_html_esc(f, rows[k]->condition);
            fprintf(f, " (tier ");
            xp_html_esc(f, rows[k]->tier);
            fprintf(f, ", alpha %g): EMT %.3f, ppl %.2f</title></circle>", rows[k]->alpha,
                    v[XS_EMT], v[XS_PPL]);
            if (m > 1) /* strengths along a tier's curve */
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#444\">%g</text>",
                        PX(v[XS_PPL]) + 6, PY(v[XS_EMT]) - 6, rows[k]->alpha);
        }
    }
    for (int k = 0; k < nt; k++) {
        double ly = T + 14 + k * 20;
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"3\"/>"
                   "<text x=\"%g\" y=\"%g\" font-size=\"12\">", L + pw + 12, ly, L + pw + 32, ly,
                COLORS[k % 8], L + pw + 38, ly + 4);
        xp_html_esc(f, tiers[k]);
        fputs("</text>", f);
    }
    fputs("</svg>", f);
    free(rows);
#undef PX
#undef PY
}
