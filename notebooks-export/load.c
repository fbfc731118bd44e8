/* load.c — find and load the inputs of a run folder into typed, sorted arrays. */
#include "export_int.h"
#include "sx_json.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void xp_note(sx_export_notes *notes, const char *fmt, ...) {
    if (!notes || notes->n >= SX_EXPORT_MAX_NOTES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes->msg[notes->n++], sizeof notes->msg[0], fmt, ap);
    va_end(ap);
}

static int same_dir(const char *a, const char *b) {
    if (!b) return 0;
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* in_dir/name, else <in_dir>/<sub>/name for the first subfolder (name order) that has it;
 * the export's own output folder (skip, may be NULL) is never an input. */
int xp_find_input(const char *in_dir, const char *skip, const char *name, char *out,
                      size_t outsz) {
    out[0] = 0;
    if (sx_path_join(out, outsz, in_dir, name) == 0 && sx_file_exists(out)) return 1;
    out[0] = 0;
    DIR *d = opendir(in_dir);
    if (!d) return 0;
    char *subs[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        if (e->d_name[0] == '.') continue;
        subs[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(subs, (size_t)n, sizeof *subs, cmp_str);
    int found = 0;
    for (int i = 0; i < n; i++) {
        char sub[4096];
        char mark[4200];
        /* A folder holding a previous export (report.ipynb) is output, not input. */
        if (!found && sx_path_join(sub, sizeof sub, in_dir, subs[i]) == 0 && sx_is_dir(sub) &&
            !same_dir(sub, skip) &&
            !(sx_path_join(mark, sizeof mark, sub, "report.ipynb") == 0 && sx_file_exists(mark)) &&
            sx_path_join(out, outsz, sub, name) == 0 && sx_file_exists(out))
            found = 1;
        free(subs[i]);
    }
    if (!found) out[0] = 0;
    return found;
}

int xp_sae_index(xp_run *run, const char *name, sx_err *err) {
    for (int i = 0; i < run->n_sae; i++)
        if (strcmp(run->sae[i], name) == 0) return i;
    if (run->n_sae >= XP_MAX_SAE) return sx_failc(err, SX_EINVAL, "more than %d SAE names", XP_MAX_SAE);
    if (strlen(name) >= sizeof run->sae[0]) return sx_failc(err, SX_EINVAL, "SAE name too long: '%.40s'", name);
    strcpy(run->sae[run->n_sae], name);
    /* Width from a trailing "-<digits>" (e.g. "topk-4096"), the train folder convention. */
    const char *dash = strrchr(name, '-');
    int64_t w = 0;
    if (dash && dash[1]) {
        char *end;
        long long v = strtoll(dash + 1, &end, 10);
        if (!*end && v > 0) w = v;
    }
    run->sae_width[run->n_sae] = w;
    run->sae_fam_row[run->n_sae] = INT64_MAX;
    return run->n_sae++;
}

/* ---------------- metrics.jsonl ---------------- */

static int load_metrics(xp_run *run, const char *path, sx_err *err) {
    const sx_schema *sc = &SX_SCHEMA_METRICS; /* sae, then the numeric keys in order */
    sx_jsonl_reader *jr;
    if (sx_jsonl_open(path, &jr, err)) return -1;
    int64_t cap = 0;
    int rc = 0;
    cJSON *j;
    while (!rc && (rc = sx_jsonl_next(jr, &j, err)) == 1) {
        rc = 0;
        const char *ctx = sx_jsonl_where(jr), *sae = NULL;
        xp_metric m;
        double *f[] = {&m.step, &m.tokens, &m.mse, &m.fvu, &m.l0, &m.dead_frac,
                       &m.mean_max_act, &m.lr, &m.tokens_per_s};
        if (sx_json_str(j, sc->cols[0].name, &sae, ctx, err) < 0) rc = -1;
        for (int i = 0; i < 9 && !rc; i++) {
            *f[i] = NAN;
            if (sx_json_num(j, sc->cols[1 + i].name, f[i], ctx, err) < 0) rc = -1;
        }
        if (!rc) {
            m.sae = xp_sae_index(run, sae ? sae : "sae", err);
            if (m.sae < 0) rc = sx_fail_prefix(err, "%s", ctx);
        }
        cJSON_Delete(j);
        if (rc) break;
        if (run->n_metrics == cap) {
            cap = cap ? cap * 2 : 256;
            xp_metric *nm = realloc(run->metrics, (size_t)cap * sizeof *nm);
            if (!nm) {
                rc = sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
                break;
            }
            run->metrics = nm;
        }
        run->metrics[run->n_metrics++] = m;
    }
    sx_jsonl_close(jr);
    return rc < 0 ? -1 : 0;
}

/* ---------------- CSV inputs ---------------- */

sx_csv_table *xp_load_table(xp_run *run, const char *path, const sx_schema *sc, sx_err *err) {
    if (run->n_tables >= (int)(sizeof run->tables / sizeof run->tables[0]))
        return sx_failc(err, SX_EINVAL, "%s: too many input tables", path), NULL;
    sx_csv_table *t = &run->tables[run->n_tables];
    if (sx_csv_read(path, t, err)) return NULL;
    run->n_tables++;
    if (sx_csv_require_schema(t, sc, err)) return NULL;
    return t;
}

#define COL(t, name) sx_csv_col(t, name)
#define NUM(t, r, name, dst) sx_csv_get_num(t, r, COL(t, name), dst, err)
#define INT(t, r, name, dst) sx_csv_get_int(t, r, COL(t, name), dst, 0, 0, err)
#define INTE(t, r, name, dst, d) sx_csv_get_int(t, r, COL(t, name), dst, 1, d, err)

static int sae_of(xp_run *run, const sx_csv_table *t, int64_t r, sx_err *err) {
    int s = xp_sae_index(run, sx_csv_cell(t, r, COL(t, "sae")), err);
    if (s < 0) sx_fail_prefix(err, "%s:%" PRId64, t->path, t->line[r]);
    return s;
}

static int load_stats(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_LATENT_STATS, err);
    if (!t) return -1;
    run->stats = calloc((size_t)t->nrows + 1, sizeof *run->stats);
    if (!run->stats) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_stat *s = &run->stats[r];
        if ((s->sae = sae_of(run, t, r, err)) < 0 || INT(t, r, "latent", &s->latent) ||
            NUM(t, r, "fire_freq", &s->fire_freq) || NUM(t, r, "mean_act", &s->mean_act) ||
            NUM(t, r, "max_act", &s->max_act) || NUM(t, r, "q50", &s->q50) ||
            NUM(t, r, "q90", &s->q90) || NUM(t, r, "q99", &s->q99))
            return -1;
    }
    run->n_stats = t->nrows;
    return 0;
}

static int load_toxic(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_TOXIC_LATENTS, err);
    if (!t) return -1;
    run->toxic = calloc((size_t)t->nrows + 1, sizeof *run->toxic);
    if (!run->toxic) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_toxic *x = &run->toxic[r];
        if ((x->sae = sae_of(run, t, r, err)) < 0 || INT(t, r, "latent", &x->latent) ||
            INTE(t, r, "rank", &x->rank, r + 1) || NUM(t, r, "score", &x->score) ||
            NUM(t, r, "auroc", &x->auroc) || NUM(t, r, "cohens_d", &x->cohens_d) ||
            NUM(t, r, "mean_toxic", &x->mean_toxic) || NUM(t, r, "mean_clean", &x->mean_clean) ||
            NUM(t, r, "mean_diff", &x->mean_diff) ||
            NUM(t, r, "fire_rate_toxic", &x->fire_rate_toxic) ||
            NUM(t, r, "fire_rate_clean", &x->fire_rate_clean) ||
            NUM(t, r, "log_odds", &x->log_odds) ||
            INTE(t, r, "family_id", &x->family_id, -1) ||
            INTE(t, r, "family_size", &x->family_size, 0))
            return -1;
        x->top_promoted = sx_csv_cell(t, r, COL(t, "top_promoted"));
        x->top_suppressed = sx_csv_cell(t, r, COL(t, "top_suppressed"));
    }
    run->n_toxic = t->nrows;
    return 0;
}

static int load_ctx(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_TOP_CONTEXTS, err);
    if (!t) return -1;
    run->ctx = calloc((size_t)t->nrows + 1, sizeof *run->ctx);
    if (!run->ctx) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_ctx *c = &run->ctx[r];
        if ((c->sae = sae_of(run, t, r, err)) < 0 || INT(t, r, "latent", &c->latent) ||
            INTE(t, r, "rank", &c->rank, r) || NUM(t, r, "activation", &c->activation))
            return -1;
        c->before = sx_csv_cell(t, r, COL(t, "context_before"));
        c->token = sx_csv_cell(t, r, COL(t, "token"));
        c->after = sx_csv_cell(t, r, COL(t, "context_after"));
    }
    run->n_ctx = t->nrows;
    return 0;
}

static int load_pairs(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_PAIRS, err);
    if (!t) return -1;
    run->pairs = calloc((size_t)t->nrows + 1, sizeof *run->pairs);
    if (!run->pairs) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_pair *p = &run->pairs[r];
        if (INT(t, r, "small_latent", &p->small_latent) ||
            INT(t, r, "wide_latent", &p->wide_latent) || NUM(t, r, "cosine", &p->cosine))
            return -1;
    }
    run->n_pairs = t->nrows;
    return 0;
}

static int load_fams(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_FAMILIES, err);
    if (!t) return -1;
    run->fams = calloc((size_t)t->nrows + 1, sizeof *run->fams);
    if (!run->fams) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_fam *f = &run->fams[r];
        if (INT(t, r, "family_id", &f->family_id) || (f->sae = sae_of(run, t, r, err)) < 0 ||
            INT(t, r, "latent", &f->latent))
            return -1;
        if (r < run->sae_fam_row[f->sae]) run->sae_fam_row[f->sae] = r;
    }
    run->n_fams = t->nrows;
    return 0;
}

static int load_sweep(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_STEERING_SWEEP, err);
    if (!t) return -1;
    run->sweep = calloc((size_t)t->nrows + 1, sizeof *run->sweep);
    if (!run->sweep) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_sweep *s = &run->sweep[r];
        s->condition = sx_csv_cell(t, r, COL(t, "condition"));
        s->tier = sx_csv_cell(t, r, COL(t, "tier"));
        s->latents = sx_csv_cell(t, r, COL(t, "latents"));
        if (NUM(t, r, "alpha", &s->alpha)) return -1;
        for (int i = 0; i < XP_SWEEP_NUM - 1; i++)
            if (NUM(t, r, SX_SCHEMA_STEERING_SWEEP.cols[4 + i].name, &s->v[i])) return -1;
    }
    run->n_sweep = t->nrows;
    return 0;
}

/* ---------------- sorting and lookup ---------------- */

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))
static int cmp_stat(const void *a, const void *b) {
    const xp_stat *x = a, *y = b;
    return x->sae != y->sae ? CMP(x->sae, y->sae) : CMP(x->latent, y->latent);
}
static int cmp_toxic(const void *a, const void *b) {
    const xp_toxic *x = a, *y = b;
    if (x->sae != y->sae) return CMP(x->sae, y->sae);
    return x->rank != y->rank ? CMP(x->rank, y->rank) : CMP(x->latent, y->latent);
}
static int cmp_ctx(const void *a, const void *b) {
    const xp_ctx *x = a, *y = b;
    if (x->sae != y->sae) return CMP(x->sae, y->sae);
    if (x->latent != y->latent) return CMP(x->latent, y->latent);
    return CMP(x->rank, y->rank);
}
static int cmp_pair(const void *a, const void *b) {
    const xp_pair *x = a, *y = b;
    if (x->small_latent != y->small_latent) return CMP(x->small_latent, y->small_latent);
    return CMP(x->wide_latent, y->wide_latent);
}
static int cmp_fam(const void *a, const void *b) {
    const xp_fam *x = a, *y = b;
    if (x->family_id != y->family_id) return CMP(x->family_id, y->family_id);
    return x->sae != y->sae ? CMP(x->sae, y->sae) : CMP(x->latent, y->latent);
}

const xp_stat *xp_find_stat(const xp_run *run, int sae, int64_t latent) {
    xp_stat key = {.sae = sae, .latent = latent};
    if (!run->n_stats) return NULL;
    return bsearch(&key, run->stats, (size_t)run->n_stats, sizeof key, cmp_stat);
}

const xp_toxic *xp_find_toxic(const xp_run *run, int sae, int64_t latent) {
    for (int64_t i = 0; i < run->n_toxic; i++)
        if (run->toxic[i].sae == sae && run->toxic[i].latent == latent) return &run->toxic[i];
    return NULL;
}

const xp_ctx *xp_find_ctx(const xp_run *run, int sae, int64_t latent, int64_t *count) {
    int64_t lo = 0, hi = run->n_ctx; /* first index with (sae, latent) >= key */
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        const xp_ctx *c = &run->ctx[mid];
        if (c->sae < sae || (c->sae == sae && c->latent < latent)) lo = mid + 1;
        else hi = mid;
    }
    int64_t n = 0;
    while (lo + n < run->n_ctx && run->ctx[lo + n].sae == sae && run->ctx[lo + n].latent == latent)
        n++;
    *count = n;
    return n ? &run->ctx[lo] : NULL;
}

int64_t xp_pair_range(const xp_run *run, int64_t small_latent, int64_t *count) {
    int64_t lo = 0, hi = run->n_pairs;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (run->pairs[mid].small_latent < small_latent) lo = mid + 1;
        else hi = mid;
    }
    int64_t n = 0;
    while (lo + n < run->n_pairs && run->pairs[lo + n].small_latent == small_latent) n++;
    *count = n;
    return lo;
}

int64_t xp_family_range(const xp_run *run, int64_t family_id, int64_t *count) {
    int64_t lo = 0, hi = run->n_fams;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (run->fams[mid].family_id < family_id) lo = mid + 1;
        else hi = mid;
    }
    int64_t n = 0;
    while (lo + n < run->n_fams && run->fams[lo + n].family_id == family_id) n++;
    *count = n;
    return lo;
}

int64_t xp_family_of(const xp_run *run, int sae, int64_t latent) {
    for (int64_t i = 0; i < run->n_fams; i++)
        if (run->fams[i].sae == sae && run->fams[i].latent == latent) return run->fams[i].family_id;
    return -1;
}

void xp_final_metrics(const xp_run *run, int64_t *idx) {
    for (int s = 0; s < XP_MAX_SAE; s++) idx[s] = -1;
    for (int64_t i = 0; i < run->n_metrics; i++) {
        const xp_metric *m = &run->metrics[i];
        int64_t j = idx[m->sae];
        if (j < 0 || !(run->metrics[j].step > m->step)) idx[m->sae] = i;
    }
}

/* ---------------- entry ---------------- */

typedef int (*loader)(xp_run *, const char *, sx_err *);

int xp_load(const char *in_dir, const char *out_dir, xp_run *run, sx_export_notes *notes,
            sx_err *err) {
    memset(run, 0, sizeof *run);
    if (!sx_is_dir(in_dir)) return sx_failc(err, SX_EINVAL, "%s: not a folder", in_dir);
    struct {
        const char *name;
        char *path;
        loader fn;
        const char *what;
    } in[] = {
        {"metrics.jsonl", run->metrics_path, load_metrics, "training curves"},
        {"latent_stats.csv", run->stats_path, load_stats, "latent statistics"},
        {"toxic_latents.csv", run->toxic_path, load_toxic, "toxic latents"},
        {"top_contexts.csv", run->ctx_path, load_ctx, "top contexts"},
        {"pairs.csv", run->pairs_path, load_pairs, "cosine pairs"},
        {"families.csv", run->fam_path, load_fams, "families"},
        {"steering_sweep.csv", run->sweep_path, load_sweep, "steering trade-off"},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        if (!xp_find_input(in_dir, out_dir, in[i].name, in[i].path, 1024)) {
            xp_note(notes, "skipped %s: %s not found in %s", in[i].what, in[i].name, in_dir);
            continue;
        }
        if (in[i].fn(run, in[i].path, err)) return -1;
        xp_note(notes, "read %s", in[i].path);
    }
    if (run->n_stats) qsort(run->stats, (size_t)run->n_stats, sizeof *run->stats, cmp_stat);
    if (run->n_toxic) qsort(run->toxic, (size_t)run->n_toxic, sizeof *run->toxic, cmp_toxic);
    if (run->n_ctx) qsort(run->ctx, (size_t)run->n_ctx, sizeof *run->ctx, cmp_ctx);
    if (run->n_pairs) qsort(run->pairs, (size_t)run->n_pairs, sizeof *run->pairs, cmp_pair);
    if (run->n_fams) qsort(run->fams, (size_t)run->n_fams, sizeof *run->fams, cmp_fam);
    /* Widths: the SAE folder's cfg.json (d_sae) when the run has it, else the name's suffix,
     * else one past the largest latent index seen. */
    for (int s = 0; s < run->n_sae; s++) {
        char dir[4096], cfg[4200];
        if (sx_path_join(dir, sizeof dir, in_dir, run->sae[s]) == 0 &&
            sx_path_join(cfg, sizeof cfg, dir, "cfg.json") == 0 && sx_file_exists(cfg)) {
            sx_err e2;
            cJSON *j = sx_json_parse_file(cfg, 1 << 20, &e2);
            int64_t d = 0;
            if (j && sx_json_int(j, "d_sae", &d, cfg, &e2) == 0 && d > 0) run->sae_width[s] = d;
            cJSON_Delete(j);
        }
        if (run->sae_width[s]) continue;
        int64_t w = 0;
        for (int64_t i = 0; i < run->n_stats; i++)
            if (run->stats[i].sae == s && run->stats[i].latent + 1 > w) w = run->stats[i].latent + 1;
        for (int64_t i = 0; i < run->n_fams; i++)
            if (run->fams[i].sae == s && run->fams[i].latent + 1 > w) w = run->fams[i].latent + 1;
        run->sae_width[s] = w;
    }
    return 0;
}

void xp_free(xp_run *run) {
    xp_free_features(run);
    free(run->metrics);
    free(run->stats);
    free(run->toxic);
    free(run->ctx);
    free(run->pairs);
    free(run->fams);
    free(run->sweep);
    for (int i = 0; i < run->n_tables; i++) sx_csv_free(&run->tables[i]);
    memset(run, 0, sizeof *run);
}
