/* html_svg.c — the HTML escaper and the dashboard's inline SVG trade-off chart (the feature
 * pages draw their histograms in the page's script, html_dash.c).  Everything is inline: no fonts, images or scripts are
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


/* An open <path> marker (the caller closes it, after an optional <title>): shape 0 circle,
 * 1 square, 2 triangle, 3 diamond, 4 star. */
static void marker(FILE *f, double X, double Y, int shape, const char *col) {
    const double r = 5;
    fputs("<path d=\"", f);
    switch (shape) {
    case 1: fprintf(f, "M%.1f %.1fh%.1fv%.1fh%.1fz", X - r * .85, Y - r * .85, r * 1.7, r * 1.7, -r * 1.7); break;
    case 2: fprintf(f, "M%.1f %.1fL%.1f %.1fL%.1f %.1fz", X, Y - r * 1.15, X + r, Y + r * .7, X - r, Y + r * .7); break;
    case 3: fprintf(f, "M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fz", X, Y - r * 1.2, X + r, Y, X, Y + r * 1.2, X - r, Y); break;
    case 4:
        for (int k = 0; k < 10; k++) {
            double a = -M_PI / 2 + k * M_PI / 5, rr = k % 2 ? r * .6 : r * 1.6;
            fprintf(f, "%c%.1f %.1f", k ? 'L' : 'M', X + rr * cos(a), Y + rr * sin(a));
        }
        fputc('z', f);
        break;
    default: fprintf(f, "M%.1f %.1fa%.1f %.1f 0 1 0 %.1f 0a%.1f %.1f 0 1 0 %.1f 0", X - r, Y, r, r, 2 * r, r, r, -2 * r);
    }
    fprintf(f, "\" fill=\"%s\" stroke=\"#fff\">", col);
}

static double nice_step(double span, int want) {
    double raw = span / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static int cmp_alpha(const void *a, const void *b) {
    const xp_sweep *x = *(xp_sweep *const *)a, *y = *(xp_sweep *const *)b;
    return (x->alpha > y->alpha) - (x->alpha < y->alpha);
}

/* Toxicity (EMT with its CI) against perplexity, one polyline per tier in alpha order. */
void xp_svg_tradeoff(FILE *f, const xp_run *run) {
    const double Wd = 820, Ht = 430, L = 72, R = 230, T = 16, B = 52;
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
    /* One series per (SAE, tier) as in tradeoff.png (xp_series_of): its own colour, a marker
     * per SAE (circle, square, triangle, diamond), the unsteered point a black star. */
    const xp_sweep **rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    xp_series ser[32], cur;
    int nt = 0, ncol = 0, cols[32], shp[32];
    for (int64_t i = 0; rows && i < 2 * n && nt < 32; i++) { /* unsteered last: on top */
        int seen = 0;
        xp_series_of(run, &run->sweep[i % n], &cur);
        if (cur.unsteered != (i >= n)) continue;
        for (int k = 0; k < nt; k++) seen |= strcmp(ser[k].key, cur.key) == 0;
        if (seen) continue;
        ser[nt] = cur;
        cols[nt] = cur.unsteered ? -1 : ncol++ % (XP_NPALETTE - 1);
        shp[nt] = cur.unsteered ? 4 : cur.sae >= 0 ? cur.sae % 4 : 0;
        const char *col = cols[nt] < 0 ? "#000" : XP_PALETTE_HEX[cols[nt]];
        int m = 0;
        for (int64_t j = 0; j < n; j++) {
            xp_series_of(run, &run->sweep[j], &cur);
            if (!strcmp(cur.key, ser[nt].key)) rows[m++] = &run->sweep[j];
        }
        qsort(rows, (size_t)m, sizeof *rows, cmp_alpha);
        fputs("<g data-series=\"", f);
        xp_html_esc(f, ser[nt].key);
        fputs("\">", f);
        if (m > 1) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
            for (int k = 0; k < m; k++)
                if (isfinite(rows[k]->v[XS_PPL]) && isfinite(rows[k]->v[XS_EMT]))
                    fprintf(f, "%.1f,%.1f ", PX(rows[k]->v[XS_PPL]), PY(rows[k]->v[XS_EMT]));
            fputs("\"/>", f);
        }
        for (int k = 0; k < m; k++) {
            const double *v = rows[k]->v;
            if (!isfinite(v[XS_PPL]) || !isfinite(v[XS_EMT])) continue;
            double X = PX(v[XS_PPL]), Y = PY(v[XS_EMT]);
            if (isfinite(v[XS_EMT_LO]) && isfinite(v[XS_EMT_HI]))
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>",
                        X, PY(v[XS_EMT_LO]), X, PY(v[XS_EMT_HI]), col);
            marker(f, X, Y, shp[nt], col);
            fputs("<title>", f);
            xp_html_esc(f, rows[k]->condition);
            fputs(" (", f);
            xp_html_esc(f, ser[nt].key);
            fprintf(f, ", alpha %g): EMT %.3f, ppl %.2f</title></path>", rows[k]->alpha, v[XS_EMT], v[XS_PPL]);
            if (m > 1) /* strengths along a series */
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#444\">%g</text>",
                        X + 6, Y - 6, rows[k]->alpha);
        }
        fputs("</g>", f);
        nt++;
    }
    for (int k = 0; k < nt; k++) {
        double ly = T + 14 + k * 20;
        const char *col = cols[k] < 0 ? "#000" : XP_PALETTE_HEX[cols[k]];
        if (shp[k] != 4)
            fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"3\"/>",
                    L + pw + 12, ly, L + pw + 32, ly, col);
        marker(f, L + pw + 22, ly, shp[k], col);
        fputs("</path>", f);
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"12\">", L + pw + 38, ly + 4);
        xp_html_esc(f, ser[k].key);
        fputs("</text>", f);
    }
    fputs("</svg>", f);
    free(rows);
#undef PX
#undef PY
}
