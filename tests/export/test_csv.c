/* test_csv.c — the RFC 4180 writer and reader: exact quoting, round trips of tricky strings,
 * CRLF/BOM/quoted newlines on input, and file:line errors for corrupt files. */
#include "fixture.h"
#include "test.h"

static char *write_mem(void (*fn)(sx_csv_writer *), size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    sx_csv_writer w;
    const char *cols[] = {"a", "b"};
    sx_csv_begin(&w, f, cols, 2);
    fn(&w);
    sx_err err;
    int r = sx_csv_close(&w, &err);
    fclose(f);
    if (r) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void rows_basic(sx_csv_writer *w) {
    sx_csv_str(w, "plain");
    sx_csv_str(w, "with,comma");
    sx_csv_row(w);
    sx_csv_str(w, "say \"hi\"");
    sx_csv_str(w, "two\nlines");
    sx_csv_row(w);
    sx_csv_str(w, " pad");
    sx_csv_num(w, NAN);
    sx_csv_row(w);
    sx_csv_num(w, 0.1);
    sx_csv_int(w, -42);
    sx_csv_row(w);
    sx_csv_num(w, INFINITY);
    sx_csv_str(w, "\xC4\xA0tok");
    sx_csv_row(w);
}

static void rows_bad(sx_csv_writer *w) {
    sx_csv_str(w, "only one");
    sx_csv_row(w);
}

static void test_writer(void) {
    size_t len;
    char *s = write_mem(rows_basic, &len);
    const char *want = "a,b\nplain,\"with,comma\"\n\"say \"\"hi\"\"\",\"two\nlines\"\n\" pad\",\n"
                       "0.1,-42\ninf,\xC4\xA0tok\n";
    CHECK(s && strcmp(s, want) == 0, "writer output:\n%s", s ? s : "(null)");
    free(s);
    CHECK(write_mem(rows_bad, &len) == NULL, "a short row must fail at close");
}

static void test_round_trip(void) {
    const char *dir = test_tmpdir("export_csv");
    char path[4096];
    sx_path_join(path, sizeof path, dir, "rt.csv");
    sx_err err = {0};
    sx_csv_writer w;
    const char *cols[] = {"i", "text", "x"};
    CHECK(sx_csv_open(&w, path, cols, 3, &err) == 0, "open: %s", err.msg);
    for (int i = 0; i < FX_NTRICKY; i++) {
        sx_csv_int(&w, i);
        sx_csv_str(&w, FX_TRICKY[i]);
        sx_csv_num(&w, i * 0.5);
        sx_csv_row(&w);
    }
    CHECK(sx_csv_close(&w, &err) == 0, "close: %s", err.msg);
    sx_csv_table t;
    CHECK(sx_csv_read(path, &t, &err) == 0, "read: %s", err.msg);
    CHECK(t.ncols == 3 && t.nrows == FX_NTRICKY, "shape %d x %lld", t.ncols, (long long)t.nrows);
    int tc = sx_csv_col(&t, "text");
    for (int i = 0; i < FX_NTRICKY && i < t.nrows; i++) {
        CHECK(strcmp(sx_csv_cell(&t, i, tc), FX_TRICKY[i]) == 0, "row %d: '%s' vs '%s'", i,
              sx_csv_cell(&t, i, tc), FX_TRICKY[i]);
        double x;
        CHECK(sx_csv_get_num(&t, i, 2, &x, &err) == 0 && x == i * 0.5, "num row %d", i);
    }
    /* line numbers: row 0 starts on line 2; the row after the multi-line string is later */
    CHECK(t.line[0] == 2 && t.line[2] == 6, "lines %lld %lld", (long long)t.line[0],
          (long long)t.line[2]);
    sx_csv_free(&t);
}

static void expect_error(const char *data, const char *want) {
    sx_csv_table t;
    sx_err err = {0};
    int r = sx_csv_parse("bad.csv", data, strlen(data), &t, &err);
    CHECK(r == -1 && strstr(err.msg, want), "'%s': got r=%d '%s', want '%s'", data, r, err.msg, want);
    if (r == 0) sx_csv_free(&t);
}

static void test_reader(void) {
    const char *crlf = "\xEF\xBB\xBFx,y\r\n1,\"a\r\nb\"\r\n\r\n2,\"\"\"\"\r\n3,";
    sx_csv_table t;
    sx_err err = {0};
    CHECK(sx_csv_parse("crlf.csv", crlf, strlen(crlf), &t, &err) == 0, "crlf: %s", err.msg);
    CHECK(t.nrows == 3 && strcmp(t.header[0], "x") == 0, "BOM/CRLF header, rows %lld", (long long)t.nrows);
    CHECK(strcmp(sx_csv_cell(&t, 0, 1), "a\r\nb") == 0, "quoted CRLF kept");
    CHECK(strcmp(sx_csv_cell(&t, 1, 1), "\"") == 0, "doubled quote");
    CHECK(strcmp(sx_csv_cell(&t, 2, 1), "") == 0, "empty last field without newline");
    CHECK(t.line[1] == 5, "line of row 2 = %lld", (long long)t.line[1]);
    int64_t v;
    double d;
    CHECK(sx_csv_get_int(&t, 2, 1, &v, 0, 0, &err) == -1 && strstr(err.msg, "crlf.csv:6"),
          "empty int error: %s", err.msg);
    CHECK(sx_csv_get_num(&t, 2, 1, &d, &err) == 0 && isnan(d), "empty num is NaN");
    CHECK(sx_csv_require(&t, (const char *[]){"x", "zz"}, 2, &err) == -1 &&
              strstr(err.msg, "crlf.csv:1: missing column 'zz'"), "%s", err.msg);
    sx_csv_free(&t);

    expect_error("a,b\n1,2\n3,\"open\n4,5\n", "bad.csv:3: unterminated quoted field");
    expect_error("a,b\n1,2\n3,4,5\n", "bad.csv:3: expected 2 fields (as in the header), got 3");
    expect_error("a,b\n1,2\n\"x\"y,2\n", "bad.csv:3: text after a closing quote");
    expect_error("a,b\n1,x\"y\n", "bad.csv:2: quote inside an unquoted field");
    expect_error("", "bad.csv:1: empty file");
    expect_error("a,a\n1,2\n", "duplicate column 'a'");

    const char *nums = "n\n1.5\nabc\n";
    CHECK(sx_csv_parse("n.csv", nums, strlen(nums), &t, &err) == 0, "parse nums");
    CHECK(sx_csv_get_num(&t, 1, 0, &d, &err) == -1 && strstr(err.msg, "n.csv:3: column 'n': 'abc' is not a number"),
          "%s", err.msg);
    sx_csv_free(&t);
}

/* Random fields from a hostile alphabet survive write -> read exactly; random bytes either
 * parse into a consistent table or fail with a "name:line:" message (never crash). */
static void test_random(void) {
    static const char alpha[] = ",\"\n\r a\t\xC4\xA0<&";
    sx_rng rng;
    sx_rng_seed(&rng, 7);
    int rt_ok = 0, garbage_ok = 0;
    for (int iter = 0; iter < 300; iter++) {
        char fields[4][24];
        for (int c = 0; c < 4; c++) {
            int n = (int)sx_rng_below(&rng, 20);
            for (int i = 0; i < n; i++) fields[c][i] = alpha[sx_rng_below(&rng, sizeof alpha - 1)];
            fields[c][n] = 0;
        }
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        sx_csv_writer w;
        const char *cols[] = {"a", "b", "c", "d"};
        sx_csv_begin(&w, f, cols, 4);
        for (int c = 0; c < 4; c++) sx_csv_str(&w, fields[c]);
        sx_csv_row(&w);
        sx_err err;
        sx_csv_close(&w, &err);
        fclose(f);
        sx_csv_table t;
        int ok = sx_csv_parse("rt.csv", buf, len, &t, &err) == 0 && t.nrows == 1;
        for (int c = 0; ok && c < 4; c++) ok = strcmp(sx_csv_cell(&t, 0, c), fields[c]) == 0;
        rt_ok += ok;
        sx_csv_free(&t); /* safe after a failed parse too */
        /* garbage: the same alphabet, no structure */
        for (size_t i = 0; i < len; i++) buf[i] = alpha[sx_rng_below(&rng, sizeof alpha - 1)];
        memset(&err, 0, sizeof err);
        if (sx_csv_parse("g.csv", buf, len, &t, &err) == 0) {
            garbage_ok += t.ncols > 0 && t.nrows >= 0;
            sx_csv_free(&t);
        } else {
            garbage_ok += strncmp(err.msg, "g.csv:", 6) == 0;
        }
        free(buf);
    }
    CHECK(rt_ok == 300, "random round trips: %d of 300", rt_ok);
    CHECK(garbage_ok == 300, "garbage handled: %d of 300", garbage_ok);
}

int main(void) {
    test_random();
    test_writer();
    test_round_trip();
    test_reader();
    return TEST_DONE();
}
