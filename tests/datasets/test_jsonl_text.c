/* test_jsonl_text.c — text that cJSON alone would lose: a NUL byte or \u0000 cut the document
 * there (silently), a lone surrogate ("\ud800", as Python writes) made the line "not JSON".
 * The decision (core/jsonl.c): each becomes U+FFFD and the rest of the text is kept.  Checked
 * on sx_jsonl_parse and on a jsonl: text source, which `cache` and `analyze` read. */
#include "datasets.h"
#include "sx_json.h"
#include "test.h"

#define FFFD "\xEF\xBF\xBD"

typedef struct {
    const char *line; /* a JSON value {"text": ...}; '@' stands for a raw NUL byte */
    const char *want; /* the decoded text */
    int replaced;
} jcase;

static const jcase CASES[] = {
    {"{\"text\":\"a\\u0000b\"}", "a" FFFD "b", 1},
    {"{\"text\":\"a@b\"}", "a" FFFD "b", 1},
    {"{\"text\":\"x\\ud800y\"}", "x" FFFD "y", 1},
    {"{\"text\":\"x\\uDC00y\"}", "x" FFFD "y", 1},
    {"{\"text\":\"end\\ud800\"}", "end" FFFD, 1},
    {"{\"text\":\"hi\\ud800\\u0041\"}", "hi" FFFD "A", 1},
    {"{\"text\":\"\\ud800\\ud800z\"}", FFFD FFFD "z", 2},
    {"{\"text\":\"\\ud83d\\ude00!\"}", "\xF0\x9F\x98\x80!", 0},     /* a real pair stays */
    {"{\"text\":\"back\\\\u0000slash\"}", "back\\u0000slash", 0},   /* an escaped backslash */
    {"{\"text\":\"q\\\"\\u0000\", \"k\":\"\\u0000\"}", "q\"" FFFD, 2},
    {"{\"text\":\"plain \\u00e9\"}", "plain \xC3\xA9", 0},
};
#define NCASES (sizeof CASES / sizeof *CASES)

static size_t raw(const char *line, char *out) {
    size_t n = strlen(line);
    for (size_t i = 0; i < n; i++) out[i] = line[i] == '@' ? 0 : line[i];
    return n;
}

int main(void) {
    char buf[256];
    for (size_t i = 0; i < NCASES; i++) {
        size_t n = raw(CASES[i].line, buf);
        int rep = -1;
        cJSON *j = sx_jsonl_parse(buf, n, &rep);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        CHECK(cJSON_IsString(t) && strcmp(t->valuestring, CASES[i].want) == 0 && rep == CASES[i].replaced,
              "case %zu %s: got [%s], %d replaced", i, CASES[i].line, cJSON_IsString(t) ? t->valuestring : "(none)",
              rep);
        cJSON_Delete(j);
    }
    char nul_out[] = "{\"a\":1, \"b\":2}";
    nul_out[7] = 0; /* a raw NUL between tokens, outside any string: not JSON */
    cJSON *bad0 = sx_jsonl_parse(nul_out, 15, NULL);
    CHECK(bad0 == NULL, "a raw NUL between tokens is invalid JSON");
    cJSON_Delete(bad0);
    cJSON *bad = sx_jsonl_parse("{\"text\":\"a\"", 11, NULL);
    CHECK(bad == NULL, "an unterminated object is still invalid");
    cJSON_Delete(bad);

    /* the same lines through a jsonl: source */
    const char *dir = test_tmpdir("jsonl_text");
    char path[4200], spec[4300];
    snprintf(path, sizeof path, "%s/t.jsonl", dir);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < NCASES; i++) {
        size_t n = raw(CASES[i].line, buf);
        fwrite(buf, 1, n, f);
        fputc('\n', f);
    }
    fclose(f);
    snprintf(spec, sizeof spec, "jsonl:%s#text", path);
    sx_source_opts o = {0};
    sx_text_source *s;
    sx_err err = {0};
    CHECK(sx_source_open(spec, &o, &s, &err) == 0, "open: %s", err.msg);
    sx_doc d;
    size_t k = 0;
    int r;
    while ((r = sx_source_next(s, &d, &err)) == 1) {
        if (k < NCASES)
            CHECK(d.len == strlen(CASES[k].want) && memcmp(d.text, CASES[k].want, d.len) == 0,
                  "source doc %zu: [%.*s] (%zu bytes)", k, (int)d.len, d.text, d.len);
        k++;
    }
    CHECK(r == 0 && k == NCASES, "every line is a document: %zu, %s", k, r ? err.msg : "");
    sx_source_close(s);
    return TEST_DONE();
}
