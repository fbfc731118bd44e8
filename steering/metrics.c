/* metrics.c — binary classification metrics for the scorer (AUROC, precision / recall at a
 * threshold).  The evaluation's bootstrap lives in evaluate_stats.c. */
#include "steering.h"
#include "sx_json.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double s;
    int y;
} sy;

static int cmp_sy(const void *a, const void *b) {
    double x = ((const sy *)a)->s, y = ((const sy *)b)->s;
    return x < y ? -1 : x > y;
}

/* Mann-Whitney U with average ranks for ties: O(n log n). */
double sx_auroc(const double *score, const int *label, int64_t n) {
    sy *v = malloc(sizeof(sy) * (size_t)(n ? n : 1));
    if (!v) return NAN;
    int64_t np = 0;
    for (int64_t i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].y = label[i] != 0;
        np += v[i].y;
    }
    int64_t nn = n - np;
    if (np == 0 || nn == 0) {
        free(v);
        return NAN;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_sy);
    double rank_sum = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double avg = 0.5 * (double)(i + 1 + j); /* ranks i+1..j */
        for (int64_t k = i; k < j; k++)
            if (v[k].y) rank_sum += avg;
        i = j;
    }
    free(v);
    return (rank_sum - (double)np * (double)(np + 1) / 2) / ((double)np * (double)nn);
}

void sx_binary_eval(const double *score, const int *label, int64_t n, double threshold,
                    sx_binary_metrics *m) {
    *m = (sx_binary_metrics){0};
    m->n = n;
    for (int64_t i = 0; i < n; i++) {
        int p = score[i] >= threshold, y = label[i] != 0;
        m->n_pos += y;
        m->tp += p && y;
        m->fp += p && !y;
        m->fn += !p && y;
        m->tn += !p && !y;
    }
    m->auroc = sx_auroc(score, label, n);
    m->precision = m->tp + m->fp ? (double)m->tp / (double)(m->tp + m->fp) : NAN;
    m->recall = m->tp + m->fn ? (double)m->tp / (double)(m->tp + m->fn) : NAN;
    m->f1 = (m->precision + m->recall > 0) ? 2 * m->precision * m->recall / (m->precision + m->recall) : NAN;
    m->accuracy = n ? (double)(m->tp + m->tn) / (double)n : NAN;
}

static void num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

cJSON *sx_binary_metrics_json(const sx_binary_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "n", (double)m->n);
    cJSON_AddNumberToObject(o, "n_toxic", (double)m->n_pos);
    num(o, "auroc", m->auroc);
    num(o, "precision_at_0.5", m->precision);
    num(o, "recall_at_0.5", m->recall);
    num(o, "f1_at_0.5", m->f1);
    num(o, "accuracy_at_0.5", m->accuracy);
    return o;
}
