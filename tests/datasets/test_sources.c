/* test_sources.c — text sources on the shared data: RTP JSONL and Davidson CSV read from
 * the files, from a .tar.gz, a .zip and a single .gz give identical texts (and the same texts
 * as Python's json / csv modules); labels; bad inputs (invalid JSON lines, archive bombs, a
 * tar member declaring 10 GB, missing columns). */
#pragma GCC diagnostic ignored "-Wformat-truncation" /* test paths are short */
#include <math.h>
#include <unistd.h>

#include "datasets.h"
#include "sx_json.h"
#include "test.h"

typedef struct {
    char **t;
    int64_t n, cap;
} texts;

static void add(texts *x, const char *s, size_t len) {
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 1024;
        x->t = realloc(x->t, sizeof(char *) * (size_t)x->cap);
    }
    x->t[x->n] = malloc(len + 1);
    memcpy(x->t[x->n], s, len);
    x->t[x->n++][len] = 0;
}

static void freet(texts *x) {
    for (int64_t i = 0; i < x->n; i++) free(x->t[i]);
    free(x->t);
    memset(x, 0, sizeof *x);
}

/* Read every document of spec; returns -1 (err set) on failure. */
static int read_spec(const char *spec, const sx_source_opts *o, texts *x, sx_err *err) {
    sx_text_source *s;
    if (sx_source_open(spec, o, &s, err)) return -1;
    sx_doc d;
    int r;
    while ((r = sx_source_next(s, &d, err)) == 1) add(x, d.text, d.len);
    sx_source_close(s);
    return r;
}

static int same(const texts *a, const texts *b) {
    if (a->n != b->n) return 0;
    for (int64_t i = 0; i < a->n; i++)
        if (strcmp(a->t[i], b->t[i]) != 0) {
            fprintf(stderr, "differ at %lld: [%s] vs [%s]\n", (long long)i, a->t[i], b->t[i]);
            return 0;
        }
    return 1;
}

static void load_expected(const char *path, texts *x) {
    sx_err err;
    char *data;
    size_t len;
    if (sx_read_file(path, 1u << 30, &data, &len, &err)) return;
    char *line = data, *nl;
    while ((nl = strchr(line, '\n'))) {
        *nl = 0;
        cJSON *j = cJSON_Parse(line);
        if (cJSON_IsString(j)) add(x, j->valuestring, strlen(j->valuestring));
        cJSON_Delete(j);
        line = nl + 1;
    }
    free(data);
}

static int64_t count_label(const char *spec, const char *rule, int want, int64_t *unl) {
    sx_source_opts o = {.label_rule = rule, .want = want};
    sx_text_source *s;
    sx_err err;
    if (sx_source_open(spec, &o, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    sx_doc d;
    int64_t n = 0, tox = 0;
    while (sx_source_next(s, &d, &err) == 1) {
        n++;
        tox += d.is_toxic == 1;
        if (d.is_toxic == 1 && !(d.score >= 0.5 || strstr(rule, "class"))) tox = -1000000;
    }
    sx_source_stats(s, NULL, NULL, unl);
    sx_source_close(s);
    return want == 0 ? tox : n;
}

int main(void) {
    const char *sh = test_shared_or_skip("RTP and Davidson data");
    char tmp[4096], cmd[16384], spec[16384], spec2[16384];
    snprintf(tmp, sizeof tmp, "%s", test_tmpdir("ds_sources"));
    sx_err err;
    sx_source_opts o = {0};

    /* archives of the shared files, made with the usual tools */
    snprintf(cmd, sizeof cmd,
             "cd '%s/data' && tar -czf '%s/d.tar.gz' rtp/toxic.jsonl rtp/nontoxic.jsonl "
             "davidson/labeled_data.csv && gzip -c rtp/toxic.jsonl > '%s/toxic.jsonl.gz' && "
             "/usr/bin/python3 -c \"import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',"
             "zipfile.ZIP_DEFLATED); [z.write(f) for f in sys.argv[2:]]\" '%s/d.zip' "
             "davidson/labeled_data.csv rtp/toxic.jsonl rtp/nontoxic.jsonl",
             sh, tmp, tmp, tmp);
    CHECK(system(cmd) == 0, "making archives");

    /* RTP: files vs tar.gz vs zip vs .gz */
    texts f = {0}, a = {0}, z = {0}, g = {0}, py = {0};
    snprintf(spec, sizeof spec, "jsonl:%s/data/rtp/toxic.jsonl#prompt.text,jsonl:%s/data/rtp/nontoxic.jsonl#prompt.text", sh, sh);
    CHECK(read_spec(spec, &o, &f, &err) == 0, "rtp files: %s", err.msg);
    CHECK(f.n == 1600, "rtp count %lld", (long long)f.n);
    snprintf(spec, sizeof spec, "jsonl:%s/d.tar.gz//rtp/toxic.jsonl#prompt.text,jsonl:%s/d.tar.gz//rtp/nontoxic.jsonl#prompt.text", tmp, tmp);
    CHECK(read_spec(spec, &o, &a, &err) == 0, "rtp tar.gz: %s", err.msg);
    CHECK(same(&f, &a), "rtp tar.gz == files");
    snprintf(spec, sizeof spec, "jsonl:%s/d.zip//rtp/toxic.jsonl#prompt.text,jsonl:%s/d.zip//rtp/nontoxic.jsonl#prompt.text", tmp, tmp);
    CHECK(read_spec(spec, &o, &z, &err) == 0, "rtp zip: %s", err.msg);
    CHECK(same(&f, &z), "rtp zip == files");
    snprintf(spec, sizeof spec, "jsonl:%s/toxic.jsonl.gz#prompt.text", tmp);
    CHECK(read_spec(spec, &o, &g, &err) == 0 && g.n == 800, "rtp .gz: %s", err.msg);
    int gsame = g.n == 800;
    for (int i = 0; gsame && i < 800; i++) gsame = strcmp(g.t[i], f.t[i]) == 0;
    CHECK(gsame, "rtp .gz == file");
    freet(&a);
    freet(&z);
    freet(&g);
    /* zstd / xz, when the tools are installed */
    snprintf(cmd, sizeof cmd, "command -v zstd >/dev/null && command -v xz >/dev/null && cd '%s/data' && "
             "tar --zstd -cf '%s/d.tar.zst' rtp/toxic.jsonl && zstd -qc rtp/toxic.jsonl > '%s/t.jsonl.zst' && "
             "tar -cJf '%s/d.tar.xz' rtp/toxic.jsonl", sh, tmp, tmp, tmp);
    if (system(cmd) == 0) {
        const char *tail[3] = {"d.tar.zst//rtp/toxic.jsonl#prompt.text", "t.jsonl.zst#prompt.text",
                               "d.tar.xz#prompt.text"};
        for (int k = 0; k < 3; k++) {
            snprintf(spec, sizeof spec, "jsonl:%s/%s", tmp, tail[k]);
            int ok = read_spec(spec, &o, &g, &err) == 0 && g.n == 800;
            for (int i = 0; ok && i < 800; i++) ok = strcmp(g.t[i], f.t[i]) == 0;
            CHECK(ok, "%s == file (%s)", spec, err.msg);
            freet(&g);
        }
    } else {
        printf("note: zstd/xz tools missing; .zst/.xz archives not checked\n");
    }
    /* glob inside an archive and on disk */
    snprintf(spec, sizeof spec, "jsonl:%s/d.zip//rtp/*.jsonl#prompt.text", tmp);
    CHECK(read_spec(spec, &o, &a, &err) == 0 && a.n == 1600, "zip member glob: %lld", (long long)a.n);
    freet(&a);
    snprintf(spec, sizeof spec, "jsonl:%s/data/rtp/*.jsonl#prompt.text", sh);
    CHECK(read_spec(spec, &o, &a, &err) == 0 && a.n == 1600, "file glob");
    freet(&a);

    /* Python's json agrees on the texts */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import json,csv,sys; d=sys.argv[1]; o=open(sys.argv[2],'w');"
             "[o.write(json.dumps(json.loads(l)['prompt']['text'])+'\\n') for f in ('toxic','nontoxic') "
             "for l in open(d+'/rtp/'+f+'.jsonl',encoding='utf-8')];"
             "[o.write(json.dumps(r['tweet'])+'\\n') for r in csv.DictReader(open(d+'/davidson/labeled_data.csv',newline='',encoding='utf-8'))]\" "
             "'%s/data' '%s/expected.jsonl'", sh, tmp);
    int have_py = system(cmd) == 0;
    if (have_py) {
        snprintf(spec, sizeof spec, "%s/expected.jsonl", tmp);
        load_expected(spec, &py);
    } else {
        printf("note: /usr/bin/python3 unavailable; skipping the Python cross-check\n");
    }

    /* Davidson CSV: quoted newlines, files vs archives, and Python's csv */
    texts c = {0};
    snprintf(spec, sizeof spec, "csv:%s/data/davidson/labeled_data.csv#tweet", sh);
    CHECK(read_spec(spec, &o, &c, &err) == 0, "davidson: %s", err.msg);
    CHECK(c.n == 18000, "davidson rows %lld", (long long)c.n);
    int64_t nl = 0;
    for (int64_t i = 0; i < c.n; i++) nl += strchr(c.t[i], '\n') != NULL;
    CHECK(nl == 678, "tweets with newlines %lld", (long long)nl);
    snprintf(spec, sizeof spec, "csv:%s/d.tar.gz//davidson/labeled_data.csv#tweet", tmp);
    CHECK(read_spec(spec, &o, &a, &err) == 0 && same(&c, &a), "davidson tar.gz");
    freet(&a);
    snprintf(spec, sizeof spec, "csv:%s/d.zip//davidson/*.csv#tweet", tmp);
    CHECK(read_spec(spec, &o, &a, &err) == 0 && same(&c, &a), "davidson zip");
    freet(&a);
    if (have_py) {
        texts both = {0};
        for (int64_t i = 0; i < f.n; i++) add(&both, f.t[i], strlen(f.t[i]));
        for (int64_t i = 0; i < c.n; i++) add(&both, c.t[i], strlen(c.t[i]));
        CHECK(same(&both, &py), "texts == Python json/csv (%lld vs %lld)", (long long)both.n, (long long)py.n);
        freet(&both);
    }
    /* HTML unescape */
    sx_source_opts ou = {.html_unescape = 1};
    CHECK(read_spec(spec, &ou, &a, &err) == 0 && a.n == 18000, "unescaped");
    int64_t amp = 0;
    for (int64_t i = 0; i < a.n; i++) amp += strstr(a.t[i], "&amp;") != NULL;
    CHECK(amp == 0, "no &amp; left (%lld)", (long long)amp);
    CHECK(strstr(a.t[0], "house. & as a man") != NULL, "first tweet unescaped: %s", a.t[0]);
    freet(&a);
    char ent[] = "a &amp; b &lt;&gt; &quot;q&quot; &#39; &#x263A; &#128512; &bogus; &";
    size_t el = sx_html_decode(ent, strlen(ent), 0);
    CHECK(el == strlen(ent) && strcmp(ent, "a & b <> \"q\" ' \xE2\x98\xBA \xF0\x9F\x98\x80 &bogus; &") == 0,
          "entities: %s", ent);

    /* labels */
    int64_t unl = -1;
    snprintf(spec, sizeof spec, "jsonl:%s/data/rtp/toxic.jsonl#prompt.text", sh);
    CHECK(count_label(spec, "prompt.toxicity>=0.5", 0, &unl) == 724 && unl == 0, "rtp toxic 724");
    CHECK(count_label(spec, "prompt.toxicity >= 0.5", 2, &unl) == 76, "rtp clean 76");
    snprintf(spec, sizeof spec, "csv:%s/data/davidson/labeled_data.csv#tweet", sh);
    CHECK(count_label(spec, "class<=1", 1, &unl) == 14952, "davidson toxic");
    CHECK(count_label(spec, "class<=1", 2, &unl) == 3048, "davidson clean");
    snprintf(spec, sizeof spec, "jsonl:%s/data/toxicity-labeled/gpt4_toxic_generations.jsonl#prompt.text", sh);
    CHECK(count_label(spec, "prompt.score.toxicity>=0.5", 0, &unl) > 0, "decodingtrust labels");
    /* null scores are skipped and counted */
    snprintf(spec2, sizeof spec2, "%s/nulls.jsonl", tmp);
    FILE *fp = fopen(spec2, "w");
    fputs("{\"prompt\":{\"text\":\"a\",\"toxicity\":0.9}}\n{\"prompt\":{\"text\":\"b\",\"toxicity\":null}}\n"
          "\n{\"prompt\":{\"text\":\"c\",\"toxicity\":0.1}}\n", fp);
    fclose(fp);
    snprintf(spec, sizeof spec, "jsonl:%s#prompt.text", spec2);
    CHECK(count_label(spec, "prompt.toxicity>=0.5", 0, &unl) == 1 && unl == 1, "null score skipped");

    /* a UTF-8 BOM and CRLF line ends */
    snprintf(spec2, sizeof spec2, "%s/bom.jsonl", tmp);
    fp = fopen(spec2, "w");
    fputs("\xEF\xBB\xBF{\"text\":\"first\"}\r\n{\"text\":\"second\"}\r\n", fp);
    fclose(fp);
    snprintf(spec, sizeof spec, "jsonl:%s", spec2);
    CHECK(read_spec(spec, &o, &a, &err) == 0 && a.n == 2 && !strcmp(a.t[0], "first") && !strcmp(a.t[1], "second"),
          "BOM + CRLF: %s", err.msg);
    freet(&a);

    /* invalid JSON lines: file:line, fail or skip */
    snprintf(spec2, sizeof spec2, "%s/bad.jsonl", tmp);
    fp = fopen(spec2, "w");
    fputs("{\"text\":\"one\"}\n{\"text\":\"two\"}\n{\"text\": oops\n{\"text\":\"four\"}\n", fp);
    fclose(fp);
    snprintf(spec, sizeof spec, "jsonl:%s", spec2);
    char want[8300];
    snprintf(want, sizeof want, "%s:3: invalid JSON", spec2);
    CHECK(read_spec(spec, &o, &a, &err) == -1 && strstr(err.msg, want), "invalid JSON fails: %s", err.msg);
    freet(&a);
    sx_source_opts os = {.skip_bad = 1};
    sx_text_source *s;
    CHECK(sx_source_open(spec, &os, &s, &err) == 0, "open");
    sx_doc d;
    int64_t n = 0, bad = 0;
    while (sx_source_next(s, &d, &err) == 1) n++;
    sx_source_stats(s, NULL, &bad, NULL);
    CHECK(sx_source_first_bad(s) && strstr(sx_source_first_bad(s), want), "first bad: %s",
          sx_source_first_bad(s) ? sx_source_first_bad(s) : "(none)");
    sx_source_close(s);
    CHECK(n == 3 && bad == 1, "skip: %lld docs, %lld bad", (long long)n, (long long)bad);

    /* archive bombs: 3 MB of zeros under a 1 MB cap, and a tar member declaring 10 GB */
    snprintf(cmd, sizeof cmd, "head -c 3000000 /dev/zero | gzip -c > '%s/zeros.txt.gz' && "
             "/usr/bin/python3 -c \"import tarfile,sys; t=tarfile.TarInfo('big.txt'); "
             "t.size=10*2**30; open(sys.argv[1],'wb').write(t.tobuf()+b'x'*4096)\" '%s/bomb.tar'",
             tmp, tmp);
    CHECK(system(cmd) == 0, "making bombs");
    sx_source_opts oc = {.max_entry_bytes = 1u << 20};
    snprintf(spec, sizeof spec, "text:%s/zeros.txt.gz", tmp);
    CHECK(read_spec(spec, &oc, &a, &err) == -1 && strstr(err.msg, "archive bomb") &&
              strstr(err.msg, "zeros.txt.gz"), "gzip bomb: %s", err.msg);
    freet(&a);
    snprintf(spec, sizeof spec, "text:%s/bomb.tar", tmp);
    CHECK(read_spec(spec, &o, &a, &err) == -1 && strstr(err.msg, "10737418240") &&
              strstr(err.msg, "big.txt"), "10 GB member: %s", err.msg);
    freet(&a);

    /* other mistakes */
    snprintf(spec, sizeof spec, "csv:%s/data/davidson/labeled_data.csv#tweets", sh);
    CHECK(read_spec(spec, &o, &a, &err) == -1 && strstr(err.msg, "no column named 'tweets'"), "%s", err.msg);
    CHECK(sx_source_open("parquet:x.parquet", &o, &s, &err) == -1 && strstr(err.msg, "unknown source kind"), "%s", err.msg);
    snprintf(spec, sizeof spec, "text:%s/nope/*.txt", tmp);
    CHECK(read_spec(spec, &o, &a, &err) == -1 && strstr(err.msg, "no such file"), "%s", err.msg);
    snprintf(spec, sizeof spec, "jsonl:%s/d.zip//nothing.jsonl", tmp);
    CHECK(read_spec(spec, &o, &a, &err) == -1 && strstr(err.msg, "no member matches"), "%s", err.msg);
    freet(&a);

    /* text and textfile kinds */
    snprintf(spec, sizeof spec, "text:%s/data/text/tinyshakespeare.txt", sh);
    CHECK(read_spec(spec, &o, &a, &err) == 0 && a.n > 30000, "shakespeare lines %lld", (long long)a.n);
    freet(&a);
    snprintf(spec, sizeof spec, "textfile:%s/data/hellaswag/*.txt", sh);
    CHECK(read_spec(spec, &o, &a, &err) == 0 && a.n == 2 && strlen(a.t[0]) > 10000, "textfile docs");
    freet(&a);
    freet(&f);
    freet(&c);
    freet(&py);
    return TEST_DONE();
}
