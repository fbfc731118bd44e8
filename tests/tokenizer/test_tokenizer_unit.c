/* test_tokenizer_unit.c — tokenizer unit tests: hand-made GPT-2 and tokenizer.json vocabularies
 * (always run), invalid UTF-8, empty input, bad / missing files, and known ids on the real
 * GPT-2 and Gemma files (those parts are skipped when ../shared is absent). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "sx_json.h"
#include "tokenizer.h"

static const char *INVALID[] = {
    "\x80", "\xbf\x80\x80", "abc\x80xyz", "\xe2\x82", "\xe2\x82 tail", "\xf0\x9f\x98",
    "\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
    "\xff\xfe\xfd", "ok \xc3\x28 \xa0\xa1 done", "\xc3", "'\x80s \x80\x80 12\x85" "3",
    "\xe2\x96", /* a truncated '▁' */
};

static int encode(const sx_tokenizer *t, const char *s, size_t n, int add, int32_t **ids) {
    sx_err err = {0};
    int n_ids = -1;
    if (sx_tokenizer_encode(t, s, n, add, ids, &n_ids, &err)) {
        fprintf(stderr, "encode failed: %s\n", err.msg);
        return -1;
    }
    return n_ids;
}

/* decode(encode(s)) == s, and every id in range. */
static void round_trip(const sx_tokenizer *t, const char *s, size_t n, const char *what) {
    int32_t *ids;
    int k = encode(t, s, n, 0, &ids);
    CHECK(k >= 0, "%s: encode of %zu bytes failed", what, n);
    if (k < 0) return;
    for (int i = 0; i < k; i++)
        CHECK(ids[i] >= 0 && ids[i] < sx_tokenizer_vocab_size(t), "%s: id %d out of range", what,
              (int)ids[i]);
    char *back = NULL;
    size_t blen = 0;
    sx_err err = {0};
    int rc = sx_tokenizer_decode(t, ids, k, &back, &blen, &err);
    CHECK(rc == 0 && blen == n && !memcmp(back, s, n), "%s: round trip of %zu bytes failed (%s)",
          what, n, rc ? err.msg : "different bytes");
    free(back);
    free(ids);
}

/* Random byte strings (ASCII, spaces, quotes, continuation and lead bytes): never a crash,
 * always an exact round trip (strings holding "▁", which decodes to a space, are skipped). */
static void fuzz(const sx_tokenizer *t, uint64_t seed, const char *what) {
    static const char pick[] = " 'sa1\n\t\x80\xbf\xc3\xe2\x96\x81\xf0\x9f\xff\xed\xa0";
    sx_rng r;
    sx_rng_seed(&r, seed);
    char buf[301];
    for (int i = 0; i < 300; i++) {
        size_t n = (size_t)sx_rng_below(&r, 300);
        for (size_t k = 0; k < n; k++)
            buf[k] = sx_rng_below(&r, 3) ? pick[sx_rng_below(&r, sizeof pick - 1)]
                                         : (char)sx_rng_below(&r, 256);
        buf[n] = 0;
        if (memmem(buf, n, "\xe2\x96\x81", 3)) continue;
        round_trip(t, buf, n, what);
    }
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    sx_err err;
    if (sx_write_file_atomic(p, text, strlen(text), &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

/* GPT-2's bytes_to_unicode as UTF-8. */
static void byte_char(int b, char out[4]) {
    int n = 0, cp = b;
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) {
        for (int c = 0; c < b; c++)
            if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE)) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    }
}

/* A GPT-2 style folder with 256 byte tokens and three merges: Ġ t, h e, Ġt he. */
static void make_tiny_gpt2(const char *dir) {
    cJSON *v = cJSON_CreateObject();
    for (int b = 0; b < 256; b++) {
        char c[4];
        byte_char(b, c);
        cJSON_AddNumberToObject(v, c, b);
    }
    cJSON_AddNumberToObject(v, "\xc4\xa0t", 256); /* Ġt */
    cJSON_AddNumberToObject(v, "he", 257);
    cJSON_AddNumberToObject(v, "\xc4\xa0the", 258);
    cJSON_AddNumberToObject(v, "<|endoftext|>", 259);
    char *s = cJSON_PrintUnformatted(v);
    write_file(dir, "vocab.json", s);
    free(s);
    cJSON_Delete(v);
    write_file(dir, "merges.txt", "#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\n");
}

static void test_tiny_gpt2(void) {
    const char *dir = test_tmpdir("tokenizer-unit/gpt2");
    make_tiny_gpt2(dir);
    sx_err err = {0};
    sx_tokenizer *t;
    CHECK(sx_tokenizer_load(dir, &t, &err) == 0, "tiny gpt2: %s", err.msg);
    if (!t) return;
    int32_t *ids;
    int n = encode(t, " the the", 8, 1, &ids);
    CHECK(n == 2 && ids[0] == 258 && ids[1] == 258, "' the the' -> %d ids", n);
    free(ids);
    n = encode(t, "the", 3, 1, &ids);
    CHECK(n == 2 && ids[0] == 't' && ids[1] == 257,
          "'the' -> t,he (got %d ids)", n);
    free(ids);
    CHECK(sx_tokenizer_adds_bos(t) == 0, "GPT-2 adds no BOS");
    CHECK(sx_tokenizer_bos(t) == 259 && sx_tokenizer_eos(t) == 259, "<|endoftext|> is BOS/EOS");
    CHECK(sx_tokenizer_token_id(t, "he") == 257, "token_id");
    CHECK(sx_tokenizer_token_str(t, 258) && !strcmp(sx_tokenizer_token_str(t, 258), "\xc4\xa0the"),
          "token_str");
    CHECK(sx_tokenizer_token_str(t, 100000) == NULL, "token_str out of range");
    n = encode(t, "", 0, 1, &ids);
    CHECK(n == 0, "empty text gives %d ids", n);
    free(ids);
    for (size_t i = 0; i < sizeof INVALID / sizeof *INVALID; i++)
        round_trip(t, INVALID[i], strlen(INVALID[i]), "tiny gpt2 invalid utf-8");
    round_trip(t, "a\0b\0", 4, "NUL bytes");
    fuzz(t, 1, "tiny gpt2 fuzz");
    int32_t bad = 5000;
    char *text;
    size_t len;
    CHECK(sx_tokenizer_decode(t, &bad, 1, &text, &len, &err) == -1 && strstr(err.msg, "5000"),
          "decode of a bad id must fail naming it");
    sx_tokenizer_free(t);

    /* a broken merges file is an error naming the file */
    const char *bad_dir = test_tmpdir("tokenizer-unit/gpt2-bad");
    make_tiny_gpt2(bad_dir);
    write_file(bad_dir, "merges.txt", "#version: 0.2\n\xc4\xa0 t extra\n");
    CHECK(sx_tokenizer_load(bad_dir, &t, &err) == -1 && strstr(err.msg, "merges.txt"),
          "bad merges: %s", err.msg);
    write_file(bad_dir, "merges.txt", "#version: 0.2\nq zz\n");
    CHECK(sx_tokenizer_load(bad_dir, &t, &err) == -1 && strstr(err.msg, "merges.txt"),
          "merge of unknown tokens: %s", err.msg);
}

/* A tokenizer.json with [a, b] merges, byte fallback, a Prepend + Replace normalizer and
 * added tokens with lstrip / rstrip. */
static void test_tiny_hf(void) {
    const char *dir = test_tmpdir("tokenizer-unit/hf");
    char json[8192];
    snprintf(json, sizeof json,
        "{\"version\":\"1.0\",\"added_tokens\":["
        "{\"id\":0,\"content\":\"<s>\",\"special\":true,\"lstrip\":false,\"rstrip\":false},"
        "{\"id\":1,\"content\":\"<sep>\",\"special\":true,\"lstrip\":true,\"rstrip\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":["
        "{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},"
        "\"pre_tokenizer\":null,"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
        "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
        "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[0],\"tokens\":[\"<s>\"]}}},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":["
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},"
        "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
        "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
        "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,"
        "\"fuse_unk\":true,\"vocab\":{\"<s>\":0,\"<sep>\":1,\"<unk>\":2,"
        "\"\\u2581\":3,\"a\":4,\"b\":5,\"\\u2581a\":6,\"ab\":7,\"\\u2581ab\":8");
    size_t k = strlen(json);
    for (int b = 0; b < 256; b++)
        k += (size_t)snprintf(json + k, sizeof json - k, ",\"<0x%02X>\":%d", b, 9 + b);
    snprintf(json + k, sizeof json - k,
             "},\"merges\":[[\"\\u2581\",\"a\"],\"a b\",[\"\\u2581a\",\"b\"]]}}");
    write_file(dir, "tokenizer.json", json);
    sx_err err = {0};
    sx_tokenizer *t;
    CHECK(sx_tokenizer_load(dir, &t, &err) == 0, "tiny hf: %s", err.msg);
    if (!t) return;
    CHECK(sx_tokenizer_adds_bos(t) == 1 && sx_tokenizer_bos(t) == 0, "BOS from the template");
    int32_t *ids;
    /* "ab ab" -> prepend: "▁ab▁ab" -> ▁ab ▁ab */
    int n = encode(t, "ab ab", 5, 1, &ids);
    CHECK(n == 3 && ids[0] == 0 && ids[1] == 8 && ids[2] == 8, "'ab ab' -> <s> ▁ab ▁ab (%d ids)", n);
    free(ids);
    /* lstrip/rstrip: spaces around <sep> vanish; each section gets its own "▁"; 'c' is not
     * in the vocabulary and falls back to <0x63> */
    n = encode(t, "a  <sep>  c", 11, 0, &ids);
    CHECK(n == 4 && ids[0] == 6 && ids[1] == 1 && ids[2] == 3 && ids[3] == 9 + 'c',
          "<sep> with strips (%d ids)", n);
    if (n == 4) {
        char *text = NULL;
        size_t len;
        CHECK(sx_tokenizer_decode(t, ids, n, &text, &len, &err) == 0 && !strcmp(text, "a<sep> c"),
              "decode with Strip: '%s'", text ? text : "?");
        free(text);
    }
    free(ids);
    for (size_t i = 0; i < sizeof INVALID / sizeof *INVALID; i++) {
        /* Prepend adds "▁" -> " " and Strip removes one leading space: round trips. */
        round_trip(t, INVALID[i], strlen(INVALID[i]), "tiny hf invalid utf-8");
    }
    fuzz(t, 2, "tiny hf fuzz");
    sx_tokenizer_free(t);

    write_file(dir, "tokenizer.json", "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}");
    CHECK(sx_tokenizer_load(dir, &t, &err) == -1 && strstr(err.msg, "tokenizer.json") &&
              strstr(err.msg, "not supported"), "WordPiece: %s", err.msg);
    write_file(dir, "tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,"
                                      "\"ab\":2},\"merges\":[\"a b\"]}}");
    CHECK(sx_tokenizer_load(dir, &t, &err) == 0, "no-unk tokenizer: %s", err.msg);
    if (t) {
        int32_t *ids2;
        int n2 = encode(t, "abab", 4, 1, &ids2);
        CHECK(n2 == 2 && ids2[0] == 2 && ids2[1] == 2, "abab -> ab ab");
        free(ids2);
        CHECK(sx_tokenizer_encode(t, "ab c", 4, 1, &ids2, &n2, &err) == -1 &&
                  strstr(err.msg, "not in the vocabulary"),
              "an unencodable character is an error: %s", err.msg);
        sx_tokenizer_free(t);
    }
    write_file(dir, "tokenizer.json", "{\"model\": [1, 2");
    CHECK(sx_tokenizer_load(dir, &t, &err) == -1 && strstr(err.msg, "tokenizer.json"),
          "broken JSON: %s", err.msg);
}

static void test_missing(void) {
    sx_err err = {0};
    sx_tokenizer *t = (sx_tokenizer *)1;
    CHECK(sx_tokenizer_load("/nonexistent/tok-dir", &t, &err) == -1 && t == NULL &&
              strstr(err.msg, "/nonexistent/tok-dir"), "missing dir: %s", err.msg);
    const char *empty = test_tmpdir("tokenizer-unit/empty");
    CHECK(sx_tokenizer_load(empty, &t, &err) == -1 && strstr(err.msg, empty) &&
              strstr(err.msg, "no tokenizer files"), "empty dir: %s", err.msg);
}

/* The same GPT-2 vocabulary as a Hugging Face tokenizer.json (ByteLevel pre-tokenizer) must
 * encode like encoder.json + vocab.bpe, and match <|endoftext|> as one added token. */
static void test_gpt2_as_hf_json(const char *gpt2_dir, const sx_tokenizer *ref) {
    char path[4200];
    sx_err err = {0};
    snprintf(path, sizeof path, "%s/encoder.json", gpt2_dir);
    cJSON *vocab = sx_json_parse_file(path, (size_t)1 << 28, &err);
    snprintf(path, sizeof path, "%s/vocab.bpe", gpt2_dir);
    char *bpe = NULL;
    size_t len;
    CHECK(vocab && !sx_read_file(path, (size_t)1 << 28, &bpe, &len, &err), "%s", err.msg);
    if (!vocab || !bpe) return;
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (char *line = strchr(bpe, '\n'); line && line[1];) {
        char *eol = strchr(++line, '\n');
        if (eol) *eol = 0;
        cJSON_AddItemToArray(merges, cJSON_CreateString(line));
        line = eol;
    }
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens"), *eot = cJSON_CreateObject();
    cJSON_AddNumberToObject(eot, "id", 50256);
    cJSON_AddStringToObject(eot, "content", "<|endoftext|>");
    cJSON_AddTrueToObject(eot, "special");
    cJSON_AddItemToArray(added, eot);
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddFalseToObject(pre, "add_prefix_space");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "decoder"), "type", "ByteLevel");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "post_processor"), "type", "ByteLevel");
    char *text = cJSON_PrintUnformatted(root);
    const char *dir = test_tmpdir("tokenizer-unit/gpt2-json");
    write_file(dir, "tokenizer.json", text);
    free(text);
    free(bpe);
    cJSON_Delete(root);
    sx_tokenizer *t;
    CHECK(sx_tokenizer_load(dir, &t, &err) == 0, "gpt2 tokenizer.json: %s", err.msg);
    if (!t) return;
    static const char *texts[] = {"Hello world", "  I'm here,\n\n  they've  gone 123 \xe4\xb8\xad!",
                                  "\xf0\x9f\x98\x80 emoji \x80 bad", ""};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        int32_t *a, *b;
        int na = encode(t, texts[i], strlen(texts[i]), 1, &a);
        int nb = encode(ref, texts[i], strlen(texts[i]), 1, &b);
        CHECK(na == nb && na >= 0 && !memcmp(a, b, (size_t)na * sizeof *a),
              "tokenizer.json vs encoder.json on text %zu", i);
        free(a);
        free(b);
        round_trip(t, texts[i], strlen(texts[i]), "gpt2 tokenizer.json");
    }
    int32_t *ids;
    int n = encode(t, "a<|endoftext|>b", 15, 1, &ids);
    CHECK(n == 3 && ids[1] == 50256, "<|endoftext|> as an added token (%d ids)", n);
    free(ids);
    CHECK(sx_tokenizer_adds_bos(t) == 0 && sx_tokenizer_bos(t) == 50256, "json GPT-2 BOS");
    sx_tokenizer_free(t);
}

static void test_real(void) {
    const char *shared = sx_shared_dir();
    if (!shared) {
        printf("SKIP (partial): ../shared not found; real-tokenizer checks not run\n");
        return;
    }
    char dir[4096];
    sx_err err = {0};
    sx_tokenizer *t;
    int32_t *ids;
    snprintf(dir, sizeof dir, "%s/data/gpt2-tokenizer", shared);
    CHECK(sx_tokenizer_load(dir, &t, &err) == 0, "gpt2: %s", err.msg);
    if (t) {
        int n = encode(t, "Hello world", 11, 1, &ids);
        CHECK(n == 2 && ids[0] == 15496 && ids[1] == 995, "GPT-2 'Hello world' (%d ids)", n);
        free(ids);
        CHECK(sx_tokenizer_vocab_size(t) == 50257 && sx_tokenizer_eos(t) == 50256, "GPT-2 vocab");
        CHECK(sx_tokenizer_is_special(t, 50256) && !sx_tokenizer_is_special(t, 995),
              "GPT-2 is_special");
        for (size_t i = 0; i < sizeof INVALID / sizeof *INVALID; i++)
            round_trip(t, INVALID[i], strlen(INVALID[i]), "gpt2 invalid utf-8");
        fuzz(t, 3, "gpt2 fuzz");
        test_gpt2_as_hf_json(dir, t);
        sx_tokenizer_free(t);
    }
    snprintf(dir, sizeof dir, "%s/data/gemma-tokenizer", shared);
    CHECK(sx_tokenizer_load(dir, &t, &err) == 0, "gemma: %s", err.msg);
    if (t) {
        static const int32_t want[] = {2, 4521, 235269, 970, 5929, 603, 9786};
        int n = encode(t, "Hello, my dog is cute", 21, 1, &ids);
        CHECK(n == 7 && !memcmp(ids, want, sizeof want), "Gemma 'Hello, my dog is cute'");
        free(ids);
        n = encode(t, "", 0, 1, &ids);
        CHECK(n == 1 && ids[0] == 2, "Gemma empty text with specials = <bos> only");
        free(ids);
        n = encode(t, "", 0, 0, &ids);
        CHECK(n == 0, "Gemma empty text without specials");
        free(ids);
        n = encode(t, "<start_of_turn>user", 19, 0, &ids);
        CHECK(n >= 2 && ids[0] == sx_tokenizer_token_id(t, "<start_of_turn>"),
              "<start_of_turn> matched as one token");
        free(ids);
        CHECK(sx_tokenizer_bos(t) == 2 && sx_tokenizer_eos(t) == 1 && sx_tokenizer_adds_bos(t),
              "Gemma BOS/EOS");
        CHECK(sx_tokenizer_is_special(t, 2) && sx_tokenizer_is_special(t, 106) &&
                  !sx_tokenizer_is_special(t, 4521) && !sx_tokenizer_is_special(t, -1),
              "Gemma is_special");
        for (size_t i = 0; i < sizeof INVALID / sizeof *INVALID; i++)
            round_trip(t, INVALID[i], strlen(INVALID[i]), "gemma invalid utf-8");
        fuzz(t, 4, "gemma fuzz");
        sx_tokenizer_free(t);
    }
}

int main(void) {
    test_tiny_gpt2();
    test_tiny_hf();
    test_missing();
    test_real();
    return TEST_DONE();
}
