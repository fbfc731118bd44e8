/* reports.c — the report CSVs: training metrics, one latent table per SAE, the width
 * comparison (how a toxic concept splits from a narrow into a wide SAE), the steering sweep
 * and the cosine pairs (validated copies).  Column lists: export.h / README.md. */
#include "export_int.h"

#include <stdlib.h>
#include <string.h>

static int write_training(const xp_run *run, const char *dir, sx_err *err) {
    char path[4096];
    sx_path_join(path, sizeof path, dir, "training_metrics.csv");
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_TRAINING_METRICS, err)) return -1;
    for (int64_t i = 0; i < run->n_metrics; i++) {
        const xp_metric *m = &run->metrics[i];
        sx_csv_str(&w, run->sae[m->sae]);
        double v[] = {m->step, m->tokens, m->mse, m->fvu, m->l0, m->dead_frac, m->mean_max_act,
                      m->lr, m->tokens_per_s};
        for (int k = 0; k < 9; k++) sx_csv_num(&w, v[k]);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* File-name-safe copy of an SAE name. */
static void safe_name(char *out, size_t n, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        out[i] = ok ? c : '_';
    }
    out[i] = 0;
    if (out[0] == '.') out[0] = '_';
}

static void write_members(sx_csv_writer *w, const xp_run *run, int64_t fid, int sae,
                          int64_t latent) {
    int64_t n, first = xp_family_range(run, fid, &n);
    char *buf = malloc((size_t)n * 160 + 1);
    if (!buf) {
        sx_csv_empty(w);
        return;
    }
    size_t len = 0;
    buf[0] = 0;
    for (int64_t i = first; i < first + n; i++) {
        const xp_fam *f = &run->fams[i];
        if (f->sae == sae && f->latent == latent) continue;
        len += (size_t)sprintf(buf + len, "%s%s:%lld", len ? " " : "", run->sae[f->sae],
                               (long long)f->latent);
    }
    sx_csv_str(w, buf);
    free(buf);
}

static void write_latent_row(sx_csv_writer *w, const xp_run *run, int s, int64_t latent) {
    const xp_stat *st = xp_find_stat(run, s, latent);
    const xp_toxic *tx = xp_find_toxic(run, s, latent);
    int64_t nctx;
    const xp_ctx *c = xp_find_ctx(run, s, latent, &nctx);
    sx_csv_str(w, run->sae[s]);
    sx_csv_int(w, latent);
    double sv[] = {NAN, NAN, NAN, NAN, NAN, NAN};
    if (st) {
        double v[] = {st->fire_freq, st->mean_act, st->max_act, st->q50, st->q90, st->q99};
        memcpy(sv, v, sizeof v);
    }
    for (int k = 0; k < 6; k++) sx_csv_num(w, sv[k]);
    sx_csv_int(w, tx != NULL);
    if (tx) {
        sx_csv_int(w, tx->rank);
        double v[] = {tx->score, tx->auroc, tx->cohens_d, tx->mean_toxic, tx->mean_clean,
                      tx->mean_diff, tx->fire_rate_toxic, tx->fire_rate_clean, tx->log_odds};
        for (int k = 0; k < 9; k++) sx_csv_num(w, v[k]);
    } else {
        for (int k = 0; k < 10; k++) sx_csv_empty(w);
    }
    int64_t fid = xp_family_of(run, s, latent);
    if (fid < 0 && tx && tx->family_id >= 0) fid = tx->family_id;
    if (fid >= 0) {
        int64_t n;
        xp_family_range(run, fid, &n);
        sx_csv_int(w, fid);
        sx_csv_int(w, n ? n : (tx ? tx->family_size : 0));
        write_members(w, run, fid, s, latent);
    } else {
        sx_csv_empty(w);
        sx_csv_empty(w);
        sx_csv_empty(w);
    }
    sx_csv_str(w, tx ? tx->top_promoted : NULL);
    sx_csv_str(w, tx ? tx->top_suppressed : NULL);
    if (c) {
        sx_csv_num(w, c->activation);
        sx_csv_str(w, c->before);
        sx_csv_str(w, c->token);
        sx_csv_str(w, c->after);
    } else {
        for (int k = 0; k < 4; k++) sx_csv_empty(w);
    }
    sx_csv_row(w);
}

static int write_latents(const xp_run *run, const char *dir, sx_export_notes *notes,
                         sx_err *err) {
    int64_t cap = run->n_stats + run->n_toxic + run->n_fams + 1;
    int64_t *lat = malloc((size_t)cap * sizeof *lat);
    if (!lat) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (int s = 0; s < run->n_sae; s++) {
        int64_t n = 0;
        for (int64_t i = 0; i < run->n_stats; i++)
            if (run->stats[i].sae == s) lat[n++] = run->stats[i].latent;
        for (int64_t i = 0; i < run->n_toxic; i++)
            if (run->toxic[i].sae == s) lat[n++] = run->toxic[i].latent;
        for (int64_t i = 0; i < run->n_fams; i++)
            if (run->fams[i].sae == s) lat[n++] = run->fams[i].latent;
        if (!n) continue; /* an SAE seen only in metrics */
        qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
        char name[160], path[4096];
        safe_name(name, 128, run->sae[s]);
        snprintf(name + strlen(name), 32, ".csv");
        memmove(name + 8, name, strlen(name) + 1);
        memcpy(name, "latents_", 8);
        sx_path_join(path, sizeof path, dir, name);
        sx_csv_writer w;
        if (sx_csv_open_schema(&w, path, &SX_SCHEMA_LATENTS, err)) {
            free(lat);
            return -1;
        }
        for (int64_t i = 0; i < n; i++)
            if (i == 0 || lat[i] != lat[i - 1]) write_latent_row(&w, run, s, lat[i]);
        if (sx_csv_close(&w, err)) {
            free(lat);
            return -1;
        }
        xp_note(notes, "wrote %s", path);
    }
    free(lat);
    return 0;
}

/* ---------------- concepts (families) ---------------- */

static int in_set(const xp_fam *f, int64_t n, int sae, int64_t latent) {
    for (int64_t i = 0; i < n; i++)
        if (f[i].sae == sae && f[i].latent == latent) return 1;
    return 0;
}

static void fill_concept(const xp_run *run, xp_concept *c) {
    const xp_fam *m = &run->fams[c->first];
    c->narrow = c->wide = m[0].sae;
    for (int64_t i = 0; i < c->count; i++) {
        int s = m[i].sae;
        int64_t w = run->sae_width[s], wn = run->sae_width[c->narrow], ww = run->sae_width[c->wide];
        /* equal widths: the SAE named first in families.csv is the narrow one (split's --sae A) */
        int64_t r = run->sae_fam_row[s];
        if (w < wn || (w == wn && r < run->sae_fam_row[c->narrow])) c->narrow = s;
        if (w > ww || (w == ww && r > run->sae_fam_row[c->wide])) c->wide = s;
        if (xp_find_toxic(run, s, m[i].latent)) c->n_toxic++;
    }
    if (c->wide == c->narrow) c->wide = -1;
    c->narrow_max_md = c->wide_max_md = c->wide_sum_md = c->wide_top_share = NAN;
    c->narrow_best = c->wide_best = c->cos_max = c->cos_mean = NAN;
    for (int64_t i = 0; i < c->count; i++) {
        const xp_toxic *t = xp_find_toxic(run, m[i].sae, m[i].latent);
        if (m[i].sae == c->narrow) {
            c->narrow_size++;
            if (t && !(t->mean_diff <= c->narrow_max_md)) c->narrow_max_md = t->mean_diff;
            if (t && !(t->score <= c->narrow_best)) c->narrow_best = t->score;
        } else if (m[i].sae == c->wide) {
            c->wide_size++;
            if (!t) continue;
            if (!(t->mean_diff <= c->wide_max_md)) c->wide_max_md = t->mean_diff;
            if (!(t->score <= c->wide_best)) c->wide_best = t->score;
            if (!isnan(t->mean_diff)) c->wide_sum_md = (isnan(c->wide_sum_md) ? 0 : c->wide_sum_md) + t->mean_diff;
        }
    }
    if (c->wide_sum_md > 0) c->wide_top_share = c->wide_max_md / c->wide_sum_md;
    /* Cosines of the pairs joining this family's narrow and wide members. */
    double sum = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < c->count && c->wide >= 0; i++) {
        if (m[i].sae != c->narrow) continue;
        int64_t np, p0 = xp_pair_range(run, m[i].latent, &np);
        for (int64_t p = p0; p < p0 + np; p++) {
            const xp_pair *q = &run->pairs[p];
            if (!in_set(m, c->count, c->wide, q->wide_latent)) continue;
            if (!(q->cosine <= c->cos_max)) c->cos_max = q->cosine;
            sum += q->cosine;
            n++;
        }
    }
    if (n) c->cos_mean = sum / (double)n;
}

int xp_concepts(const xp_run *run, xp_concept **out, int64_t *n_out, sx_err *err) {
    *out = NULL;
    *n_out = 0;
    xp_concept *cs = calloc((size_t)run->n_fams + 1, sizeof *cs);
    if (!cs) return sx_failc(err, SX_ENOMEM, "out of memory");
    int64_t n = 0;
    for (int64_t i = 0; i < run->n_fams;) {
        xp_concept c = {.family_id = run->fams[i].family_id, .first = i};
        xp_family_range(run, c.family_id, &c.count);
        i += c.count;
        int tox = 0; /* only families with a toxic member are concepts (when a list exists) */
        for (int64_t k = c.first; k < c.first + c.count && !tox; k++)
            tox = xp_find_toxic(run, run->fams[k].sae, run->fams[k].latent) != NULL;
        if (run->n_toxic && !tox) continue;
        fill_concept(run, &c);
        cs[n++] = c;
    }
    *out = cs;
    *n_out = n;
    return 0;
}

static void latent_list(sx_csv_writer *w, const xp_run *run, const xp_concept *c, int sae) {
    char *buf = malloc((size_t)c->count * 24 + 1);
    size_t len = 0;
    if (!buf) {
        sx_csv_empty(w);
        return;
    }
    buf[0] = 0;
    for (int64_t i = c->first; i < c->first + c->count; i++)
        if (run->fams[i].sae == sae)
            len += (size_t)sprintf(buf + len, "%s%lld", len ? " " : "", (long long)run->fams[i].latent);
    sx_csv_str(w, buf);
    free(buf);
}

static int write_family_comparison(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    xp_concept *cs;
    int64_t n;
    if (xp_concepts(run, &cs, &n, err)) return -1;
    char path[4096];
    sx_path_join(path, sizeof path, dir, "family_comparison.csv");
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_FAMILY_COMPARISON, err)) {
        free(cs);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        const xp_concept *c = &cs[i];
        sx_csv_int(&w, c->family_id);
        sx_csv_int(&w, c->n_toxic);
        sx_csv_str(&w, run->sae[c->narrow]);
        sx_csv_int(&w, run->sae_width[c->narrow]);
        sx_csv_int(&w, c->narrow_size);
        latent_list(&w, run, c, c->narrow);
        if (c->wide >= 0) {
            sx_csv_str(&w, run->sae[c->wide]);
            sx_csv_int(&w, run->sae_width[c->wide]);
            sx_csv_int(&w, c->wide_size);
            latent_list(&w, run, c, c->wide);
        } else {
            sx_csv_empty(&w);
            sx_csv_empty(&w);
            sx_csv_int(&w, 0);
            sx_csv_empty(&w);
        }
        sx_csv_num(&w, c->narrow_size ? (double)c->wide_size / (double)c->narrow_size : NAN);
        double v[] = {c->narrow_max_md, c->wide_max_md, c->wide_sum_md, c->wide_top_share,
                      c->narrow_best, c->wide_best, c->cos_max, c->cos_mean};
        for (int k = 0; k < 8; k++) sx_csv_num(&w, v[k]);
        sx_csv_row(&w);
    }
    free(cs);
    if (sx_csv_close(&w, err)) return -1;
    xp_note(notes, "wrote %s (%lld concepts)", path, (long long)n);
    return 0;
}

static int write_sweep(const xp_run *run, const char *dir, sx_err *err) {
    char path[4096];
    sx_path_join(path, sizeof path, dir, "steering_sweep.csv");
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_STEERING_SWEEP, err)) return -1;
    for (int64_t i = 0; i < run->n_sweep; i++) {
        const xp_sweep *s = &run->sweep[i];
        sx_csv_str(&w, s->condition);
        sx_csv_str(&w, s->tier);
        sx_csv_num(&w, s->alpha);
        sx_csv_str(&w, s->latents);
        for (int k = 0; k < XP_SWEEP_NUM - 1; k++) sx_csv_num(&w, s->v[k]);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

static int write_pairs(const xp_run *run, const char *dir, sx_err *err) {
    char path[4096];
    sx_path_join(path, sizeof path, dir, "pairs.csv");
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_PAIRS, err)) return -1;
    for (int64_t i = 0; i < run->n_pairs; i++) {
        sx_csv_int(&w, run->pairs[i].small_latent);
        sx_csv_int(&w, run->pairs[i].wide_latent);
        sx_csv_num(&w, run->pairs[i].cosine);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

int xp_write_reports(const xp_run *run, const char *dir, sx_export_notes *notes, sx_err *err) {
    if (run->metrics_path[0]) {
        if (write_training(run, dir, err)) return -1;
        xp_note(notes, "wrote %s/training_metrics.csv", dir);
    }
    if ((run->n_stats || run->n_toxic || run->n_fams) && write_latents(run, dir, notes, err))
        return -1;
    if (run->fam_path[0] && write_family_comparison(run, dir, notes, err)) return -1;
    if (run->sweep_path[0]) {
        if (write_sweep(run, dir, err)) return -1;
        xp_note(notes, "wrote %s/steering_sweep.csv", dir);
    }
    if (run->pairs_path[0]) {
        if (write_pairs(run, dir, err)) return -1;
        xp_note(notes, "wrote %s/pairs.csv", dir);
    }
    return 0;
}
