/* test_models_bigpool.c — the model's cache of big blocks (sx__big_take / sx__big_give,
 * models/model.c), which keeps the KV slots and logits rows of the batched paths between
 * calls: a block handed back is handed out again to a request it fits (the smallest such
 * block), at most SX__BIG_SLOTS blocks and 3 GiB are kept (the larger blocks win), and
 * sx_model_trim releases everything.  The byte counts are the caller's word, so the 3 GiB
 * bound is checked with small real allocations declared large. */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "test.h"

static int held(const sx_model *m) {
    int n = 0;
    for (int i = 0; i < SX__BIG_SLOTS; i++) n += m->big[i] != NULL;
    return n;
}

int main(void) {
    sx_model *m = calloc(1, sizeof *m);
    CHECK(m != NULL, "calloc");
    /* a block comes back to a request it fits; a larger request gets a new one */
    void *a = sx__big_take(m, 1000), *b = sx__big_take(m, 5000);
    CHECK(a && b && a != b, "two new blocks");
    memset(a, 1, 1000), memset(b, 2, 5000);
    sx__big_give(m, a, 1000), sx__big_give(m, b, 5000);
    CHECK(held(m) == 2, "two blocks kept (%d)", held(m));
    void *c = sx__big_take(m, 800);
    CHECK(c == a, "the smallest block that fits (1000 of 1000, 5000) is reused for 800 bytes");
    void *d = sx__big_take(m, 4000);
    CHECK(d == b, "the 5000-byte block is reused for 4000 bytes");
    void *e = sx__big_take(m, 100);
    CHECK(e != a && e != b && held(m) == 0, "nothing cached: a new block");
    sx__big_give(m, c, 1000), sx__big_give(m, d, 5000), sx__big_give(m, e, 100);
    void *f = sx__big_take(m, 6000);
    CHECK(f != a && f != b && f != e && held(m) == 3, "no cached block fits 6000: a new one, the rest stay");
    sx__big_give(m, f, 6000);
    sx__big_give(m, NULL, 10);
    CHECK(held(m) == 4, "give NULL is a no-op (%d kept)", held(m));
    /* slots: past SX__BIG_SLOTS the smallest goes, unless the newcomer is smaller still */
    for (int i = 0; i < SX__BIG_SLOTS; i++) sx__big_give(m, malloc(64), (size_t)10000 + i);
    CHECK(held(m) == SX__BIG_SLOTS, "at most %d blocks kept (%d)", SX__BIG_SLOTS, held(m));
    size_t mn = (size_t)-1;
    for (int i = 0; i < SX__BIG_SLOTS; i++) mn = m->big_cap[i] < mn ? m->big_cap[i] : mn;
    /* 4 kept (100, 1000, 5000, 6000) + 8 given: the four small ones made room */
    CHECK(mn == 10000, "the small blocks made room (smallest kept %zu, want 10000)", mn);
    sx__big_give(m, malloc(64), 50); /* smaller than every kept block: freed at once */
    mn = (size_t)-1;
    for (int i = 0; i < SX__BIG_SLOTS; i++) mn = m->big_cap[i] < mn ? m->big_cap[i] : mn;
    CHECK(mn == 10000 && held(m) == SX__BIG_SLOTS, "a block smaller than all kept ones is not kept (smallest %zu)", mn);
    sx_model_trim(m);
    CHECK(held(m) == 0, "trim releases every block (%d)", held(m));
    /* the byte bound: 2 GiB kept, another 2 GiB does not fit under 3 GiB and is not larger */
    const size_t G = (size_t)1 << 30;
    sx__big_give(m, malloc(64), 2 * G);
    sx__big_give(m, malloc(64), 2 * G);
    CHECK(held(m) == 1, "3 GiB bound: one 2 GiB block kept (%d)", held(m));
    sx__big_give(m, malloc(64), G / 2);
    CHECK(held(m) == 2, "0.5 GiB more fits under the bound (%d)", held(m));
    sx__big_give(m, malloc(64), G); /* 2.5 + 1 > 3 GiB, but 2.5 - 0.5 + 1 = 3 fits: it replaces the 0.5 */
    size_t tot = 0;
    for (int i = 0; i < SX__BIG_SLOTS; i++) tot += m->big_cap[i];
    CHECK(held(m) == 2 && tot == 3 * G, "1 GiB replaces the 0.5 GiB block (%d kept, %zu bytes)", held(m), tot);
    sx__big_give(m, malloc(64), G / 4); /* 3 + 0.25 > 3 and smaller than every kept block */
    CHECK(held(m) == 2, "a quarter GiB more is not kept at the bound (%d)", held(m));
    sx_model_trim(m);
    sx_model_trim(NULL);
    free(m);
    return TEST_DONE();
}
