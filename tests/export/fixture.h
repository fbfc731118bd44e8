/* fixture.h — a synthetic run folder for the export tests: two SAEs (topk-64 narrow,
 * topk-256 wide), training metrics, latent stats, toxic latents, top contexts full of tricky
 * strings (quotes, CR/LF, commas, non-ASCII, GPT-2 "Ġ" tokens, <script>, URLs, "NA"), pairs,
 * families, and a steering sweep kept one folder down (steering/) to exercise the lookup.
 * tricky.json lists the strings that must survive every CSV round trip exactly. */
#ifndef SAETOX_TEST_EXPORT_FIXTURE_H
#define SAETOX_TEST_EXPORT_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "export.h"
#include "sx_json.h"

static const char *const FX_TRICKY[] = {
    "He said \"you're a total idiot\", then left",
    "line one\nline two\r\nline three",
    "  leading and trailing spaces  ",
    "commas, commas, commas,",
    "<script>alert('pwned')</script> & <b>bold</b>",
    "\xC3\xBC" "ber-dumm \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\xA1 na\xC3\xAFve",
    "see http://evil.example/x.js and https://cdn.example.com/a.css",
    "NA",
    "null",
    "\"",
    "\xC4\xA0idiot",
    "\xC4\x8A",
    "<img src=x onerror=alert(1)>",
};
#define FX_NTRICKY (int)(sizeof FX_TRICKY / sizeof FX_TRICKY[0])

static const char *const FX_TOKENS[] = {"\xC4\xA0idiot", "\xC4\xA0stupid", "\xC4\xA0<script>",
                                        "\xC4\xA0" "d\xC3\xBCmm", "\"", "a,b", "\xC4\x8A",
                                        "\xC4\xA0&amp;", "\xC4\xA0hate"};
#define FX_NTOK 9

static int fx_fail(const char *what, sx_err *err) {
    fprintf(stderr, "fixture: %s: %s\n", what, err->msg);
    return -1;
}

static int fx_metrics(const char *dir, sx_err *err) {
    char path[4096];
    sx_path_join(path, sizeof path, dir, "metrics.jsonl");
    FILE *f = fopen(path, "w");
    if (!f) return sx_fail(err, "%s: cannot create", path);
    const char *sae[] = {"topk-64", "topk-256"};
    for (int step = 0; step <= 40; step++)
        for (int s = 0; s < 2; s++) {
            double t = step * 2048.0 * 25, decay = exp(-step / 10.0);
            fprintf(f, "{\"step\": %d, \"tokens\": %.0f, \"sae\": \"%s\", \"mse\": %.6f, "
                       "\"fvu\": %.6f, \"l0\": %.4f, \"dead_frac\": %.4f, \"mean_max_act\": %.3f, "
                       "\"lr\": 0.0003, \"tokens_per_s\": %.1f}\n",
                    step * 25, t, sae[s], 0.02 + 0.5 * decay / (1 + s), 0.05 + 0.6 * decay / (1 + s),
                    8 + 30 * decay * (1 + s), 0.01 * s + 0.2 * decay, 4 + step * 0.05, 51234.5 - s * 9000);
        }
    fputc('\n', f); /* a trailing blank line is allowed */
    return fclose(f) ? sx_fail(err, "%s: write failed", path) : 0;
}

static int fx_stats(const char *dir, sx_err *err) {
    static const char *cols[] = {"sae", "latent", "fire_freq", "mean_act", "max_act", "q50", "q90", "q99"};
    char path[4096];
    sx_path_join(path, sizeof path, dir, "latent_stats.csv");
    sx_csv_writer w;
    if (sx_csv_open(&w, path, cols, 8, err)) return -1;
    const char *sae[] = {"topk-64", "topk-256"};
    int width[] = {64, 256};
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < width[s]; l++) {
            double mx = 2 + (l * 37 % 11);
            sx_csv_str(&w, sae[s]);
            sx_csv_int(&w, l);
            sx_csv_num(&w, 0.001 + (l % 13) * 0.004);
            sx_csv_num(&w, mx * 0.2);
            sx_csv_num(&w, mx);
            sx_csv_num(&w, mx * 0.15);
            sx_csv_num(&w, mx * 0.5);
            sx_csv_num(&w, mx * 0.8);
            sx_csv_row(&w);
        }
    return sx_csv_close(&w, err);
}

/* Toxic latents: narrow 3,7,11,19,23; wide 4 per narrow family member subset. */
static const int FX_NARROW_TOX[] = {3, 7, 11, 19, 23};
static const int FX_WIDE_TOX[] = {10, 11, 12, 40, 41, 90, 150, 151};

static int fx_toxic(const char *dir, sx_err *err) {
    static const char *cols[] = {"sae", "latent", "rank", "score", "auroc", "cohens_d", "mean_toxic",
                                 "mean_clean", "mean_diff", "fire_rate_toxic", "fire_rate_clean",
                                 "log_odds", "family_id", "family_size", "top_promoted", "top_suppressed"};
    char path[4096];
    sx_path_join(path, sizeof path, dir, "toxic_latents.csv");
    sx_csv_writer w;
    if (sx_csv_open(&w, path, cols, 16, err)) return -1;
    for (int s = 0; s < 2; s++) {
        const int *lat = s ? FX_WIDE_TOX : FX_NARROW_TOX;
        int n = s ? 8 : 5;
        for (int i = 0; i < n; i++) {
            char prom[256] = "", sup[256] = "";
            for (int k = 0; k < 4; k++) {
                strcat(prom, k ? " " : "");
                strcat(prom, FX_TOKENS[(i + k + s) % FX_NTOK]);
            }
            snprintf(sup, sizeof sup, "\xC4\xA0" "kind \xC4\xA0thanks \xC4\xA0" "caf\xC3\xA9");
            sx_csv_str(&w, s ? "topk-256" : "topk-64");
            sx_csv_int(&w, lat[i]);
            sx_csv_int(&w, i + 1);
            double sc = 0.9 - 0.07 * i - 0.02 * s;
            sx_csv_num(&w, sc);
            sx_csv_num(&w, 0.6 + 0.35 * sc);
            sx_csv_num(&w, 2.5 * sc);
            sx_csv_num(&w, 3.0 * sc);
            sx_csv_num(&w, 0.2);
            sx_csv_num(&w, 3.0 * sc - 0.2);
            sx_csv_num(&w, 0.4 * sc);
            sx_csv_num(&w, 0.02);
            sx_csv_num(&w, 2.2 * sc);
            sx_csv_empty(&w); /* family_id: empty, families.csv says */
            sx_csv_empty(&w);
            sx_csv_str(&w, prom);
            sx_csv_str(&w, sup);
            sx_csv_row(&w);
        }
    }
    return sx_csv_close(&w, err);
}

static int fx_contexts(const char *dir, sx_err *err) {
    static const char *cols[] = {"sae", "latent", "rank", "activation", "context_before", "token",
                                 "context_after"};
    char path[4096];
    sx_path_join(path, sizeof path, dir, "top_contexts.csv");
    sx_csv_writer w;
    if (sx_csv_open(&w, path, cols, 7, err)) return -1;
    int k = 0;
    for (int s = 0; s < 2; s++) {
        const int *lat = s ? FX_WIDE_TOX : FX_NARROW_TOX;
        int n = s ? 8 : 5;
        for (int i = 0; i < n; i++)
            for (int r = 0; r < 6; r++, k++) {
                sx_csv_str(&w, s ? "topk-256" : "topk-64");
                sx_csv_int(&w, lat[i]);
                sx_csv_int(&w, r);
                sx_csv_num(&w, 9.5 - r * 1.3 - i * 0.2);
                sx_csv_str(&w, FX_TRICKY[k % FX_NTRICKY]);
                sx_csv_str(&w, FX_TOKENS[k % FX_NTOK]);
                sx_csv_str(&w, FX_TRICKY[(k + 5) % FX_NTRICKY]);
                sx_csv_row(&w);
            }
    }
    return sx_csv_close(&w, err);
}

/* Family i: narrow toxic latent FX_NARROW_TOX[i] plus 1..3 wide latents; one non-toxic family. */
static int fx_families(const char *dir, sx_err *err) {
    static const int wide[][4] = {{10, 11, 12, -1}, {40, 41, -1, -1}, {90, -1, -1, -1},
                                  {150, 151, 152, -1}, {200, -1, -1, -1}, {60, 61, -1, -1}};
    static const int narrow[] = {3, 7, 11, 19, 23, 50};
    static const char *fc[] = {"family_id", "sae", "latent"}, *pc[] = {"small_latent", "wide_latent", "cosine"};
    char path[4096], ppath[4096];
    sx_path_join(path, sizeof path, dir, "families.csv");
    sx_path_join(ppath, sizeof ppath, dir, "pairs.csv");
    sx_csv_writer w, pw;
    if (sx_csv_open(&w, path, fc, 3, err)) return -1;
    if (sx_csv_open(&pw, ppath, pc, 3, err)) return -1;
    for (int fidx = 0; fidx < 6; fidx++) {
        sx_csv_int(&w, fidx);
        sx_csv_str(&w, "topk-64");
        sx_csv_int(&w, narrow[fidx]);
        sx_csv_row(&w);
        for (int j = 0; j < 4 && wide[fidx][j] >= 0; j++) {
            sx_csv_int(&w, fidx);
            sx_csv_str(&w, "topk-256");
            sx_csv_int(&w, wide[fidx][j]);
            sx_csv_row(&w);
            sx_csv_int(&pw, narrow[fidx]);
            sx_csv_int(&pw, wide[fidx][j]);
            sx_csv_num(&pw, 0.95 - 0.12 * j - 0.01 * fidx);
            sx_csv_row(&pw);
        }
    }
    for (int i = 0; i < 60; i++) { /* background pairs for the histogram */
        sx_csv_int(&pw, 30 + i % 30);
        sx_csv_int(&pw, 100 + i);
        sx_csv_num(&pw, 0.5 + 0.4 * sin(i * 0.7) * sin(i * 0.7));
        sx_csv_row(&pw);
    }
    if (sx_csv_close(&pw, err)) return -1;
    return sx_csv_close(&w, err);
}

static int fx_sweep(const char *dir, sx_err *err) {
    char sub[4096], path[4096];
    sx_path_join(sub, sizeof sub, dir, "steering");
    if (sx_mkdir_p(sub, err)) return -1;
    sx_path_join(path, sizeof path, sub, "steering_sweep.csv");
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_STEERING_SWEEP, err)) return -1;
    struct { const char *tier; double alpha; } cond[] = {
        {"none", 0}, {"ablate", 1}, {"suppress", 0.5}, {"suppress", 1}, {"suppress", 2},
        {"steer", 1}, {"steer", 2}, {"steer", 4}, {"steer", 8}, {"meandiff", 2}, {"meandiff", 4},
        {"banned", 0}};
    for (int i = 0; i < 12; i++) {
        double a = cond[i].alpha, emt, ppl;
        const char *t = cond[i].tier;
        if (!strcmp(t, "none")) emt = 0.52, ppl = 28;
        else if (!strcmp(t, "ablate")) emt = 0.41, ppl = 29;
        else if (!strcmp(t, "suppress")) emt = 0.40 - 0.05 * a, ppl = 29 + 1.5 * a;
        else if (!strcmp(t, "steer")) emt = 0.45 - 0.04 * a, ppl = 29 + 4 * a;
        else if (!strcmp(t, "meandiff")) emt = 0.44 - 0.03 * a, ppl = 30 + 3 * a;
        else emt = 0.35, ppl = 33;
        char cname[64];
        snprintf(cname, sizeof cname, "%s, alpha=%g \"q\"", t, a);
        sx_csv_str(&w, cname);
        sx_csv_str(&w, t);
        sx_csv_num(&w, a);
        sx_csv_str(&w, "topk-64:3 topk-64:7");
        sx_csv_int(&w, 50);
        sx_csv_int(&w, 25);
        sx_csv_num(&w, emt), sx_csv_num(&w, emt - 0.03), sx_csv_num(&w, emt + 0.03);
        sx_csv_num(&w, emt * 0.8), sx_csv_num(&w, emt * 0.7), sx_csv_num(&w, emt * 0.9);
        sx_csv_num(&w, emt * 0.3), sx_csv_num(&w, emt * 0.28), sx_csv_num(&w, emt * 0.32);
        sx_csv_num(&w, ppl), sx_csv_num(&w, ppl - 1), sx_csv_num(&w, ppl + 1);
        sx_csv_num(&w, 0.4 - 0.001 * ppl), sx_csv_num(&w, 0.45 - 0.001 * ppl), sx_csv_int(&w, 200);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

static int fx_tricky_json(const char *dir, sx_err *err) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < FX_NTRICKY; i++) cJSON_AddItemToArray(a, cJSON_CreateString(FX_TRICKY[i]));
    char path[4096];
    sx_path_join(path, sizeof path, dir, "tricky.json");
    int r = sx_json_write_file(path, a, err);
    cJSON_Delete(a);
    return r;
}

/* Build the whole run folder in dir (created). */
static inline int fx_build_run(const char *dir) {
    sx_err err = {0};
    if (sx_mkdir_p(dir, &err)) return fx_fail("mkdir", &err);
    if (fx_metrics(dir, &err)) return fx_fail("metrics", &err);
    if (fx_stats(dir, &err)) return fx_fail("stats", &err);
    if (fx_toxic(dir, &err)) return fx_fail("toxic", &err);
    if (fx_contexts(dir, &err)) return fx_fail("contexts", &err);
    if (fx_families(dir, &err)) return fx_fail("families", &err);
    if (fx_sweep(dir, &err)) return fx_fail("sweep", &err);
    if (fx_tricky_json(dir, &err)) return fx_fail("tricky", &err);
    return 0;
}

#endif
