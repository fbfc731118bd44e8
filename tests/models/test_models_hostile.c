/* test_models_hostile.c — hostile config.json, vocab.json and tokenizer.json files: each is
 * refused with a message naming the file and the problem, without reading freed memory
 * (ASan), converting out-of-range numbers to int (UBSan), or allocating more than the file
 * can describe; ids a post-processor emits must index the vocabulary. */
#include "model_internal.h"
#include "sx_json.h"
#include "test.h"
#include "tokenizer.h"

static const char *tmp;

static void put(const char *dir, const char *name, const char *text) {
    char p[4400];
    sx_err err;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (sx_mkdir_p(dir, &err) || sx_write_file_atomic(p, text, strlen(text), &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

/* ---- config.json token ids and sizes that are not ints ---- */
#define GPT2_CFG \
    "{\"model_type\":\"gpt2\",\"vocab_size\":100,\"n_embd\":8,\"n_layer\":1,\"n_head\":2," \
    "\"n_positions\":16%s}"

static int load_cfg(const char *extra, sx_err *err) {
    char dir[4200], json[1024];
    snprintf(dir, sizeof dir, "%s/cfg", tmp);
    snprintf(json, sizeof json, GPT2_CFG, extra);
    put(dir, "config.json", json);
    sx_model_config c;
    sx_act act;
    int rc = sx__config_load(dir, &c, &act, err);
    if (rc == 0 && strstr(extra, "\"bos_token_id\":7")) rc = c.bos_id == 7 ? 0 : -2;
    return rc;
}

static void test_config(void) {
    sx_err err = {0};
    CHECK(load_cfg(",\"bos_token_id\":7,\"eos_token_id\":[7,9],\"pad_token_id\":null", &err) == 0,
          "plain ids load: %s", err.msg);
    CHECK(load_cfg(",\"bos_token_id\":-1", &err) == 0, "a negative id means none: %s", err.msg);
    static const char *const bad[] = {
        ",\"bos_token_id\":1e30",   ",\"eos_token_id\":1e999", /* cJSON reads 1e999 as inf */
        ",\"pad_token_id\":-1e30",  ",\"eos_token_id\":[1e30]",
        ",\"bos_token_id\":2.5",    ",\"bos_token_id\":100",   /* = vocab_size */
        ",\"bos_token_id\":\"x\"",  ",\"n_inner\":1e30",       ",\"n_inner\":-3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        int rc = load_cfg(bad[i], &err);
        CHECK(rc == -1 && strstr(err.msg, "config.json") && strstr(err.msg, "must be"),
              "config.json with %s: rc %d, %s", bad[i] + 1, rc, err.msg);
    }
}

/* ---- GPT-2 vocab.json ---- */
static int load_gpt2(const char *vocab, sx_err *err) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/gpt2", tmp);
    put(dir, "vocab.json", vocab);
    put(dir, "merges.txt", "#version: 0.2\n");
    sx_tokenizer *t = NULL;
    int rc = sx_tokenizer_load(dir, &t, err);
    sx_tokenizer_free(t);
    return rc;
}

static void test_vocab_json(void) {
    sx_err err = {0};
    /* The message once read the token's name after the JSON tree was freed: ASan reports a
     * heap use-after-free; without ASan the name came out as garbage. */
    CHECK(load_gpt2("{\"!\":0,\"bad\":-1}", &err) == -1 && strstr(err.msg, "vocab.json") &&
              strstr(err.msg, "\"bad\""), "negative id: %s", err.msg);
    CHECK(load_gpt2("{\"!\":0,\"tok_named_here\":1.5}", &err) == -1 && strstr(err.msg, "tok_named_here"),
          "fractional id: %s", err.msg);
    /* 20 bytes must not ask for 1.2 GB: ids are bounded by the number of entries */
    CHECK(load_gpt2("{\"!\":0,\"a\":99999999}", &err) == -1 && strstr(err.msg, "\"a\"") &&
              strstr(err.msg, "2 entries"), "huge id: %s", err.msg);
    CHECK(load_gpt2("{\"!\":0,\"a\":1e30}", &err) == -1, "1e30 id: %s", err.msg);
}

/* ---- tokenizer.json ---- */
#define HF_HEAD "{\"added_tokens\":[{\"id\":%s,\"content\":\"<s>\",\"special\":true}]," \
                             "\"post_processor\":%s," \
                             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"<s>\":0,\"a\":%s,\"b\":2}," \
                             "\"merges\":[]}}"

static int load_hf(const char *added_id, const char *post, const char *a_id, int32_t *first,
                   sx_err *err) {
    char dir[4200], json[2048];
    snprintf(dir, sizeof dir, "%s/hf", tmp);
    snprintf(json, sizeof json, HF_HEAD, added_id, post, a_id);
    put(dir, "tokenizer.json", json);
    sx_tokenizer *t = NULL;
    int rc = sx_tokenizer_load(dir, &t, err);
    if (rc == 0 && first) {
        int32_t *ids = NULL;
        int n = 0;
        rc = sx_tokenizer_encode(t, "ab", 2, 1, &ids, &n, err);
        *first = rc == 0 && n > 0 ? ids[0] : -99;
        free(ids);
    }
    sx_tokenizer_free(t);
    return rc;
}

static void test_tokenizer_json(void) {
    sx_err err = {0};
    int32_t first = 0;
#define TMPL "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}}," \
                       "{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{\"<s>\":{\"ids\":[%s]}}}"
    char post[512];
    snprintf(post, sizeof post, TMPL, "0");
    CHECK(load_hf("0", post, "1", &first, &err) == 0 && first == 0, "template <s> = 0: %s (first %d)",
          err.msg, (int)first);
    /* a 200-byte file with id 1e8 once asked for a 3 GB calloc */
    CHECK(load_hf("0", "null", "100000000", NULL, &err) == -1 && strstr(err.msg, "tokenizer.json") &&
              strstr(err.msg, "\"a\""), "vocab id 1e8: %s", err.msg);
    CHECK(load_hf("100000000", "null", "1", NULL, &err) == -1 && strstr(err.msg, "added_tokens"),
          "added id 1e8: %s", err.msg);
    CHECK(load_hf("0", "null", "1e30", NULL, &err) == -1, "vocab id 1e30: %s", err.msg);
    /* post-processor ids: the tokenizer printed -5 and 2147483647 */
    static const char *const bad_ids[] = {"-5", "2147483647", "1e30", "3", "0.5"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        snprintf(post, sizeof post, TMPL, bad_ids[i]);
        CHECK(load_hf("0", post, "1", &first, &err) == -1 && strstr(err.msg, "post_processor"),
              "template id %s: %s", bad_ids[i], err.msg);
        snprintf(post, sizeof post, "{\"type\":\"BertProcessing\",\"cls\":[\"<s>\",%s],\"sep\":[\"b\",2]}",
                 bad_ids[i]);
        CHECK(load_hf("0", post, "1", &first, &err) == -1 && strstr(err.msg, "cls/sep"),
              "Bert cls id %s: %s", bad_ids[i], err.msg);
        snprintf(post, sizeof post, "{\"type\":\"RobertaProcessing\",\"cls\":[\"<s>\",0],\"sep\":[\"b\",%s]}",
                 bad_ids[i]);
        CHECK(load_hf("0", post, "1", &first, &err) == -1 && strstr(err.msg, "cls/sep"),
              "Roberta sep id %s: %s", bad_ids[i], err.msg);
    }
    snprintf(post, sizeof post, "{\"type\":\"BertProcessing\",\"cls\":[\"<s>\",0],\"sep\":[\"b\",2]}");
    CHECK(load_hf("0", post, "1", &first, &err) == 0 && first == 0, "Bert cls 0: %s", err.msg);
}

int main(void) {
    tmp = test_tmpdir("models_hostile");
    test_config();
    test_vocab_json();
    test_tokenizer_json();
    return TEST_DONE();
}
