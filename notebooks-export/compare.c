/* compare.c — the width-comparison report (`saetox compare`): one row per SAE of a
 * sae_eval.csv with its metadata, splitting, best toxic latent and best steering condition
 * within a fluency budget (width_comparison.csv, SX_SCHEMA_WIDTH_COMPARISON), and two PNGs. */
#include "export_int.h"
#include "plot.h"
#include "sx_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cmp_row {
    int order;                 /* row of sae_eval.csv */
    char label[256];
    const char *path;
    char arch[64];
    int64_t width, k, tokens;  /* k, tokens -1 when unknown */
    double l0, fvu, ev, ce, kl, dead, dense;
    char split_wide[256];
    int64_t split_wide_width;  /* -1: no split */
    double split_share, split_mean;
    int64_t tox_rank, tox_latent, tox_fam; /* tox_rank -1: none; tox_fam -1: empty */
    double tox_auroc;
    int64_t steer_row;         /* sweep row, -1: none */
    double steer_emt, steer_ppl, base_emt, base_ppl;
} cmp_row;

static int find_row(const cmp_row *rows, int n, const char *label) {
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].label, label) == 0) return i;
    return -1;
}

/* cfg.json of an SAE path (a folder, or a file inside one); "" when there is none. */
static void cfg_path_of(const char *sae, const char *base, char *out, size_t outsz) {
    char cand[2][4096];
    int nc = 0;
    snprintf(cand[nc++], sizeof cand[0], "%s", sae);
    if (base && sae[0] != '/' && sx_path_join(cand[nc], sizeof cand[0], base, sae) == 0) nc++;
    out[0] = 0;
    for (int i = 0; i < nc; i++) {
        char dir[8192];
        snprintf(dir, sizeof dir, "%s", cand[i]);
        if (!sx_is_dir(dir)) {
            if (!sx_file_exists(dir)) continue;
            char *s = strrchr(dir, '/');
            if (s) *s = 0;
            else snprintf(dir, sizeof dir, ".");
        }
        if (sx_path_join(out, outsz, dir, "cfg.json") == 0 && sx_file_exists(out)) return;
        out[0] = 0;
    }
}

/* arch, k, trained tokens from cfg.json (SAELens keys; saetox.trained_tokens). A folder
 * without one (e.g. a bare params.npz) leaves them unknown; a cfg.json that is not JSON, or
 * holds wrongly typed keys, is an error. */
static int read_meta(cmp_row *r, const char *base, sx_err *err) {
    char cfgp[4200];
    r->arch[0] = 0;
    r->k = r->tokens = -1;
    cfg_path_of(r->path, base, cfgp, sizeof cfgp);
    if (!cfgp[0]) return 0;
    cJSON *cfg = sx_json_parse_file(cfgp, 1 << 22, err);
    if (!cfg) return -1;
    int rc = -1;
    const char *a = NULL;
    int64_t v;
    int g;
    if ((g = sx_json_str(cfg, "architecture", &a, cfgp, err)) < 0) goto done;
    if (g == 0) snprintf(r->arch, sizeof r->arch, "%s", a);
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(cfg, "activation_fn_kwargs");
    if (kw && cJSON_IsObject(kw) && (g = sx_json_int_range(kw, "k", 0, 1 << 30, &v, cfgp, err)) <= 0) {
        if (g < 0) goto done;
        r->k = v;
    }
    if (r->k < 0) {
        if ((g = sx_json_int_range(cfg, "k", 0, 1 << 30, &v, cfgp, err)) < 0) goto done;
        if (g == 0) r->k = v;
    }
    const cJSON *ours = cJSON_GetObjectItemCaseSensitive(cfg, "saetox");
    if (ours && cJSON_IsObject(ours)) {
        if ((g = sx_json_int_range(ours, "trained_tokens", 0, INT64_C(1) << 52, &v, cfgp, err)) < 0)
            goto done;
        if (g == 0) r->tokens = v;
    }
    rc = 0;
done:
    cJSON_Delete(cfg);
    return rc;
}

static int load_eval(const sx_compare_in *in, cmp_row **out, int *nout, sx_err *err) {
    const sx_csv_table *t = in->eval;
    if (!t) return sx_failc(err, SX_EINVAL, "compare: no sae_eval.csv given");
    if (sx_csv_require_schema(t, &SX_SCHEMA_SAE_EVAL, err)) return -1;
    if (t->nrows < 1) return sx_failc(err, SX_EINVAL, "%s: no SAE rows", t->path);
    if (t->nrows > 4096) return sx_failc(err, SX_EINVAL, "%s: more than 4096 SAEs", t->path);
    int n = (int)t->nrows;
    cmp_row *rows = calloc((size_t)n, sizeof *rows);
    if (!rows) return sx_failc(err, SX_ENOMEM, "out of memory");
    static const char *const num[] = {"l0", "fvu", "explained_variance", "ce_loss_score",
                                      "kl_div_score", "dead_frac", "dense_frac"};
    for (int i = 0; i < n; i++) {
        cmp_row *r = &rows[i];
        r->order = i;
        r->path = sx_csv_cell(t, i, sx_csv_col(t, "sae"));
        if (!r->path[0]) {
            sx_failc(err, SX_ECORRUPT, "%s:%lld: empty sae", t->path, (long long)t->line[i]);
            goto fail;
        }
        sx_sae_label(r->path, r->label, sizeof r->label);
        if (find_row(rows, i, r->label) >= 0) {
            sx_failc(err, SX_EINVAL, "%s:%lld: SAE '%s' appears twice", t->path,
                     (long long)t->line[i], r->label);
            goto fail;
        }
        if (sx_csv_get_int(t, i, sx_csv_col(t, "d_sae"), &r->width, 0, 0, err)) goto fail;
        double *dst[] = {&r->l0, &r->fvu, &r->ev, &r->ce, &r->kl, &r->dead, &r->dense};
        for (int c = 0; c < 7; c++)
            if (sx_csv_get_num(t, i, sx_csv_col(t, num[c]), dst[c], err)) goto fail;
        r->split_wide_width = -1;
        r->split_share = r->split_mean = NAN;
        r->tox_rank = r->tox_latent = r->tox_fam = -1;
        r->tox_auroc = NAN;
        r->steer_row = -1;
        r->steer_emt = r->steer_ppl = r->base_emt = r->base_ppl = NAN;
        if (read_meta(r, in->sae_base, err)) goto fail;
    }
    *out = rows;
    *nout = n;
    return 0;
fail:
    free(rows);
    return -1;
}

/* One analyze split run: the narrow SAE is the one whose rows carry n_children. */
static int apply_split(const sx_csv_table *t, cmp_row *rows, int n, sx_err *err) {
    if (sx_csv_require_schema(t, &SX_SCHEMA_BEST_MATCHES, err)) return -1;
    const char *need[] = {"n_children"};
    if (sx_csv_require(t, need, 1, err)) return -1;
    int cs = sx_csv_col(t, "sae"), cn = sx_csv_col(t, "n_children");
    const char *narrow = NULL, *wide = NULL;
    int64_t n_lat = 0, n_split = 0, children = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        const char *s = sx_csv_cell(t, r, cs), *c = sx_csv_cell(t, r, cn);
        if (!c[0]) {
            if (!wide) wide = s;
            else if (strcmp(wide, s) != 0)
                return sx_failc(err, SX_ECORRUPT, "%s:%lld: a third SAE '%s' (after '%s')", t->path,
                                (long long)t->line[r], s, wide);
            continue;
        }
        if (!narrow) narrow = s;
        else if (strcmp(narrow, s) != 0)
            return sx_failc(err, SX_ECORRUPT, "%s:%lld: n_children for two SAEs ('%s', '%s')",
                            t->path, (long long)t->line[r], narrow, s);
        int64_t k;
        if (sx_csv_get_int(t, r, cn, &k, 0, 0, err)) return -1;
        if (k < 0)
            return sx_failc(err, SX_ECORRUPT, "%s:%lld: n_children %lld", t->path,
                            (long long)t->line[r], (long long)k);
        n_lat++;
        if (k >= 2) n_split++, children += k;
    }
    if (!narrow) return 0; /* no narrow rows: nothing to say */
    int a = find_row(rows, n, narrow), b = wide ? find_row(rows, n, wide) : -1;
    if (a < 0 || (wide && b < 0)) return 0; /* SAEs not evaluated: not in the table */
    int64_t ww = b >= 0 ? rows[b].width : -1;
    /* several runs for one SAE: keep the next width up (consecutive widths) */
    if (rows[a].split_wide_width >= 0 && (ww < 0 || ww >= rows[a].split_wide_width)) return 0;
    snprintf(rows[a].split_wide, sizeof rows[a].split_wide, "%s", wide ? wide : "");
    rows[a].split_wide_width = ww < 0 ? 0 : ww;
    rows[a].split_share = (double)n_split / (double)n_lat;
    rows[a].split_mean = n_split ? (double)children / (double)n_split : NAN;
    return 0;
}

static int apply_toxic(const sx_csv_table *t, cmp_row *rows, int n, sx_err *err) {
    if (sx_csv_require_schema(t, &SX_SCHEMA_TOXIC_LATENTS, err)) return -1;
    int cs = sx_csv_col(t, "sae"), cl = sx_csv_col(t, "latent"), cr = sx_csv_col(t, "rank"),
        ca = sx_csv_col(t, "auroc"), cf = sx_csv_col(t, "family_size");
    for (int64_t r = 0; r < t->nrows; r++) {
        int64_t lat, rank, fam = -1;
        double au;
        if (sx_csv_get_int(t, r, cl, &lat, 0, 0, err) || sx_csv_get_int(t, r, cr, &rank, 0, 0, err) ||
            sx_csv_get_num(t, r, ca, &au, err) ||
            (cf >= 0 && sx_csv_get_int(t, r, cf, &fam, 1, -1, err)))
            return -1;
        int i = find_row(rows, n, sx_csv_cell(t, r, cs));
        if (i < 0) continue; /* an SAE that was not evaluated */
        if (rows[i].tox_rank >= 0 && rows[i].tox_rank <= rank) continue;
        rows[i].tox_rank = rank;
        rows[i].tox_latent = lat;
        rows[i].tox_auroc = au;
        rows[i].tox_fam = fam;
    }
    return 0;
}

static int is_sae_tier(const char *t) {
    return !strcmp(t, "ablate") || !strcmp(t, "suppress") || !strcmp(t, "steer");
}

/* The SAE a sweep row belongs to: its `sae` column, else a "<sae> " condition prefix (how the
 * demo merges the widths' sweeps); -1 = names none, -2 = error. */
static int sweep_owner(const sx_csv_table *t, int64_t r, const cmp_row *rows, int n, int lenient,
                       sx_err *err) {
    int csae = sx_csv_col(t, "sae"), cc = sx_csv_col(t, "condition");
    char name[256] = "";
    if (csae >= 0) {
        snprintf(name, sizeof name, "%s", sx_csv_cell(t, r, csae));
    } else {
        const char *c = sx_csv_cell(t, r, cc), *sp = strchr(c, ' ');
        if (sp) snprintf(name, sizeof name, "%.*s", (int)(sp - c < 255 ? sp - c : 255), c);
    }
    if (!name[0]) return -1;
    int i = find_row(rows, n, name);
    if (i < 0 && lenient) return -3;
    if (i < 0) {
        sx_failc(err, SX_ENOTFOUND, "%s:%lld: SAE '%s' of condition '%s' is not in sae_eval.csv",
                 t->path, (long long)t->line[r], name, sx_csv_cell(t, r, cc));
        return -2;
    }
    return i;
}

static int apply_sweep(const sx_compare_in *in, cmp_row *rows, int n, sx_err *err) {
    const sx_csv_table *t = in->sweep;
    if (sx_csv_require_schema(t, &SX_SCHEMA_STEERING_SWEEP, err)) return -1;
    const char *need[] = {"condition", "emt", "ppl"};
    if (sx_csv_require(t, need, 3, err)) return -1;
    double budget = in->ppl_budget > 0 ? in->ppl_budget : 1.25;
    int ct = sx_csv_col(t, "tier"), ce = sx_csv_col(t, "emt"), cp = sx_csv_col(t, "ppl");
    int unnamed = -1;
    if (in->sweep_sae) {
        unnamed = find_row(rows, n, in->sweep_sae);
        if (unnamed < 0)
            return sx_failc(err, SX_ENOTFOUND, "%s: --sweep-sae '%s' is not in sae_eval.csv",
                            t->path, in->sweep_sae);
    } else if (n == 1) {
        unnamed = 0;
    }
    int64_t *owner = malloc(((size_t)t->nrows + 1) * sizeof *owner);
    double *base_ppl = malloc(((size_t)n + 1) * sizeof *base_ppl),
           *base_emt = malloc(((size_t)n + 1) * sizeof *base_emt);
    int rc = -1;
    if (!owner || !base_ppl || !base_emt) {
        sx_failc(err, SX_ENOMEM, "out of memory");
        goto done;
    }
    double g_ppl = NAN, g_emt = NAN; /* the first unnamed tier-none row: everyone's baseline */
    for (int i = 0; i < n; i++) base_ppl[i] = base_emt[i] = NAN;
    for (int64_t r = 0; r < t->nrows; r++) {
        const char *tier = sx_csv_cell(t, r, ct);
        double emt, ppl;
        if (sx_csv_get_num(t, r, ce, &emt, err) || sx_csv_get_num(t, r, cp, &ppl, err)) goto done;
        int o = sweep_owner(t, r, rows, n, in->sweep_unnamed_skip, err);
        if (o == -2) goto done;
        owner[r] = -1;
        if (o == -3) continue; /* lenient: an SAE that was not evaluated */
        if (!strcmp(tier, "none")) {
            if (o >= 0 && isnan(base_ppl[o])) base_ppl[o] = ppl, base_emt[o] = emt;
            if (o < 0 && isnan(g_ppl)) g_ppl = ppl, g_emt = emt;
            continue;
        }
        if (!is_sae_tier(tier)) continue; /* meandiff, banned: not an SAE's result */
        if (o < 0) o = unnamed;
        if (o < 0) {
            if (in->sweep_unnamed_skip) continue;
            sx_failc(err, SX_EINVAL,
                     "%s:%lld: condition '%s' names no SAE of the %d in sae_eval.csv (prefix it "
                     "'<sae> ', add a sae column, or give --sweep-sae)",
                     t->path, (long long)t->line[r], sx_csv_cell(t, r, sx_csv_col(t, "condition")), n);
            goto done;
        }
        owner[r] = o;
    }
    for (int i = 0; i < n; i++) {
        if (isnan(base_ppl[i])) base_ppl[i] = g_ppl, base_emt[i] = g_emt;
        rows[i].steer_emt = rows[i].steer_ppl = NAN;
    }
    for (int64_t r = 0; r < t->nrows; r++) {
        int o = (int)owner[r];
        if (o < 0 || !isfinite(base_ppl[o])) continue;
        double emt, ppl;
        sx_csv_get_num(t, r, ce, &emt, err);
        sx_csv_get_num(t, r, cp, &ppl, err);
        if (!isfinite(emt) || !isfinite(ppl) || ppl > budget * base_ppl[o]) continue;
        if (rows[o].steer_row < 0 || emt < rows[o].steer_emt) {
            rows[o].steer_row = r;
            rows[o].steer_emt = emt;
            rows[o].steer_ppl = ppl;
        }
    }
    for (int i = 0; i < n; i++) rows[i].base_emt = base_emt[i], rows[i].base_ppl = base_ppl[i];
    rc = 0;
done:
    free(owner);
    free(base_ppl);
    free(base_emt);
    return rc;
}

static int cmp_width(const void *a, const void *b) {
    const cmp_row *x = a, *y = b;
    if (x->width != y->width) return x->width < y->width ? -1 : 1;
    return x->order - y->order;
}

static void opt_int(sx_csv_writer *w, int64_t v) {
    if (v < 0) sx_csv_empty(w);
    else sx_csv_int(w, v);
}

static int write_table(const sx_compare_in *in, const cmp_row *rows, int n, const char *path,
                       sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_WIDTH_COMPARISON, err)) return -1;
    int cc = in->sweep ? sx_csv_col(in->sweep, "condition") : -1;
    for (int i = 0; i < n; i++) {
        const cmp_row *r = &rows[i];
        sx_csv_str(&w, r->label);
        sx_csv_str(&w, r->arch);
        sx_csv_int(&w, r->width);
        opt_int(&w, r->k);
        opt_int(&w, r->tokens);
        double v[] = {r->l0, r->fvu, r->ev, r->ce, r->kl, r->dead, r->dense};
        for (int c = 0; c < 7; c++) sx_csv_num(&w, v[c]);
        sx_csv_str(&w, r->split_wide);
        sx_csv_num(&w, r->split_share);
        sx_csv_num(&w, r->split_mean);
        opt_int(&w, r->tox_rank >= 0 ? r->tox_latent : -1);
        sx_csv_num(&w, r->tox_auroc);
        opt_int(&w, r->tox_fam);
        sx_csv_str(&w, r->steer_row >= 0 ? sx_csv_cell(in->sweep, r->steer_row, cc) : "");
        sx_csv_num(&w, r->steer_emt);
        sx_csv_num(&w, r->steer_ppl);
        sx_csv_num(&w, r->base_emt);
        sx_csv_num(&w, r->base_ppl);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

/* Architectures in order of first appearance (rows sorted by width): ai[i] = colour index.
 * Returns the number of architectures. */
static int arch_indices(const cmp_row *rows, int n, int *ai) {
    int na = 0;
    for (int i = 0; i < n; i++) {
        ai[i] = -1;
        for (int j = 0; j < i && ai[i] < 0; j++)
            if (strcmp(rows[j].arch, rows[i].arch) == 0) ai[i] = ai[j];
        if (ai[i] < 0) ai[i] = na++;
    }
    return na;
}

static const char *arch_name(const cmp_row *r) { return r->arch[0] ? r->arch : "unknown arch"; }

/* ce_loss_score and FVU against log2(width), one line per arch. */
static int plot_width(const cmp_row *rows, int n, const int *ai, int na, const char *path,
                      sx_err *err) {
    double *x = malloc(2 * (size_t)n * sizeof *x), *y = x ? x + n : NULL;
    if (!x) return sx_failc(err, SX_ENOMEM, "out of memory");
    xp_plot p;
    if (xp_plot_begin(&p, 900, 600, err)) {
        free(x);
        return -1;
    }
    const char *labels[64];
    int colors[64], nl = 0;
    for (int panel = 0; panel < 2; panel++) {
        double x0, x1, y0, y1;
        for (int i = 0; i < n; i++) {
            x[i] = rows[i].width > 0 ? log2((double)rows[i].width) : NAN;
            y[i] = panel ? rows[i].fvu : rows[i].ce;
        }
        int okx = xp_range(x, n, 0.08, &x0, &x1), oky = xp_range(y, n, 0.1, &y0, &y1);
        if (!okx) x0 = 0, x1 = 1;
        if (!oky) y0 = 0, y1 = 1;
        if (panel == 1 && y0 > 0 && y0 < (y1 - y0) * 0.3) y0 = 0;
        xp_plot_panel(&p, panel ? 540 : 90, 50, 340, 470, x0, x1, y0, y1);
        xp_plot_axes(&p, panel ? "FVU vs width (lower is better)" : "CE loss score vs width (higher is better)",
                     "width (log2 latents)", panel ? "fraction of variance unexplained" : "ce_loss_score");
        if (!okx || !oky) {
            xp_plot_message(&p, "no data");
            continue;
        }
        for (int a = 0; a < na; a++) {
            double xs[4096], ys[4096];
            int m = 0, first = -1;
            for (int i = 0; i < n && m < 4096; i++)
                if (ai[i] == a && isfinite(x[i]) && isfinite(y[i])) {
                    if (first < 0) first = i;
                    xs[m] = x[i], ys[m] = y[i], m++;
                }
            if (!m) continue;
            if (m > 1) xp_plot_line(&p, xs, ys, m, a);
            xp_plot_points(&p, xs, ys, m, a);
            for (int i = 0; i < n; i++)
                if (ai[i] == a && isfinite(x[i]) && isfinite(y[i])) {
                    char lab[32];
                    snprintf(lab, sizeof lab, "%lld", (long long)rows[i].width);
                    xp_plot_label(&p, x[i], y[i], lab);
                }
            if (panel == 0 && nl < 64) labels[nl] = arch_name(&rows[first]), colors[nl++] = a;
        }
        if (panel == 1) xp_plot_legend(&p, labels, colors, nl);
    }
    free(x);
    return xp_plot_save(&p, path, err);
}

/* L0 vs FVU per arch: every SAE a point, each arch's Pareto frontier (no other SAE of the
 * arch has both lower L0 and lower FVU) a line. */
static int plot_frontier(const cmp_row *rows, int n, const int *ai, int na, const char *path,
                         sx_err *err) {
    double *x = malloc(2 * (size_t)n * sizeof *x), *y = x ? x + n : NULL;
    if (!x) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) x[i] = rows[i].l0, y[i] = rows[i].fvu;
    double x0, x1, y0, y1;
    int ok = xp_range(x, n, 0.08, &x0, &x1) && xp_range(y, n, 0.1, &y0, &y1);
    xp_plot p;
    if (xp_plot_begin(&p, 900, 600, err)) {
        free(x);
        return -1;
    }
    if (!ok) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (ok && x0 > 0 && x0 < (x1 - x0) * 0.3) x0 = 0;
    if (ok && y0 > 0 && y0 < (y1 - y0) * 0.3) y0 = 0;
    xp_plot_panel(&p, 90, 50, 780, 470, x0, x1, y0, y1);
    xp_plot_axes(&p, "L0-FVU frontier per architecture", "L0 (active latents per token)",
                 "fraction of variance unexplained");
    const char *labels[64];
    int colors[64], nl = 0;
    if (!ok) xp_plot_message(&p, "no data");
    for (int a = 0; ok && a < na; a++) {
        double xs[4096], ys[4096], fx[4096], fy[4096];
        int m = 0, first = -1;
        for (int i = 0; i < n && m < 4096; i++)
            if (ai[i] == a && isfinite(x[i]) && isfinite(y[i])) {
                if (first < 0) first = i;
                xs[m] = x[i], ys[m] = y[i], m++;
            }
        if (!m) continue;
        /* sort by L0 (then FVU), keep each point whose FVU is below every one before it */
        for (int i = 1; i < m; i++)
            for (int j = i; j > 0 && (xs[j] < xs[j - 1] || (xs[j] == xs[j - 1] && ys[j] < ys[j - 1])); j--) {
                double t = xs[j]; xs[j] = xs[j - 1]; xs[j - 1] = t;
                t = ys[j]; ys[j] = ys[j - 1]; ys[j - 1] = t;
            }
        int f = 0;
        for (int i = 0; i < m; i++)
            if (!f || ys[i] < fy[f - 1]) fx[f] = xs[i], fy[f] = ys[i], f++;
        xp_plot_points(&p, xs, ys, m, a);
        if (f > 1) xp_plot_line(&p, fx, fy, f, a);
        for (int i = 0; i < n; i++)
            if (ai[i] == a && isfinite(x[i]) && isfinite(y[i])) xp_plot_label(&p, x[i], y[i], rows[i].label);
        if (nl < 64) labels[nl] = arch_name(&rows[first]), colors[nl++] = a;
    }
    xp_plot_legend(&p, labels, colors, nl);
    free(x);
    return xp_plot_save(&p, path, err);
}

int sx_compare_write(const sx_compare_in *in, const char *out_dir, sx_err *err) {
    if (!in || !out_dir) return sx_failc(err, SX_EINVAL, "compare: no inputs or no output folder");
    if (in->n_splits < 0 || in->n_splits > SX_COMPARE_MAX_SPLIT)
        return sx_failc(err, SX_EINVAL, "compare: %d split tables (at most %d)", in->n_splits,
                        SX_COMPARE_MAX_SPLIT);
    cmp_row *rows = NULL;
    int n = 0, rc = -1, *ai = NULL;
    if (load_eval(in, &rows, &n, err)) return -1;
    for (int s = 0; s < in->n_splits; s++)
        if (in->splits[s] && apply_split(in->splits[s], rows, n, err)) goto done;
    if (in->toxic && apply_toxic(in->toxic, rows, n, err)) goto done;
    if (in->sweep && apply_sweep(in, rows, n, err)) goto done;
    qsort(rows, (size_t)n, sizeof *rows, cmp_width);
    ai = malloc((size_t)n * sizeof *ai);
    if (!ai) {
        sx_failc(err, SX_ENOMEM, "out of memory");
        goto done;
    }
    int na = arch_indices(rows, n, ai);
    char path[4200];
    if (sx_mkdir_p(out_dir, err)) goto done;
    if (sx_path_join(path, sizeof path, out_dir, "width_comparison.csv")) {
        sx_failc(err, SX_EINVAL, "%s: path too long", out_dir);
        goto done;
    }
    if (write_table(in, rows, n, path, err)) goto done;
    if (!in->skip_plots) {
        char dir[4200];
        if (sx_path_join(dir, sizeof dir, out_dir, "plots") || sx_mkdir_p(dir, err)) goto done;
        if (sx_path_join(path, sizeof path, dir, "width_scores.png") ||
            plot_width(rows, n, ai, na, path, err))
            goto done;
        if (sx_path_join(path, sizeof path, dir, "l0_fvu_frontier.png") ||
            plot_frontier(rows, n, ai, na, path, err))
            goto done;
    }
    rc = 0;
done:
    free(ai);
    free(rows);
    return rc;
}

/* dir/name into t; 1 when absent (absent_ok), -1 on error. */
static int read_in(const char *dir, const char *name, sx_csv_table *t, int absent_ok, sx_err *err) {
    char path[4200];
    if (sx_path_join(path, sizeof path, dir, name))
        return sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    if (!sx_file_exists(path)) {
        if (absent_ok) return 1;
        return sx_failc(err, SX_ENOTFOUND, "%s: not found", path);
    }
    return sx_csv_read(path, t, err);
}

/* sae_eval.jsonl (one object per SAE, the keys of SX_SCHEMA_SAE_EVAL, null = NaN) as the
 * table sae_eval.csv would be: rows written with the CSV writer into memory and parsed back,
 * so both files give the same cells.  A record without a required key is an error. */
static int read_eval_jsonl(const char *path, sx_csv_table *t, sx_err *err) {
    const sx_schema *sc = &SX_SCHEMA_SAE_EVAL;
    sx_jsonl_reader *r;
    if (sx_jsonl_open(path, &r, err)) return -1;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        sx_jsonl_close(r);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    }
    const char *names[64];
    for (int c = 0; c < sc->ncols && c < 64; c++) names[c] = sc->cols[c].name;
    sx_csv_writer w;
    sx_csv_begin(&w, f, names, sc->ncols);
    int rc = -1, g;
    cJSON *o = NULL;
    while ((g = sx_jsonl_next(r, &o, err)) == 1) {
        for (int c = 0; c < sc->ncols; c++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, sc->cols[c].name);
            if (!v && sc->cols[c].required) {
                sx_failc(err, SX_ECORRUPT, "%s: missing key '%s'", sx_jsonl_where(r), sc->cols[c].name);
                goto done;
            }
            if (!v || cJSON_IsNull(v)) sx_csv_empty(&w);
            else if (cJSON_IsString(v)) sx_csv_str(&w, v->valuestring);
            else if (cJSON_IsNumber(v) && sc->cols[c].type == SX_COL_INT) sx_csv_int(&w, (int64_t)v->valuedouble);
            else if (cJSON_IsNumber(v)) sx_csv_num(&w, v->valuedouble);
            else {
                sx_failc(err, SX_ECORRUPT, "%s: key '%s' is not a number or string", sx_jsonl_where(r),
                         sc->cols[c].name);
                goto done;
            }
        }
        sx_csv_row(&w);
        cJSON_Delete(o);
        o = NULL;
    }
    if (g < 0) goto done;
    if (sx_csv_close(&w, err)) goto done;
    if (fflush(f)) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    rc = sx_csv_parse(path, buf, len, t, err);
done:
    cJSON_Delete(o);
    fclose(f);
    free(buf);
    sx_jsonl_close(r);
    return rc;
}

int sx_compare_run(const char *eval_dir, const sx_compare_opts *opts, const char *out_dir,
                   sx_err *err) {
    sx_compare_opts o = {0};
    if (opts) o = *opts;
    if (!eval_dir) return sx_failc(err, SX_EINVAL, "compare: no eval folder");
    if (o.n_split < 0 || o.n_split > SX_COMPARE_MAX_SPLIT)
        return sx_failc(err, SX_EINVAL, "compare: %d split folders (at most %d)", o.n_split,
                        SX_COMPARE_MAX_SPLIT);
    sx_csv_table ev = {0}, tox = {0}, sw = {0}, sp[SX_COMPARE_MAX_SPLIT];
    memset(sp, 0, sizeof sp);
    int n_sp = 0, have_tox = 0, have_sw = 0, rc = -1;
    char jl[4200];
    if (sx_path_join(jl, sizeof jl, eval_dir, "sae_eval.jsonl"))
        return sx_failc(err, SX_EINVAL, "%s: path too long", eval_dir);
    int have_csv = read_in(eval_dir, "sae_eval.csv", &ev, 1, err);
    if (have_csv < 0) return -1;
    if (have_csv == 1 && !sx_file_exists(jl)) /* neither: name the CSV */
        return read_in(eval_dir, "sae_eval.csv", &ev, 0, err);
    if (have_csv == 1 && read_eval_jsonl(jl, &ev, err)) return -1;
    for (; n_sp < o.n_split; n_sp++)
        if (read_in(o.split_dirs[n_sp], "best_matches.csv", &sp[n_sp], 0, err)) goto done;
    if (o.toxic_dir) {
        if (read_in(o.toxic_dir, "toxic_latents.csv", &tox, 0, err)) goto done;
        have_tox = 1;
    }
    if (o.sweep_dir) {
        if (read_in(o.sweep_dir, "steering_sweep.csv", &sw, 0, err)) goto done;
        have_sw = 1;
    }
    char base[4200];
    snprintf(base, sizeof base, "%s/..", eval_dir);
    sx_compare_in in = {0};
    in.eval = &ev;
    for (int i = 0; i < n_sp; i++) in.splits[i] = &sp[i];
    in.n_splits = n_sp;
    in.toxic = have_tox ? &tox : NULL;
    in.sweep = have_sw ? &sw : NULL;
    in.sweep_sae = o.sweep_sae;
    in.sweep_unnamed_skip = o.sweep_unnamed_skip;
    in.sae_base = base;
    in.ppl_budget = o.ppl_budget;
    in.skip_plots = o.skip_plots;
    rc = sx_compare_write(&in, out_dir, err);
done:
    sx_csv_free(&ev);
    for (int i = 0; i < n_sp; i++) sx_csv_free(&sp[i]);
    if (o.n_split > n_sp) sx_csv_free(&sp[n_sp]); /* a table that failed half-way */
    if (have_tox) sx_csv_free(&tox);
    if (have_sw) sx_csv_free(&sw);
    return rc;
}

/* The folder of a found input path (in place). */
static void dir_of(char *path) {
    char *s = strrchr(path, '/');
    if (s && s != path) *s = 0;
    else snprintf(path, 2, ".");
}

int xp_write_compare(const xp_run *run, const char *in_dir, const char *out_dir, int skip_plots,
                     sx_export_notes *notes, sx_err *err) {
    char ev[1024], bm[1024], tox[1024], sw[1024];
    if (!xp_find_input(in_dir, out_dir, "sae_eval.csv", ev, sizeof ev)) {
        xp_note(notes, "skipped width comparison: sae_eval.csv not found in %s", in_dir);
        return 0;
    }
    sx_compare_opts o = {.skip_plots = skip_plots, .sweep_unnamed_skip = 1};
    if (xp_find_input(in_dir, out_dir, "best_matches.csv", bm, sizeof bm)) {
        dir_of(bm);
        o.split_dirs[o.n_split++] = bm;
    }
    snprintf(tox, sizeof tox, "%s", run->toxic_path);
    snprintf(sw, sizeof sw, "%s", run->sweep_path);
    if (tox[0]) dir_of(tox), o.toxic_dir = tox;
    if (sw[0]) dir_of(sw), o.sweep_dir = sw;
    dir_of(ev);
    if (sx_compare_run(ev, &o, out_dir, err)) return -1;
    xp_note(notes, "wrote %s/width_comparison.csv%s", out_dir,
            skip_plots ? "" : " and plots/width_scores.png, plots/l0_fvu_frontier.png");
    return 0;
}
