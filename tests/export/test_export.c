/* test_export.c — `saetox export` on a synthetic run folder (fixture.h).  One source, several
 * tests (argv[1] = mode):
 *   cli       outputs exist, report columns as documented, tricky strings round-trip through
 *             the reports, PNGs decode at 900x600 and are not blank, the HTML has no URL and
 *             escapes everything, missing inputs are skipped, corrupt CSV -> file:line error
 *   python    pandas loads every report with the documented columns and the tricky strings
 *             round-trip; nbformat validates report.ipynb (skips without /usr/bin/python3+pandas)
 *   nbexec    `jupyter nbconvert --execute` runs the notebook headlessly (skips without it)
 *   chromium  headless Chromium screenshot of dashboard.html: not blank, no network request
 *             in the net log, no console message (skips without /usr/bin/chromium) */
#include <cairo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "sx_json.h"
#include "test.h"

static char RUN[4096], OUT[4096];

static int sh(const char *cmd) {
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

static int run_export(const char *in, const char *out, const char *errfile) {
    const char *bin = getenv("SAETOX_BIN");
    char cmd[16384];
    if (out)
        snprintf(cmd, sizeof cmd, "'%s' export --in '%s' --out '%s' 2>'%s'", bin ? bin : "saetox",
                 in, out, errfile);
    else /* the default output folder, IN/export */
        snprintf(cmd, sizeof cmd, "'%s' export --in '%s' 2>'%s'", bin ? bin : "saetox", in, errfile);
    return sh(cmd);
}

static char *slurp(const char *path) {
    char *d = NULL;
    size_t n;
    sx_err err;
    if (sx_read_file(path, (size_t)1 << 30, &d, &n, &err)) return NULL;
    return d;
}

/* Sanitizer builds: fontconfig (under cairo's text) keeps its config at exit; suppress that
 * third-party leak only, for the saetox child processes. */
static void lsan_suppressions(void) {
    const char *src = getenv("SAETOX_SOURCE");
    const char *old = getenv("LSAN_OPTIONS");
    char buf[8192];
    snprintf(buf, sizeof buf, "%s%ssuppressions=%s/tests/export/lsan.supp:print_suppressions=0",
             old ? old : "", old && *old ? ":" : "", src ? src : ".");
    setenv("LSAN_OPTIONS", buf, 1);
}

static void setup(const char *name) {
    lsan_suppressions();
    const char *base = test_tmpdir(name);
    snprintf(RUN, sizeof RUN, "%s/run", base);
    snprintf(OUT, sizeof OUT, "%s/out", base);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", RUN, OUT);
    sh(cmd);
    if (fx_build_run(RUN)) exit(1);
    char errf[4200];
    snprintf(errf, sizeof errf, "%s/export.err", base);
    int r = run_export(RUN, OUT, errf);
    if (r != 0) {
        char *e = slurp(errf);
        fprintf(stderr, "saetox export failed (%d): %s\n", r, e ? e : "");
        free(e);
        exit(1);
    }
}

/* ---------------- cli ---------------- */

static void check_columns(const char *file, const char *const *cols, int n) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", OUT, file);
    sx_csv_table t;
    sx_err err = {0};
    if (sx_csv_read(path, &t, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    CHECK(t.ncols == n, "%s: %d columns, documented %d", file, t.ncols, n);
    for (int i = 0; i < n && i < t.ncols; i++)
        CHECK(strcmp(t.header[i], cols[i]) == 0, "%s column %d: '%s' vs '%s'", file, i, t.header[i], cols[i]);
    CHECK(t.nrows > 0, "%s has rows", file);
    sx_csv_free(&t);
}

static void check_latent_report(void) {
    char path[8192];
    snprintf(path, sizeof path, "%s/latents_topk-64.csv", OUT);
    sx_csv_table t;
    sx_err err = {0};
    if (sx_csv_read(path, &t, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    CHECK(t.nrows == 64, "one row per latent: %lld", (long long)t.nrows);
    int ctx_i = 0, tox = 0;
    for (int64_t r = 0; r < t.nrows; r++) {
        int64_t lat, is_tox;
        sx_csv_get_int(&t, r, sx_csv_col(&t, "latent"), &lat, 0, 0, &err);
        sx_csv_get_int(&t, r, sx_csv_col(&t, "is_toxic"), &is_tox, 0, 0, &err);
        CHECK(lat == r, "sorted by latent");
        if (!is_tox) continue;
        /* the top context of toxic latent i of the narrow SAE is context 6*i in the fixture */
        const char *before = sx_csv_cell(&t, r, sx_csv_col(&t, "top_context_before"));
        const char *after = sx_csv_cell(&t, r, sx_csv_col(&t, "top_context_after"));
        CHECK(strcmp(before, FX_TRICKY[(6 * ctx_i) % FX_NTRICKY]) == 0, "latent %lld before '%s'", (long long)lat, before);
        CHECK(strcmp(after, FX_TRICKY[(6 * ctx_i + 5) % FX_NTRICKY]) == 0, "latent %lld after '%s'", (long long)lat, after);
        ctx_i++;
        tox++;
    }
    CHECK(tox == 5, "5 toxic latents flagged, got %d", tox);
    /* latent 3: family 0 with wide members 10 11 12 */
    const char *mem = sx_csv_cell(&t, 3, sx_csv_col(&t, "family_members"));
    CHECK(strcmp(mem, "topk-256:10 topk-256:11 topk-256:12") == 0, "members '%s'", mem);
    int64_t fs;
    sx_csv_get_int(&t, 3, sx_csv_col(&t, "family_size"), &fs, 0, 0, &err);
    CHECK(fs == 4, "family size %lld", (long long)fs);
    sx_csv_free(&t);

    snprintf(path, sizeof path, "%s/family_comparison.csv", OUT);
    if (sx_csv_read(path, &t, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    CHECK(t.nrows == 5, "5 toxic concepts (the non-toxic family is left out): %lld", (long long)t.nrows);
    double split, share;
    sx_csv_get_num(&t, 0, sx_csv_col(&t, "split_ratio"), &split, &err);
    sx_csv_get_num(&t, 0, sx_csv_col(&t, "wide_top_share"), &share, &err);
    CHECK_NEAR(split, 3.0, 1e-9, "family 0 split ratio");
    /* wide members 10,11,12 are the first three wide toxic latents: mean_diff = 3*sc-0.2 with
     * sc = 0.88, 0.81, 0.74; the top share is the largest over the sum */
    double md0 = 3 * 0.88 - 0.2, md1 = 3 * 0.81 - 0.2, md2 = 3 * 0.74 - 0.2;
    CHECK_NEAR(share, md0 / (md0 + md1 + md2), 1e-6, "family 0 top share");
    CHECK(strcmp(sx_csv_cell(&t, 0, sx_csv_col(&t, "wide_latents")), "10 11 12") == 0, "wide latents");
    sx_csv_free(&t);
}

static void check_png(const char *name, long min_colour) {
    char path[8192];
    snprintf(path, sizeof path, "%s/plots/%s", OUT, name);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        CHECK(0, "%s: does not decode: %s", path, cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return;
    }
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    CHECK(w == 900 && h == 600, "%s: %dx%d", name, w, h);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    long ink = 0, colour = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t p = *(const uint32_t *)(d + y * stride + 4 * x);
            int r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
            ink += r < 200 || g < 200 || b < 200;
            colour += abs(r - g) > 60 || abs(g - b) > 60; /* data drawn in palette colours */
        }
    CHECK(ink > w * h / 200, "%s: only %ld non-white pixels", name, ink);
    CHECK(colour >= min_colour, "%s: only %ld coloured pixels (no data drawn?)", name, colour);
    cairo_surface_destroy(s);
}

static void check_html(void) {
    char path[8192];
    snprintf(path, sizeof path, "%s/dashboard.html", OUT);
    char *h = slurp(path);
    CHECK(h != NULL, "dashboard.html exists");
    if (!h) return;
    CHECK(!strstr(h, "http:") && !strstr(h, "https:") && !strstr(h, "//"), "no URL or '//' in the file");
    CHECK(!strstr(h, "src=") || !strstr(h, " src=\""), "no src attribute");
    for (const char *p = h; (p = strstr(p, "href=\"")); p += 6)
        CHECK(p[6] == '#', "href to a fragment only: %.30s", p);
    CHECK(!strstr(h, "<script>alert") && !strstr(h, "<img"), "data text is escaped");
    /* tricky text appears HTML-escaped in tables and JSON-escaped in the feature data */
    CHECK(strstr(h, "&lt;script&gt;alert(&#39;pwned&#39;)&lt;&#47;script&gt;") ||
              strstr(h, "\\u003cscript\\u003ealert('pwned')\\u003c\\u002fscript\\u003e"),
          "escaped <script> text present");
    CHECK(strstr(h, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), "UTF-8 text kept");
    int scripts = 0, cards = 0;
    for (const char *p = h; (p = strstr(p, "<script>")); p++) scripts++;
    for (const char *p = h; (p = strstr(p, "{\"id\":\"")); p++) cards++;
    CHECK(scripts == 1, "exactly our one inline script: %d", scripts);
    CHECK(cards == 13, "13 feature pages in the data: %d", cards);
    CHECK(strstr(h, "<script id=\"featdata\" type=\"application/json\">"), "feature data block");
    CHECK(strstr(h, "<svg class=\"chart\""), "trade-off chart");
    /* the trade-off chart: one series per (SAE, tier), never one line through two SAEs */
    CHECK(!strstr(h, "data-series=\"steer\""), "no series named by tier alone");
    free(h);
}

/* OUT/neuronpedia/<sae>.json: exactly the keys SAEDashboard's NeuronpediaDashboardBatch /
 * Feature / Activation .to_dict() write (sae_dashboard/neuronpedia/neuronpedia_dashboard.py),
 * plus saetox's decoder_vector; values typed as there. */
static void check_neuronpedia(void) {
    static const char *const batch_keys[] = {"model_id", "layer", "sae_set", "features"};
    static const char *const feat_keys[] = {
        "feature_index", "neuron_alignment_indices", "neuron_alignment_values",
        "neuron_alignment_l1", "correlated_neurons_indices", "correlated_neurons_l1",
        "correlated_neurons_pearson", "correlated_features_indices", "correlated_features_l1",
        "correlated_features_pearson", "neg_str", "neg_values", "pos_str", "pos_values",
        "frac_nonzero", "freq_hist_data_bar_values", "freq_hist_data_bar_heights",
        "logits_hist_data_bar_heights", "logits_hist_data_bar_values", "n_prompts_total",
        "n_tokens_in_prompt", "dataset", "decoder_weights_dist", "activations",
        "decoder_vector"};
    char path[8192];
    snprintf(path, sizeof path, "%s/neuronpedia/topk-256.json", OUT);
    char *txt = slurp(path);
    CHECK(txt != NULL, "%s exists", path);
    if (!txt) return;
    cJSON *b = cJSON_Parse(txt);
    free(txt);
    CHECK(b && cJSON_IsObject(b), "%s parses", path);
    if (!b) return;
    CHECK(cJSON_GetArraySize(b) == 4, "batch has 4 keys: %d", cJSON_GetArraySize(b));
    for (int i = 0; i < 4; i++) CHECK(cJSON_GetObjectItemCaseSensitive(b, batch_keys[i]), "batch key %s", batch_keys[i]);
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(b, "features");
    CHECK(cJSON_IsArray(fs) && cJSON_GetArraySize(fs) == 8, "8 wide toxic features: %d", cJSON_GetArraySize(fs));
    const cJSON *f;
    int nf = 0;
    cJSON_ArrayForEach(f, fs) {
        int nk = (int)(sizeof feat_keys / sizeof feat_keys[0]);
        CHECK(cJSON_GetArraySize(f) == nk, "feature has %d keys: %d", nk, cJSON_GetArraySize(f));
        for (int i = 0; i < nk; i++)
            CHECK(cJSON_GetObjectItemCaseSensitive(f, feat_keys[i]), "feature key %s", feat_keys[i]);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(f, "feature_index");
        CHECK(cJSON_IsNumber(idx) && idx->valueint == FX_WIDE_TOX[nf], "feature_index %d", idx ? idx->valueint : -1);
        CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(f, "activations")), "activations is a list");
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(f, "frac_nonzero")), "frac_nonzero is a number");
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "dataset")), "dataset is a string");
        nf++;
    }
    cJSON_Delete(b);
}

static void check_missing_and_corrupt(void) {
    const char *base = test_tmpdir("export_cli_edge");
    char in[4200], out[4200], errf[4200], cmd[32768];
    /* only metrics.jsonl: export works, the rest is skipped with notes */
    snprintf(in, sizeof in, "%s/partial", base);
    snprintf(out, sizeof out, "%s/partial_out", base);
    snprintf(errf, sizeof errf, "%s/partial.err", base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s' && cp '%s/metrics.jsonl' '%s/'", in, out, in, RUN, in);
    CHECK(sh(cmd) == 0, "setup partial");
    CHECK(run_export(in, out, errf) == 0, "partial export succeeds");
    char *e = slurp(errf);
    CHECK(e && strstr(e, "skipped steering trade-off: steering_sweep.csv not found"), "skip note: %s", e ? e : "");
    free(e);
    snprintf(cmd, sizeof cmd, "test -f '%s/training_metrics.csv' && test -f '%s/report.ipynb' && "
             "test -f '%s/dashboard.html' && test -f '%s/plots/training_curves.png' && "
             "test ! -e '%s/plots/tradeoff.png' && test ! -e '%s/steering_sweep.csv'", out, out, out, out, out, out);
    CHECK(sh(cmd) == 0, "partial outputs");
    /* default --out is IN/export; a second export must not read its own earlier output
     * (export/ sorts before steering/, where the fixture keeps steering_sweep.csv) */
    snprintf(in, sizeof in, "%s/again", base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", in, RUN, in);
    CHECK(sh(cmd) == 0, "copy run");
    CHECK(run_export(in, NULL, errf) == 0 && run_export(in, NULL, errf) == 0, "export twice into IN/export");
    e = slurp(errf);
    char want_read[4400];
    snprintf(want_read, sizeof want_read, "read %s/steering/steering_sweep.csv", in);
    CHECK(e && strstr(e, want_read), "second export reads the run's own sweep: %s", e ? e : "");
    free(e);
    snprintf(cmd, sizeof cmd, "test -f '%s/export/dashboard.html'", in);
    CHECK(sh(cmd) == 0, "default output folder IN/export");
    /* an empty folder also works */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/empty' && mkdir -p '%s/empty'", base, base);
    sh(cmd);
    snprintf(in, sizeof in, "%s/empty", base);
    snprintf(out, sizeof out, "%s/empty_out", base);
    CHECK(run_export(in, out, errf) == 0, "empty folder export");
    /* corrupt CSV: unterminated quote on line 4 */
    snprintf(in, sizeof in, "%s/corrupt", base);
    snprintf(out, sizeof out, "%s/corrupt_out", base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s' && printf 'sae,latent,rank,score\\n"
             "a,1,1,0.5\\na,2,2,0.4\\na,3,3,\"0.3\\n' > '%s/toxic_latents.csv'", in, out, in, in);
    sh(cmd);
    CHECK(run_export(in, out, errf) == 1, "corrupt CSV exits 1");
    e = slurp(errf);
    char want[4400];
    snprintf(want, sizeof want, "saetox export: %s/toxic_latents.csv:4: unterminated quoted field\n", in);
    CHECK(e && strstr(e, want), "error names file:line: %s", e ? e : "");
    free(e);
    snprintf(cmd, sizeof cmd, "test ! -e '%s/dashboard.html'", out);
    CHECK(sh(cmd) == 0, "nothing written after an error");
    /* a bad number names file:line and column */
    snprintf(cmd, sizeof cmd, "printf 'sae,latent,fire_freq,mean_act,max_act,q50,q90,q99\\n"
             "a,0,0.1,1,2,1,1,1\\na,1,x7,1,2,1,1,1\\n' > '%s/latent_stats.csv' && rm '%s/toxic_latents.csv'", in, in);
    sh(cmd);
    CHECK(run_export(in, out, errf) == 1, "bad number exits 1");
    e = slurp(errf);
    CHECK(e && strstr(e, "latent_stats.csv:3: column 'fire_freq': 'x7' is not a number"), "%s", e ? e : "");
    free(e);
    /* a broken metrics.jsonl line */
    snprintf(cmd, sizeof cmd, "rm '%s/latent_stats.csv' && printf '{\"step\":1,\"sae\":\"a\"}\\n{\"step\":2,\n' > '%s/metrics.jsonl'", in, in);
    sh(cmd);
    CHECK(run_export(in, out, errf) == 1, "bad jsonl exits 1");
    e = slurp(errf);
    CHECK(e && strstr(e, "metrics.jsonl:2: not a JSON object"), "%s", e ? e : "");
    free(e);
}

static int mode_cli(void) {
    setup("export_cli");
    /* The report columns, pinned here as literals (the stable contract); the writers take
     * them from include/saetox/schema.h, so this also checks the schemas did not drift. */
    static const char *tc[] = {"sae", "step", "tokens", "mse", "fvu", "l0", "dead_frac",
                               "mean_max_act", "lr", "tokens_per_s"},
                      *lc[] = {"sae", "latent", "fire_freq", "mean_act", "max_act", "q50", "q90",
                               "q99", "is_toxic", "toxic_rank", "score", "auroc", "cohens_d",
                               "mean_toxic", "mean_clean", "mean_diff", "fire_rate_toxic",
                               "fire_rate_clean", "log_odds", "family_id", "family_size",
                               "family_members", "top_promoted", "top_suppressed",
                               "top_activation", "top_context_before", "top_token",
                               "top_context_after"},
                      *wc[] = {"family_id", "n_toxic", "narrow_sae", "narrow_width",
                               "narrow_size", "narrow_latents", "wide_sae", "wide_width",
                               "wide_size", "wide_latents", "split_ratio",
                               "narrow_max_mean_diff", "wide_max_mean_diff",
                               "wide_sum_mean_diff", "wide_top_share", "narrow_best_score",
                               "wide_best_score", "cos_max", "cos_mean"},
                      *sc[] = {"condition", "tier", "alpha", "latents", "n_prompts",
                               "n_samples", "emt", "emt_lo", "emt_hi", "tox_prob",
                               "tox_prob_lo", "tox_prob_hi", "mean_tox", "mean_tox_lo",
                               "mean_tox_hi", "ppl", "ppl_lo", "ppl_hi", "acc", "acc_norm",
                               "acc_n"},
                      *pc[] = {"small_latent", "wide_latent", "cosine"};
    check_columns("training_metrics.csv", tc, (int)(sizeof tc / sizeof *tc));
    check_columns("latents_topk-64.csv", lc, (int)(sizeof lc / sizeof *lc));
    check_columns("latents_topk-256.csv", lc, (int)(sizeof lc / sizeof *lc));
    check_columns("family_comparison.csv", wc, (int)(sizeof wc / sizeof *wc));
    check_columns("steering_sweep.csv", sc, (int)(sizeof sc / sizeof *sc));
    check_columns("pairs.csv", pc, 3);
    check_latent_report();
    check_png("training_curves.png", 300);
    check_png("l0_vs_fvu.png", 60);
    check_png("tradeoff.png", 300);
    check_png("cosine_hist.png", 300);
    check_png("family_sizes.png", 300);
    check_html();
    check_neuronpedia();
    check_missing_and_corrupt();
    return TEST_DONE();
}

/* ---------------- python: pandas + nbformat ---------------- */

static int mode_python(void) {
    if (access("/usr/bin/python3", X_OK) != 0 ||
        sh("/usr/bin/python3 -c 'import pandas, nbformat' 2>/dev/null") != 0) {
        printf("SKIP: /usr/bin/python3 with pandas and nbformat not available\n");
        return 77;
    }
    setup("export_python");
    const char *src = getenv("SAETOX_SOURCE");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/export/check_export.py' '%s' '%s'",
             src ? src : ".", RUN, OUT);
    CHECK(sh(cmd) == 0, "check_export.py");
    /* The notebook's cells under plain Python: on the full export; with matplotlib made
     * unimportable; and on the export of an empty folder, where every cell says what it
     * skipped.  (test_export_nbexec runs it under Jupyter where that is installed.) */
    char empty[4200], eout[4300], errf[4300], log[4300];
    snprintf(empty, sizeof empty, "%s/../empty", OUT);
    snprintf(eout, sizeof eout, "%s/../empty_out", OUT);
    snprintf(errf, sizeof errf, "%s/../empty.err", OUT);
    snprintf(log, sizeof log, "%s/../cells.log", OUT);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s'", empty, eout, empty);
    sh(cmd);
    CHECK(run_export(empty, eout, errf) == 0, "export of an empty folder");
    const char *variants[][2] = {{OUT, ""}, {OUT, "--no-matplotlib"}, {eout, ""}};
    const char *expect[] = {"320 latents, 13 toxic", "skipped plots: matplotlib is not installed",
                            "skipped: training_metrics.csv not found"};
    for (int v = 0; v < 3; v++) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/export/run_cells.py' '%s' %s >'%s' 2>&1",
                 src ? src : ".", variants[v][0], variants[v][1], log);
        CHECK(sh(cmd) == 0, "notebook cells run (variant %d; see %s)", v, log);
        char *out = slurp(log);
        CHECK(out && strstr(out, expect[v]) && strstr(out, "all cells ran"), "variant %d prints '%s'", v, expect[v]);
        free(out);
    }
    return TEST_DONE();
}

/* ---------------- nbexec: run the notebook ---------------- */

static int mode_nbexec(void) {
    if (sh("command -v jupyter >/dev/null 2>&1 && jupyter nbconvert --version >/dev/null 2>&1") != 0) {
        printf("SKIP: jupyter nbconvert not available\n");
        return 77;
    }
    setup("export_nbexec");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd '%s' && timeout 300 jupyter nbconvert --to notebook --execute "
             "--ExecutePreprocessor.timeout=120 --output executed.ipynb report.ipynb", OUT);
    CHECK(sh(cmd) == 0, "nbconvert --execute");
    char path[8192];
    snprintf(path, sizeof path, "%s/executed.ipynb", OUT);
    char *nb = slurp(path);
    CHECK(nb && !strstr(nb, "\"output_type\": \"error\""), "no error output");
    if (sh("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null") == 0)
        CHECK(nb && strstr(nb, "image/png"), "at least one figure drawn (matplotlib present)");
    else /* without matplotlib the notebook still runs and says so */
        CHECK(nb && strstr(nb, "skipped plots: matplotlib is not installed"), "no-matplotlib message");
    free(nb);
    return TEST_DONE();
}

/* ---------------- chromium: screenshot + net log ---------------- */

/* Requests the page itself started: URL_REQUEST_START_JOB events whose initiator is an origin
 * (a file: page has the opaque origin "null").  Chromium's own background requests (updater,
 * account checks) carry "not an origin" and are not the page's doing.  Returns the count or -1
 * when the net log cannot be read. */
static int page_requests(const char *netlog) {
    char *nl = slurp(netlog);
    if (!nl) return -1;
    cJSON *j = cJSON_Parse(nl);
    if (!j) { /* chromium may leave the closing "]}" off: close it */
        size_t n = strlen(nl);
        while (n && (nl[n - 1] == '\n' || nl[n - 1] == ',' || nl[n - 1] == ' ')) n--;
        char *fixed = malloc(n + 8);
        memcpy(fixed, nl, n);
        strcpy(fixed + n, "]}");
        j = cJSON_Parse(fixed);
        free(fixed);
    }
    free(nl);
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "constants"), "logEventTypes");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(types, "URL_REQUEST_START_JOB");
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "events");
    if (!cJSON_IsNumber(start) || !cJSON_IsArray(events)) {
        cJSON_Delete(j);
        return -1;
    }
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "params");
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(p, "url");
        const cJSON *ini = cJSON_GetObjectItemCaseSensitive(p, "initiator");
        if (!cJSON_IsNumber(t) || t->valueint != start->valueint || !cJSON_IsString(url)) continue;
        if (cJSON_IsString(ini) && strcmp(ini->valuestring, "not an origin") == 0) continue;
        fprintf(stderr, "page request: %.200s (initiator %s)\n", url->valuestring,
                cJSON_IsString(ini) ? ini->valuestring : "?");
        n++;
    }
    cJSON_Delete(j);
    return n;
}

/* Screenshot `page` into dir/<tag>.png with a net log and the console on stderr. */
static int chromium(const char *dir, const char *tag, const char *page) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/profile-%s'; timeout 120 /usr/bin/chromium --headless "
             "--no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
             "--disable-sync --no-first-run --disable-default-apps --user-data-dir='%s/profile-%s' "
             "--log-net-log='%s/%s.netlog.json' --net-log-capture-mode=Everything "
             "--enable-logging=stderr --v=0 --screenshot='%s/%s.png' --window-size=1200,900 "
             "'file://%s' >'%s/%s.log' 2>&1",
             dir, tag, dir, tag, dir, tag, dir, tag, page, dir, tag);
    return sh(cmd);
}

static int mode_chromium(void) {
    if (access("/usr/bin/chromium", X_OK) != 0) {
        printf("SKIP: /usr/bin/chromium not installed (apt-get install chromium)\n");
        return 77;
    }
    setup("export_chromium");
    char dir[4200], path[4400], page[4400];
    snprintf(dir, sizeof dir, "%s", OUT);
    *strrchr(dir, '/') = 0; /* the test's own scratch folder */
    /* Control page: one request and one console message, so the checks below can see them. */
    snprintf(page, sizeof page, "%s/control.html", dir);
    const char *ctl = "<!DOCTYPE html><html><body><p>control</p><img src=\"http://127.0.0.1:9/c.png\">"
                      "<script>console.error('saetox-control-marker');</script></body></html>";
    sx_err err;
    CHECK(sx_write_file_atomic(page, ctl, strlen(ctl), &err) == 0, "control page");
    CHECK(chromium(dir, "control", page) == 0, "chromium on the control page");
    snprintf(path, sizeof path, "%s/control.netlog.json", dir);
    int nctl = page_requests(path);
    CHECK(nctl >= 1, "the net-log check sees the control page's request (%d)", nctl);
    snprintf(path, sizeof path, "%s/control.log", dir);
    char *lg = slurp(path);
    CHECK(lg && strstr(lg, "saetox-control-marker"), "the console check sees the control's message");
    free(lg);

    snprintf(page, sizeof page, "%s/dashboard.html", OUT);
    int r = chromium(dir, "dashboard", page);
    CHECK(r == 0, "chromium exit %d (log %s/dashboard.log)", r, dir);
    snprintf(path, sizeof path, "%s/dashboard.png", dir);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    CHECK(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "screenshot decodes");
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
        int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
        int stride = cairo_image_surface_get_stride(s);
        const unsigned char *d = cairo_image_surface_get_data(s);
        long ink = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint32_t p = *(const uint32_t *)(d + y * stride + 4 * x);
                ink += ((p >> 16) & 255) < 230 || ((p >> 8) & 255) < 230 || (p & 255) < 230;
            }
        CHECK(w == 1200 && h == 900, "screenshot %dx%d", w, h);
        CHECK(ink > (long)w * h / 20, "screenshot not blank: %ld non-white pixels", ink);
    }
    cairo_surface_destroy(s);
    snprintf(path, sizeof path, "%s/dashboard.netlog.json", dir);
    int nreq = page_requests(path);
    CHECK(nreq == 0, "the dashboard made no network request (%d)", nreq);
    snprintf(path, sizeof path, "%s/dashboard.log", dir);
    lg = slurp(path);
    CHECK(lg && !strstr(lg, "CONSOLE"), "no console message from the dashboard (see %s)", path);
    CHECK(lg && !strstr(lg, "Content Security Policy") && !strstr(lg, "Refused to"), "no CSP violation");
    free(lg);

    /* The feature pages: a search from the URL fragment (#q=) finds the latent, renders its
     * page and hides the rest; no request and no console message either. */
    char cmd[32768];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/profile-dom'; timeout 120 /usr/bin/chromium --headless --no-sandbox "
             "--disable-gpu --disable-background-networking --disable-component-update --disable-sync "
             "--no-first-run --user-data-dir='%s/profile-dom' --log-net-log='%s/dom.netlog.json' "
             "--net-log-capture-mode=Everything --enable-logging=stderr --v=0 --dump-dom "
             "'file://%s#q=topk-256%%3A150' >'%s/dom.html' 2>'%s/dom.log'", dir, dir, dir, page, dir, dir);
    CHECK(sh(cmd) == 0, "chromium --dump-dom with a search");
    snprintf(path, sizeof path, "%s/dom.html", dir);
    char *dom = slurp(path);
    CHECK(dom && strstr(dom, "data-feature=\"topk-256:150\""), "the search opened topk-256:150's page");
    CHECK(dom && strstr(dom, "id=\"fcount\">1<"), "exactly one feature matches 'topk-256:150'");
    CHECK(dom && strstr(dom, "Top 10 logits"), "the page has its logit table");
    free(dom);
    snprintf(path, sizeof path, "%s/dom.netlog.json", dir);
    nreq = page_requests(path);
    CHECK(nreq == 0, "the searched dashboard made no network request (%d)", nreq);
    snprintf(path, sizeof path, "%s/dom.log", dir);
    lg = slurp(path);
    CHECK(lg && !strstr(lg, "CONSOLE") && !strstr(lg, "Refused to"), "no console message / CSP violation (see %s)", path);
    free(lg);
    return TEST_DONE();
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "cli";
    if (!strcmp(mode, "cli")) return mode_cli();
    if (!strcmp(mode, "python")) return mode_python();
    if (!strcmp(mode, "nbexec")) return mode_nbexec();
    if (!strcmp(mode, "chromium")) return mode_chromium();
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
