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
    "#filter{padding:5px 8px;width:340px;font-size:14px}"
    "svg text{font-family:system-ui,sans-serif;fill:#222}";

/* Filters the latent cards by a typed substring. */
static const char *JS =
    "(function(){var box=document.getElementById('filter');if(!box)return;"
    "var cards=document.querySelectorAll('.latent');var count=document.getElementById('shown');"
    "box.addEventListener('input',function(){var q=box.value.toLowerCase(),n=0;"
    "for(var i=0;i<cards.length;i++){var ok=cards[i].getAttribute('data-search')"
    ".toLowerCase().indexOf(q)>=0;cards[i].style.display=ok?'':'none';if(ok)n++;}"
    "if(count)count.textContent=n;});})();";

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
                           "top_contexts.csv", "pairs.csv", "families.csv", "steering_sweep.csv"};
    const char *paths[] = {run->metrics_path, run->stats_path, run->toxic_path, run->ctx_path,
                           run->pairs_path, run->fam_path, run->sweep_path};
    int64_t rows[] = {run->n_metrics, run->n_stats, run->n_toxic, run->n_ctx, run->n_pairs,
                      run->n_fams, run->n_sweep};
    fputs("<h2 id=\"inputs\">Inputs</h2><table><tr><th>input</th><th>file used</th><th>rows</th></tr>", f);
    for (int i = 0; i < 7; i++) {
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
          "the unsteered model, one line per tier in order of strength alpha. Hover a point for "
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

static void width_section(FILE *f, const xp_run *run, sx_err *err) {
    fputs("<h2 id=\"width\">Feature splitting across widths</h2>", f);
    xp_concept *cs = NULL;
    int64_t n = 0;
    if (!run->n_fams || xp_concepts(run, &cs, &n, err) || !n) {
        fputs("<p class=\"note\">No families (families.csv) in this run.</p>", f);
        free(cs);
        return;
    }
    fputs("<p>Each row is a family of latents whose decoder directions match across the narrow "
          "and the wide SAE (a concept). <em>split</em> = wide size / narrow size; <em>top share"
          "</em> = the largest toxic mean difference among the wide members over their sum (1 = "
          "the effect stays in one latent).</p><table><tr><th>family</th><th>toxic members</th>"
          "<th>narrow SAE</th><th>narrow latents</th><th>wide SAE</th><th>wide latents</th>"
          "<th>split</th><th>top share</th><th>max cos</th><th>mean cos</th></tr>", f);
    for (int64_t i = 0; i < n; i++) {
        const xp_concept *c = &cs[i];
        fprintf(f, "<tr><td>%lld</td><td>%d</td>", (long long)c->family_id, c->n_toxic);
        text_td(f, run->sae[c->narrow]);
        fprintf(f, "<td>%lld</td>", (long long)c->narrow_size);
        text_td(f, c->wide >= 0 ? run->sae[c->wide] : "");
        fprintf(f, "<td>%lld</td>", (long long)c->wide_size);
        num(f, c->narrow_size ? (double)c->wide_size / (double)c->narrow_size : NAN);
        num(f, c->wide_top_share);
        num(f, c->cos_max);
        num(f, c->cos_mean);
        fputs("</tr>", f);
    }
    fputs("</table>", f);
    free(cs);
}

/* Space-separated tokens as chips. */
static void chips(FILE *f, const char *list, const char *cls) {
    if (!list || !*list) {
        fputs("<span class=\"note\">none</span>", f);
        return;
    }
    const char *p = list;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char tok[256];
        if (n >= sizeof tok) n = sizeof tok - 1;
        memcpy(tok, p, n);
        tok[n] = 0;
        fprintf(f, "<span class=\"chip%s%s\">", cls ? " " : "", cls ? cls : "");
        xp_html_esc(f, tok);
        fputs("</span>", f);
        p += n;
    }
}

static void family_line(FILE *f, const xp_run *run, const xp_toxic *t) {
    int64_t fid = xp_family_of(run, t->sae, t->latent);
    if (fid < 0) fid = t->family_id;
    fputs("<div><b>Family:</b> ", f);
    if (fid < 0) {
        fputs("<span class=\"note\">not in a family</span></div>", f);
        return;
    }
    int64_t n, first = xp_family_range(run, fid, &n);
    fprintf(f, "#%lld (%lld members) ", (long long)fid, (long long)(n ? n : t->family_size));
    for (int64_t i = first; i < first + n; i++) {
        const xp_fam *m = &run->fams[i];
        if (m->sae == t->sae && m->latent == t->latent) continue;
        fputs("<span class=\"chip fam\">", f);
        xp_html_esc(f, run->sae[m->sae]);
        fprintf(f, ":%lld%s</span>", (long long)m->latent, xp_find_toxic(run, m->sae, m->latent) ? " &#9888;" : "");
    }
    fputs("</div>", f);
}

static void contexts(FILE *f, const xp_ctx *c, int64_t n, double mx, int max_show) {
    if (!n) {
        fputs("<p class=\"note\">No top contexts for this latent.</p>", f);
        return;
    }
    fputs("<ol class=\"ctx\">", f);
    for (int64_t i = 0; i < n && i < max_show; i++) {
        double a = mx > 0 && isfinite(c[i].activation) ? c[i].activation / mx : 0;
        a = a < 0 ? 0 : a > 1 ? 1 : a;
        fprintf(f, "<li><span class=\"act\">%.3g</span><span class=\"ctxt\">", c[i].activation);
        xp_html_esc(f, c[i].before);
        fprintf(f, "<mark style=\"background:rgba(220,38,38,%.2f)\" title=\"activation %.4g\">",
                0.15 + 0.75 * a, c[i].activation);
        xp_html_esc(f, c[i].token);
        fputs("</mark>", f);
        xp_html_esc(f, c[i].after);
        fputs("</span></li>", f);
    }
    fputs("</ol>", f);
}

static void latent_card(FILE *f, const xp_run *run, const xp_toxic *t, int max_ctx) {
    const xp_stat *st = xp_find_stat(run, t->sae, t->latent);
    int64_t nctx;
    const xp_ctx *c = xp_find_ctx(run, t->sae, t->latent, &nctx);
    double mx = st && st->max_act > 0 ? st->max_act : 0;
    for (int64_t i = 0; i < nctx; i++)
        if (c[i].activation > mx) mx = c[i].activation;
    fputs("<section class=\"latent\" data-search=\"", f);
    xp_html_esc(f, run->sae[t->sae]);
    fprintf(f, " %lld ", (long long)t->latent);
    xp_html_esc(f, t->top_promoted);
    for (int64_t i = 0; i < nctx && i < max_ctx; i++) {
        fputc(' ', f);
        xp_html_esc(f, c[i].token);
    }
    fputs("\"><h3>", f);
    xp_html_esc(f, run->sae[t->sae]);
    fprintf(f, " &middot; latent %lld<span>toxic rank %lld &middot; score %.4g</span></h3>",
            (long long)t->latent, (long long)t->rank, t->score);
    fputs("<div class=\"row\"><table>", f);
    const char *k[] = {"AUROC", "Cohen's d", "mean (toxic)", "mean (clean)", "mean diff",
                       "fire rate toxic", "fire rate clean", "log odds"};
    double v[] = {t->auroc, t->cohens_d, t->mean_toxic, t->mean_clean, t->mean_diff,
                  t->fire_rate_toxic, t->fire_rate_clean, t->log_odds};
    for (int i = 0; i < 8; i += 2) {
        fprintf(f, "<tr><th>%s</th>", k[i]);
        num(f, v[i]);
        fprintf(f, "<th>%s</th>", k[i + 1]);
        num(f, v[i + 1]);
        fputs("</tr>", f);
    }
    if (st) {
        fputs("<tr><th>fire freq</th>", f);
        num(f, st->fire_freq);
        fputs("<th>max act</th>", f);
        num(f, st->max_act);
        fputs("</tr>", f);
    }
    fputs("</table>", f);
    xp_svg_hist(f, st, c, nctx < max_ctx ? nctx : max_ctx);
    fputs("</div><div><b>Logit lens, promoted:</b> ", f);
    chips(f, t->top_promoted, NULL);
    fputs("</div><div><b>Suppressed:</b> ", f);
    chips(f, t->top_suppressed, "neg");
    fputs("</div>", f);
    family_line(f, run, t);
    contexts(f, c, nctx, mx, max_ctx);
    fputs("</section>", f);
}

static void latents_section(FILE *f, const xp_run *run, const sx_export_opts *o) {
    fputs("<h2 id=\"latents\">Toxic latents</h2>", f);
    if (!run->n_toxic) {
        fputs("<p class=\"note\">No toxic latents (toxic_latents.csv) in this run.</p>", f);
        return;
    }
    int64_t shown = run->n_toxic < o->max_latents ? run->n_toxic : o->max_latents;
    fprintf(f, "<p>Each card: the latent's separation statistics, its activation distribution "
               "(from the quantiles in latent_stats.csv), the tokens its decoder direction "
               "promotes and suppresses through the unembedding (logit lens), its family across "
               "widths, and its top activating contexts with the activating token highlighted "
               "(darker = stronger, relative to the latent's maximum).</p>"
               "<p><input id=\"filter\" type=\"search\" placeholder=\"filter by SAE, latent or token\" "
               "aria-label=\"filter\"> <span id=\"shown\">%lld</span> of %lld shown%s</p>",
            (long long)shown, (long long)shown,
            shown < run->n_toxic ? " (list truncated; see the latents_*.csv reports)" : "");
    for (int64_t i = 0; i < shown; i++) latent_card(f, run, &run->toxic[i], o->max_contexts);
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
    fputs("</style></head><body><header><h1>saetox dashboard</h1><p>Sparse-autoencoder toxicity "
          "latents, feature splitting and steering for one run. Static page: no network.</p>"
          "</header><nav><a href=\"#inputs\">Inputs</a><a href=\"#training\">Training</a>"
          "<a href=\"#steering\">Steering</a><a href=\"#width\">Splitting</a>"
          "<a href=\"#latents\">Toxic latents</a></nav><main>", f);
    inputs_section(f, run);
    training_section(f, run);
    steering_section(f, run);
    width_section(f, run, err);
    latents_section(f, run, o);
    fputs("</main><script>", f);
    fputs(JS, f);
    fputs("</script></body></html>\n", f);
    return sx_atomic_commit(&af, err);
}
