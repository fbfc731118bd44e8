/* fuzz_sources.c — text sources: the first byte picks the kind (text, textfile, jsonl, csv),
 * the container (plain, .gz, .zst, .xz, .bz2, .tar, .tar.gz, .zip), --skip-bad and a label
 * rule; the rest is the file.  Every document must be NUL-terminated at its length. */
#include "datasets.h"
#include "fuzz_util.h"

static const char *const KIND[] = {"text", "textfile", "jsonl", "csv"};
static const char *const EXT[] = {"", ".gz", ".zst", ".xz", ".bz2", ".tar", ".tar.gz", ".zip"};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 1) return 0;
    int kind = d[0] & 3, ext = (d[0] >> 2) & 7, skip = (d[0] >> 5) & 1, label = (d[0] >> 6) & 1;
    char name[64], spec[1024];
    int archive = ext >= 5;
    snprintf(name, sizeof name, "src%s%s", kind == 3 ? ".csv" : ".jsonl", EXT[ext]);
    const char *p = fz_file(name, d + 1, n - 1);
    snprintf(spec, sizeof spec, "%s:%s%s%s", KIND[kind], p, archive ? "//*" : "",
             kind >= 2 ? "#text" : "");
    sx_source_opts o = {.skip_bad = skip, .max_entry_bytes = 1 << 20,
                        .label_rule = label && kind >= 2 ? "score>=0.5" : NULL};
    sx_text_source *s = NULL;
    sx_err e = {0};
    int rc = sx_source_open(spec, &o, &s, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    sx_doc doc;
    int r, docs = 0;
    while ((r = sx_source_next(s, &doc, &e)) == 1 && docs++ < 100000)
        if (doc.text[doc.len] != 0) abort();
    fz_check_err(r < 0, &e);
    sx_source_close(s);
    return 0;
}
