/* study_out.c — the tables of `saetox study`: study_runs.csv (every condition of every seed),
 * study_seeds.csv (what each seed's analysis chose), findings.csv and findings.md; and reading
 * the first two back (`saetox study --recompute DIR`).  All CSVs through io/ with the schemas of
 * schema.h; every file is written atomically. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "schema.h"
#include "study.h"

static void ci3(sx_csv_writer *w, double v, double lo, double hi) {
    sx_csv_num(w, v);
    sx_csv_num(w, lo);
    sx_csv_num(w, hi);
}

int study_write_runs(const char *path, const study_row *rows, int64_t n, sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_STUDY_RUNS, err)) return -1;
    for (int64_t i = 0; i < n; i++) {
        const study_row *x = &rows[i];
        sx_csv_int(&w, x->r.seed);
        sx_csv_str(&w, x->r.sae);
        sx_csv_str(&w, x->r.set);
        sx_csv_str(&w, x->r.condition);
        sx_csv_str(&w, x->r.tier);
        sx_csv_num(&w, x->r.alpha);
        sx_csv_str(&w, x->latents);
        sx_csv_int(&w, x->res.n_prompts);
        sx_csv_int(&w, x->res.n_samples);
        ci3(&w, x->res.emt, x->res.emt_lo, x->res.emt_hi);
        ci3(&w, x->res.tox_prob, x->res.tox_prob_lo, x->res.tox_prob_hi);
        ci3(&w, x->res.mean_tox, x->res.mean_tox_lo, x->res.mean_tox_hi);
        ci3(&w, x->res.ppl, x->res.ppl_lo, x->res.ppl_hi);
        sx_csv_num(&w, x->r.acc);
        sx_csv_num(&w, x->acc_norm);
        sx_csv_int(&w, x->r.acc_n);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

static void join(char *buf, size_t n, const char *s) { /* "1,2,3" -> "1 2 3" */
    snprintf(buf, n, "%s", s);
    for (char *p = buf; *p; p++)
        if (*p == ',') *p = ' ';
}

int study_write_seeds(const char *path, const study_ctx *s, sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_STUDY_SEEDS, err)) return -1;
    char buf[2048];
    for (int i = 0; i < s->n_seeds; i++) {
        const sx_study_seed *d = &s->seeds[i];
        sx_csv_int(&w, d->seed);
        join(buf, sizeof buf, s->seed_latents[i]);
        sx_csv_str(&w, buf);
        sx_csv_int(&w, d->narrow_parent);
        sx_csv_int(&w, d->wide_children);
        sx_csv_int(&w, s->seed_single[i]);
        join(buf, sizeof buf, s->seed_family[i]);
        sx_csv_str(&w, buf);
        sx_csv_int(&w, d->mat_top);
        sx_csv_int(&w, d->mat_group);
        sx_csv_int(&w, d->mat_later);
        join(buf, sizeof buf, s->seed_causal[i]);
        sx_csv_str(&w, buf);
        sx_csv_numf(&w, s->seed_seconds[i], 1);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

static int col(const sx_csv_table *t, const char *name, sx_err *err) {
    int c = sx_csv_col(t, name);
    if (c < 0) sx_failc(err, SX_ECORRUPT, "%s:1: missing column '%s'", t->path, name);
    return c;
}

int study_read_runs(const char *path, sx_study_run **out, int64_t *n, sx_err *err) {
    *out = NULL, *n = 0;
    sx_csv_table t;
    if (sx_csv_read(path, &t, err)) return -1;
    int rc = -1;
    sx_study_run *runs = NULL;
    if (sx_csv_require_schema(&t, &SX_SCHEMA_STUDY_RUNS, err)) goto done;
    int cs = col(&t, "seed", err), ca = col(&t, "sae", err), cset = col(&t, "set", err), cc = col(&t, "condition", err),
        ct = col(&t, "tier", err), cal = col(&t, "alpha", err), ce = col(&t, "emt", err), cp = col(&t, "ppl", err),
        cacc = col(&t, "acc", err), cn = col(&t, "acc_n", err);
    runs = calloc(t.nrows ? (size_t)t.nrows : 1, sizeof *runs);
    if (!runs) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int64_t r = 0; r < t.nrows; r++) {
        sx_study_run *x = &runs[r];
        if (sx_csv_get_int(&t, r, cs, &x->seed, 0, 0, err) || sx_csv_get_num(&t, r, cal, &x->alpha, err) ||
            sx_csv_get_num(&t, r, ce, &x->emt, err) || sx_csv_get_num(&t, r, cp, &x->ppl, err) ||
            sx_csv_get_num(&t, r, cacc, &x->acc, err) || sx_csv_get_int(&t, r, cn, &x->acc_n, 1, 0, err))
            goto done;
        snprintf(x->sae, sizeof x->sae, "%s", sx_csv_cell(&t, r, ca));
        snprintf(x->set, sizeof x->set, "%s", sx_csv_cell(&t, r, cset));
        snprintf(x->condition, sizeof x->condition, "%s", sx_csv_cell(&t, r, cc));
        snprintf(x->tier, sizeof x->tier, "%s", sx_csv_cell(&t, r, ct));
    }
    *out = runs, *n = t.nrows, runs = NULL;
    rc = 0;
done:
    free(runs);
    sx_csv_free(&t);
    return rc;
}

int study_read_seeds(const char *path, sx_study_seed *seeds, int *n_seeds, sx_err *err) {
    *n_seeds = 0;
    sx_csv_table t;
    if (sx_csv_read(path, &t, err)) return -1;
    int rc = -1;
    if (sx_csv_require_schema(&t, &SX_SCHEMA_STUDY_SEEDS, err)) goto done;
    if (t.nrows < 1 || t.nrows > SX_STUDY_MAX_SEEDS) {
        sx_failc(err, SX_ECORRUPT, "%s: %lld seeds (1..%d)", path, (long long)t.nrows, SX_STUDY_MAX_SEEDS);
        goto done;
    }
    int cs = col(&t, "seed", err), cp = col(&t, "narrow_parent", err), cw = col(&t, "wide_children", err),
        cm = col(&t, "mat_top", err), cg = col(&t, "mat_group", err), cl = col(&t, "mat_later", err);
    for (int64_t r = 0; r < t.nrows; r++) {
        int64_t v[5];
        sx_study_seed *d = &seeds[r];
        memset(d, 0, sizeof *d);
        if (sx_csv_get_int(&t, r, cs, &d->seed, 0, 0, err) || sx_csv_get_int(&t, r, cp, &v[0], 0, 0, err) ||
            sx_csv_get_int(&t, r, cw, &v[1], 0, 0, err) || sx_csv_get_int(&t, r, cm, &v[2], 0, 0, err) ||
            sx_csv_get_int(&t, r, cg, &v[3], 0, 0, err) || sx_csv_get_int(&t, r, cl, &v[4], 0, 0, err))
            goto done;
        d->narrow_parent = (int)v[0], d->wide_children = (int)v[1], d->mat_top = (int)v[2], d->mat_group = (int)v[3],
        d->mat_later = (int)v[4];
    }
    *n_seeds = (int)t.nrows;
    rc = 0;
done:
    sx_csv_free(&t);
    return rc;
}

static void values_str(const sx_finding *f, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < f->n && used + 40 < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld:%.6g", i ? " " : "", (long long)f->seed[i], f->value[i]);
}

static void fmt(char *b, size_t n, double v) {
    if (isfinite(v)) snprintf(b, n, "%.4g", v);
    else snprintf(b, n, "-");
}

int study_write_findings(const char *dir, const sx_finding *f, int n, const sx_study_spec *spec, const char *header,
                         sx_err *err) {
    char p[4300], vals[SX_STUDY_MAX_SEEDS * 40];
    snprintf(p, sizeof p, "%s/findings.csv", dir);
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, p, &SX_SCHEMA_FINDINGS, err)) return -1;
    for (int i = 0; i < n; i++) {
        sx_csv_str(&w, f[i].id);
        sx_csv_str(&w, f[i].description);
        sx_csv_str(&w, f[i].metric);
        values_str(&f[i], vals, sizeof vals);
        sx_csv_str(&w, vals);
        sx_csv_int(&w, f[i].n);
        sx_csv_num(&w, f[i].mean);
        sx_csv_num(&w, f[i].lo);
        sx_csv_num(&w, f[i].hi);
        sx_csv_str(&w, f[i].verdict);
        sx_csv_str(&w, f[i].rule);
        sx_csv_row(&w);
    }
    if (sx_csv_close(&w, err)) return -1;

    /* findings.md: the same table, readable */
    size_t cap = 4096 + (size_t)n * 2048, used = 0;
    char *md = malloc(cap);
    if (!md) return sx_failc(err, SX_ENOMEM, "%s: out of memory", dir);
    used += (size_t)snprintf(md + used, cap - used,
                             "# Findings across seeds\n\n%s\n\nMean and %g%% Student t interval across seeds; "
                             "matched fluency = perplexity <= %gx unsteered.\n\n"
                             "| finding | claim | metric | n | mean | %g%% CI | verdict |\n| --- | --- | --- | --- | --- | --- | --- |\n",
                             header, 100 * spec->level, spec->budget, 100 * spec->level);
    for (int i = 0; i < n && used + 1200 < cap; i++) {
        char m[32], lo[32], hi[32];
        fmt(m, sizeof m, f[i].mean), fmt(lo, sizeof lo, f[i].lo), fmt(hi, sizeof hi, f[i].hi);
        used += (size_t)snprintf(md + used, cap - used, "| %s | %s | %s | %d | %s | [%s, %s] | %s |\n", f[i].id,
                                 f[i].description, f[i].metric, f[i].n, m, lo, hi, f[i].verdict);
    }
    used += (size_t)snprintf(md + used, cap - used, "\nVerdict rules:\n\n");
    for (int i = 0; i < n && used + 600 < cap; i++)
        if (strcmp(f[i].verdict, "-"))
            used += (size_t)snprintf(md + used, cap - used, "- %s: %s\n", f[i].id, f[i].rule);
    snprintf(p, sizeof p, "%s/findings.md", dir);
    int rc = sx_write_file_atomic(p, md, used, err);
    free(md);
    return rc;
}

int study_recompute(const char *dir, const sx_study_spec *spec, const char *header, sx_err *err) {
    char p[4300];
    sx_study_seed seeds[SX_STUDY_MAX_SEEDS];
    int n_seeds;
    snprintf(p, sizeof p, "%s/study_seeds.csv", dir);
    if (study_read_seeds(p, seeds, &n_seeds, err)) return -1;
    sx_study_run *runs;
    int64_t n_runs;
    snprintf(p, sizeof p, "%s/study_runs.csv", dir);
    if (study_read_runs(p, &runs, &n_runs, err)) return -1;
    sx_finding *f = malloc(SX_STUDY_MAX_FINDINGS * sizeof *f);
    int n = 0, rc = -1;
    if (!f) {
        sx_failc(err, SX_ENOMEM, "study: out of memory");
        goto done;
    }
    /* without names (--recompute): the narrow SAE is the one of set "top", the wide the one of
     * set "family", the Matryoshka SAE the other one of set "single" */
    sx_study_spec sp = *spec;
    static char names[3][64];
    if (!sp.narrow) {
        names[0][0] = names[1][0] = names[2][0] = 0;
        for (int64_t i = 0; i < n_runs; i++) {
            if (!strcmp(runs[i].set, "top")) snprintf(names[0], sizeof names[0], "%s", runs[i].sae);
            if (!strcmp(runs[i].set, "family")) snprintf(names[1], sizeof names[1], "%s", runs[i].sae);
        }
        for (int64_t i = 0; i < n_runs; i++)
            if (!strcmp(runs[i].set, "single") && strcmp(runs[i].sae, names[0]) && strcmp(runs[i].sae, names[1]))
                snprintf(names[2], sizeof names[2], "%s", runs[i].sae);
        sp.narrow = names[0], sp.wide = names[1], sp.mat = names[2];
    }
    if (sx_study_findings(runs, n_runs, seeds, n_seeds, &sp, f, &n, err)) goto done;
    rc = study_write_findings(dir, f, n, &sp, header, err);
done:
    free(f);
    free(runs);
    return rc;
}
