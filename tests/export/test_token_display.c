/* test_token_display.c — sx_tokenizer_token_display on the embedded GPT-2 vocabulary (the
 * text every report's token column carries): for every id, undoing the display escapes gives
 * back exactly decode([id]) (so the display is unambiguous), the display is valid UTF-8,
 * leading spaces are the U+2423 mark, <|endoftext|> is one token, partial UTF-8 bytes are
 * \xNN; decode(encode(text)) == text for tricky text; and top_contexts.csv-style rows from
 * ids round-trip: the token_display column undone equals the decoded token column. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <math.h>

#include "analysis.h"
#include "io.h"
#include "test.h"
#include "tokenizer.h"

/* The inverse of the display rules (tokenizer.h), independent of the implementation. */
static size_t undisplay(const char *s, char *out) {
    size_t k = 0;
    int leading = 1;
    while (*s) {
        if (leading && !strncmp(s, "\xE2\x90\xA3", 3)) { out[k++] = ' '; s += 3; continue; }
        leading = 0;
        if (s[0] == '\\') {
            char c = s[1];
            if (c == '\\') out[k++] = '\\', s += 2;
            else if (c == 'n') out[k++] = '\n', s += 2;
            else if (c == 't') out[k++] = '\t', s += 2;
            else if (c == 'r') out[k++] = '\r', s += 2;
            else if (c == 'x') { char h[3] = {s[2], s[3], 0}; out[k++] = (char)strtol(h, NULL, 16); s += 4; }
            else if (c == 'u' && !strncmp(s, "\\u2423", 6)) memcpy(out + k, "\xE2\x90\xA3", 3), k += 3, s += 6;
            else return (size_t)-1;
        } else {
            out[k++] = *s++;
        }
    }
    return k;
}

static int valid_utf8(const unsigned char *s) {
    while (*s) {
        int n = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3 : (*s & 0xF8) == 0xF0 ? 4 : 0;
        if (!n) return 0;
        for (int i = 1; i < n; i++) if ((s[i] & 0xC0) != 0x80) return 0;
        s += n;
    }
    return 1;
}

/* top_contexts.csv of a real `analyze stats` run (gpt2-tiny fixture, ../shared): every row's
 * token_display is the display of its token_id, undoes to decode([token_id]), and the token
 * column is that decoded text; the context text decodes back from its own encoding
 * (decode(encode(text)) == text) whenever it holds whole characters only. */
static void csv_round_trip(void) {
    const char *sh = getenv("SAETOX_SHARED"), *bin = getenv("SAETOX_BIN"), *tmp = getenv("SAETOX_TMP");
    char m[1024], tk[1024], txt[1024];
    if (!sh || !bin) {
        printf("skipped the CSV part: SAETOX_SHARED / SAETOX_BIN not set\n");
        return;
    }
    snprintf(m, sizeof m, "%s/fixtures/gpt2-tiny", sh);
    snprintf(tk, sizeof tk, "%s/data/gpt2-tokenizer", sh);
    snprintf(txt, sizeof txt, "%s/data/text/tinyshakespeare.txt", sh);
    if (access(m, R_OK) || access(tk, R_OK) || access(txt, R_OK)) {
        printf("skipped the CSV part: ../shared fixtures not found\n");
        return;
    }
    char d[1024], cmd[32768];
    snprintf(d, sizeof d, "%s/token_display", tmp ? tmp : "/tmp");
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s' && head -c 6000 '%s' > '%s/t.txt' && printf '\\360\\237\\230\\241 "
             "caf\\303\\251 <|endoftext|> \\\\x\\n' >> '%s/t.txt' && "
             "'%s' cache --model '%s' --tokenizer '%s' --data 'text:%s/t.txt' --hook blocks.1.hook_resid_post "
             "--context-size 64 --tokens 1200 --out '%s/c.h5' >'%s/log' 2>&1 && "
             "'%s' analyze stats --sae '%s/fixtures/sae/saelens-relu' --cache '%s/c.h5' --tokenizer '%s' --top-n 4 "
             "--quiet --out '%s/stats' >>'%s/log' 2>&1",
             d, d, txt, d, d, bin, m, tk, d, d, d, bin, sh, d, tk, d, d);
    int r = system(cmd);
    CHECK(r == 0, "cache + analyze stats on the fixture (log in %s/log)", d);
    if (r) return;
    sx_tokenizer *t = NULL;
    sx_err err = {0};
    char path[4200];
    snprintf(path, sizeof path, "%s/stats/top_contexts.csv", d);
    sx_csv_table c;
    if (sx_tokenizer_load(tk, &t, &err) || sx_csv_read(path, &c, &err)) {
        CHECK(0, "%s", err.msg);
        sx_tokenizer_free(t);
        return;
    }
    int ci = sx_csv_col(&c, "token_id"), cd = sx_csv_col(&c, "token_display"), ct = sx_csv_col(&c, "token");
    int cb = sx_csv_col(&c, "context_before"), ca = sx_csv_col(&c, "context_after");
    CHECK(ci >= 0 && cd >= 0 && ct >= 0, "token_id, token_display, token columns");
    int64_t bad = 0, texts = 0;
    for (int64_t r0 = 0; ci >= 0 && r0 < c.nrows; r0++) {
        int id = atoi(sx_csv_cell(&c, r0, ci));
        char disp[1024], back[1024];
        sx_tokenizer_token_display(t, id, disp, sizeof disp);
        char *raw;
        size_t len;
        sx_tokenizer_decode(t, &id, 1, &raw, &len, &err);
        size_t k = undisplay(sx_csv_cell(&c, r0, cd), back);
        if (strcmp(disp, sx_csv_cell(&c, r0, cd)) || k != len || memcmp(back, raw, len)) bad++;
        if (!strstr(raw, "\\") && !strstr(sx_csv_cell(&c, r0, ct), "\\x") && strcmp(raw, sx_csv_cell(&c, r0, ct))) bad++;
        free(raw);
        /* the context as text: decode(encode(text)) == text when it holds no \xNN escape */
        char ctx[8192];
        snprintf(ctx, sizeof ctx, "%s%s%s", sx_csv_cell(&c, r0, cb), sx_csv_cell(&c, r0, ct), sx_csv_cell(&c, r0, ca));
        if (strstr(ctx, "\\x")) continue;
        int32_t *ids;
        int n;
        char *dec;
        if (sx_tokenizer_encode(t, ctx, strlen(ctx), 0, &ids, &n, &err) ||
            sx_tokenizer_decode(t, ids, n, &dec, &len, &err)) { bad++; continue; }
        if (len != strlen(ctx) || memcmp(dec, ctx, len)) bad++;
        texts++;
        free(ids), free(dec);
    }
    CHECK(c.nrows > 100 && texts > 100, "%lld context rows, %lld round-tripped as text", (long long)c.nrows, (long long)texts);
    CHECK(bad == 0, "%lld rows of top_contexts.csv do not round-trip", (long long)bad);

    /* sx_feature_details on the same cache against analyze stats (a separate code path: the
     * streamed top-N heaps): the top example is each latent's rank-1 activation; the
     * histogram holds every firing token; bands partition them; every example's centre
     * value is its activation and lies in its band; values per token are the latent's. */
    int64_t lat[3];
    double top1[3];
    int nl = 0;
    int cl = sx_csv_col(&c, "latent"), cr = sx_csv_col(&c, "rank"), cv = sx_csv_col(&c, "activation");
    for (int64_t r0 = 0; r0 < c.nrows && nl < 3; r0++)
        if (atoi(sx_csv_cell(&c, r0, cr)) == 1 && atof(sx_csv_cell(&c, r0, cv)) > 0)
            lat[nl] = atoll(sx_csv_cell(&c, r0, cl)), top1[nl++] = atof(sx_csv_cell(&c, r0, cv));
    char sae[1100], cache[1100];
    snprintf(sae, sizeof sae, "%s/fixtures/sae/saelens-relu", sh);
    snprintf(cache, sizeof cache, "%s/c.h5", d);
    sx_feature_opts fo = {.sae = sae, .cache = cache, .tokenizer_dir = tk, .seed = 3};
    sx_feature_detail *fd = NULL;
    CHECK(nl == 3 && sx_feature_details(&fo, lat, nl, &fd, &err) == 0, "feature details: %s", err.msg);
    for (int l = 0; fd && l < nl; l++) {
        const sx_feature_detail *f = &fd[l];
        int64_t sum = 0;
        for (int b = 0; b < f->n_bins; b++) sum += f->bin_count[b];
        CHECK(sum == f->n_fire && f->n_fire > 0, "latent %lld: histogram holds the %lld firing tokens (%lld)",
              (long long)lat[l], (long long)f->n_fire, (long long)sum);
        CHECK(f->n_rows == 1200, "all 1200 rows seen: %lld", (long long)f->n_rows);
        CHECK(f->n_ex > 0 && f->ex[0].band == -1 && fabs(f->ex[0].act - top1[l]) <= 1e-5 * top1[l] + 1e-6,
              "latent %lld: top example %.6g = analyze stats' rank 1 %.6g", (long long)lat[l], f->n_ex ? f->ex[0].act : 0, top1[l]);
        CHECK(fabs(f->max_act - f->ex[0].act) < 1e-12, "max = top example");
        double share = 0;
        int prev_band = -2, sorted = 1;
        for (int i = 0; i < f->n_ex; i++) {
            const sx_feature_example *e = &f->ex[i];
            CHECK(e->vals[e->centre] == (float)e->act, "centre value is the activation");
            CHECK(e->text[e->centre] && e->ids[e->centre] >= 0, "centre token known");
            if (e->band < 0) {
                if (i && e->act > f->ex[i - 1].act) sorted = 0;
                continue;
            }
            CHECK(e->act > e->bin_min - 1e-9 && e->act <= e->bin_max + 1e-9, "band example %.4g in [%.4g, %.4g]", e->act, e->bin_min, e->bin_max);
            if (e->band != prev_band) share += e->bin_contains, prev_band = e->band;
        }
        CHECK(sorted, "top examples descend");
        CHECK(share <= 1 + 1e-9, "band shares sum to at most 1: %.6f", share);
    }
    sx_feature_details_free(fd, nl);
    sx_csv_free(&c);
    sx_tokenizer_free(t);
}

int main(void) {
    const char *src = getenv("SAETOX_SOURCE");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/embedded", src ? src : ".");
    sx_tokenizer *t = NULL;
    sx_err err = {0};
    if (sx_tokenizer_load(dir, &t, &err)) {
        printf("SKIP: %s\n", err.msg);
        return 77;
    }
    int V = sx_tokenizer_vocab_size(t), bad = 0, partial = 0, spaced = 0;
    char disp[2048], back[2048];
    for (int id = 0; id < V; id++) {
        int n = sx_tokenizer_token_display(t, id, disp, sizeof disp);
        if (n < 0 || (size_t)n >= sizeof disp) { bad++; continue; }
        if (sx_tokenizer_is_special(t, id)) continue;
        char *raw;
        size_t len;
        if (sx_tokenizer_decode(t, &id, 1, &raw, &len, &err)) { bad++; continue; }
        size_t k = undisplay(disp, back);
        if (k != len || memcmp(back, raw, len) || !valid_utf8((const unsigned char *)disp)) {
            if (bad++ < 5) fprintf(stderr, "id %d: display '%s' does not undo to the decoded bytes\n", id, disp);
        }
        partial += strstr(disp, "\\x") != NULL;
        spaced += !strncmp(disp, "\xE2\x90\xA3", 3);
        free(raw);
    }
    CHECK(bad == 0, "%d of %d tokens do not round-trip through the display", bad, V);
    CHECK(partial > 100, "GPT-2 has byte tokens that are not whole characters: %d shown as \\xNN", partial);
    CHECK(spaced > 10000, "leading-space tokens carry the mark: %d", spaced);
    int eot = sx_tokenizer_token_id(t, "<|endoftext|>");
    CHECK(eot >= 0 && sx_tokenizer_token_display(t, eot, disp, sizeof disp) > 0 && !strcmp(disp, "<|endoftext|>"),
          "<|endoftext|> is one token: '%s'", disp);
    int you = sx_tokenizer_token_id(t, "\xC4\xA0You");
    sx_tokenizer_token_display(t, you, disp, sizeof disp);
    CHECK(!strcmp(disp, "\xE2\x90\xA3You"), "'\\u0120You' displays as '\\u2423You': '%s'", disp);
    CHECK(sx_tokenizer_token_display(t, V, disp, sizeof disp) == -1 && !disp[0], "an id outside the vocabulary");
    char small[4];
    int full = sx_tokenizer_token_display(t, you, small, sizeof small);
    CHECK(full == 6 && strlen(small) < sizeof small, "truncation returns the full length (%d)", full);

    /* decode(encode(text)) == text, and per-token display undone and joined == text */
    const char *text = "You are a \xF0\x9F\x98\xA1 idiot!\n\tcaf\xC3\xA9 \\back <|endoftext|> \xE2\x90\xA3 end";
    int32_t *ids;
    int n;
    CHECK(sx_tokenizer_encode(t, text, strlen(text), 0, &ids, &n, &err) == 0, "encode: %s", err.msg);
    char *dec;
    size_t dl;
    CHECK(sx_tokenizer_decode(t, ids, n, &dec, &dl, &err) == 0 && dl == strlen(text) && !memcmp(dec, text, dl),
          "decode(encode(text)) == text");
    char joined[4096];
    size_t jl = 0;
    for (int i = 0; i < n; i++) {
        sx_tokenizer_token_display(t, ids[i], disp, sizeof disp);
        size_t k = undisplay(disp, joined + jl);
        CHECK(k != (size_t)-1, "token %d display '%s' parses", i, disp);
        if (k != (size_t)-1) jl += k;
    }
    CHECK(jl == strlen(text) && !memcmp(joined, text, jl), "the displayed tokens undo to the text");
    free(ids), free(dec);
    sx_tokenizer_free(t);
    csv_round_trip();
    return TEST_DONE();
}
