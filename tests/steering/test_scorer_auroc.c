/* test_scorer_auroc.c — the shipped default scorer on the held-out split (hash of the
 * text, 20%) of the Perspective-scored data (RTP prompts + continuations, DecodingTrust
 * generations; toxic = toxicity >= 0.5): AUROC must be >= 0.85.  Also Davidson held out. */
#include "steering.h"
#include "test.h"

static void eval(sx_scorer *s, const sx_labelled *d, int perspective, double min_auroc, const char *what) {
    double *p = malloc(sizeof(double) * d->n);
    int *y = malloc(sizeof(int) * d->n);
    const char **t = calloc((size_t)d->n, sizeof(char *));
    int64_t n = 0;
    for (int64_t i = 0; i < d->n; i++)
        if (sx_text_is_holdout(d->text[i], 0.2) && d->src[d->source[i]].perspective == perspective) {
            t[n] = d->text[i];
            y[n] = d->score[i] >= 0.5f;
            n++;
        }
    sx_scorer_score_many(s, t, n, p);
    sx_binary_metrics m;
    sx_binary_eval(p, y, n, 0.5, &m);
    printf("%s held out: n=%lld toxic=%lld AUROC=%.4f precision=%.4f recall=%.4f\n", what, (long long)n,
           (long long)m.n_pos, m.auroc, m.precision, m.recall);
    CHECK(n > 100, "%s: held-out size %lld", what, (long long)n);
    CHECK(m.auroc >= min_auroc, "%s AUROC %.4f >= %.2f", what, m.auroc, min_auroc);
    free(p);
    free(y);
    free(t);
}

int main(void) {
    const char *sh = test_shared_or_skip("the scorer AUROC test (../shared/data)");
    sx_err err;
    sx_scorer *s = NULL;
    char where[4200];
    CHECK(sx_scorer_load_default(&s, where, sizeof where, &err) == 0, "default weights: %s", err.msg);
    if (!s) return TEST_DONE();
    printf("default scorer: %s\n", where);
    const char *files[] = {"rtp/toxic.jsonl", "rtp/nontoxic.jsonl", "toxicity-labeled/gpt4_toxic_generations.jsonl",
                           "toxicity-labeled/gpt35_toxic_generations.jsonl", "davidson/labeled_data.csv"};
    sx_labelled d = {0};
    for (int i = 0; i < 5; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/data/%s", sh, files[i]);
        CHECK(sx_labelled_load(&d, p, &err) == 0, "load %s: %s", p, err.msg);
    }
    eval(s, &d, 1, 0.85, "Perspective (RTP + DecodingTrust)");
    eval(s, &d, 0, 0.90, "Davidson");
    /* the data loaders: RTP has 1600 prompts (+ continuations minus 13 null scores) */
    int64_t per[8] = {0};
    for (int64_t i = 0; i < d.n; i++) per[d.source[i]]++;
    CHECK(per[0] == 1590 && per[1] == 1597, "RTP rows %lld %lld", (long long)per[0], (long long)per[1]);
    CHECK(per[2] == 900 && per[3] == 900 && per[4] == 18000, "DT / Davidson rows");
    sx_labelled_free(&d);
    sx_scorer_free(s);
    return TEST_DONE();
}
