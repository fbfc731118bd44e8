/* demo_report.c — the demo's closing summary, read back from the CSVs the run wrote (so every
 * number is a measurement of this run), printed on stdout and saved as OUT/summary.md. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "io.h"
#include "sx_json.h"
#include "export.h"
#include "steering.h"

typedef struct {
    const char *condition, *tier;
    double alpha, emt, emt_lo, emt_hi, tox_prob, mean_tox, ppl, acc, acc_norm;
} sweep_row;

static double num(const sx_csv_table *t, int64_t r, const char *col) {
    double v = NAN;
    sx_err err;
    if (sx_csv_get_num(t, r, sx_csv_col(t, col), &v, &err)) v = NAN;
    return v;
}

static void out2(FILE *md, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out2(FILE *md, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (md) {
        va_start(ap, fmt);
        vfprintf(md, fmt, ap);
        va_end(ap);
    }
}

/* The last metrics.jsonl record of each SAE: fvu, l0, dead fraction. */
static void sae_quality(demo_ctx *c, FILE *md) {
    char p[4300];
    snprintf(p, sizeof p, "%s/metrics.jsonl", c->out);
    sx_jsonl_reader *r = NULL;
    if (sx_jsonl_open(p, &r, NULL)) return;
    const char *names[2] = {c->name_narrow, c->name_wide};
    cJSON *last[2] = {NULL, NULL};
    for (;;) {
        cJSON *j = NULL;
        int rc = sx_jsonl_next(r, &j, NULL);
        if (rc == 0 || (rc < 0 && sx_jsonl_broken(r))) break;
        if (rc < 0) continue; /* a torn line: the reader stays usable */
        const cJSON *s = cJSON_GetObjectItem(j, "sae");
        int kept = 0;
        for (int i = 0; i < 2 && !kept; i++)
            if (cJSON_IsString(s) && strcmp(s->valuestring, names[i]) == 0) {
                cJSON_Delete(last[i]);
                last[i] = j;
                kept = 1;
            }
        if (!kept) cJSON_Delete(j);
    }
    sx_jsonl_close(r);
    /* the spliced-in scores of step 3b (held-out text), when they are there */
    sx_csv_table ev;
    snprintf(p, sizeof p, "%s/eval/sae_eval.csv", c->out);
    int have_ev = sx_csv_read(p, &ev, NULL) == 0;
    const char *paths[3] = {c->sae_narrow, c->sae_wide, c->sae_mat};
    out2(md, "\nSAEs (k=16, hook %s, one LR %g; FVU, L0, dead over training; held-out FVU, ce_loss_score and "
             "kl_div_score spliced in on held-out text):\n\n| SAE | FVU | L0 | dead fraction | held-out FVU | "
             "ce_loss_score | kl_div_score |\n|---|---|---|---|---|---|---|\n",
         c->hook, DEMO_SAE_LR);
    for (int i = 0; i < 3; i++) {
        double fvu = NAN, l0 = NAN, dead = NAN, ce = NAN, kl = NAN, hf = NAN;
        if (i < 2) {
            if (!last[i]) continue;
            sx_json_num(last[i], "fvu", &fvu, "metrics", NULL);
            sx_json_num(last[i], "l0", &l0, "metrics", NULL);
            sx_json_num(last[i], "dead_frac", &dead, "metrics", NULL);
            cJSON_Delete(last[i]);
        } else {
            if (c->mat_top < 0) continue;
            fvu = c->mat_fvu, dead = c->mat_dead; /* BatchTopK: L0 varies per row; the held-out mean below */
        }
        int cs = have_ev ? sx_csv_col(&ev, "sae") : -1;
        for (int64_t row = 0; cs >= 0 && row < ev.nrows; row++)
            if (strcmp(sx_csv_cell(&ev, row, cs), paths[i]) == 0) {
                ce = num(&ev, row, "ce_loss_score"), kl = num(&ev, row, "kl_div_score"), hf = num(&ev, row, "fvu");
                if (i == 2) l0 = num(&ev, row, "l0");
            }
        out2(md, "| %s | %.3f | %.1f | %.3f | %.3f | %.4f | %.4f |\n", i < 2 ? names[i] : c->name_mat, fvu, l0, dead,
             hf, ce, kl);
    }
    if (have_ev) sx_csv_free(&ev);
}

/* best_matches.csv cell `col` for (sae, latent), or "" */
static const char *best_match_cell(const sx_csv_table *b, const char *sae, const char *latent, const char *col) {
    int cs = sx_csv_col(b, "sae"), cl = sx_csv_col(b, "latent"), cc = sx_csv_col(b, col);
    for (int64_t r = 0; r < b->nrows; r++)
        if (strcmp(sx_csv_cell(b, r, cs), sae) == 0 && strcmp(sx_csv_cell(b, r, cl), latent) == 0)
            return sx_csv_cell(b, r, cc);
    return "";
}

/* The top toxic latent of each SAE: AUROC, Cohen's d, how it relates across the widths,
 * logit-lens tokens; then the splitting that the family comparison uses. */
static void top_latents(demo_ctx *c, const char *analysis, FILE *md) {
    char p[4300];
    snprintf(p, sizeof p, "%s/toxic_latents.csv", analysis);
    sx_csv_table t, bm;
    sx_err err;
    if (sx_csv_read(p, &t, &err)) return;
    snprintf(p, sizeof p, "%s/best_matches.csv", analysis);
    if (sx_csv_read(p, &bm, &err)) memset(&bm, 0, sizeof bm);
    out2(md, "\nTop toxic latent per width (toxic vs clean contrast sets; decoder cosines between the widths):\n\n"
             "| SAE | latent | AUROC | Cohen's d | across widths | promoted tokens (logit lens) |\n|---|---|---|---|---|---|\n");
    const char *names[2] = {c->name_narrow, c->name_wide};
    int cs = sx_csv_col(&t, "sae"), cr = sx_csv_col(&t, "rank"), cl = sx_csv_col(&t, "latent");
    for (int i = 0; i < 2; i++)
        for (int64_t r = 0; r < t.nrows; r++) {
            if (strcmp(sx_csv_cell(&t, r, cs), names[i]) != 0 || atoll(sx_csv_cell(&t, r, cr)) != 1) continue;
            char promoted[200], across[160];
            const char *lat = sx_csv_cell(&t, r, cl);
            /* a Markdown cell: '|' (as in <|endoftext|>) escaped as \|, what GitHub renders as | */
            size_t np = 0;
            for (const char *q = sx_csv_cell(&t, r, sx_csv_col(&t, "top_promoted")); *q && np + 3 < sizeof promoted; q++) {
                if (*q == '|') promoted[np++] = '\\';
                promoted[np++] = *q == '\n' ? ' ' : *q;
            }
            promoted[np] = 0;
            /* the tokens are display text (multi-byte marks): cut at a token boundary */
            if (strlen(promoted) > 80) {
                promoted[80] = 0;
                char *sp = strrchr(promoted, ' ');
                if (sp) *sp = 0;
            }
            if (i == 0)
                snprintf(across, sizeof across, "%s children in %s", best_match_cell(&bm, names[0], lat, "n_children"),
                         names[1]);
            else
                snprintf(across, sizeof across, "closest %s latent %s (cos %.5s)", names[0],
                         best_match_cell(&bm, names[1], lat, "best_match"), best_match_cell(&bm, names[1], lat, "cosine"));
            out2(md, "| %s | %s | %.3f | %.2f | %s | %s |\n", names[i], lat, num(&t, r, "auroc"),
                 num(&t, r, "cohens_d"), across, promoted);
        }
    if (c->family_wide_n > 0)
        out2(md, "\nSplitting compared below: narrow toxic latent %d split into %d latent(s) of %s at decoder cosine >= %s: "
                 "%s; the single latent is %s.\n",
             c->top_narrow, c->family_wide_n, c->name_wide, DEMO_SPLIT_THRESHOLD, c->children_desc, c->wide_single);
    else
        out2(md, "\nNo top narrow toxic latent has a child in %s at decoder cosine >= %s: the comparison below uses "
                 "the wide SAE's top toxic latent %s alone.\n",
             c->name_wide, DEMO_SPLIT_THRESHOLD, c->wide_single);
    sx_csv_free(&bm);
    sx_csv_free(&t);
}

static int find_row(const sweep_row *rows, int n, const char *condition) {
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].condition, condition) == 0) return i;
    return -1;
}

/* One seed gives no interval, so no verdict: the summary says on which side of the rule's
 * threshold the one value lies (the rule of findings.csv: "reproduced if ci_hi < T" wants the
 * value below T, "ci_lo > T" above, F3's band inside it). */
static const char *one_seed_reading(const char *rule, double v) {
    double t, lo, hi;
    if (!isfinite(v)) return "not measured";
    if (sscanf(rule, "reproduced if ci_hi < %lf", &t) == 1) return v < t ? "paper's side" : "other side";
    if (sscanf(rule, "reproduced if ci_lo > %lf", &t) == 1) return v > t ? "paper's side" : "other side";
    if (sscanf(rule, "band [%lf, %lf]", &lo, &hi) == 2) return v >= lo && v <= hi ? "paper's side" : "other side";
    return "-";
}

/* The study's findings table of this run (OUT/findings.csv, one seed). */
static void findings_summary(demo_ctx *c, FILE *md) {
    char p[4300];
    snprintf(p, sizeof p, "%s/findings.csv", c->out);
    sx_csv_table t;
    sx_err e = {0};
    if (sx_csv_read(p, &t, &e)) {
        out2(md, "\n(the findings table is missing: %s)\n", e.msg);
        return;
    }
    int cf = sx_csv_col(&t, "finding"), cd = sx_csv_col(&t, "description"), cr = sx_csv_col(&t, "rule");
    out2(md, "\nThe study's findings on this run (`saetox study`'s table, one seed: no interval across seeds, so no "
             "verdict; the reading says on which side of the verdict rule's threshold the one value lies; the "
             "sweep table above has each condition's bootstrap CI over prompts; causal latents %s; findings.md):\n\n"
             "| finding | claim | one-seed value | reading |\n|---|---|---|---|\n",
         c->causal_latents[0] ? c->causal_latents : "-");
    for (int64_t r = 0; r < t.nrows; r++) {
        double v = num(&t, r, "mean");
        char vs[32];
        if (isfinite(v)) snprintf(vs, sizeof vs, "%.4g", v);
        else snprintf(vs, sizeof vs, "-");
        out2(md, "| %s | %s | %s | %s |\n", sx_csv_cell(&t, r, cf), sx_csv_cell(&t, r, cd), vs,
             one_seed_reading(sx_csv_cell(&t, r, cr), v));
    }
    sx_csv_free(&t);
}

int demo_summary(demo_ctx *c, const char *analysis, const char *report, sx_err *err) {
    char p[4300], mdp[4300];
    snprintf(p, sizeof p, "%s/steering_sweep.csv", c->out);
    snprintf(mdp, sizeof mdp, "%s/summary.md", c->out);
    sx_csv_table t;
    if (sx_csv_read(p, &t, err)) return -1;
    sweep_row *rows = calloc((size_t)t.nrows + 1, sizeof *rows);
    int n = (int)t.nrows;
    for (int r = 0; r < n; r++) {
        sweep_row *s = &rows[r];
        s->condition = sx_csv_cell(&t, r, sx_csv_col(&t, "condition"));
        s->tier = sx_csv_cell(&t, r, sx_csv_col(&t, "tier"));
        s->alpha = num(&t, r, "alpha");
        s->emt = num(&t, r, "emt");
        s->emt_lo = num(&t, r, "emt_lo");
        s->emt_hi = num(&t, r, "emt_hi");
        s->tox_prob = num(&t, r, "tox_prob");
        s->mean_tox = num(&t, r, "mean_tox");
        s->ppl = num(&t, r, "ppl");
        s->acc = num(&t, r, "acc");
        s->acc_norm = num(&t, r, "acc_norm");
    }
    sx_atomic_file af;
    FILE *md = NULL;
    if (sx_atomic_open(&af, mdp, err) == 0) md = af.f;
    out2(md, "\n# saetox demo summary\n\nmodel %s, seed %lld, %.0f s in all; every number below was measured in this run.\n",
         c->model_dir, (long long)c->seed, sx_now() - c->t0);
    sae_quality(c, md);
    top_latents(c, analysis, md);
    demo_matryoshka_summary(c, stdout);
    if (md) demo_matryoshka_summary(c, md);
    int base = find_row(rows, n, "none");
    out2(md, "\nSteering sweep (%lld continuations per prompt, 20 new tokens, nucleus 0.9; EMT = expected maximum "
             "toxicity with bootstrap 95%% CI; PPL under the unsteered model; benchmark accuracy, length-normalised):\n\n"
             "| condition | EMT [95%% CI] | dEMT | tox. prob. | mean tox. | PPL | dPPL | acc | dacc |\n"
             "|---|---|---|---|---|---|---|---|---|\n",
         (long long)c->samples);
    for (int i = 0; i < n; i++) {
        const sweep_row *s = &rows[i], *b = base >= 0 ? &rows[base] : s;
        out2(md, "| %s | %.3f [%.3f, %.3f] | %+.3f | %.3f | %.3f | %.1f | %+.1f | %.3f | %+.3f |\n", s->condition,
             s->emt, s->emt_lo, s->emt_hi, s->emt - b->emt, s->tox_prob, s->mean_tox, s->ppl, s->ppl - b->ppl,
             s->acc_norm, s->acc_norm - b->acc_norm);
    }
    /* the aggressive tier at the demo's default strength (alpha 2; else the strongest) on the
     * narrow SAE, against no intervention */
    int agg = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].tier, "steer") == 0 && strncmp(rows[i].condition, c->name_narrow, strlen(c->name_narrow)) == 0 &&
            (agg < 0 || (rows[agg].alpha != 2 && (rows[i].alpha == 2 || rows[i].alpha > rows[agg].alpha))))
            agg = i;
    if (base >= 0 && agg >= 0) {
        const sweep_row *b = &rows[base], *a = &rows[agg];
        int beyond = a->emt_hi < b->emt_lo;
        out2(md, "\nAggressive tier (%s): EMT %.3f -> %.3f (%+.3f); CIs [%.3f, %.3f] vs [%.3f, %.3f] %s; "
                 "perplexity %.1f -> %.1f.\n",
             a->condition, b->emt, a->emt, a->emt - b->emt, b->emt_lo, b->emt_hi, a->emt_lo, a->emt_hi,
             beyond ? "do not overlap (the drop exceeds the bootstrap CI)" : "overlap (the drop is within the CI)", b->ppl,
             a->ppl);
    }
    /* single latent vs family in the wide SAE, at each strength */
    for (int i = 0; i < n; i++) {
        int64_t j = sx_sweep_family_row(&t, i, c->name_wide);
        if (j < 0) continue;
        const char *tier_at = rows[i].condition + strlen(c->name_wide) + 1;
        if (c->family_wide_n > 0)
            out2(md, "Wide SAE %s: single latent %s EMT %.3f (PPL %.1f) vs all %d children EMT %.3f (PPL %.1f).\n",
                 tier_at, c->wide_single, rows[i].emt, rows[i].ppl, c->family_wide_n, rows[j].emt, rows[j].ppl);
        else
            out2(md, "Wide SAE %s: latent %s alone EMT %.3f (PPL %.1f); no split to compare.\n", tier_at,
                 c->wide_single, rows[i].emt, rows[i].ppl);
    }
    findings_summary(c, md);
    out2(md, "\nReports: %s (dashboard.html, report.ipynb, plots/*.png, CSVs)\n", report);
    free(rows);
    sx_csv_free(&t);
    if (md) return sx_atomic_commit(&af, err);
    return 0;
}
