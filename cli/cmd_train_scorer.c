/* cmd_train_scorer.c — `saetox train-scorer`: train the hashed n-gram toxicity scorer on
 * labelled text, report held-out metrics, write the weights (the build compiles
 * steering/weights/toxicity-scorer.bin into the program as the default scorer). */
#include "cli.h"
#include "sx_json.h"
#include "steering.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "train-scorer"

int cmd_train_scorer(int argc, char **argv) {
    cli_strlist data = {0};
    const char *out = NULL, *report = NULL;
    int64_t seed = 1234, epochs = -1, buckets = -1, threads = 0;
    double hold = 0.2, lr = -1, l2 = -1;
    int f32 = 0, no_balance = 0;
    cli_opt opts[] = {
        {"data", CLI_STRLIST, &data, "SPEC", "labelled data [davidson:|rtp:|dt:|jsonl:]PATH[@WEIGHT], or SOURCE;score=FIELD|RULE[@WEIGHT] (e.g. jsonl:F#prompt.text;score=prompt.toxicity), repeatable (default: the RTP, DecodingTrust and Davidson files in ../shared/data)", 0, 0},
        {"out", CLI_STR, &out, "FILE", "weights file to write", 1, 0},
        {"seed", CLI_INT, &seed, "N", "shuffle seed (default 1234)", 0, 0},
        {"epochs", CLI_INT, &epochs, "N", "passes over the training split (default 8)", 0, 0},
        {"holdout-frac", CLI_DBL, &hold, "F", "held-out fraction, chosen by a hash of the text (default 0.2)", 0, 0},
        {"report", CLI_STR, &report, "FILE", "write held-out metrics as JSON", 0, 0},
        {"log2-buckets", CLI_INT, &buckets, "B", "2^B hash buckets (default 16)", 0, 0},
        {"lr", CLI_DBL, &lr, "X", "AdaGrad step (default 0.2)", 0, 0},
        {"l2", CLI_DBL, &l2, "X", "L2 strength (default 1e-6)", 0, 0},
        {"f32", CLI_FLAG, &f32, NULL, "store float32 weights (default float16)", 0, 0},
        {"no-balance", CLI_FLAG, &no_balance, NULL, "do not balance classes within each source", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads for feature extraction (default: all)", 0, 0},
    };
    int rc = cli_parse(CMD, "Train the toxicity scorer: logistic regression over hashed word 1-2-grams and\n"
                            "character 3-5-grams, AdaGrad + L2, deterministic by seed.",
                       opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    sx_set_threads((int)threads);
    sx_scorer_train_opts o;
    sx_scorer_train_defaults(&o);
    o.seed = (uint64_t)seed;
    o.holdout_frac = hold;
    o.f16 = !f32;
    o.balance = !no_balance;
    if (epochs >= 0) o.epochs = (int)epochs;
    if (buckets >= 0) o.cfg.log2_buckets = (int)buckets;
    if (lr >= 0) o.lr = lr;
    if (l2 >= 0) o.l2 = l2;
    sx_err err = {0};
    sx_labelled d = {0};
    const char *defaults[] = {"rtp/toxic.jsonl", "rtp/nontoxic.jsonl",
                              "toxicity-labeled/gpt4_toxic_generations.jsonl",
                              "toxicity-labeled/gpt35_toxic_generations.jsonl",
                              "davidson/labeled_data.csv"};
    if (data.n == 0) {
        const char *sh = sx_shared_dir();
        if (!sh) {
            cli_error(CMD, "no --data given and ../shared/data not found");
            return 2;
        }
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/data/%s", sh, defaults[i]);
            if (sx_labelled_load(&d, p, &err)) goto fail;
        }
    }
    for (int i = 0; i < data.n; i++)
        if (sx_labelled_load(&d, data.v[i], &err)) goto fail;
    cJSON *rep = cJSON_CreateObject();
    sx_scorer *s = NULL;
    double t0 = sx_now();
    if (sx_scorer_train(&d, &o, &s, rep, &err)) {
        cJSON_Delete(rep);
        goto fail;
    }
    cJSON_AddNumberToObject(rep, "train_seconds", sx_now() - t0);
    unsigned char *buf = NULL;
    size_t len = 0;
    int bad = sx_scorer_serialise(s, o.f16, &buf, &len, &err) || sx_write_file_atomic(out, buf, len, &err) ||
              (report && sx_json_write_file(report, rep, &err));
    if (!bad) {
        const cJSON *ps = cJSON_GetObjectItem(rep, "perspective"), *dv = cJSON_GetObjectItem(rep, "davidson");
        fprintf(stderr, "saetox %s: %lld examples (%lld held out); wrote %s (%zu bytes)\n", CMD, (long long)d.n,
                (long long)cJSON_GetObjectItem(rep, "n_holdout")->valuedouble, out, len);
        if (ps)
            fprintf(stderr, "  held-out Perspective: n=%d AUROC=%.4f precision@0.5=%.4f recall@0.5=%.4f\n",
                    cJSON_GetObjectItem(ps, "n")->valueint, cJSON_GetNumberValue(cJSON_GetObjectItem(ps, "auroc")),
                    cJSON_GetNumberValue(cJSON_GetObjectItem(ps, "precision_at_0.5")),
                    cJSON_GetNumberValue(cJSON_GetObjectItem(ps, "recall_at_0.5")));
        if (dv)
            fprintf(stderr, "  held-out Davidson:    n=%d AUROC=%.4f precision@0.5=%.4f recall@0.5=%.4f\n",
                    cJSON_GetObjectItem(dv, "n")->valueint, cJSON_GetNumberValue(cJSON_GetObjectItem(dv, "auroc")),
                    cJSON_GetNumberValue(cJSON_GetObjectItem(dv, "precision_at_0.5")),
                    cJSON_GetNumberValue(cJSON_GetObjectItem(dv, "recall_at_0.5")));
    }
    free(buf);
    sx_scorer_free(s);
    cJSON_Delete(rep);
    sx_labelled_free(&d);
    if (bad) {
        fprintf(stderr, "saetox %s: %s\n", CMD, err.msg);
        return 1;
    }
    return 0;
fail:
    fprintf(stderr, "saetox %s: %s\n", CMD, err.msg);
    sx_labelled_free(&d);
    return 1;
}
