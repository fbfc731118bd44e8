/* findings.c — the multi-seed study's findings F1-F6 (`saetox study`, issue 19): one number per
 * SAE seed for each finding, the mean and a Student t interval across seeds, and a verdict from
 * that interval.  The orchestration (caches, training, sweeps) is cli/cmd_study.c; this file
 * only reads the measured rows, so tests can feed it hand-made ones.
 *
 * Why a t interval across seeds: the seeds are the independent replicates (each seed trains its
 * own SAEs, picks its own latents and samples its own continuations), there are few of them
 * (3 by default), and the per-seed numbers are means over hundreds of generations, so close to
 * normal; the t interval is the exact interval for a normal mean with unknown variance, where a
 * bootstrap over 3 values would be degenerate.  The per-condition bootstrap CIs over prompts of
 * the sweep stay in study_runs.csv; they measure sampling noise within a seed, not the seed
 * variation the study is about.
 *
 * The verdict rules (also in README.md "The study"):
 *   sign rules ("falls": the paper's direction is < 0): reproduced when the CI lies entirely on
 *     the paper's side of 0 (hi < 0), not reproduced when it lies entirely on the other side or
 *     at 0 (lo >= 0), inconclusive when it straddles 0 (or n < 2: no interval);
 *   F3 (equivalence): reproduced when the CI of acc(c*) - acc(none) lies inside the band
 *     [wl - p, wh - p], [wl, wh] the 95% Wilson interval of the unsteered accuracy p over the
 *     benchmark's items; not reproduced when it lies entirely outside; inconclusive otherwise;
 *   F4.split: reproduced when lo > 1 (more than one child), not reproduced when hi <= 1;
 *   F5.whole: the share of seeds whose Matryoshka top toxic latent is in the first group with no
 *     later-group child: reproduced when lo > 0.5, not reproduced when hi <= 0.5;
 *   F5.steer (non-inferiority with margin m): reproduced when hi < m, not reproduced when lo > m.
 *   F6.causal-vs-*: sign rule on the causal latents' steer minus the activation-ranked steer / the
 *     baseline (< 0: the causal choice is better).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

/* ---------- Student t ---------- */

/* Continued fraction of the incomplete beta (modified Lentz; Numerical Recipes' betacf). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b). */
static double ibeta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return exp(lbt) * betacf(a, b, x) / a;
    return 1 - exp(lbt) * betacf(b, a, 1 - x) / b;
}

/* P(T > t) for t >= 0: I_{dof/(dof+t^2)}(dof/2, 1/2) / 2. */
static double t_upper(double t, double dof) { return 0.5 * ibeta(dof / 2, 0.5, dof / (dof + t * t)); }

double sx_t_quantile(double p, double dof) {
    if (!(p > 0 && p < 1) || !(dof > 0)) return NAN;
    if (p == 0.5) return 0;
    double q = p > 0.5 ? 1 - p : p; /* upper tail probability of |t| */
    double lo = 0, hi = 1;
    while (t_upper(hi, dof) > q && hi < 1e300) lo = hi, hi *= 2;
    /* bisection: t_upper is decreasing in t; 200 halvings reach the double spacing */
    for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (t_upper(mid, dof) > q) lo = mid;
        else hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return p > 0.5 ? t : -t;
}

void sx_mean_ci_t(const double *x, int n, double level, double *mean, double *lo, double *hi) {
    *mean = *lo = *hi = NAN;
    if (n <= 0) return;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    double m = s / n;
    *mean = m;
    if (n < 2) return;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    double half = sx_t_quantile(0.5 + level / 2, n - 1) * sqrt(ss / (n - 1) / n);
    *lo = m - half, *hi = m + half;
}

double sx_ols_slope(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n, my /= n;
    double sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
    return sxx > 0 ? sxy / sxx : NAN;
}

double sx_matched_min(const double *r, const double *y, int n, double budget) {
    double best = INFINITY;
    for (int j = 0; j < n; j++) {
        if (r[j] <= budget && y[j] < best) best = y[j];
        if (j + 1 < n) {
            /* y is linear along the segment, so its minimum over the feasible part is at an end of
             * that part: a feasible point (above) or the crossing of the budget */
            int in0 = r[j] <= budget, in1 = r[j + 1] <= budget;
            if (in0 != in1 && r[j + 1] != r[j]) {
                double t = (budget - r[j]) / (r[j + 1] - r[j]);
                double v = y[j] + t * (y[j + 1] - y[j]);
                if (v < best) best = v;
            }
        }
    }
    return isfinite(best) ? best : NAN;
}

/* ---------- the findings ---------- */

void sx_study_spec_default(sx_study_spec *s) {
    memset(s, 0, sizeof *s);
    s->budget = 1.25, s->level = 0.95, s->margin = 0.02;
}

typedef struct {
    const sx_study_run *runs;
    int64_t n;
    const sx_study_spec *spec;
} ctx;

static const sx_study_run *find(const ctx *c, int64_t seed, const char *sae, const char *set, const char *tier,
                                double alpha) {
    for (int64_t i = 0; i < c->n; i++) {
        const sx_study_run *r = &c->runs[i];
        if (r->seed == seed && strcmp(r->sae, sae) == 0 && strcmp(r->set, set) == 0 && strcmp(r->tier, tier) == 0 &&
            (isnan(alpha) || r->alpha == alpha))
            return r;
    }
    return NULL;
}

static int cmp_run_alpha(const void *a, const void *b) {
    const sx_study_run *x = *(const sx_study_run *const *)a, *y = *(const sx_study_run *const *)b;
    return (x->alpha > y->alpha) - (x->alpha < y->alpha);
}

enum { MAXP = 64 };
/* The strength path of (sae, set, tier) for one seed: alpha[], emt[], ppl ratio[] from the
 * start point at strength 0 (the unsteered row for steer / meandiff, the ablate row for suppress:
 * x -= (a_i + 0 A_i) d_i is ablation) then the rows with alpha > 0 in increasing order.  With
 * with_none the unsteered row is put first whatever the tier (the F6 path, which every method
 * starts from).  Returns the number of points, 0 when a needed row is missing. */
static int path(const ctx *c, int64_t seed, const char *sae, const char *set, const char *tier, int with_none,
                double *alpha, double *emt, double *ratio) {
    const sx_study_run *none = find(c, seed, "", "baseline", "none", NAN);
    if (!none || !(none->ppl > 0)) return 0;
    const sx_study_run *pts[MAXP];
    int n = 0;
    int strengthless = !strcmp(tier, "ablate") || !strcmp(tier, "banned");
    if (with_none || !strcmp(tier, "steer") || !strcmp(tier, "meandiff") || strengthless) pts[n++] = none;
    if (!strcmp(tier, "suppress")) {
        const sx_study_run *ab = find(c, seed, sae, set, "ablate", NAN);
        if (!ab) return 0;
        pts[n++] = ab;
    }
    int first = n;
    for (int64_t i = 0; i < c->n && n < MAXP; i++) {
        const sx_study_run *r = &c->runs[i];
        if (r->seed == seed && !strcmp(r->sae, sae) && !strcmp(r->set, set) && !strcmp(r->tier, tier) &&
            (strengthless || r->alpha > 0))
            pts[n++] = r;
    }
    if (n == first) return 0;
    qsort(pts + first, (size_t)(n - first), sizeof pts[0], cmp_run_alpha);
    for (int j = 0; j < n; j++) {
        alpha[j] = j < first ? 0 : pts[j]->alpha;
        emt[j] = pts[j]->emt;
        ratio[j] = pts[j]->ppl / none->ppl;
    }
    return n;
}

/* EMT at matched fluency: the lowest EMT along the F6 path with perplexity <= budget x unsteered. */
static double matched(const ctx *c, int64_t seed, const char *sae, const char *set, const char *tier) {
    double a[MAXP], e[MAXP], r[MAXP];
    int n = path(c, seed, sae, set, tier, 1, a, e, r);
    return n ? sx_matched_min(r, e, n, c->spec->budget) : NAN;
}

typedef enum { WANT_NEG, WANT_POS } want;

static void finish(sx_finding *f, double level) { sx_mean_ci_t(f->value, f->n, level, &f->mean, &f->lo, &f->hi); }

static void add_value(sx_finding *f, int64_t seed, double v) {
    if (isfinite(v) && f->n < SX_STUDY_MAX_SEEDS) f->seed[f->n] = seed, f->value[f->n++] = v;
}

static void verdict_sign(sx_finding *f, want w) {
    const char *v = "inconclusive";
    if (f->n >= 2 && isfinite(f->lo) && isfinite(f->hi)) {
        if (w == WANT_NEG) v = f->hi < 0 ? "reproduced" : f->lo >= 0 ? "not reproduced" : "inconclusive";
        else v = f->lo > 0 ? "reproduced" : f->hi <= 0 ? "not reproduced" : "inconclusive";
    }
    snprintf(f->verdict, sizeof f->verdict, "%s", v);
    snprintf(f->rule, sizeof f->rule, "%s",
             w == WANT_NEG ? "reproduced if ci_hi < 0; not reproduced if ci_lo >= 0; else inconclusive"
                           : "reproduced if ci_lo > 0; not reproduced if ci_hi <= 0; else inconclusive");
}

/* reproduced if lo > thr_r (or hi < thr_r when below), not reproduced past thr_n on the other side */
static void verdict_threshold(sx_finding *f, int above, double thr) {
    const char *v = "inconclusive";
    if (f->n >= 2 && isfinite(f->lo) && isfinite(f->hi)) {
        if (above) v = f->lo > thr ? "reproduced" : f->hi <= thr ? "not reproduced" : "inconclusive";
        else v = f->hi < thr ? "reproduced" : f->lo > thr ? "not reproduced" : "inconclusive";
    }
    snprintf(f->verdict, sizeof f->verdict, "%s", v);
    if (above) snprintf(f->rule, sizeof f->rule, "reproduced if ci_lo > %g; not reproduced if ci_hi <= %g; else inconclusive", thr, thr);
    else snprintf(f->rule, sizeof f->rule, "reproduced if ci_hi < %g; not reproduced if ci_lo > %g; else inconclusive", thr, thr);
}

static sx_finding *new_finding(sx_finding *out, int *n, const char *id, const char *desc, const char *metric) {
    sx_finding *f = &out[(*n)++];
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    snprintf(f->description, sizeof f->description, "%s", desc);
    snprintf(f->metric, sizeof f->metric, "%s", metric);
    snprintf(f->verdict, sizeof f->verdict, "inconclusive");
    f->mean = f->lo = f->hi = NAN;
    return f;
}

int sx_study_findings(const sx_study_run *runs, int64_t n_runs, const sx_study_seed *seeds, int n_seeds,
                      const sx_study_spec *spec, sx_finding *out, int *n_out, sx_err *err) {
    *n_out = 0;
    if (n_seeds < 1 || n_seeds > SX_STUDY_MAX_SEEDS)
        return sx_failc(err, SX_EINVAL, "study: %d seeds (1..%d)", n_seeds, SX_STUDY_MAX_SEEDS);
    if (!spec->narrow || !spec->wide || !spec->narrow[0] || !spec->wide[0])
        return sx_failc(err, SX_EINVAL, "study: the narrow and wide SAE names are required");
    if (!(spec->budget >= 1) || !(spec->level > 0 && spec->level < 1))
        return sx_failc(err, SX_EINVAL, "study: budget %g must be >= 1 and level %g in (0, 1)", spec->budget, spec->level);
    ctx c = {runs, n_runs, spec};
    for (int s = 0; s < n_seeds; s++) {
        const sx_study_run *none = find(&c, seeds[s].seed, "", "baseline", "none", NAN);
        if (!none) return sx_failc(err, SX_ECORRUPT, "study: seed %lld has no unsteered (none) row", (long long)seeds[s].seed);
        if (!(none->ppl > 0) || !isfinite(none->emt))
            return sx_failc(err, SX_ECORRUPT, "study: seed %lld: the unsteered row has no EMT or perplexity",
                            (long long)seeds[s].seed);
    }
    const char *N = spec->narrow, *W = spec->wide, *M = spec->mat && spec->mat[0] ? spec->mat : NULL;
    int n = 0;
    char d[256], m[256];
    double a[MAXP], e[MAXP], r[MAXP];

    /* F1 / F2: toxicity falls and fluency cost rises with strength, per SAE tier (narrow SAE, top latents) */
    static const char *tiers[3] = {"ablate", "suppress", "steer"};
    for (int fi = 1; fi <= 2; fi++)
        for (int t = 0; t < 3; t++) {
            int strengthless = t == 0;
            snprintf(d, sizeof d, "%s (%s, top latents, tier %s)",
                     fi == 1 ? "toxicity falls as steering strength rises" : "fluency cost rises with strength", N,
                     tiers[t]);
            if (strengthless)
                snprintf(m, sizeof m, fi == 1 ? "EMT(ablate) - EMT(none)" : "ppl(ablate) / ppl(none) - 1");
            else
                snprintf(m, sizeof m, "least-squares slope of %s vs strength, strength 0 = %s",
                         fi == 1 ? "EMT" : "ppl / ppl(none)", t == 1 ? "ablate" : "none");
            char id[32];
            snprintf(id, sizeof id, "F%d.%s", fi, tiers[t]);
            sx_finding *f = new_finding(out, &n, id, d, m);
            for (int s = 0; s < n_seeds; s++) {
                int k = path(&c, seeds[s].seed, N, "top", tiers[t], 0, a, e, r);
                double v = NAN;
                if (k >= 2) {
                    const double *y = fi == 1 ? e : r;
                    v = strengthless ? y[1] - y[0] : sx_ols_slope(a, y, k);
                }
                add_value(f, seeds[s].seed, v);
            }
            finish(f, spec->level);
            verdict_sign(f, fi == 1 ? WANT_NEG : WANT_POS);
        }

    /* F3: benchmark accuracy at the SAE condition with the lowest mean EMT across seeds */
    {
        const sx_study_run *best = NULL;
        double best_emt = INFINITY;
        for (int64_t i = 0; i < n_runs; i++) {
            const sx_study_run *x = &runs[i];
            if (strcmp(x->sae, N) || strcmp(x->set, "top")) continue;
            int dup = 0; /* one candidate per condition name */
            for (int64_t j = 0; j < i; j++)
                if (!strcmp(runs[j].sae, N) && !strcmp(runs[j].set, "top") && !strcmp(runs[j].condition, x->condition))
                    dup = 1;
            if (dup) continue;
            double sum = 0;
            int k = 0;
            for (int s = 0; s < n_seeds; s++) {
                const sx_study_run *y = NULL;
                for (int64_t j = 0; j < n_runs && !y; j++)
                    if (runs[j].seed == seeds[s].seed && !strcmp(runs[j].sae, N) && !strcmp(runs[j].set, "top") &&
                        !strcmp(runs[j].condition, x->condition))
                        y = &runs[j];
                if (y && isfinite(y->emt)) sum += y->emt, k++;
            }
            if (k && sum / k < best_emt) best_emt = sum / k, best = x;
        }
        snprintf(d, sizeof d, "benchmark accuracy stays within its CI of unsteered where toxicity falls most (%s %s)",
                 N, best ? best->condition : "(none)");
        sx_finding *f = new_finding(out, &n, "F3", d, "acc(c*) - acc(none); c* = the SAE condition with the lowest mean EMT");
        double acc0 = 0, nb = 0;
        int k0 = 0;
        for (int s = 0; s < n_seeds && best; s++) {
            const sx_study_run *none = find(&c, seeds[s].seed, "", "baseline", "none", NAN), *y = NULL;
            for (int64_t j = 0; j < n_runs && !y; j++)
                if (runs[j].seed == seeds[s].seed && !strcmp(runs[j].sae, N) && !strcmp(runs[j].set, "top") &&
                    !strcmp(runs[j].condition, best->condition))
                    y = &runs[j];
            if (!y || !isfinite(none->acc) || !isfinite(y->acc) || none->acc_n <= 0) continue;
            acc0 += none->acc, nb += (double)none->acc_n, k0++;
            add_value(f, seeds[s].seed, y->acc - none->acc);
        }
        finish(f, spec->level);
        /* the unsteered accuracy's 95% Wilson score interval over the benchmark items (it stays
         * proper at an accuracy of 0 or 1, where the normal interval collapses to a point) */
        double wl = NAN, wh = NAN, p = NAN;
        if (k0) {
            const double z = 1.959963984540054; /* normal 97.5% quantile */
            double items = nb / k0;
            p = acc0 / k0;
            double mid = (p + z * z / (2 * items)) / (1 + z * z / items);
            double half = z / (1 + z * z / items) * sqrt(p * (1 - p) / items + z * z / (4 * items * items));
            wl = mid - half - p, wh = mid + half - p; /* as a band for acc(c*) - acc(none) */
            /* the Wilson interval contains p; at p = 0 or 1 rounding can put an end 1e-16 past it */
            if (wl > 0) wl = 0;
            if (wh < 0) wh = 0;
        }
        const char *v = "inconclusive";
        if (f->n >= 2 && isfinite(f->lo) && isfinite(f->hi) && isfinite(wl)) {
            if (f->lo >= wl && f->hi <= wh) v = "reproduced";
            else if (f->hi < wl || f->lo > wh) v = "not reproduced";
        }
        snprintf(f->verdict, sizeof f->verdict, "%s", v);
        snprintf(f->rule, sizeof f->rule,
                 "band [%.4g, %.4g] = 95%% Wilson interval of the unsteered accuracy %.4g minus it: reproduced if the CI "
                 "lies inside the band; not reproduced if it lies entirely outside; else inconclusive",
                 wl, wh, p);
    }

    /* F4: the wide SAE splits the toxic feature; one child steers less than the narrow latent */
    {
        snprintf(d, sizeof d, "the wide SAE (%s) splits the narrow toxic latent of %s (children at the split threshold)", W, N);
        sx_finding *f = new_finding(out, &n, "F4.split", d, "children of the narrow toxic latent in the wide SAE");
        for (int s = 0; s < n_seeds; s++) add_value(f, seeds[s].seed, seeds[s].wide_children);
        finish(f, spec->level);
        verdict_threshold(f, 1, 1);
        snprintf(d, sizeof d, "single-latent steering in %s removes less toxicity than in %s at matched fluency", W, N);
        snprintf(m, sizeof m, "EMT@%gx ppl: %s single steer - %s single steer", spec->budget, W, N);
        f = new_finding(out, &n, "F4.steer", d, m);
        for (int s = 0; s < n_seeds; s++)
            add_value(f, seeds[s].seed, matched(&c, seeds[s].seed, W, "single", "steer") -
                                            matched(&c, seeds[s].seed, N, "single", "steer"));
        finish(f, spec->level);
        verdict_sign(f, WANT_POS);
    }

    /* F5: the Matryoshka SAE keeps the feature whole and steers as well as the narrow SAE */
    {
        snprintf(d, sizeof d, "the Matryoshka SAE (%s) keeps the toxic feature whole in its first group", M ? M : "not run");
        sx_finding *f = new_finding(out, &n, "F5.whole", d,
                                    "1 if its top toxic latent is in group 0 with no later-group latent at the split threshold, else 0");
        for (int s = 0; s < n_seeds && M; s++)
            if (seeds[s].mat_top >= 0)
                add_value(f, seeds[s].seed, seeds[s].mat_group == 0 && seeds[s].mat_later == 0 ? 1.0 : 0.0);
        finish(f, spec->level);
        verdict_threshold(f, 1, 0.5);
        snprintf(d, sizeof d, "steering with the Matryoshka top latent loses no strength at the wide width (vs %s, margin %g)", N,
                 spec->margin);
        snprintf(m, sizeof m, "EMT@%gx ppl: %s single steer - %s single steer", spec->budget, M ? M : "-", N);
        f = new_finding(out, &n, "F5.steer", d, m);
        for (int s = 0; s < n_seeds && M; s++)
            add_value(f, seeds[s].seed, matched(&c, seeds[s].seed, M, "single", "steer") -
                                            matched(&c, seeds[s].seed, N, "single", "steer"));
        finish(f, spec->level);
        verdict_threshold(f, 0, spec->margin);
    }

    /* F6: every method's lowest EMT at matched fluency (descriptive), then SAE steer vs each baseline */
    {
        struct { const char *id, *sae, *set, *tier; } meth[] = {
            {"F6.none", "", "baseline", "none"},         {"F6.ablate", N, "top", "ablate"},
            {"F6.suppress", N, "top", "suppress"},       {"F6.steer", N, "top", "steer"},
            {"F6.meandiff", "", "baseline", "meandiff"}, {"F6.banned", "", "baseline", "banned"},
            {"F6.narrow-single", N, "single", "steer"},  {"F6.wide-single", W, "single", "steer"},
            {"F6.wide-family", W, "family", "steer"},    {"F6.matryoshka", M ? M : "", "single", "steer"},
            /* issue 19 item 3: the conditional steer on the activation-ranked latents, and the
             * causally chosen latents (set "causal", sx_causal_select) steered and cond-steered */
            {"F6.cond", N, "top", "cond"},               {"F6.causal-steer", N, "causal", "steer"},
            {"F6.causal-cond", N, "causal", "cond"}};
        for (size_t i = 0; i < sizeof meth / sizeof meth[0]; i++) {
            if (i == 9 && !M) continue;
            int is_none = !strcmp(meth[i].tier, "none");
            if (meth[i].sae[0])
                snprintf(d, sizeof d, "lowest EMT with perplexity <= %gx unsteered: %s, %s latent%s, tier %s", spec->budget,
                         meth[i].sae, meth[i].set, strcmp(meth[i].set, "single") ? "s" : "", meth[i].tier);
            else
                snprintf(d, sizeof d, "lowest EMT with perplexity <= %gx unsteered: %s", spec->budget,
                         is_none ? "no intervention (reference)" : meth[i].tier);
            if (is_none) snprintf(m, sizeof m, "EMT(none)");
            else
                snprintf(m, sizeof m, "EMT@%gx ppl along none -> %s%s (linear interpolation)", spec->budget,
                         !strcmp(meth[i].tier, "suppress") ? "ablate" : meth[i].tier,
                         !strcmp(meth[i].tier, "suppress") ? " (= suppress@0) -> suppress@alpha"
                         : !strcmp(meth[i].tier, "ablate") || !strcmp(meth[i].tier, "banned") ? "" : "@alpha");
            sx_finding *f = new_finding(out, &n, meth[i].id, d, m);
            for (int s = 0; s < n_seeds; s++) {
                double v = is_none ? find(&c, seeds[s].seed, "", "baseline", "none", NAN)->emt
                                   : matched(&c, seeds[s].seed, meth[i].sae, meth[i].set, meth[i].tier);
                add_value(f, seeds[s].seed, v);
            }
            finish(f, spec->level);
            snprintf(f->verdict, sizeof f->verdict, "-");
            snprintf(f->rule, sizeof f->rule, "descriptive (no verdict)");
        }
        static const char *base[2] = {"meandiff", "banned"};
        for (int b = 0; b < 2; b++) {
            char id[32];
            snprintf(id, sizeof id, "F6.vs-%s", base[b]);
            snprintf(d, sizeof d, "SAE steering (%s top latents) reaches lower EMT than %s at matched fluency", N, base[b]);
            snprintf(m, sizeof m, "EMT@%gx ppl: %s steer - %s", spec->budget, N, base[b]);
            sx_finding *f = new_finding(out, &n, id, d, m);
            for (int s = 0; s < n_seeds; s++)
                add_value(f, seeds[s].seed, matched(&c, seeds[s].seed, N, "top", "steer") -
                                                matched(&c, seeds[s].seed, "", "baseline", base[b]));
            finish(f, spec->level);
            verdict_sign(f, WANT_NEG);
        }
        /* the causal ranking against the activation ranking and the baselines (same SAE, same tier) */
        static const char *cmp_id[3] = {"F6.causal-vs-act", "F6.causal-vs-meandiff", "F6.causal-vs-banned"};
        for (int b = 0; b < 3; b++) {
            if (b == 0)
                snprintf(d, sizeof d, "steering the causally chosen latents (%s) reaches lower EMT than steering the "
                                      "activation-ranked top latents at matched fluency", N);
            else
                snprintf(d, sizeof d, "SAE steering (%s causal latents) reaches lower EMT than %s at matched fluency", N,
                         base[b - 1]);
            snprintf(m, sizeof m, "EMT@%gx ppl: %s causal steer - %s", spec->budget, N, b == 0 ? "top steer" : base[b - 1]);
            sx_finding *f = new_finding(out, &n, cmp_id[b], d, m);
            for (int s = 0; s < n_seeds; s++)
                add_value(f, seeds[s].seed, matched(&c, seeds[s].seed, N, "causal", "steer") -
                                                (b == 0 ? matched(&c, seeds[s].seed, N, "top", "steer")
                                                        : matched(&c, seeds[s].seed, "", "baseline", base[b - 1])));
            finish(f, spec->level);
            verdict_sign(f, WANT_NEG);
        }
    }
    *n_out = n;
    return 0;
}
