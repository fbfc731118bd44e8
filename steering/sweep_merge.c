/* sweep_merge.c — the sweeps of several SAEs (each a steering_sweep.csv) as one table, the
 * SAE conditions named by their SAE ("topk-1024 steer@2"). */
#include <stdio.h>
#include <string.h>

#include "export.h"
#include "steering.h"

/* Copy every row of a sweep, renaming SAE-based conditions "<sae> <condition>". */
static void copy_sweep(const sx_csv_table *t, sx_csv_writer *w, const char *sae_name, int skip_none) {
    int ct = sx_csv_col(t, "tier"), cc = sx_csv_col(t, "condition");
    for (int64_t r = 0; r < t->nrows; r++) {
        const char *tier = sx_csv_cell(t, r, ct);
        int sae_tier = strcmp(tier, "ablate") == 0 || strcmp(tier, "suppress") == 0 || strcmp(tier, "steer") == 0;
        if (skip_none && !sae_tier) continue;
        for (int k = 0; k < t->ncols; k++) {
            if (k == cc && sae_tier) {
                char name[512];
                snprintf(name, sizeof name, "%s %s", sae_name, sx_csv_cell(t, r, k));
                sx_csv_str(w, name);
            } else {
                sx_csv_str(w, sx_csv_cell(t, r, k));
            }
        }
        sx_csv_row(w);
    }
}

int sx_sweep_merge(const struct sx_csv_table *const *tables, const char *const *names, const int *sae_rows_only,
                   int n, const char *dst, sx_err *err) {
    if (n < 1) return sx_fail(err, "sx_sweep_merge: no sweeps");
    const sx_csv_table *a = tables[0];
    for (int i = 0; i < n; i++) {
        const sx_csv_table *b = tables[i];
        if (b->ncols != a->ncols || sx_csv_col(b, "condition") < 0 || sx_csv_col(b, "tier") < 0)
            return sx_fail(err, "%s and %s: sweep columns differ or lack condition/tier", a->path, b->path);
    }
    sx_csv_writer w;
    if (sx_csv_open(&w, dst, (const char *const *)a->header, a->ncols, err)) return -1;
    for (int i = 0; i < n; i++) copy_sweep(tables[i], &w, names[i], sae_rows_only ? sae_rows_only[i] : 0);
    return sx_csv_close(&w, err);
}

int64_t sx_sweep_family_row(const struct sx_csv_table *t, int64_t r, const char *sae_name) {
    int cc = sx_csv_col(t, "condition");
    size_t ln = strlen(sae_name);
    if (cc < 0 || r < 0 || r >= t->nrows) return -1;
    const char *cond = sx_csv_cell(t, r, cc);
    if (strncmp(cond, sae_name, ln) != 0 || cond[ln] != ' ' || strstr(cond, "-family")) return -1;
    const char *tier_at = cond + ln + 1;
    const char *at = strchr(tier_at, '@');
    char fam[600];
    if (at)
        snprintf(fam, sizeof fam, "%s %.*s-family%s", sae_name, (int)(at - tier_at), tier_at, at);
    else
        snprintf(fam, sizeof fam, "%s %s-family", sae_name, tier_at);
    for (int64_t i = 0; i < t->nrows; i++)
        if (strcmp(sx_csv_cell(t, i, cc), fam) == 0) return i;
    return -1;
}
