/* test_pack.c — SAELens-style packing with byte tokens (tok == NULL): concatenation with
 * separator, BOS per window, dropped tail, one document per window with padding, and the
 * deterministic window shuffle. */
#include "datasets.h"
#include "test.h"

static sx_packer *mk(const char *path, sx_pack_opts o, sx_text_source **src) {
    sx_err err;
    char spec[4300];
    snprintf(spec, sizeof spec, "text:%s", path);
    sx_source_opts so = {0};
    if (sx_source_open(spec, &so, src, &err)) return NULL;
    sx_packer *p;
    if (sx_packer_new(NULL, *src, &o, &p, &err)) return NULL;
    return p;
}

int main(void) {
    const char *dir = test_tmpdir("ds_pack");
    char path[4200];
    snprintf(path, sizeof path, "%s/docs.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("abc\ndefgh\n\nij\nklmnopqrstu\n", f); /* 4 documents (the empty line is skipped) */
    fclose(f);
    sx_err err;
    sx_text_source *src;
    int32_t t[8];
    int64_t d[8];
    int len;

    /* concatenated, separator '|' (124), no BOS, C = 4: "abc|defgh|ij|klmnopqrstu" = 24 */
    sx_pack_opts o = {.context_size = 4, .bos_id = -1, .separator_id = '|', .pad_id = 0};
    sx_packer *p = mk(path, o, &src);
    CHECK(p != NULL, "packer");
    const char *want[] = {"abc|", "defg", "h|ij", "|klm", "nopq", "rstu"};
    int nw = 0, ok = 1;
    while (sx_packer_next(p, t, d, &len, &err) == 1) {
        for (int i = 0; i < 4; i++) ok &= nw < 6 && t[i] == want[nw][i];
        ok &= len == 4;
        if (nw == 0) ok &= d[0] == 0 && d[3] == -1;
        if (nw == 3) ok &= d[0] == -1 && d[1] == 3;
        nw++;
    }
    CHECK(ok && nw == 6, "concatenated windows (%d)", nw);
    sx_packer_free(p);
    sx_source_close(src);

    /* BOS (1) first in every window: 3 stream tokens each; the incomplete tail is dropped */
    o.prepend_bos = 1;
    o.bos_id = 1;
    p = mk(path, o, &src);
    nw = 0;
    ok = 1;
    const char *wb[] = {"abc", "|de", "fgh", "|ij", "|kl", "mno", "pqr", "stu"};
    while (sx_packer_next(p, t, d, &len, &err) == 1) {
        ok &= t[0] == 1 && d[0] == -1;
        for (int i = 0; i < 3; i++) ok &= nw < 8 && t[1 + i] == wb[nw][i];
        nw++;
    }
    CHECK(ok && nw == 8, "BOS windows (%d)", nw);
    sx_packer_free(p);
    sx_source_close(src);

    /* one document per window, padded with 0, truncated to C */
    sx_pack_opts od = {.context_size = 5, .prepend_bos = 1, .bos_id = 1, .separator_id = -1,
                       .per_doc = 1, .pad_id = 0};
    p = mk(path, od, &src);
    int lens[8], n = 0;
    ok = 1;
    while (sx_packer_next(p, t, d, &len, &err) == 1) {
        lens[n] = len;
        ok &= t[0] == 1;
        for (int i = len; i < 5; i++) ok &= t[i] == 0 && d[i] == -1;
        for (int i = 1; i < len; i++) ok &= d[i] == n;
        n++;
    }
    CHECK(ok && n == 4 && lens[0] == 4 && lens[1] == 5 && lens[2] == 3 && lens[3] == 5,
          "per-doc windows %d: %d %d %d %d", n, lens[0], lens[1], lens[2], lens[3]);
    sx_packer_free(p);
    sx_source_close(src);

    /* window shuffle: a permutation of the plain order, the same for the same seed */
    char big[4200];
    snprintf(big, sizeof big, "%s/big.txt", dir);
    f = fopen(big, "w");
    for (int i = 0; i < 500; i++) fprintf(f, "document number %d with some words\n", i);
    fclose(f);
    sx_pack_opts os = {.context_size = 8, .bos_id = -1, .separator_id = '\n'};
    static uint64_t first[3][4000];
    int cnt[3] = {0};
    for (int k = 0; k < 3; k++) {
        os.shuffle_windows = k ? 64 : 0;
        os.seed = k == 2 ? 99 : 5;
        p = mk(big, os, &src);
        while (cnt[k] < 4000 && sx_packer_next(p, t, d, &len, &err) == 1) {
            uint64_t key = 0; /* the window's first doc id and bytes identify it */
            for (int i = 0; i < 8; i++) key = key * 131 + t[i];
            first[k][cnt[k]++] = key;
        }
        sx_packer_free(p);
        sx_source_close(src);
    }
    CHECK(cnt[0] == cnt[1] && cnt[1] == cnt[2] && cnt[0] > 1000, "shuffled counts %d %d %d", cnt[0], cnt[1], cnt[2]);
    uint64_t s0 = 0, s1 = 0; int64_t moved = 0;
    for (int i = 0; i < cnt[0]; i++) s0 += first[0][i], s1 += first[1][i], moved += first[0][i] != first[1][i];
    CHECK(s0 == s1 && moved > cnt[0] / 2, "shuffle is a permutation that moves windows (%lld)", (long long)moved);
    p = NULL;
    os.shuffle_windows = 64;
    os.seed = 5;
    p = mk(big, os, &src);
    int same = 1;
    for (int i = 0; i < cnt[1] && sx_packer_next(p, t, d, &len, &err) == 1; i++) {
        uint64_t key = 0;
        for (int j = 0; j < 8; j++) key = key * 131 + t[j];
        same &= key == first[1][i];
    }
    CHECK(same, "same seed, same window order");
    int diff = 0;
    for (int i = 0; i < cnt[1]; i++) diff += first[1][i] != first[2][i];
    CHECK(diff > 0, "other seed, other order");
    sx_packer_free(p);
    sx_source_close(src);
    sx_pack_opts bad = {.context_size = 1};
    CHECK(sx_packer_new(NULL, NULL, &bad, &p, &err) == -1 && strstr(err.msg, "context size"), "%s", err.msg);
    return TEST_DONE();
}
