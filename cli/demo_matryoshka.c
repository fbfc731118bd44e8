/* demo_matryoshka.c — the demo's Matryoshka SAE (issue 16): a Matryoshka BatchTopK SAE whose
 * groups are the TopK pair's two widths, trained on the same cache, spliced in with them on the
 * held-out text (demo_eval), its top toxic latent from the same contrast sets, and that
 * latent's family by decoder cosine: inside the Matryoshka SAE (does the toxic feature stay
 * whole, or do later groups hold children of it?) and in the TopK pair.
 *
 * Why here: the paper's finding is that a wider TopK SAE splits the toxic feature, which
 * weakens single-latent steering.  A Matryoshka SAE trains its first group as a narrow
 * dictionary inside the wide one, so it should keep the broad toxic latent (Bussmann et al.
 * 2025); the demo puts the two side by side on the same data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "datasets.h"
#include "demo.h"
#include "io.h"
#include "sx_json.h"
#include "sae.h"
#include "trainer.h"

void demo_matryoshka_paths(demo_ctx *c) {
    snprintf(c->mat_dir, sizeof c->mat_dir, "%s/matryoshka", c->out);
    snprintf(c->name_mat, sizeof c->name_mat, "matryoshka-%d", 32 * c->d_model);
    snprintf(c->sae_mat, sizeof c->sae_mat, "%s/%s", c->mat_dir, c->name_mat);
}

int demo_train_matryoshka(demo_ctx *c, const char *acts, sx_err *err) {
    char seed_s[32], tokens_s[32], groups_s[64], width_s[32], lr_s[32];
    snprintf(seed_s, sizeof seed_s, "%lld", (long long)c->seed);
    snprintf(tokens_s, sizeof tokens_s, "%lld", (long long)(c->sample_tokens * c->epochs));
    snprintf(groups_s, sizeof groups_s, "%d,%d", 8 * c->d_model, 32 * c->d_model);
    snprintf(width_s, sizeof width_s, "%d", 32 * c->d_model);
    snprintf(lr_s, sizeof lr_s, "%g", DEMO_SAE_LR);
    demo_show_cmd("train", "--cache", acts, "--arch", "matryoshka", "--widths", width_s, "--groups", groups_s, "--k",
                  "16", "--batch", "1024", "--tokens", tokens_s, "--lr", lr_s, "--seed", seed_s, "--out", c->mat_dir,
                  "--log-every", "20", "--threads", c->threads, NULL);
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = SX_SAE_MATRYOSHKA;
    o.n_widths = 1, o.widths[0] = 32 * c->d_model;
    o.n_groups = 2, o.groups[0] = 8 * c->d_model, o.groups[1] = 32 * c->d_model;
    o.out_dir = c->mat_dir;
    if (demo_train_sae(c, acts, &o, err)) return -1;
    /* the last metrics line: FVU / dead of the whole dictionary and FVU of the first group */
    char mp[4300];
    snprintf(mp, sizeof mp, "%s/metrics.jsonl", c->mat_dir);
    c->mat_fvu = c->mat_fvu0 = c->mat_dead = NAN;
    sx_jsonl_reader *r;
    if (sx_jsonl_open(mp, &r, err)) return -1;
    cJSON *line;
    int got;
    while ((got = sx_jsonl_next(r, &line, err)) == 1) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(line, "fvu"),
                    *f0 = cJSON_GetObjectItemCaseSensitive(line, "fvu_group0"),
                    *dd = cJSON_GetObjectItemCaseSensitive(line, "dead_frac");
        if (cJSON_IsNumber(f)) c->mat_fvu = f->valuedouble;
        if (cJSON_IsNumber(f0)) c->mat_fvu0 = f0->valuedouble;
        if (cJSON_IsNumber(dd)) c->mat_dead = dd->valuedouble;
        cJSON_Delete(line);
    }
    sx_jsonl_close(r);
    return got < 0 ? -1 : 0;
}

/* cosine of decoder rows a (of A) and b (of B); both SAEs share d_in */
static double dec_cos(const sx_sae *A, int a, const sx_sae *B, int b) {
    const float *x = A->W_dec + (int64_t)a * A->d_in, *y = B->W_dec + (int64_t)b * B->d_in;
    double xy = 0, xx = 0, yy = 0;
    for (int i = 0; i < A->d_in; i++) xy += (double)x[i] * y[i], xx += (double)x[i] * x[i], yy += (double)y[i] * y[i];
    return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
}

/* ids of B's latents with cosine >= thr to A's latent a (skip: B's index to leave out), best first */
static int family_of(const sx_sae *A, int a, const sx_sae *B, int skip, double thr, int *ids, double *cs, int max) {
    int n = 0;
    for (int j = 0; j < B->d_sae; j++) {
        if (j == skip) continue;
        double cj = dec_cos(A, a, B, j);
        if (!(cj >= thr)) continue;
        int p = n < max ? n++ : max - 1;
        if (p == max - 1 && n == max && cs[p] >= cj) continue;
        while (p > 0 && cs[p - 1] < cj) ids[p] = ids[p - 1], cs[p] = cs[p - 1], p--;
        ids[p] = j, cs[p] = cj;
    }
    return n;
}

static void describe(char *buf, size_t n, const char *sae, const int *ids, const double *cs, int k) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < k && used + 48 < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s:%d (%.2f)", i ? ", " : "", sae, ids[i], cs[i]);
}

int demo_toxic_matryoshka(demo_ctx *c, sx_err *err) {
    char out[4300], toxic_src[4200], clean_src[4200];
    snprintf(out, sizeof out, "%s/analysis-matryoshka", c->out);
    snprintf(toxic_src, sizeof toxic_src, "text:%s/toxic.txt", c->data_dir);
    snprintf(clean_src, sizeof clean_src, "text:%s/clean.txt", c->data_dir);
    demo_show_cmd("analyze", "toxic", "--model", c->model_dir, "--sae", c->sae_mat, "--name", c->name_mat, "--toxic",
                  toxic_src, "--clean", clean_src, "--rank-by", "cohens_d", "--out", out, "--threads", c->threads,
                  "--quiet", NULL);
    const char *saes[1] = {c->sae_mat}, *names[1] = {c->name_mat};
    sx_toxic_run_opts o;
    sx_toxic_run_opts_default(&o);
    o.model_dir = c->model_dir;
    o.saes = saes, o.n_saes = 1, o.labels = names;
    o.toxic_spec = toxic_src, o.clean_spec = clean_src;
    o.rank_by = SX_RANK_COHENS_D, o.policy = SX_POLICY_MAX;
    o.out_dir = out, o.verbose = 0;
    if (sx_ana_toxic_run(&o, err)) return -1;

    /* its rank-1 latent */
    char p[4400];
    snprintf(p, sizeof p, "%s/toxic_latents.csv", out);
    sx_csv_table t;
    if (sx_csv_read(p, &t, err)) return -1;
    int cl = sx_csv_col(&t, "latent"), cr = sx_csv_col(&t, "rank"), ca = sx_csv_col(&t, "auroc");
    int cd = sx_csv_col(&t, "cohens_d");
    int rc = -1;
    c->mat_top = -1;
    for (int64_t r = 0; r < t.nrows; r++) {
        int64_t rank, lat;
        if (sx_csv_get_int(&t, r, cr, &rank, 0, 0, err) || sx_csv_get_int(&t, r, cl, &lat, 0, 0, err)) goto done;
        if (rank != 1) continue;
        c->mat_top = (int)lat;
        if (sx_csv_get_num(&t, r, ca, &c->mat_auroc, err) || sx_csv_get_num(&t, r, cd, &c->mat_d, err)) goto done;
    }
    if (c->mat_top < 0) {
        sx_failc(err, SX_ECORRUPT, "%s: no latent of rank 1", p);
        goto done;
    }
    rc = 0;
done:
    sx_csv_free(&t);
    if (rc) return -1;

    /* the family: inside the Matryoshka SAE, and in the TopK pair */
    sx_sae M, N, W;
    memset(&M, 0, sizeof M), memset(&N, 0, sizeof N), memset(&W, 0, sizeof W);
    rc = -1;
    if (sx_sae_load(c->sae_mat, &M, err) || sx_sae_load(c->sae_narrow, &N, err) || sx_sae_load(c->sae_wide, &W, err))
        goto out;
    if (c->mat_top >= M.d_sae) {
        sx_failc(err, SX_ECORRUPT, "%s: toxic latent %d beyond its %d latents", p, c->mat_top, M.d_sae);
        goto out;
    }
    const double thr = atof(DEMO_SPLIT_THRESHOLD);
    c->mat_group = 0;
    while (c->mat_group < M.n_groups - 1 && c->mat_top >= M.groups[c->mat_group]) c->mat_group++;
    enum { MAXF = 8 };
    int ids[MAXF];
    double cs[MAXF];
    /* Matryoshka latents outside the top latent's group and earlier ones = later groups */
    int nf = family_of(&M, c->mat_top, &M, c->mat_top, thr, ids, cs, MAXF), keep = 0;
    c->mat_in_later = 0;
    for (int i = 0; i < nf; i++)
        if (ids[i] >= M.groups[c->mat_group]) ids[keep] = ids[i], cs[keep++] = cs[i];
    c->mat_in_later = keep;
    describe(c->mat_family, sizeof c->mat_family, c->name_mat, ids, cs, keep);
    int nn = family_of(&M, c->mat_top, &N, -1, -2, ids, cs, 1); /* the closest narrow latent */
    c->mat_narrow = nn ? ids[0] : -1, c->mat_narrow_cos = nn ? cs[0] : NAN;
    int nw = family_of(&M, c->mat_top, &W, -1, thr, ids, cs, MAXF);
    c->mat_wide_n = nw;
    describe(c->mat_wide, sizeof c->mat_wide, c->name_wide, ids, cs, nw);
    fprintf(stderr, "      %s toxic latent %d (group %d, AUROC %.3f): %d later-group latent(s) at cos >= %s%s%s; "
                    "closest %s latent %d (cos %.2f); %d %s latent(s) at cos >= %s\n",
            c->name_mat, c->mat_top, c->mat_group, c->mat_auroc, c->mat_in_later, DEMO_SPLIT_THRESHOLD,
            keep ? ": " : "", c->mat_family, c->name_narrow, c->mat_narrow, c->mat_narrow_cos, nw, c->name_wide,
            DEMO_SPLIT_THRESHOLD);
    rc = 0;
out:
    sx_sae_free(&M), sx_sae_free(&N), sx_sae_free(&W);
    return rc;
}

void demo_matryoshka_summary(const demo_ctx *c, FILE *f) {
    if (c->mat_top < 0) return;
    char later[1200] = "";
    if (c->mat_in_later) snprintf(later, sizeof later, " (%s)", c->mat_family);
    char wide[1200] = "";
    if (c->mat_wide_n) snprintf(wide, sizeof wide, ": %s", c->mat_wide);
    fprintf(f, "\nMatryoshka SAE (BatchTopK, groups %d,%d, k=16, same cache and LR): FVU %.3f (first group alone "
               "%.3f), dead fraction %.3f. Its top toxic latent %d is in group %d (latents %d..%d), AUROC %.3f, "
               "Cohen's d %.2f. Decoder cosine >= %s: %d latent(s) of later groups%s; %d %s latent(s)%s; closest %s "
               "latent %d (cos %.2f).\n",
            8 * c->d_model, 32 * c->d_model, c->mat_fvu, c->mat_fvu0, c->mat_dead, c->mat_top, c->mat_group,
            c->mat_group ? 8 * c->d_model : 0, (c->mat_group ? 32 : 8) * c->d_model - 1, c->mat_auroc, c->mat_d,
            DEMO_SPLIT_THRESHOLD, c->mat_in_later, later, c->mat_wide_n, c->name_wide, wide, c->name_narrow,
            c->mat_narrow, c->mat_narrow_cos);
}
