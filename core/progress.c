/* progress.c — a one-line progress bar with rate and ETA on stderr (terminals only), thread
 * settings and a monotonic clock. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <cblas.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

double sx_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sx_progress_start(sx_progress *p, const char *label, double total, const char *unit) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total;
    p->t0 = sx_now();
    p->enabled = isatty(STDERR_FILENO);
}

static void fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%02d:%02d", t / 60, t % 60);
}

static void draw(sx_progress *p, int final) {
    double el = sx_now() - p->t0;
    double rate = el > 0 ? p->done / el : 0;
    double frac = p->total > 0 ? p->done / p->total : 0;
    if (frac > 1) frac = 1;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    char eta[32], ela[32];
    fmt_time(ela, sizeof ela, el);
    fmt_time(eta, sizeof eta, rate > 0 ? (p->total - p->done) / rate : -1);
    fprintf(stderr, "\r%s [%s] %5.1f%% %.0f/%.0f %s %.1f %s/s elapsed %s ETA %s%s", p->label, bar,
            100 * frac, p->done, p->total, p->unit, rate, p->unit, ela, final ? "00:00" : eta,
            final ? "\n" : "  ");
    fflush(stderr);
}

void sx_progress_update(sx_progress *p, double done) {
    p->done = done;
    if (!p->enabled) return;
    double now = sx_now();
    if (now - p->last_draw < 0.2) return;
    p->last_draw = now;
    draw(p, 0);
}

void sx_progress_finish(sx_progress *p) {
    if (p->enabled) draw(p, 1);
}

void sx_set_threads(int n) {
    sx_blas_fix_coretype(); /* before the first BLAS call (lazy part of sx_init) */
    if (n <= 0) return;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
}

int sx_get_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
