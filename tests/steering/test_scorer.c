/* test_scorer.c — scorer weights file round trip and rejection of corrupt files, feature
 * normalisation, AUROC and bootstrap sanity. */
#include "analysis.h"
#include "steering.h"
#include "test.h"

static void test_file_format(void) {
    const char *dir = test_tmpdir("steering_scorer");
    sx_err err;
    sx_scorer_cfg cfg = {.log2_buckets = 12, .word_ngrams = 2, .char_min = 3, .char_max = 5};
    sx_scorer *s = sx_scorer_new(&cfg, &err);
    CHECK(s != NULL, "new");
    sx_rng r;
    sx_rng_seed(&r, 7);
    for (int i = 0; i < 1 << 12; i++) s->w[i] = (float)sx_rng_normal(&r);
    s->bias = -0.25f;
    char path[4200], bad[4200];
    snprintf(path, sizeof path, "%s/w.bin", dir);
    snprintf(bad, sizeof bad, "%s/bad.bin", dir);
    CHECK(sx_scorer_save(s, path, 0, &err) == 0, "save f32: %s", err.msg);
    sx_scorer *t = NULL;
    CHECK(sx_scorer_load(path, &t, &err) == 0, "load: %s", err.msg);
    if (t) {
        CHECK(t->bias == s->bias && memcmp(t->w, s->w, sizeof(float) << 12) == 0, "f32 round trip exact");
        const char *txt = "You absolute m0r0n, shuuut up!";
        CHECK(sx_scorer_score(t, txt, strlen(txt)) == sx_scorer_score(s, txt, strlen(txt)), "same score");
        sx_scorer_free(t);
    }
    char *buf;
    size_t len;
    CHECK(sx_read_file(path, 1 << 24, &buf, &len, &err) == 0, "read");
    /* flipped weight byte -> checksum */
    buf[100] ^= 0x40;
    sx_write_file_atomic(bad, buf, len, &err);
    CHECK(sx_scorer_load(bad, &t, &err) != 0 && strstr(err.msg, "checksum"), "corrupt rejected: %s", err.msg);
    CHECK(strchr(err.msg, '\n') == NULL && strstr(err.msg, bad), "one line naming the file");
    buf[100] ^= 0x40;
    /* truncated */
    sx_write_file_atomic(bad, buf, len - 9, &err);
    CHECK(sx_scorer_load(bad, &t, &err) != 0 && strstr(err.msg, "truncated"), "truncated rejected: %s", err.msg);
    sx_write_file_atomic(bad, buf, 20, &err);
    CHECK(sx_scorer_load(bad, &t, &err) != 0 && strstr(err.msg, "truncated"), "short rejected: %s", err.msg);
    /* wrong magic */
    buf[0] = 'X';
    sx_write_file_atomic(bad, buf, len, &err);
    CHECK(sx_scorer_load(bad, &t, &err) != 0 && strstr(err.msg, "magic"), "magic rejected: %s", err.msg);
    buf[0] = 'S';
    /* trailing garbage */
    char *big = malloc(len + 3);
    memcpy(big, buf, len);
    memcpy(big + len, "abc", 3);
    sx_write_file_atomic(bad, big, len + 3, &err);
    CHECK(sx_scorer_load(bad, &t, &err) != 0 && strstr(err.msg, "trailing"), "trailing rejected: %s", err.msg);
    free(big);
    free(buf);
    /* f16 file: half size, weights rounded to half */
    CHECK(sx_scorer_save(s, path, 1, &err) == 0, "save f16");
    CHECK(sx_scorer_load(path, &t, &err) == 0, "load f16: %s", err.msg);
    if (t) {
        double md = 0;
        for (int i = 0; i < 1 << 12; i++) md = fmax(md, fabs(t->w[i] - s->w[i]));
        CHECK(md < 4e-3, "f16 weights close (%g)", md);
        sx_scorer_free(t);
    }
    sx_scorer_free(s);
}

static void test_normalise(void) {
    struct { const char *in, *out; } C[] = {
        {"RT @some_user: You are SOOOO dumb &amp; stupid!!! http://t.co/x", "you are soo dumb stupid url"},
        {"sh1t f*ck b1tch", "shit f*ck bitch"},
        {"\xe2\x80\x9cIt\xe2\x80\x99s fine\xe2\x80\x9d", "it fine"},
        {"Numbers 2024 stay", "numbers 2024 stay"},
        {"", ""}};
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char *n = sx_scorer_normalise(C[i].in, strlen(C[i].in));
        CHECK(n && !strcmp(n, C[i].out), "normalise '%s' -> '%s' (want '%s')", C[i].in, n ? n : "(null)", C[i].out);
        free(n);
    }
    sx_scorer_cfg cfg = {.log2_buckets = 16, .word_ngrams = 2, .char_min = 3, .char_max = 5};
    sx_feats f = {0};
    CHECK(sx_scorer_features(&cfg, "hello world", 11, &f) == 0, "features");
    double ss = 0;
    int sorted = 1;
    for (int i = 0; i < f.n; i++) {
        ss += f.val[i] * f.val[i];
        if (i && f.idx[i] <= f.idx[i - 1]) sorted = 0;
    }
    CHECK_NEAR(ss, 1.0, 1e-5, "L2-normalised");
    CHECK(sorted && f.n > 10, "sorted unique indices (%d)", f.n);
    CHECK(sx_scorer_features(&cfg, "", 0, &f) == 0 && f.n == 0, "empty text has no features");
    sx_feats_free(&f);
}

static void test_metrics(void) {
    double s[] = {0.1, 0.4, 0.35, 0.8};
    int y[] = {0, 0, 1, 1};
    CHECK_NEAR(sx_auroc(s, y, 4), 0.75, 1e-12, "auroc sklearn example");
    double s2[] = {0.5, 0.5, 0.5, 0.5};
    CHECK_NEAR(sx_auroc(s2, y, 4), 0.5, 1e-12, "ties give 0.5");
    int y1[] = {1, 1, 1, 1};
    CHECK(isnan(sx_auroc(s, y1, 4)), "one class: NaN");
    sx_binary_metrics m;
    sx_binary_eval(s, y, 4, 0.38, &m);
    CHECK(m.tp == 1 && m.fp == 1 && m.fn == 1 && m.tn == 1, "confusion");
    CHECK_NEAR(m.precision, 0.5, 1e-12, "precision");
    /* bootstrap: Bernoulli(0.3) sample of 2000: CI contains the estimate, has width about
     * 2 * 1.96 * sqrt(p(1-p)/n) = 0.040, and is reproducible by seed */
    int n = 2000;
    double *x = malloc(sizeof(double) * n);
    sx_rng r;
    sx_rng_seed(&r, 3);
    for (int i = 0; i < n; i++) x[i] = sx_rng_uniform(&r) < 0.3;
    double e, lo, hi, e2, lo2, hi2;
    sx_bootstrap_ratio(x, NULL, n, 1000, 11, &e, &lo, &hi);
    sx_bootstrap_ratio(x, NULL, n, 1000, 11, &e2, &lo2, &hi2);
    CHECK(lo < e && e < hi, "CI brackets the estimate %g [%g,%g]", e, lo, hi);
    CHECK_NEAR(hi - lo, 2 * 1.96 * sqrt(e * (1 - e) / n), 0.006, "CI width");
    CHECK(lo == lo2 && hi == hi2, "seeded bootstrap reproducible");
    CHECK_NEAR(e, 0.3, 0.03, "mean");
    /* ratio: constant ratio gives a zero-width interval */
    double *den = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) den[i] = 2 * (x[i] + 1), x[i] = x[i] + 1;
    sx_bootstrap_ratio(x, den, n, 200, 5, &e, &lo, &hi);
    CHECK(e == 0.5 && lo == 0.5 && hi == 0.5, "ratio of proportional series");
    free(x);
    free(den);
}

/* The embedded default weights are the committed weights file, byte for byte. */
static void test_embedded(void) {
    const char *src = getenv("SAETOX_SOURCE");
    if (!src) return;
    char p[4200];
    snprintf(p, sizeof p, "%s/steering/weights/toxicity-scorer.bin", src);
    char *buf;
    size_t len;
    sx_err err;
    CHECK(sx_read_file(p, 1 << 26, &buf, &len, &err) == 0, "%s", err.msg);
    CHECK(len == sx_scorer_embedded_len && memcmp(buf, sx_scorer_embedded, len) == 0,
          "scorer_default.c holds steering/weights/toxicity-scorer.bin");
    free(buf);
    sx_scorer *s = NULL;
    CHECK(sx_scorer_load_mem(sx_scorer_embedded, sx_scorer_embedded_len, "embedded", &s, &err) == 0, "%s", err.msg);
    sx_scorer_free(s);
}

int main(void) {
    test_embedded();
    test_file_format();
    test_normalise();
    test_metrics();
    return TEST_DONE();
}
