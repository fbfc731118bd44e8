/* test_io.c — the io layer's CSV writer and reader (RFC 4180 quoting, embedded newlines,
 * quotes and commas, CRLF, empty fields, NaN, wrong field counts, strict vs lenient), the
 * JSONL reader (long lines, NUL / lone surrogates -> U+FFFD, bad lines named file:line,
 * archives), the HTML-entity decoder (named, decimal, hex, invalid and overlong, the &nbsp;
 * policy) and the csv: / jsonl: text sources built on them — all with exact outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "sx_json.h"
#include "schema.h"
#include "test.h"

static char dir[4096];

static void put(const char *name, const char *data, size_t n, char *path) {
    snprintf(path, 4200, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static char *slurp(const char *path, size_t *n) {
    char *b;
    sx_err err;
    return sx_read_file(path, 1 << 30, &b, n, &err) ? NULL : b;
}

static void test_csv_writer(void) {
    char p[4200];
    snprintf(p, sizeof p, "%s/w.csv", dir);
    sx_csv_writer w;
    sx_err err;
    const char *cols[] = {"a", "b", "c"};
    CHECK(sx_csv_open(&w, p, cols, 3, &err) == 0, "open: %s", err.msg);
    sx_csv_str(&w, "plain");
    sx_csv_str(&w, "has,comma");
    sx_csv_str(&w, "say \"hi\"");
    sx_csv_row(&w);
    sx_csv_str(&w, "two\nlines");
    sx_csv_str(&w, " lead");
    sx_csv_str(&w, "cr\r");
    sx_csv_row(&w);
    sx_csv_num(&w, NAN);
    sx_csv_num(&w, INFINITY);
    sx_csv_num(&w, 0.1);
    sx_csv_row(&w);
    sx_csv_empty(&w);
    sx_csv_str(&w, NULL);
    sx_csv_int(&w, -42);
    sx_csv_row(&w);
    sx_csv_num_g(&w, 1.0 / 3, 6);
    sx_csv_numf(&w, 0.5, 6);
    sx_csv_numf(&w, NAN, 6);
    sx_csv_row(&w);
    CHECK(sx_csv_close(&w, &err) == 0, "close: %s", err.msg);
    size_t n;
    char *got = slurp(p, &n);
    const char *want = "a,b,c\n"
                       "plain,\"has,comma\",\"say \"\"hi\"\"\"\n"
                       "\"two\nlines\",\" lead\",\"cr\r\"\n"
                       ",inf,0.1\n"
                       ",,-42\n"
                       "0.333333,0.500000,\n";
    CHECK(got && n == strlen(want) && memcmp(got, want, n) == 0, "writer bytes:\n%.*s", (int)n, got ? got : "");
    /* and it reads back to the same cells */
    sx_csv_table t;
    CHECK(sx_csv_read(p, &t, &err) == 0, "read back: %s", err.msg);
    CHECK(t.nrows == 5 && t.ncols == 3 && !strcmp(sx_csv_cell(&t, 0, 2), "say \"hi\"") &&
              !strcmp(sx_csv_cell(&t, 1, 0), "two\nlines") && !strcmp(sx_csv_cell(&t, 1, 1), " lead") &&
              !strcmp(sx_csv_cell(&t, 1, 2), "cr\r") && !strcmp(sx_csv_cell(&t, 3, 0), ""),
          "round trip");
    CHECK(t.line[0] == 2 && t.line[1] == 3 && t.line[2] == 5, "physical lines %lld %lld %lld",
          (long long)t.line[0], (long long)t.line[1], (long long)t.line[2]);
    double v;
    CHECK(sx_csv_get_num(&t, 2, 0, &v, &err) == 0 && isnan(v), "empty -> NaN");
    CHECK(sx_csv_get_num(&t, 2, 1, &v, &err) == 0 && isinf(v), "inf");
    sx_csv_free(&t);
    free(got);
    /* a row with the wrong field count: nothing under the final name */
    snprintf(p, sizeof p, "%s/bad.csv", dir);
    CHECK(sx_csv_open(&w, p, cols, 3, &err) == 0, "open");
    sx_csv_str(&w, "x");
    sx_csv_row(&w);
    CHECK(sx_csv_close(&w, &err) != 0 && strstr(err.msg, "did not have 3 fields"), "short row: %s", err.msg);
    CHECK(!sx_file_exists(p), "no file after a bad row");
    /* schema-driven open writes the schema's header */
    snprintf(p, sizeof p, "%s/pairs.csv", dir);
    CHECK(sx_csv_open_schema(&w, p, &SX_SCHEMA_PAIRS, &err) == 0, "schema open");
    sx_csv_int(&w, 1), sx_csv_int(&w, 2), sx_csv_numf(&w, 0.75, 6), sx_csv_row(&w);
    CHECK(sx_csv_close(&w, &err) == 0, "schema close");
    got = slurp(p, &n);
    CHECK(got && !strcmp(got, "small_latent,wide_latent,cosine\n1,2,0.750000\n"), "schema bytes: %s", got);
    free(got);
    CHECK(sx_csv_read(p, &t, &err) == 0 && sx_csv_check_schema(&t, &SX_SCHEMA_PAIRS, &err) == 0, "check: %s", err.msg);
    CHECK(sx_csv_check_schema(&t, &SX_SCHEMA_FAMILIES, &err) != 0 &&
              strstr(err.msg, "column 1 is 'small_latent', the schema of families.csv says 'family_id'"),
          "schema mismatch: %s", err.msg);
    sx_csv_free(&t);
}

static int parse(const char *s, int flags, sx_csv_table *t, sx_err *err) {
    return sx_csv_parse_flags("m.csv", s, strlen(s), flags, t, err);
}

static void test_csv_reader(void) {
    sx_csv_table t;
    sx_err err;
    /* CRLF, BOM, quoted CRLF, empty fields, no trailing newline, blank line skipped */
    const char *d = "\xEF\xBB\xBFx,y,z\r\n\"a\r\nb\",,\"\"\r\n\r\n1,\"2,3\",\"\"\"\"";
    CHECK(parse(d, 0, &t, &err) == 0, "crlf: %s", err.msg);
    CHECK(t.ncols == 3 && t.nrows == 2 && !strcmp(t.header[0], "x") &&
              !strcmp(sx_csv_cell(&t, 0, 0), "a\r\nb") && !strcmp(sx_csv_cell(&t, 0, 1), "") &&
              !strcmp(sx_csv_cell(&t, 0, 2), "") && !strcmp(sx_csv_cell(&t, 1, 1), "2,3") &&
              !strcmp(sx_csv_cell(&t, 1, 2), "\""),
          "crlf cells");
    CHECK(t.line[0] == 2 && t.line[1] == 5, "lines %lld %lld", (long long)t.line[0], (long long)t.line[1]);
    sx_csv_free(&t);
    /* strict errors, each with file:line */
    struct { const char *in, *msg; } bad[] = {
        {"a,b\n1,2,3\n", "m.csv:2: expected 2 fields (as in the header), got 3"},
        {"a,b\n1\n", "m.csv:2: expected 2 fields (as in the header), got 1"},
        {"a,b\n\"x\"y,2\n", "m.csv:2: text after a closing quote"},
        {"a,b\n1,x\"y\n", "m.csv:2: quote inside an unquoted field"},
        {"a,b\n1,2\r3,4\n", "m.csv:2: bare CR outside quotes"},
        {"a,b\n1,\"open\n2,3\n", "m.csv:2: unterminated quoted field"},
        {"a,a\n", "m.csv:1: duplicate column 'a'"},
        {"", "m.csv:1: empty file (no header row)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = parse(bad[i].in, 0, &t, &err);
        CHECK(r != 0 && strstr(err.msg, bad[i].msg), "strict %zu: want '%s', got '%s'", i, bad[i].msg, r ? err.msg : "ok");
        if (!r) sx_csv_free(&t);
    }
    CHECK(sx_csv_parse_flags("m.csv", "a\n1\n\0\n", 6, 0, &t, &err) != 0 && strstr(err.msg, "m.csv:3: NUL byte"),
          "NUL: %s", err.msg);
    /* lenient: the same odd bytes are kept, a CR outside quotes dropped; counts still checked */
    CHECK(parse("a,b\n\"x\"y,z\"w\r\n1,2\r3\n", SX_CSV_LENIENT, &t, &err) == 0, "lenient: %s", err.msg);
    CHECK(t.nrows == 2 && !strcmp(sx_csv_cell(&t, 0, 0), "xy") && !strcmp(sx_csv_cell(&t, 0, 1), "z\"w") &&
              !strcmp(sx_csv_cell(&t, 1, 1), "23"),
          "lenient cells '%s' '%s' '%s'", sx_csv_cell(&t, 0, 0), sx_csv_cell(&t, 0, 1), sx_csv_cell(&t, 1, 1));
    sx_csv_free(&t);
    CHECK(parse("a,b\n1,2,3\n", SX_CSV_LENIENT, &t, &err) != 0 && strstr(err.msg, "m.csv:2: expected 2 fields"),
          "lenient field count: %s", err.msg);
    /* typed getters */
    CHECK(parse("n,i\nabc,12.0\n,x\n", 0, &t, &err) == 0, "getters");
    double v;
    int64_t k;
    CHECK(sx_csv_get_num(&t, 0, 0, &v, &err) != 0 && strstr(err.msg, "m.csv:2: column 'n': 'abc' is not a number"), "%s", err.msg);
    CHECK(sx_csv_get_int(&t, 0, 1, &k, 0, 0, &err) == 0 && k == 12, "12.0 as int");
    CHECK(sx_csv_get_int(&t, 1, 0, &k, 0, 0, &err) != 0 && strstr(err.msg, "m.csv:3: column 'n': empty"), "%s", err.msg);
    CHECK(sx_csv_get_int(&t, 1, 1, &k, 0, 0, &err) != 0 && strstr(err.msg, "'x' is not an integer"), "%s", err.msg);
    const char *req[] = {"n", "zz"};
    CHECK(sx_csv_require(&t, req, 2, &err) != 0 && strstr(err.msg, "m.csv:1: missing column 'zz'"), "%s", err.msg);
    sx_csv_free(&t);
}

static void test_jsonl(void) {
    char p[4200];
    sx_err err;
    /* a 3 MB line, a blank line, white space, a raw NUL and a lone surrogate, a bad line */
    size_t big = 3u << 20;
    char *data = malloc(big + 256);
    size_t n = 0;
    n += (size_t)sprintf(data + n, "{\"text\":\"");
    memset(data + n, 'x', big);
    n += big;
    n += (size_t)sprintf(data + n, "\"}\n\n   \t\n");
    memcpy(data + n, "{\"text\":\"a\0b\"}  \r\n", 18);
    n += 18;
    n += (size_t)sprintf(data + n, "{\"text\":\"c\\ud800d\"}\n[1,2]\nnot json\n{\"text\":\"end\"}");
    put("r.jsonl", data, n, p);
    free(data);
    sx_jsonl_reader *r;
    CHECK(sx_jsonl_open(p, &r, &err) == 0, "open: %s", err.msg);
    cJSON *j;
    CHECK(sx_jsonl_next(r, &j, &err) == 1 && strlen(cJSON_GetObjectItem(j, "text")->valuestring) == big &&
              sx_jsonl_line(r) == 1,
          "long line");
    cJSON_Delete(j);
    CHECK(sx_jsonl_next(r, &j, &err) == 1 && !strcmp(cJSON_GetObjectItem(j, "text")->valuestring, "a\xEF\xBF\xBD" "b") &&
              sx_jsonl_line(r) == 4,
          "NUL -> U+FFFD on line 4 (%lld)", (long long)sx_jsonl_line(r));
    cJSON_Delete(j);
    CHECK(sx_jsonl_next(r, &j, &err) == 1 && !strcmp(cJSON_GetObjectItem(j, "text")->valuestring, "c\xEF\xBF\xBD" "d"),
          "lone surrogate -> U+FFFD");
    cJSON_Delete(j);
    CHECK(sx_jsonl_next(r, &j, &err) == -1 && !sx_jsonl_broken(r) && strstr(err.msg, "r.jsonl:6: not a JSON object"),
          "array line: %s", err.msg);
    CHECK(sx_jsonl_next(r, &j, &err) == -1 && strstr(err.msg, "r.jsonl:7: not a JSON object"), "bad line: %s", err.msg);
    CHECK(sx_jsonl_next(r, &j, &err) == 1 && !strcmp(cJSON_GetObjectItem(j, "text")->valuestring, "end") &&
              !strcmp(sx_jsonl_where(r) + strlen(sx_jsonl_where(r)) - 9, "r.jsonl:8"),
          "goes on after bad lines, no final newline: %s", sx_jsonl_where(r));
    cJSON_Delete(j);
    CHECK(sx_jsonl_next(r, &j, &err) == 0, "end");
    sx_jsonl_close(r);
    snprintf(p, sizeof p, "%s/none.jsonl", dir);
    CHECK(sx_jsonl_open(p, &r, &err) != 0 && strstr(err.msg, "none.jsonl: no such file"), "missing: %s", err.msg);
    int rep;
    cJSON *x = sx_jsonl_parse("{\"t\":\"\\u0000z\"}", 15, &rep);
    CHECK(x && rep == 1 && !strcmp(cJSON_GetObjectItem(x, "t")->valuestring, "\xEF\xBF\xBDz"), "\\u0000");
    cJSON_Delete(x);
}

static void test_html(void) {
    struct { const char *in, *out; int flags; } c[] = {
        {"a &amp; b &lt;&gt; &quot;q&quot; &apos;x&apos;", "a & b <> \"q\" 'x'", 0},
        {"&#39;&#039;&#x27;&#X27;", "''''", 0},
        {"&#9786; &#x263A; &#x1F600;", "\xE2\x98\xBA \xE2\x98\xBA \xF0\x9F\x98\x80", 0},
        {"a&nbsp;b &#160; &#xA0;", "a\xC2\xA0" "b \xC2\xA0 \xC2\xA0", 0},      /* the policy */
        {"a&nbsp;b &#x263A; &amp;", "a b   &", SX_HTML_ASCII},                   /* ASCII */
        {"&bogus; &amp &#; &#x; &#12a; & &#0; &#xD800; &#x110000;",
         "&bogus; &amp &#; &#x; &#12a; & &#0; &#xD800; &#x110000;", 0},            /* invalid */
        {"&#00000065; &#000000065;", "A &#000000065;", 0},                          /* 8 / 9 digits */
        {"&amp;lt; &&amp;", "&lt; &&", 0},                                          /* one pass */
        {"tail &am", "tail &am", 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "%s", c[i].in);
        size_t n = sx_html_decode(b, strlen(b), c[i].flags);
        CHECK(n == strlen(c[i].out) && memcmp(b, c[i].out, n) == 0, "html %zu: '%.*s' want '%s'", i, (int)n, b, c[i].out);
    }
    uint32_t cp;
    CHECK(sx_html_entity("&nbsp;x", 7, &cp) == 6 && cp == 0xA0, "entity nbsp");
    CHECK(sx_html_entity("&#x41;", 6, &cp) == 6 && cp == 'A', "entity hex");
    CHECK(sx_html_entity("&#x41", 5, &cp) == 0, "entity without ;");
}

static void test_sources(void) {
    char p[4200], spec[4400];
    sx_err err;
    /* csv: source, lenient, quoted newlines, HTML decoding, where = file:line */
    const char *sc = "id,text\r\n1,\"two\nlines &amp; more\"\r\n2,plain\r\n";
    put("s.csv", sc, strlen(sc), p);
    snprintf(spec, sizeof spec, "csv:%s#text", p);
    sx_source_opts o = {.html_unescape = 1};
    sx_text_source *s;
    CHECK(sx_source_open(spec, &o, &s, &err) == 0, "open: %s", err.msg);
    sx_doc d;
    CHECK(sx_source_next(s, &d, &err) == 1 && !strcmp(d.text, "two\nlines & more") && strstr(d.where, "s.csv:2"),
          "csv doc 1 '%s' at %s", d.text, d.where);
    CHECK(sx_source_next(s, &d, &err) == 1 && !strcmp(d.text, "plain") && strstr(d.where, "s.csv:4"), "csv doc 2 at %s", d.where);
    CHECK(sx_source_next(s, &d, &err) == 0, "csv end");
    sx_source_close(s);
    CHECK(sx_source_is_spec("jsonl:x") && sx_source_is_spec("csv:y#z") && !sx_source_is_spec("x.jsonl") &&
              !sx_source_is_spec("C:/x"),
          "is_spec");
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", test_tmpdir("io"));
    test_csv_writer();
    test_csv_reader();
    test_jsonl();
    test_html();
    test_sources();
    return TEST_DONE();
}
