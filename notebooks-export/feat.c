/* feat.c — what the feature pages need beyond the flat tables: the logit-lens values and
 * histograms analyze toxic wrote (logit_effects.csv, logit_hist.csv), the choice of latents
 * (toxic ranks interleaved over the SAEs: rank 1 of every SAE, then rank 2, ...), and their
 * detail computed from the activation cache an `analyze stats` run names in its
 * stats_run.json (sx_feature_details: exact histogram, density, top and band contexts with
 * every token's activation, decoder vector).  A run without those files still exports; the
 * pages then fall back to the top_contexts.csv rows and a note says what is missing. */
#include "export_int.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "sx_json.h"

static int cmp_logit(const void *a, const void *b) {
    const xp_logit *x = a, *y = b;
    if (x->sae != y->sae) return x->sae - y->sae;
    if (x->latent != y->latent) return x->latent < y->latent ? -1 : 1;
    if (x->neg != y->neg) return x->neg - y->neg;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}
static int cmp_lhist(const void *a, const void *b) {
    const xp_lhist *x = a, *y = b;
    if (x->sae != y->sae) return x->sae - y->sae;
    if (x->latent != y->latent) return x->latent < y->latent ? -1 : 1;
    return x->bin < y->bin ? -1 : x->bin > y->bin;
}

#define COL(t, name) sx_csv_col(t, name)

static int load_logits(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_LOGIT_EFFECTS, err);
    if (!t) return -1;
    run->logits = calloc((size_t)t->nrows + 1, sizeof *run->logits);
    if (!run->logits) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_logit *l = &run->logits[r];
        const char *kind = sx_csv_cell(t, r, COL(t, "kind"));
        l->sae = xp_sae_index(run, sx_csv_cell(t, r, COL(t, "sae")), err);
        if (l->sae < 0 || sx_csv_get_int(t, r, COL(t, "latent"), &l->latent, 0, 0, err) ||
            sx_csv_get_int(t, r, COL(t, "rank"), &l->rank, 0, 0, err) ||
            sx_csv_get_int(t, r, COL(t, "token_id"), &l->id, 0, 0, err) ||
            sx_csv_get_num(t, r, COL(t, "logit"), &l->v, err))
            return -1;
        if (strcmp(kind, "pos") && strcmp(kind, "neg"))
            return sx_failc(err, SX_ECORRUPT, "%s:%lld: kind '%.20s' is neither pos nor neg", path,
                            (long long)t->line[r], kind);
        l->neg = kind[0] == 'n';
        l->tok = sx_csv_cell(t, r, COL(t, "token"));
    }
    run->n_logits = t->nrows;
    qsort(run->logits, (size_t)run->n_logits, sizeof *run->logits, cmp_logit);
    return 0;
}

static int load_lhist(xp_run *run, const char *path, sx_err *err) {
    sx_csv_table *t = xp_load_table(run, path, &SX_SCHEMA_LOGIT_HIST, err);
    if (!t) return -1;
    run->lhist = calloc((size_t)t->nrows + 1, sizeof *run->lhist);
    if (!run->lhist) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    for (int64_t r = 0; r < t->nrows; r++) {
        xp_lhist *h = &run->lhist[r];
        h->sae = xp_sae_index(run, sx_csv_cell(t, r, COL(t, "sae")), err);
        if (h->sae < 0 || sx_csv_get_int(t, r, COL(t, "latent"), &h->latent, 0, 0, err) ||
            sx_csv_get_int(t, r, COL(t, "bin"), &h->bin, 0, 0, err) ||
            sx_csv_get_int(t, r, COL(t, "count"), &h->count, 0, 0, err) ||
            sx_csv_get_num(t, r, COL(t, "lo"), &h->lo, err) ||
            sx_csv_get_num(t, r, COL(t, "hi"), &h->hi, err))
            return -1;
    }
    run->n_lhist = t->nrows;
    qsort(run->lhist, (size_t)run->n_lhist, sizeof *run->lhist, cmp_lhist);
    return 0;
}

int64_t xp_logit_range(const xp_run *run, int sae, int64_t latent, int64_t *count) {
    int64_t i = 0, n = 0;
    while (i < run->n_logits && (run->logits[i].sae != sae || run->logits[i].latent != latent)) i++;
    while (i + n < run->n_logits && run->logits[i + n].sae == sae && run->logits[i + n].latent == latent) n++;
    *count = n;
    return i;
}

int64_t xp_lhist_range(const xp_run *run, int sae, int64_t latent, int64_t *count) {
    int64_t i = 0, n = 0;
    while (i < run->n_lhist && (run->lhist[i].sae != sae || run->lhist[i].latent != latent)) i++;
    while (i + n < run->n_lhist && run->lhist[i + n].sae == sae && run->lhist[i + n].latent == latent) n++;
    *count = n;
    return i;
}

/* Every stats_run.json in in_dir and its immediate subfolders (the export's own folder and
 * folders holding a previous export are skipped, as for the other inputs). */
static int find_manifests(const char *in_dir, const char *skip, char (*out)[1024], int max) {
    int n = 0;
    char p[4096];
    if (!sx_path_join(p, sizeof p, in_dir, "stats_run.json") && sx_file_exists(p) && strlen(p) < 1024)
        strcpy(out[n++], p);
    DIR *d = opendir(in_dir);
    if (!d) return n;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        char sub[4096], mark[4200];
        if (e->d_name[0] == '.' || sx_path_join(sub, sizeof sub, in_dir, e->d_name) || !sx_is_dir(sub)) continue;
        if (skip && !strcmp(sub, skip)) continue;
        if (!sx_path_join(mark, sizeof mark, sub, "report.ipynb") && sx_file_exists(mark)) continue;
        if (!sx_path_join(p, sizeof p, sub, "stats_run.json") && sx_file_exists(p) && strlen(p) < 1024)
            strcpy(out[n++], p);
    }
    closedir(d);
    return n;
}

static int details_from(xp_run *run, const char *manifest, sx_export_notes *notes, sx_err *err) {
    cJSON *j = sx_json_parse_file(manifest, 1 << 20, err);
    if (!j) return -1;
    const char *label = NULL, *sae = NULL, *cache = NULL, *tdir = NULL;
    double rows = 0, wb = 12, wa = 4;
    int rc = 0;
    if (sx_json_str(j, "sae_label", &label, manifest, err) < 0 || sx_json_str(j, "sae", &sae, manifest, err) < 0 ||
        sx_json_str(j, "cache", &cache, manifest, err) < 0 || sx_json_str(j, "tokenizer", &tdir, manifest, err) < 0 ||
        sx_json_num(j, "rows", &rows, manifest, err) < 0 || sx_json_num(j, "window_before", &wb, manifest, err) < 0 ||
        sx_json_num(j, "window_after", &wa, manifest, err) < 0)
        rc = -1;
    if (!rc && (!label || !sae || !cache)) rc = sx_failc(err, SX_ECORRUPT, "%s: sae_label, sae and cache are required", manifest);
    int s = -1;
    for (int i = 0; !rc && i < run->n_sae; i++)
        if (!strcmp(run->sae[i], label)) s = i;
    if (rc || s < 0 || run->det[s]) { /* an SAE the run does not report, or one seen already */
        cJSON_Delete(j);
        return rc;
    }
    int64_t lat[1024];
    int n = 0;
    for (int64_t i = 0; i < run->n_feats && n < 1024; i++)
        if (run->feats[i].sae == s) lat[n++] = run->feats[i].latent;
    if (n && (!sx_file_exists(sae) && !sx_is_dir(sae))) {
        xp_note(notes, "skipped feature detail of %s: %s not found (%s)", label, sae, manifest);
    } else if (n && !sx_file_exists(cache)) {
        xp_note(notes, "skipped feature detail of %s: cache %s not found (%s)", label, cache, manifest);
    } else if (n) {
        sx_feature_opts fo = {.sae = sae, .cache = cache, .tokenizer_dir = tdir, .rows = (int64_t)rows,
                              .before = (int)wb, .after = (int)wa, .seed = 1};
        if (sx_feature_details(&fo, lat, n, &run->det[s], err)) {
            rc = sx_fail_prefix(err, "%s", manifest);
        } else {
            run->n_det[s] = n;
            snprintf(run->det_src[s], sizeof run->det_src[s], "%s", manifest);
            for (int64_t i = 0, k = 0; i < run->n_feats; i++)
                if (run->feats[i].sae == s) run->feats[i].d = &run->det[s][k++];
            xp_note(notes, "computed feature detail of %d latents of %s from %s", n, label, cache);
        }
    }
    cJSON_Delete(j);
    return rc;
}

int xp_load_features(xp_run *run, const char *in_dir, const char *out_dir, int max_latents,
                     sx_export_notes *notes, sx_err *err) {
    if (xp_find_input(in_dir, out_dir, "logit_effects.csv", run->logit_path, sizeof run->logit_path)) {
        if (load_logits(run, run->logit_path, err)) return -1;
        xp_note(notes, "read %s", run->logit_path);
    }
    if (xp_find_input(in_dir, out_dir, "logit_hist.csv", run->lhist_path, sizeof run->lhist_path)) {
        if (load_lhist(run, run->lhist_path, err)) return -1;
        xp_note(notes, "read %s", run->lhist_path);
    }
    if (!run->n_toxic) return 0;
    run->feats = calloc((size_t)(max_latents > 0 ? max_latents : 1), sizeof *run->feats);
    if (!run->feats) return sx_failc(err, SX_ENOMEM, "out of memory");
    /* toxic is sorted by (sae, rank): take rank r of every SAE before rank r + 1 */
    int64_t maxrank = 0;
    for (int64_t i = 0; i < run->n_toxic; i++)
        if (run->toxic[i].rank > maxrank) maxrank = run->toxic[i].rank;
    for (int64_t r = 1; r <= maxrank && run->n_feats < max_latents; r++)
        for (int64_t i = 0; i < run->n_toxic && run->n_feats < max_latents; i++)
            if (run->toxic[i].rank == r) {
                xp_feat *f = &run->feats[run->n_feats++];
                f->sae = run->toxic[i].sae, f->latent = run->toxic[i].latent, f->tox = &run->toxic[i];
            }
    char (*man)[1024] = malloc(64 * sizeof *man);
    if (!man) return sx_failc(err, SX_ENOMEM, "out of memory");
    int nm = find_manifests(in_dir, out_dir, man, 64), rc = 0;
    if (!nm) xp_note(notes, "no stats_run.json (analyze stats on a cache): feature pages without band contexts");
    for (int i = 0; i < nm && !rc; i++) rc = details_from(run, man[i], notes, err);
    free(man);
    return rc;
}

void xp_free_features(xp_run *run) {
    for (int s = 0; s < XP_MAX_SAE; s++) {
        sx_feature_details_free(run->det[s], run->n_det[s]);
        run->det[s] = NULL, run->n_det[s] = 0;
    }
    free(run->logits), free(run->lhist), free(run->feats);
    run->logits = NULL, run->lhist = NULL, run->feats = NULL;
}
