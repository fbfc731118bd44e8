/* metrics.c — binary classification metrics for the scorer (precision / recall at a
 * threshold, and AUROC through analysis's sx_auroc).  The evaluation's bootstrap lives in evaluate_stats.c. */
#include "analysis.h"
#include "steering.h"
#include "sx_json.h"

#include <math.h>
#include <stdlib.h>

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
