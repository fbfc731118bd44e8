/* train_eval.c — held-out evaluation of the SAEs a run saved (in raw activation units). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "trainer.h"

#define EVAL_ROWS 16384

int sx_train_eval(const sx_train_opts *o, const char *eval_cache, sx_err *err) {
    return sx_train_eval_scores(o, eval_cache, NULL, NULL, err);
}

int sx_train_eval_scores(const sx_train_opts *o, const char *eval_cache, const double *ce_loss_score,
                         const double *kl_div_score, sx_err *err) {
    sx_act_reader_opts ro = {o->seed, 0, 0};
    sx_act_reader *r;
    if (sx_act_reader_open(&eval_cache, 1, &ro, &r, err)) return -1;
    int d = sx_act_reader_d_in(r);
    int64_t n = sx_act_reader_rows(r) < EVAL_ROWS ? sx_act_reader_rows(r) : EVAL_ROWS;
    float *x = malloc((size_t)(n > 0 ? n : 1) * d * sizeof(float));
    if (!x) {
        sx_act_reader_close(r);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", eval_cache);
    }
    int64_t got = 0;
    while (got < n) {
        int64_t k = sx_act_reader_next(r, x + got * d, n - got, err);
        if (k <= 0) break;
        got += k;
    }
    sx_act_reader_close(r);
    if (got < n) {
        free(x);
        return sx_failc(err, SX_EIO, "%s: could not read %lld rows", eval_cache, (long long)n);
    }
    double var = 0;
    for (int i = 0; i < d; i++) {
        double s = 0, ss = 0;
        for (int64_t q = 0; q < n; q++) s += x[q * d + i], ss += (double)x[q * d + i] * x[q * d + i];
        var += ss - s * s / (double)(n > 0 ? n : 1);
    }
    char lines[SX_TRAIN_MAX_SAES][512];
    int nl = 0, rc = 0;
    for (int i = 0; i < sx_train_n_saes(o) && !rc; i++) {
        char name[64], dir[4200];
        sx_train_sae_name(o, i, name, sizeof name);
        snprintf(dir, sizeof dir, "%s/%s", o->out_dir, name);
        sx_sae sae;
        if (sx_sae_load(dir, &sae, err)) {
            rc = -1;
            break;
        }
        if (sae.d_in != d) {
            rc = sx_failc(err, SX_EINVAL, "%s: d_in %d but the SAE %s has %d", eval_cache, d, name, sae.d_in);
            sx_sae_free(&sae);
            break;
        }
        float *acts = malloc((size_t)n * sae.d_sae * sizeof(float)), *rec = malloc((size_t)n * d * sizeof(float));
        if (!acts || !rec) rc = sx_failc(err, SX_ENOMEM, "%s: out of memory", eval_cache);
        if (!rc) rc = sx_sae_encode(&sae, x, n, acts, NULL, err);
        if (!rc) {
            sx_sae_decode(&sae, acts, n, rec);
            double se = 0, l0 = 0;
            char *alive = calloc((size_t)sae.d_sae, 1);
            for (int64_t q = 0; q < n * d; q++) se += ((double)rec[q] - x[q]) * ((double)rec[q] - x[q]);
            for (int64_t q = 0; q < n * sae.d_sae; q++)
                if (acts[q] > 0) l0 += 1, alive[q % sae.d_sae] = 1;
            int dead = 0;
            for (int j = 0; j < sae.d_sae; j++) dead += !alive[j];
            free(alive);
            int w = snprintf(lines[nl], 512, "{\"sae\":\"%s\",\"rows\":%lld,\"mse\":%.6g,\"fvu\":%.6g,\"l0\":%.6g,\"dead_frac\":%.6g",
                             name, (long long)n, se / ((double)n * d), var > 0 ? se / var : 0.0, l0 / (double)n,
                             (double)dead / sae.d_sae);
            if (ce_loss_score && kl_div_score) /* JSON has no NaN: null when a score is undefined */
                for (int q = 0; q < 2; q++) {
                    double v = q ? kl_div_score[i] : ce_loss_score[i];
                    const char *key = q ? "kl_div_score" : "ce_loss_score";
                    if (isfinite(v)) w += snprintf(lines[nl] + w, (size_t)(512 - w), ",\"%s\":%.10g", key, v);
                    else w += snprintf(lines[nl] + w, (size_t)(512 - w), ",\"%s\":null", key);
                }
            snprintf(lines[nl] + w, (size_t)(512 - w), "}\n");
            nl++;
        }
        free(acts), free(rec);
        sx_sae_free(&sae);
    }
    free(x);
    if (rc) return -1;
    size_t len = 0;
    char *buf = malloc((size_t)nl * 512 + 1);
    if (!buf) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (int i = 0; i < nl; i++) {
        size_t l = strlen(lines[i]);
        memcpy(buf + len, lines[i], l);
        len += l;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/eval.jsonl", o->out_dir);
    rc = sx_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}
