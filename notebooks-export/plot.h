/* plot.h — private: a small cairo plotting helper (panels with axes, "nice" ticks, labels,
 * grid, lines, points, error bars, bars, legend) used by plots.c. */
#ifndef SAETOX_EXPORT_PLOT_H
#define SAETOX_EXPORT_PLOT_H

#include <cairo.h>

#include "core.h"

typedef struct xp_plot {
    cairo_surface_t *surf;
    cairo_t *cr;
    int w, h;
    /* current panel: pixel frame and data ranges */
    double fx0, fy0, fx1, fy1;
    double x0, x1, y0, y1;
    int xint, yint; /* integer ticks only (counts, sizes); set after xp_plot_panel */
} xp_plot;

int xp_plot_begin(xp_plot *p, int w, int h, sx_err *err);
/* Panel at pixel rectangle (left, top, width, height) showing [x0,x1] x [y0,y1]. */
void xp_plot_panel(xp_plot *p, double left, double top, double width, double height, double x0,
                   double x1, double y0, double y1);
/* Frame, ticks with labels, grid lines, title and axis labels of the current panel. */
void xp_plot_axes(xp_plot *p, const char *title, const char *xlabel, const char *ylabel);
void xp_plot_line(xp_plot *p, const double *x, const double *y, int n, int color);
void xp_plot_points(xp_plot *p, const double *x, const double *y, int n, int color);
/* Markers: shape 0 circle, 1 square, 2 triangle, 3 diamond, 4 star; color -1 = black. */
void xp_plot_markers(xp_plot *p, const double *x, const double *y, int n, int color, int shape);
void xp_plot_errbar(xp_plot *p, double x, double ylo, double yhi, int color);
/* Bars [xl, xr] x [0, h] (filled with a colour, outlined). */
void xp_plot_bar(xp_plot *p, double xl, double xr, double h, int color);
/* Text at data coordinates (small, left-aligned, slightly offset). */
void xp_plot_label(xp_plot *p, double x, double y, const char *text);
/* Centered message in the current panel (e.g. "no data"). */
void xp_plot_message(xp_plot *p, const char *text);
/* Legend box in the top-right corner of the current panel. */
void xp_plot_legend(xp_plot *p, const char *const *labels, const int *colors, int n);
/* The same with a marker per entry (shapes may be NULL; shape 4 = a point, no line). */

void xp_plot_legend_m(xp_plot *p, const char *const *labels, const int *colors, const int *shapes,
                      int n);
/* Write the PNG atomically and free the surface. */
int xp_plot_save(xp_plot *p, const char *path, sx_err *err);
void xp_plot_free(xp_plot *p);

/* Data range of n values (NaNs skipped) padded by frac of the span on both sides; a zero
 * span is widened.  Returns 0 when there is no finite value. */
int xp_range(const double *v, int64_t n, double frac, double *lo, double *hi);
/* Include a value in a range. */
void xp_range_add(double v, double *lo, double *hi);

#endif
