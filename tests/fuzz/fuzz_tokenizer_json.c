/* fuzz_tokenizer_json.c — a Hugging Face tokenizer.json and a text (the input holds both, see
 * fz_split): load, encode with and without specials, decode the ids back. */
#include "fuzz_util.h"
#include "tokenizer.h"

static void run(const sx_tokenizer *t, const uint8_t *text, size_t n) {
    sx_err e = {0};
    for (int add = 0; add < 2; add++) {
        int32_t *ids = NULL;
        int k = 0;
        int rc = sx_tokenizer_encode(t, (const char *)text, n, add, &ids, &k, &e);
        fz_check_err(rc, &e);
        if (!rc) {
            int V = sx_tokenizer_vocab_size(t);
            for (int i = 0; i < k; i++)
                if (ids[i] < 0 || ids[i] >= V) {
                    fprintf(stderr, "id %d outside the vocabulary of %d\n", (int)ids[i], V);
                    abort();
                }
            char *s = NULL;
            size_t len = 0;
            rc = sx_tokenizer_decode(t, ids, k, &s, &len, &e);
            fz_check_err(rc, &e);
            free(s);
        }
        free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    fz_parts p = fz_split(d, n);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/hf", fz_dir());
    sx_err e = {0};
    if (sx_mkdir_p(dir, &e)) abort();
    fz_file("hf/tokenizer.json", p.a, p.na);
    sx_tokenizer *t = NULL;
    int rc = sx_tokenizer_load(dir, &t, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    run(t, p.b, p.nb);
    sx_tokenizer_free(t);
    return 0;
}
