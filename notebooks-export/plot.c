/* plot.c — a small cairo plotting helper: axes with "nice" 1-2-5 ticks, grid, lines, points,
 * error bars, bars and a legend.  Enough for the export's four figures, nothing more. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Colour-blind-safe palette (Okabe-Ito), then greys. */
/* Colour-blind-safe: Okabe-Ito's seven colours (blue, vermillion, bluish green, reddish
 * purple, sky blue, orange, yellow), then Paul Tol's muted scheme (indigo, teal, olive,
 * wine, rose, sand) for plots with more series, then grey.  Black is kept for the
 * unsteered reference point.  The HTML charts use the same list (XP_PALETTE_HEX). */
static const double PALETTE[][3] = {
    {0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.000, 0.620, 0.451}, {0.800, 0.475, 0.655},
    {0.337, 0.706, 0.914}, {0.902, 0.624, 0.000}, {0.800, 0.733, 0.267}, {0.200, 0.133, 0.533},
    {0.267, 0.667, 0.600}, {0.600, 0.600, 0.200}, {0.533, 0.133, 0.333}, {0.800, 0.400, 0.467},
    {0.867, 0.800, 0.467}, {0.3, 0.3, 0.3},
};
const char *const XP_PALETTE_HEX[14] = {
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00", "#ccbb44",
    "#332288", "#44aa99", "#999933", "#882255", "#cc6677", "#ddcc77", "#4d4d4d"};
#define NPAL (int)(sizeof PALETTE / sizeof PALETTE[0])

static void set_color(cairo_t *cr, int c, double alpha) {
    const double *p = PALETTE[((c % NPAL) + NPAL) % NPAL];
    cairo_set_source_rgba(cr, p[0], p[1], p[2], alpha);
}

int xp_plot_begin(xp_plot *p, int w, int h, sx_err *err) {
    memset(p, 0, sizeof *p);
    p->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(p->surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(p->surf);
        p->surf = NULL;
        return sx_failc(err, SX_EIO, "cairo: cannot create a %dx%d image", w, h);
    }
    p->cr = cairo_create(p->surf);
    p->w = w;
    p->h = h;
    cairo_set_source_rgb(p->cr, 1, 1, 1);
    cairo_paint(p->cr);
    cairo_select_font_face(p->cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return 0;
}

void xp_plot_panel(xp_plot *p, double left, double top, double width, double height, double x0,
                   double x1, double y0, double y1) {
    p->fx0 = left;
    p->fy0 = top;
    p->fx1 = left + width;
    p->fy1 = top + height;
    p->x0 = x0;
    p->x1 = x1 > x0 ? x1 : x0 + 1;
    p->y0 = y0;
    p->y1 = y1 > y0 ? y1 : y0 + 1;
    p->xint = p->yint = 0;
}

static double px(const xp_plot *p, double x) {
    return p->fx0 + (x - p->x0) / (p->x1 - p->x0) * (p->fx1 - p->fx0);
}
static double py(const xp_plot *p, double y) {
    return p->fy1 - (y - p->y0) / (p->y1 - p->y0) * (p->fy1 - p->fy0);
}

/* A 1-2-5 step giving about `want` intervals over span. */
static double nice_step(double span, int want) {
    double raw = span / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void fmt_tick(char *b, size_t n, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    double a = fabs(v);
    if (a >= 1e5 || (a > 0 && a < 1e-3)) snprintf(b, n, "%.3g", v);
    else if (step >= 1) snprintf(b, n, "%.0f", v);
    else {
        int dec = (int)ceil(-log10(step) - 1e-9);
        snprintf(b, n, "%.*f", dec, v);
    }
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - ax * e.width - e.x_bearing, y - ay * e.height - e.y_bearing);
    cairo_show_text(cr, s);
}

void xp_plot_axes(xp_plot *p, const char *title, const char *xlabel, const char *ylabel) {
    cairo_t *cr = p->cr;
    char b[64];
    cairo_set_font_size(cr, 12);
    cairo_set_line_width(cr, 1);
    double xs = nice_step(p->x1 - p->x0, 6), ys = nice_step(p->y1 - p->y0, 6);
    if (p->xint && xs < 1) xs = 1;
    if (p->yint && ys < 1) ys = 1;
    for (double v = ceil(p->x0 / xs) * xs; v <= p->x1 + xs * 1e-9; v += xs) {
        double x = floor(px(p, v)) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, x, p->fy0);
        cairo_line_to(cr, x, p->fy1);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, x, p->fy1);
        cairo_line_to(cr, x, p->fy1 + 5);
        cairo_stroke(cr);
        fmt_tick(b, sizeof b, v, xs);
        text_at(cr, x, p->fy1 + 8, b, 0.5, 0);
    }
    for (double v = ceil(p->y0 / ys) * ys; v <= p->y1 + ys * 1e-9; v += ys) {
        double y = floor(py(p, v)) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, p->fx0, y);
        cairo_line_to(cr, p->fx1, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, p->fx0 - 5, y);
        cairo_line_to(cr, p->fx0, y);
        cairo_stroke(cr);
        fmt_tick(b, sizeof b, v, ys);
        text_at(cr, p->fx0 - 8, y, b, 1, 0.5);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, floor(p->fx0) + 0.5, floor(p->fy0) + 0.5, p->fx1 - p->fx0, p->fy1 - p->fy0);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 13);
    if (xlabel) text_at(cr, (p->fx0 + p->fx1) / 2, p->fy1 + 28, xlabel, 0.5, 0);
    if (ylabel) {
        cairo_save(cr);
        cairo_translate(cr, p->fx0 - 58, (p->fy0 + p->fy1) / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, 0, 0, ylabel, 0.5, 0.5);
        cairo_restore(cr);
    }
    if (title) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        cairo_set_font_size(cr, 15);
        text_at(cr, (p->fx0 + p->fx1) / 2, p->fy0 - 12, title, 0.5, 1);
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    }
}

static void clip_panel(xp_plot *p) {
    cairo_save(p->cr);
    cairo_rectangle(p->cr, p->fx0, p->fy0, p->fx1 - p->fx0, p->fy1 - p->fy0);
    cairo_clip(p->cr);
}

void xp_plot_line(xp_plot *p, const double *x, const double *y, int n, int color) {
    clip_panel(p);
    cairo_t *cr = p->cr;
    set_color(cr, color, 1);
    cairo_set_line_width(cr, 2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    int pen = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) { /* a gap */
            if (pen) cairo_stroke(cr);
            pen = 0;
            continue;
        }
        if (pen) cairo_line_to(cr, px(p, x[i]), py(p, y[i]));
        else cairo_move_to(cr, px(p, x[i]), py(p, y[i]));
        pen = 1;
    }
    if (pen) cairo_stroke(cr);
    cairo_restore(cr);
}

/* Marker path centred at (X, Y): 0 circle, 1 square, 2 triangle, 3 diamond, 4 star. */
static void marker_path(cairo_t *cr, double X, double Y, int shape, double r) {
    switch (shape) {
    case 1: cairo_rectangle(cr, X - r * 0.85, Y - r * 0.85, r * 1.7, r * 1.7); break;
    case 2:
        cairo_move_to(cr, X, Y - r * 1.15), cairo_line_to(cr, X + r, Y + r * 0.7);
        cairo_line_to(cr, X - r, Y + r * 0.7), cairo_close_path(cr);
        break;
    case 3:
        cairo_move_to(cr, X, Y - r * 1.2), cairo_line_to(cr, X + r, Y), cairo_line_to(cr, X, Y + r * 1.2);
        cairo_line_to(cr, X - r, Y), cairo_close_path(cr);
        break;
    case 4:
        for (int k = 0; k < 10; k++) {
            double a = -M_PI / 2 + k * M_PI / 5, rr = k % 2 ? r * 0.6 : r * 1.6;
            if (k) cairo_line_to(cr, X + rr * cos(a), Y + rr * sin(a));
            else cairo_move_to(cr, X + rr * cos(a), Y + rr * sin(a));
        }
        cairo_close_path(cr);
        break;
    default: cairo_new_sub_path(cr), cairo_arc(cr, X, Y, r, 0, 2 * M_PI);
    }
}

void xp_plot_markers(xp_plot *p, const double *x, const double *y, int n, int color, int shape) {
    clip_panel(p);
    cairo_t *cr = p->cr;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        marker_path(cr, px(p, x[i]), py(p, y[i]), shape, 5);
        if (color < 0) cairo_set_source_rgb(cr, 0, 0, 0);
        else set_color(cr, color, 1);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
}

void xp_plot_points(xp_plot *p, const double *x, const double *y, int n, int color) {
    clip_panel(p);
    cairo_t *cr = p->cr;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        cairo_arc(cr, px(p, x[i]), py(p, y[i]), 4.5, 0, 2 * M_PI);
        set_color(cr, color, 1);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
}

void xp_plot_errbar(xp_plot *p, double x, double ylo, double yhi, int color) {
    if (!isfinite(x) || !isfinite(ylo) || !isfinite(yhi)) return;
    clip_panel(p);
    cairo_t *cr = p->cr;
    set_color(cr, color, 0.8);
    cairo_set_line_width(cr, 1.2);
    double X = px(p, x);
    cairo_move_to(cr, X, py(p, ylo));
    cairo_line_to(cr, X, py(p, yhi));
    cairo_move_to(cr, X - 4, py(p, ylo));
    cairo_line_to(cr, X + 4, py(p, ylo));
    cairo_move_to(cr, X - 4, py(p, yhi));
    cairo_line_to(cr, X + 4, py(p, yhi));
    cairo_stroke(cr);
    cairo_restore(cr);
}

void xp_plot_bar(xp_plot *p, double xl, double xr, double h, int color) {
    if (!isfinite(h) || h <= 0) return;
    clip_panel(p);
    cairo_t *cr = p->cr;
    double X0 = px(p, xl), X1 = px(p, xr), Y0 = py(p, 0 > p->y0 ? 0 : p->y0), Y1 = py(p, h);
    cairo_rectangle(cr, X0, Y1, X1 - X0, Y0 - Y1);
    set_color(cr, color, 0.85);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 0.8);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void xp_plot_label(xp_plot *p, double x, double y, const char *text) {
    if (!isfinite(x) || !isfinite(y)) return;
    cairo_set_source_rgb(p->cr, 0.2, 0.2, 0.2);
    cairo_set_font_size(p->cr, 11);
    cairo_move_to(p->cr, px(p, x) + 6, py(p, y) - 6);
    cairo_show_text(p->cr, text);
}

void xp_plot_message(xp_plot *p, const char *text) {
    cairo_set_source_rgb(p->cr, 0.4, 0.4, 0.4);
    cairo_set_font_size(p->cr, 16);
    text_at(p->cr, (p->fx0 + p->fx1) / 2, (p->fy0 + p->fy1) / 2, text, 0.5, 0.5);
}

void xp_plot_legend(xp_plot *p, const char *const *labels, const int *colors, int n) {
    xp_plot_legend_m(p, labels, colors, NULL, n);
}

void xp_plot_legend_m(xp_plot *p, const char *const *labels, const int *colors, const int *shapes,
                      int n) {
    if (n <= 0) return;
    cairo_t *cr = p->cr;
    cairo_set_font_size(cr, 12);
    double wmax = 0;
    for (int i = 0; i < n; i++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, labels[i], &e);
        if (e.x_advance > wmax) wmax = e.x_advance;
    }
    double bw = wmax + 40, bh = n * 18 + 10, x = p->fx1 - bw - 10, y = p->fy0 + 10;
    cairo_rectangle(cr, x, y, bw, bh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double ly = y + 14 + i * 18;
        if (colors[i] < 0) cairo_set_source_rgb(cr, 0, 0, 0);
        else set_color(cr, colors[i], 1);
        cairo_set_line_width(cr, 3);
        if (!shapes || shapes[i] != 4) { /* the unsteered point has no line */
            cairo_move_to(cr, x + 8, ly);
            cairo_line_to(cr, x + 28, ly);
            cairo_stroke(cr);
        }
        if (shapes) {
            marker_path(cr, x + 18, ly, shapes[i], 4.5);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, x + 34, ly, labels[i], 0, 0.5);
    }
}

static cairo_status_t write_fn(void *closure, const unsigned char *data, unsigned int len) {
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int xp_plot_save(xp_plot *p, const char *path, sx_err *err) {
    cairo_surface_flush(p->surf);
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) {
        xp_plot_free(p);
        return -1;
    }
    cairo_status_t st = cairo_surface_write_to_png_stream(p->surf, write_fn, af.f);
    xp_plot_free(p);
    if (st != CAIRO_STATUS_SUCCESS) {
        sx_atomic_abort(&af);
        return sx_failc(err, SX_EIO, "%s: cannot write PNG: %s", path, cairo_status_to_string(st));
    }
    return sx_atomic_commit(&af, err);
}

void xp_plot_free(xp_plot *p) {
    if (p->cr) cairo_destroy(p->cr);
    if (p->surf) cairo_surface_destroy(p->surf);
    p->cr = NULL;
    p->surf = NULL;
}

void xp_range_add(double v, double *lo, double *hi) {
    if (!isfinite(v)) return;
    if (!(v >= *lo)) *lo = v;
    if (!(v <= *hi)) *hi = v;
}

int xp_range(const double *v, int64_t n, double frac, double *lo, double *hi) {
    double a = NAN, b = NAN;
    for (int64_t i = 0; i < n; i++) xp_range_add(v[i], &a, &b);
    if (isnan(a)) {
        *lo = 0;
        *hi = 1;
        return 0;
    }
    double span = b - a;
    if (span <= 0) span = fabs(a) > 0 ? fabs(a) * 0.1 : 1;
    *lo = a - frac * span;
    *hi = b + frac * span;
    return 1;
}
