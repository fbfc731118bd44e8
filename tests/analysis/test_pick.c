/* test_pick.c — latent picking for the demo (sx_pick_latents) on small hand-written
 * toxic_latents / pairs tables with known answers, and sx_ana_concat_csv. */
#include "analysis.h"
#include "export.h"
#include "test.h"

static void parse(const char *name, const char *text, sx_csv_table *t) {
    sx_err err;
    if (sx_csv_parse(name, text, strlen(text), t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

/* Rows deliberately out of rank order, with another SAE's rows mixed in. */
static const char *TOXIC = "sae,rank,latent,auroc\n"
                           "N,2,40,0.9\n"
                           "W,2,300,0.9\n"
                           "N,1,10,0.95\n"
                           "W,1,111,0.97\n"
                           "N,4,60,0.8\n"
                           "N,3,50,0.85\n"
                           "W,3,205,0.8\n"
                           "X,1,999,0.99\n";

static void test_split_family(void) {
    /* 10 has one child; 40 (rank 2) has three, with a cosine tie between 205 and 204 */
    const char *pairs = "small_latent,wide_latent,cosine\n"
                        "10,100,0.9\n"
                        "40,205,0.6\n"
                        "40,300,0.8\n"
                        "40,204,0.6\n"
                        "50,500,0.7\n"
                        "50,501,0.75\n";
    sx_csv_table t, p;
    parse("toxic_latents.csv", TOXIC, &t);
    parse("pairs.csv", pairs, &p);
    sx_latent_pick k;
    sx_err err;
    CHECK(sx_pick_latents(&t, &p, "N", "W", 3, 10, &k, &err) == 0, "%s", err.msg);
    CHECK(k.n_top == 3 && k.top[0] == 10 && k.top[1] == 40 && k.top[2] == 50, "top %d: %d %d %d", k.n_top, k.top[0],
          k.top[1], k.top[2]);
    CHECK(k.parent == 40, "parent %d (the best-ranked latent with >= 2 children)", k.parent);
    CHECK(k.n_children == 3 && k.child[0] == 300 && k.child[1] == 204 && k.child[2] == 205,
          "children %d: %d %d %d (by cosine, ties by index)", k.n_children, k.child[0], k.child[1], k.child[2]);
    CHECK(k.child_cos[0] == 0.8 && k.child_cos[1] == 0.6, "cosines %g %g", k.child_cos[0], k.child_cos[1]);
    CHECK(k.n_family == 3 && k.family[0] == 300 && k.family[2] == 205, "family");
    /* wide ranks: 111 (not a child), 300 (child) -> single 300 */
    CHECK(k.single == 300, "single %d", k.single);
    /* only the best candidate considered: 10 has one child -> fall back to it */
    CHECK(sx_pick_latents(&t, &p, "N", "W", 2, 1, &k, &err) == 0, "%s", err.msg);
    CHECK(k.n_top == 2 && k.parent == 10 && k.n_children == 1 && k.child[0] == 100 && k.n_family == 1 &&
              k.family[0] == 100 && k.single == 100,
          "one candidate: parent %d, %d children, single %d", k.parent, k.n_children, k.single);
    sx_csv_free(&p);
    /* the single latent is the best-ranked child among the wide SAE's toxic latents */
    const char *pairs2 = "small_latent,wide_latent,cosine\n"
                         "10,300,0.7\n"
                         "10,205,0.9\n"
                         "10,111,0.5\n";
    parse("pairs.csv", pairs2, &p);
    CHECK(sx_pick_latents(&t, &p, "N", "W", 3, 10, &k, &err) == 0, "%s", err.msg);
    CHECK(k.parent == 10 && k.n_children == 3 && k.child[0] == 205 && k.child[1] == 300 && k.child[2] == 111 &&
              k.single == 111,
          "parent %d, children %d %d %d, single %d", k.parent, k.child[0], k.child[1], k.child[2], k.single);
    sx_csv_free(&p);
    sx_csv_free(&t);
}

static void test_no_children(void) {
    const char *pairs = "small_latent,wide_latent,cosine\n"
                        "77,100,0.9\n";
    sx_csv_table t, p;
    parse("toxic_latents.csv", TOXIC, &t);
    parse("pairs.csv", pairs, &p);
    sx_latent_pick k;
    sx_err err;
    CHECK(sx_pick_latents(&t, &p, "N", "W", 3, 10, &k, &err) == 0, "%s", err.msg);
    CHECK(k.parent == 10 && k.n_children == 0 && k.n_family == 1 && k.family[0] == 111 && k.single == 111,
          "no child: parent %d, family %d x %d, single %d", k.parent, k.n_family, k.family[0], k.single);
    /* errors: no rows for a label, a missing column, a bad number */
    CHECK(sx_pick_latents(&t, &p, "N", "Z", 3, 10, &k, &err) == -1 && strstr(err.msg, "toxic_latents.csv") &&
              strstr(err.msg, "no toxic latents"),
          "no wide rows: %s", err.msg);
    sx_csv_free(&p);
    parse("pairs.csv", "small_latent,cosine\n1,0.5\n", &p);
    CHECK(sx_pick_latents(&t, &p, "N", "W", 3, 10, &k, &err) == -1 && strstr(err.msg, "wide_latent"), "missing: %s",
          err.msg);
    sx_csv_free(&p);
    parse("pairs.csv", "small_latent,wide_latent,cosine\n10,abc,0.5\n", &p);
    CHECK(sx_pick_latents(&t, &p, "N", "W", 3, 10, &k, &err) == -1 && strstr(err.msg, "pairs.csv"), "bad cell: %s",
          err.msg);
    CHECK(sx_pick_latents(&t, &p, "N", "W", 0, 10, &k, &err) == -1, "n_steer 0 refused");
    sx_csv_free(&p);
    sx_csv_free(&t);
}

static void test_concat(void) {
    const char *dir = test_tmpdir("pick");
    char a[4200], b[4200], dst[4200];
    snprintf(a, sizeof a, "%s/a.csv", dir);
    snprintf(b, sizeof b, "%s/b.csv", dir);
    snprintf(dst, sizeof dst, "%s/ab.csv", dir);
    FILE *f = fopen(a, "w");
    fputs("sae,latent\nA,1\nA,2\n", f);
    fclose(f);
    f = fopen(b, "w");
    fputs("sae,latent\nB,\"3\"\n", f);
    fclose(f);
    sx_err err;
    CHECK(sx_ana_concat_csv((const char *const[]){a, b}, 2, dst, &err) == 0, "%s", err.msg);
    char *data = NULL;
    size_t len = 0;
    CHECK(sx_read_file(dst, 1 << 20, &data, &len, &err) == 0 && strcmp(data, "sae,latent\nA,1\nA,2\nB,\"3\"\n") == 0,
          "concat: %s", data ? data : err.msg);
    free(data);
    snprintf(b, sizeof b, "%s/missing.csv", dir);
    CHECK(sx_ana_concat_csv((const char *const[]){a, b}, 2, dst, &err) == -1 && strstr(err.msg, "missing.csv"),
          "missing input: %s", err.msg);
}

int main(void) {
    test_split_family();
    test_no_children();
    test_concat();
    return TEST_DONE();
}
