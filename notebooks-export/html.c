/* html.c — dashboard.html: one static, self-contained page (inline CSS, JS and SVG; a
 * Content-Security-Policy that forbids every fetch; no URL anywhere).  All data text goes
 * through xp_html_esc, because toxic text contains <, &, quotes and the odd "<script>". */
#include "export_int.h"

#include <stdlib.h>
#include <string.h>

static const char *CSS =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;"
    "background:#f6f7f9}"
    "header{background:#1f2937;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}"
    "header p{margin:4px 0 0;color:#cbd5e1}nav{padding:8px 24px;background:#e5e7eb}"
    "nav a{margin-right:16px;color:#1f2937}main{padding:8px 24px 40px}"
    "h2{border-bottom:2px solid #d1d5db;padding-bottom:4px;margin-top:28px}"
    "table{border-collapse:collapse;background:#fff;margin:8px 0}"
    "th,td{border:1px solid #d1d5db;padding:3px 8px;text-align:right;vertical-align:top}"
    "th{background:#eef2f7;text-align:center}td.t{text-align:left;max-width:420px;overflow-wrap:anywhere}"
    ".note{color:#6b7280;font-style:italic}"
    ".latent{background:#fff;border:1px solid #d1d5db;border-radius:6px;padding:10px 14px;"
    "margin:12px 0}.latent h3{margin:0 0 6px;font-size:16px}.latent h3 span{color:#6b7280;"
    "font-weight:normal;margin-left:10px}.row{display:flex;gap:24px;flex-wrap:wrap;"
    "align-items:flex-start}.chip{display:inline-block;background:#eef2f7;border:1px solid "
    "#cbd5e1;border-radius:4px;padding:0 5px;margin:1px 2px;font-family:ui-monospace,monospace;"
    "white-space:pre}.chip.neg{background:#f3f4f6;color:#4b5563}.chip.fam{background:#fff7e6}"
    "ol.ctx{padding-left:26px;margin:6px 0}ol.ctx li{margin:3px 0}"
    ".ctxt{font-family:ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}"
    ".act{display:inline-block;min-width:54px;color:#6b7280;font-size:12px}"
    "mark{color:#000;border-radius:3px;padding:0 1px;outline:1px solid #b91c1c}"
    "svg text{font-family:system-ui,sans-serif;fill:#222}"
    ".scroll{overflow-x:auto}table.wide td.t{white-space:nowrap}";

static void num(FILE *f, double v) {
    if (isnan(v)) fputs("<td></td>", f);
    else if (v == floor(v) && fabs(v) < 1e12) fprintf(f, "<td>%.0f</td>", v); /* counts, steps */
    else fprintf(f, "<td>%.4g</td>", v);
}

/* "lo–hi" interval cell, empty when either end is missing. */
static void ci(FILE *f, double lo, double hi) {
    if (isnan(lo) || isnan(hi)) fputs("<td></td>", f);
    else fprintf(f, "<td>%.4g&ndash;%.4g</td>", lo, hi);
}

static void text_td(FILE *f, const char *s) {
    fputs("<td class=\"t\">", f);
    xp_html_esc(f, s);
    fputs("</td>", f);
}

static void inputs_section(FILE *f, const xp_run *run) {
    const char *names[] = {"metrics.jsonl", "latent_stats.csv", "toxic_latents.csv",
                           "top_contexts.csv", "pairs.csv", "families.csv", "steering_sweep.csv",
                           "logit_effects.csv", "logit_hist.csv"};
    const char *paths[] = {run->metrics_path, run->stats_path, run->toxic_path, run->ctx_path,
                           run->pairs_path, run->fam_path, run->sweep_path, run->logit_path,
                           run->lhist_path};
    int64_t rows[] = {run->n_metrics, run->n_stats, run->n_toxic, run->n_ctx, run->n_pairs,
                      run->n_fams, run->n_sweep, run->n_logits, run->n_lhist};
    fputs("<h2 id=\"inputs\">Inputs</h2><table><tr><th>input</th><th>file used</th><th>rows</th></tr>", f);
    for (int i = 0; i < 9; i++) {
        fputs("<tr>", f);
        text_td(f, names[i]);
        if (paths[i][0]) {
            text_td(f, paths[i]);
            fprintf(f, "<td>%lld</td>", (long long)rows[i]);
        } else {
            fputs("<td class=\"t note\">not found: section skipped</td><td></td>", f);
        }
        fputs("</tr>", f);
    }
    for (int s = 0; s < run->n_sae; s++) { /* the feature pages' cache detail */
        if (!run->det_src[s][0]) continue;
        fputs("<tr>", f);
        text_td(f, "stats_run.json");
        text_td(f, run->det_src[s]);
        fprintf(f, "<td>%d latents</td></tr>", run->n_det[s]);
    }
    fputs("</table>", f);
}

static void training_section(FILE *f, const xp_run *run) {
    fputs("<h2 id=\"training\">Training summary</h2>", f);
    if (!run->n_metrics) {
        fputs("<p class=\"note\">No training metrics (metrics.jsonl) in this run.</p>", f);
        return;
    }
    int64_t last[XP_MAX_SAE];
    xp_final_metrics(run, last);
    fputs("<p>Final logged step of each SAE.</p><table><tr><th>SAE</th><th>width</th><th>step</th>"
          "<th>tokens</th><th>MSE</th><th>FVU</th><th>L0</th><th>dead frac</th>"
          "<th>mean max act</th><th>tokens/s</th></tr>", f);
    for (int s = 0; s < run->n_sae; s++) {
        if (last[s] < 0) continue;
        const xp_metric *m = &run->metrics[last[s]];
        fputs("<tr>", f);
        text_td(f, run->sae[s]);
        fprintf(f, "<td>%lld</td>", (long long)run->sae_width[s]);
        double v[] = {m->step, m->tokens, m->mse, m->fvu, m->l0, m->dead_frac, m->mean_max_act,
                      m->tokens_per_s};
        for (int k = 0; k < 8; k++) num(f, v[k]);
        fputs("</tr>", f);
    }
    fputs("</table>", f);
}

static void steering_section(FILE *f, const xp_run *run) {
    fputs("<h2 id=\"steering\">Steering trade-off</h2>", f);
    if (!run->n_sweep) {
        fputs("<p class=\"note\">No steering sweep (steering_sweep.csv) in this run.</p>", f);
        return;
    }
    fputs("<p>Expected maximum toxicity (95% CI) against perplexity of the continuations under "
          "the unsteered model, one series per SAE and tier (colour per series, marker per SAE, the "
          "unsteered point a black star) in order of strength alpha. Hover a point for "
          "its condition. Down is less toxic, right is less fluent.</p>", f);
    xp_svg_tradeoff(f, run);
    fputs("<table><tr><th>condition</th><th>tier</th><th>alpha</th><th>EMT</th><th>EMT CI</th>"
          "<th>tox. prob</th><th>mean tox</th><th>ppl</th><th>ppl CI</th><th>acc</th>"
          "<th>acc norm</th><th>prompts</th></tr>", f);
    for (int64_t i = 0; i < run->n_sweep; i++) {
        const xp_sweep *s = &run->sweep[i];
        fputs("<tr>", f);
        text_td(f, s->condition);
        text_td(f, s->tier);
        num(f, s->alpha);
        num(f, s->v[XS_EMT]);
        ci(f, s->v[XS_EMT_LO], s->v[XS_EMT_HI]);
        num(f, s->v[XS_TP]);
        num(f, s->v[XS_MT]);
        num(f, s->v[XS_PPL]);
        ci(f, s->v[XS_PPL_LO], s->v[XS_PPL_HI]);
        num(f, s->v[XS_ACC]);
        num(f, s->v[XS_ACC_NORM]);
        num(f, s->v[XS_NPROMPTS]);
        fputs("</tr>", f);
    }
    fputs("</table>", f);
}

/* Splitting as parent -> children: each toxic latent of the narrow SAE and the wide latents
 * paired with it at the split threshold (pairs.csv), with their cosines.  The connected
 * components (families.csv) chain through shared children and can swallow hundreds of
 * latents, which says nothing per concept; they stay in family_comparison.csv. */
static void width_section(FILE *f, const xp_run *run, sx_err *err) {
    fputs("<h2 id=\"width\">Feature splitting across widths</h2>", f);
    int narrow = -1, wide = -1;
    for (int s = 0; s < run->n_sae; s++) {
        if (narrow < 0 || run->sae_width[s] < run->sae_width[narrow]) narrow = s;
        if (wide < 0 || run->sae_width[s] > run->sae_width[wide]) wide = s;
    }
    if (!run->n_pairs || narrow < 0 || narrow == wide) {
        fputs("<p class=\"note\">No narrow-wide pairs (pairs.csv) in this run.</p>", f);
        return;
    }
    fputs("<p>Each toxic latent of the narrow SAE (<b>", f);
    xp_html_esc(f, run->sae[narrow]);
    fputs("</b>) and its <em>children</em>: the latents of the wide SAE (<b>", f);
    xp_html_esc(f, run->sae[wide]);
    fputs("</b>) whose decoder direction has cosine at or above the split threshold with it "
          "(pairs.csv), best first; &#9888; marks a child that is itself a toxic latent. "
          "One child means the concept kept one latent; several mean it split. The 15 "
          "best-ranked toxic latents; every feature page lists its partners too.</p>"
          "<table><tr><th>narrow latent</th><th>toxic rank</th><th>children</th>"
          "<th>toxic children</th><th>children (cosine)</th></tr>", f);
    int shown = 0;
    for (int64_t i = 0; i < run->n_toxic && shown < 15; i++) {
        const xp_toxic *t = &run->toxic[i];
        if (t->sae != narrow) continue;
        shown++;
        int64_t n, first = xp_pair_range(run, t->latent, &n);
        /* children best cosine first (pairs are sorted by wide index) */
        int64_t idx[256], m = n < 256 ? n : 256, ntox = 0;
        for (int64_t k = 0; k < m; k++) idx[k] = first + k;
        for (int64_t a = 1; a < m; a++)
            for (int64_t b = a; b > 0 && run->pairs[idx[b]].cosine > run->pairs[idx[b - 1]].cosine; b--) {
                int64_t tmp = idx[b];
                idx[b] = idx[b - 1], idx[b - 1] = tmp;
            }
        for (int64_t k = 0; k < n; k++)
            ntox += xp_find_toxic(run, wide, run->pairs[first + k].wide_latent) != NULL;
        fprintf(f, "<tr><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td class=\"t\">",
                (long long)t->latent, (long long)t->rank, (long long)n, (long long)ntox);
        if (!n) fputs("<span class=\"note\">none at the threshold</span>", f);
        for (int64_t k = 0; k < m; k++) {
            const xp_pair *p = &run->pairs[idx[k]];
            fprintf(f, "<span class=\"chip fam\">%lld (%.2f)%s</span>", (long long)p->wide_latent, p->cosine,
                    xp_find_toxic(run, wide, p->wide_latent) ? " &#9888;" : "");
        }
        if (n > m) fprintf(f, " &hellip; %lld more", (long long)(n - m));
        fputs("</td></tr>", f);
    }
    fputs("</table>", f);
    xp_concept *cs = NULL;
    int64_t nc = 0;
    if (run->n_fams && !xp_concepts(run, &cs, &nc, err) && nc) {
        int64_t big = 0;
        for (int64_t i = 0; i < nc; i++)
            if (cs[i].narrow_size + cs[i].wide_size > big) big = cs[i].narrow_size + cs[i].wide_size;
        fprintf(f, "<p class=\"note\">families.csv groups the pairs into %lld connected components "
                   "with a toxic member (the largest has %lld latents: components chain through "
                   "shared children); they are listed per family in family_comparison.csv.</p>",
                (long long)nc, (long long)big);
    }
    free(cs);
}

/* width_comparison.csv (saetox compare, written just before the dashboard), when present. */
static void widths_section(FILE *f, const char *dash_path) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", dash_path);
    char *sl = strrchr(dir, '/');
    if (sl) *sl = 0;
    else strcpy(dir, ".");
    sx_path_join(path, sizeof path, dir, "width_comparison.csv");
    fputs("<h2 id=\"widths\">Width comparison</h2>", f);
    sx_csv_table t;
    sx_err e2 = {0};
    if (!sx_file_exists(path) || sx_csv_read(path, &t, &e2)) {
        fputs("<p class=\"note\">No width comparison (width_comparison.csv needs a sae_eval.csv "
              "in the run).</p>", f);
        return;
    }
    static const char *cols[] = {"sae", "arch", "width", "k", "l0", "fvu", "ce_loss_score",
                                 "kl_div_score", "dead_frac", "split_share", "split_mean_children",
                                 "toxic_latent", "toxic_auroc", "steer_condition", "steer_emt",
                                 "steer_ppl", "unsteered_emt", "unsteered_ppl"};
    fputs("<p>One row per SAE (width_comparison.csv from <code>saetox compare</code>): "
          "reconstruction, spliced-in quality (CE / KL scores: 1 = as good as the model), "
          "splitting against the wider SAE, its best toxic latent and its best steering "
          "condition within the fluency budget.</p><div class=\"scroll\"><table class=\"wide\"><tr>", f);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) fprintf(f, "<th>%s</th>", cols[c]);
    fputs("</tr>", f);
    for (int64_t r = 0; r < t.nrows; r++) {
        fputs("<tr>", f);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            const char *v = sx_csv_cell(&t, r, sx_csv_col(&t, cols[c]));
            char *end;
            double x = strtod(v, &end);
            if (*v && !*end) num(f, x);
            else text_td(f, v);
        }
        fputs("</tr>", f);
    }
    fputs("</table></div>", f);
    sx_csv_free(&t);
}

int xp_write_dashboard(const xp_run *run, const char *path, const sx_export_opts *o, sx_err *err) {
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) return -1;
    FILE *f = af.f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          "<title>saetox dashboard</title><style>", f);
    fputs(CSS, f);
    fputs(XP_DASH_CSS, f);
    fputs("</style></head><body><header><h1>saetox dashboard</h1><p>Sparse-autoencoder toxicity "
          "latents, feature splitting and steering for one run. Static page: no network.</p>"
          "</header><nav><a href=\"#inputs\">Inputs</a><a href=\"#training\">Training</a>"
          "<a href=\"#steering\">Steering</a><a href=\"#width\">Splitting</a>"
          "<a href=\"#widths\">Widths</a><a href=\"#latents\">Feature pages</a></nav><main>", f);
    inputs_section(f, run);
    training_section(f, run);
    steering_section(f, run);
    width_section(f, run, err);
    widths_section(f, path);
    xp_dash_section(f, run, o);
    fputs("</main><script>", f);
    if (run->n_feats) fputs(XP_DASH_JS, f);
    fputs("</script></body></html>\n", f);
    return sx_atomic_commit(&af, err);
}
