/* Data readers of the LM trainer: documents of plain text, JSONL (dotted, concatenated
 * fields) and RFC 4180 CSV; HTML entity decoding. */
#include "io.h"
#include "lmtrain.h"
#include "test.h"

typedef struct {
    char docs[16][128];
    int n;
} coll;

static int on_doc(void *u, const char *t, size_t n, sx_err *err) {
    coll *c = u;
    if (c->n < 16) snprintf(c->docs[c->n], 128, "%.*s", (int)n, t);
    c->n++;
    return 0;
}

static void put(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    fputs(s, f);
    fclose(f);
}

int main(void) {
    char s[] = "a &amp; b &lt;3 &#39;x&#39; &#x1F600; &bogus; &#;";
    size_t n = sx_html_decode(s, strlen(s), 0); /* the io layer's decoder (tests/io has the rest) */
    s[n] = 0;
    CHECK(strcmp(s, "a & b <3 'x' \xF0\x9F\x98\x80 &bogus; &#;") == 0, "unescape: '%s'", s);

    const char *dir = test_tmpdir("lmtrain_data");
    char p[4200], spec[4400];
    sx_err err;
    coll c = {.n = 0};
    snprintf(p, sizeof p, "%.4000s/t.txt", dir);
    put(p, "\nFirst para\nline two\n\n\n\nSecond\r\n\r\nThird\n");
    CHECK(sx_lm_read_docs(p, 0, on_doc, &c, &err) == 0, "text: %s", err.msg);
    CHECK(c.n == 3 && !strcmp(c.docs[0], "First para\nline two") && !strcmp(c.docs[1], "Second") &&
              !strcmp(c.docs[2], "Third"),
          "text docs: %d '%s' '%s'", c.n, c.docs[0], c.docs[1]);

    c.n = 0;
    snprintf(p, sizeof p, "%.4000s/j.jsonl", dir);
    put(p, "{\"prompt\":{\"text\":\"Hi &amp;\"},\"continuation\":{\"text\":\" there\"}}\n\n"
           "{\"prompt\":{\"text\":\"only\"},\"continuation\":{\"text\":null}}\n");
    snprintf(spec, sizeof spec, "%.4100s#prompt.text+continuation.text", p);
    CHECK(sx_lm_read_docs(spec, 1, on_doc, &c, &err) == 0, "jsonl: %s", err.msg);
    CHECK(c.n == 2 && !strcmp(c.docs[0], "Hi & there") && !strcmp(c.docs[1], "only"),
          "jsonl docs: %d '%s'", c.n, c.docs[0]);
    put(p, "{\"a\":\"x\"}\nnot json\n");
    snprintf(spec, sizeof spec, "%.4100s#a", p);
    CHECK(sx_lm_read_docs(spec, 0, on_doc, &c, &err) != 0 && strstr(err.msg, "j.jsonl:2: not a JSON object"),
          "bad jsonl line: %s", err.msg);
    CHECK(sx_lm_read_docs(p, 0, on_doc, &c, &err) != 0 && strstr(err.msg, "#FIELD"), "jsonl needs a field");

    c.n = 0;
    snprintf(p, sizeof p, "%.4000s/c.csv", dir);
    put(p, ",count,tweet\r\n0,3,\"say \"\"hi\"\"\nnext line\"\r\n1,2,plain &amp; simple\r\n");
    snprintf(spec, sizeof spec, "%.4100s#tweet", p);
    CHECK(sx_lm_read_docs(spec, 1, on_doc, &c, &err) == 0, "csv: %s", err.msg);
    CHECK(c.n == 2 && !strcmp(c.docs[0], "say \"hi\"\nnext line") && !strcmp(c.docs[1], "plain & simple"),
          "csv docs: %d '%s' '%s'", c.n, c.docs[0], c.docs[1]);
    snprintf(spec, sizeof spec, "%.4100s#nope", p);
    CHECK(sx_lm_read_docs(spec, 1, on_doc, &c, &err) != 0 && strstr(err.msg, "no column 'nope'"),
          "missing column: %s", err.msg);
    put(p, "a,b\n1,2,3\n");
    snprintf(spec, sizeof spec, "%.4100s#a", p);
    /* the io CSV reader's message: file:line and both field counts */
    CHECK(sx_lm_read_docs(spec, 1, on_doc, &c, &err) != 0 &&
              strstr(err.msg, "c.csv:2: expected 2 fields (as in the header), got 3"),
          "ragged csv: %s", err.msg);
    /* SOURCE syntax works too (a document per record) */
    c.n = 0;
    put(p, "text,n\nfirst &amp; one,1\nsecond,2\n");
    snprintf(spec, sizeof spec, "csv:%.4100s#text", p);
    CHECK(sx_lm_read_docs(spec, 1, on_doc, &c, &err) == 0, "csv source: %s", err.msg);
    CHECK(c.n == 2 && !strcmp(c.docs[0], "first & one") && !strcmp(c.docs[1], "second"),
          "csv source docs: %d '%s'", c.n, c.n ? c.docs[0] : "");
    CHECK(sx_lm_read_docs("/nonexistent/x.txt", 0, on_doc, &c, &err) != 0, "missing file accepted");
    return TEST_DONE();
}
