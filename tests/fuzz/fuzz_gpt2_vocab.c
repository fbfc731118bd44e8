/* fuzz_gpt2_vocab.c — GPT-2 vocab.json + merges.txt and a text (the input holds three parts:
 * fz_split twice): load, encode, check every id, decode. */
#include "fuzz_util.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    fz_parts p = fz_split(d, n), q = fz_split(p.b, p.nb);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/gpt2", fz_dir());
    sx_err e = {0};
    if (sx_mkdir_p(dir, &e)) abort();
    fz_file("gpt2/vocab.json", p.a, p.na);
    fz_file("gpt2/merges.txt", q.a, q.na);
    sx_tokenizer *t = NULL;
    int rc = sx_tokenizer_load(dir, &t, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    int32_t *ids = NULL;
    int k = 0;
    rc = sx_tokenizer_encode(t, (const char *)q.b, q.nb, 1, &ids, &k, &e);
    fz_check_err(rc, &e);
    if (!rc) {
        int V = sx_tokenizer_vocab_size(t);
        for (int i = 0; i < k; i++)
            if (ids[i] < 0 || ids[i] >= V) abort();
        char *s = NULL;
        size_t len = 0;
        rc = sx_tokenizer_decode(t, ids, k, &s, &len, &e);
        fz_check_err(rc, &e);
        free(s);
    }
    free(ids);
    sx_tokenizer_free(t);
    return 0;
}
