/* loglik_batch.c — sx_loglik for many items in batched passes (the fluency pass and the
 * multiple-choice benchmark of steering/).
 *
 * Items are taken in order, as many per pass as fit block_rows continuation rows (at least
 * one).  Consecutive items with the same context share it: the context is prefilled once (one
 * packed pass for all new contexts of a pass) into the slot of its first item, and its
 * keys/values are copied into the slots of the others; a context whose items spill into the
 * next pass waits in a carry slot (as generate_batch.c).  Then one pass over every item's
 * continuation tokens cont[0..n-2] (teacher forcing, KV cache) gives the logits of
 * cont[1..n-1]; cont[0] is scored from the context's last row.
 *
 * Cost floor: 2 * params FLOPs per context token once per distinct context (not per item) plus
 * per continuation token (GPT-2 small: ~247 MFLOP with the unembedding), in sgemm with
 * hundreds of rows per product, i.e. compute bound; the log-softmax per scored row is O(V),
 * run across the threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate_internal.h"

#define SCORE_ROWS_DEFAULT 512

static double row_logprob(const float *l, int V, int tok) {
    float mx = l[0];
    for (int j = 1; j < V; j++)
        if (l[j] > mx) mx = l[j];
    double z = sx__sum_exp(l, V, mx, 1.0f, NULL); /* as sx_loglik */
    return (double)l[tok] - mx - log(z);
}

static int same_ctx(const sx_loglik_item *a, const sx_loglik_item *b) { return a->ctx == b->ctx && a->n_ctx == b->n_ctx; }

int sx_loglik_many(sx_model *m, const sx_loglik_item *items, int64_t n, const sx_hook *hooks, int n_hooks,
                   const sx_batch_opts *bo, double *sum_logprob, sx_err *err) {
    const sx_model_config *c = &m->cfg;
    const int V = c->vocab_size;
    if (n <= 0 || !items || !sum_logprob) return sx_failc(err, SX_EINVAL, "%s: sx_loglik_many: no items given", m->dir);
    if (sx__hooks_check(m, hooks, n_hooks, err)) return -1;
    int cap = 0;
    for (int64_t i = 0; i < n; i++) {
        const sx_loglik_item *it = &items[i];
        if (it->n_ctx <= 0 || !it->ctx)
            return sx_failc(err, SX_EINVAL, "%s: item %lld: sx_loglik needs at least one context token", m->dir, (long long)i);
        if (it->n_cont <= 0 || !it->cont)
            return sx_failc(err, SX_EINVAL, "%s: item %lld: empty continuation", m->dir, (long long)i);
        if (it->n_ctx + it->n_cont > c->n_ctx)
            return sx_failc(err, SX_EINVAL, "%s: item %lld: context + continuation = %d tokens, more than the context of %d",
                           m->dir, (long long)i, it->n_ctx + it->n_cont, c->n_ctx);
        for (int j = 0; j < it->n_ctx + it->n_cont; j++) {
            int32_t t = j < it->n_ctx ? it->ctx[j] : it->cont[j - it->n_ctx];
            if (t < 0 || t >= V)
                return sx_failc(err, SX_EINVAL, "%s: item %lld: token id %d is out of range: vocab_size is %d", m->dir,
                               (long long)i, (int)t, V);
        }
        cap = it->n_ctx + it->n_cont > cap ? it->n_ctx + it->n_cont : cap;
    }
    int R = bo && bo->block_rows > 0 ? bo->block_rows : SCORE_ROWS_DEFAULT;
    if (!(bo && bo->block_rows > 0)) { /* the default: logits rows within the budget (large vocabularies) */
        int lfit = (int)(SX__LOGITS_BUDGET_DEFAULT / (2 * (size_t)V * sizeof(float)));
        R = R < lfit ? R : lfit > 16 ? lfit : 16;
    }
    int S = (int64_t)R < n ? R : (int)n; /* item slots per pass; slot S is the carry */
    if (!(bo && bo->block_rows > 0)) {   /* the default: within the KV budget */
        int fit = sx__kvslots_fit(c, cap);
        S = S < fit ? S : fit;
    }
    sx__kvslots kv = {0};
    int *seq_off = malloc((size_t)(S + 1) * sizeof(int)), *slot_first = malloc((size_t)S * sizeof(int));
    int *prow = malloc((size_t)S * sizeof(int)), *pctx = malloc((size_t)S * sizeof(int));
    int32_t *ptok = malloc((size_t)S * cap * sizeof(int32_t));
    int *pseq = malloc((size_t)S * cap * sizeof(int)), *ppos = malloc((size_t)S * cap * sizeof(int));
    float *plog = sx__big_take(m, (size_t)S * V * sizeof(float)), *clog = malloc((size_t)V * sizeof(float));
    /* continuation rows: at most max(R, longest continuation) */
    int maxr = R;
    for (int64_t i = 0; i < n; i++) maxr = items[i].n_cont - 1 > maxr ? items[i].n_cont - 1 : maxr;
    int32_t *dtok = malloc((size_t)maxr * sizeof(int32_t));
    int *dseq = malloc((size_t)maxr * sizeof(int)), *dpos = malloc((size_t)maxr * sizeof(int));
    int *drow = malloc((size_t)maxr * sizeof(int)), *ditem = malloc((size_t)maxr * sizeof(int));
    float *dlog = sx__big_take(m, (size_t)maxr * V * sizeof(float)); /* both kept by the model between calls */
    double *dlp = malloc((size_t)maxr * sizeof(double));
    int rc = -1;
    if (!seq_off || !slot_first || !prow || !pctx || !ptok || !pseq || !ppos || !plog || !clog || !dtok || !dseq ||
        !dpos || !drow || !ditem || !dlog || !dlp || sx__kvslots_alloc(&kv, m, S + 1, cap)) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory scoring %lld items (block of %d rows)", m->dir, (long long)n, R);
        goto out;
    }
    for (int s = 0; s <= S; s++) seq_off[s] = s * cap;
    for (int r = 0; r < maxr; r++) drow[r] = r;
    sx_kv view = sx__kvslots_view(&kv, seq_off);
    int64_t next = 0, carry_item = -1; /* carry_item: an item whose context is in the carry slot */
    while (next < n) {
        /* admit items while their continuation rows fit */
        int64_t i0 = next;
        int ns = 0, rows = 0, np = 0, nr = 0;
        while (next < n && ns < S && (ns == 0 || rows + items[next].n_cont - 1 <= R)) {
            const sx_loglik_item *it = &items[next];
            if (carry_item >= 0 && same_ctx(it, &items[carry_item])) {
                slot_first[ns] = -1; /* context from the carry slot */
                sx__kvslots_copy(&kv, S, ns, it->n_ctx);
            } else if (ns > 0 && same_ctx(it, &items[next - 1])) {
                slot_first[ns] = slot_first[ns - 1] < 0 ? -1 : slot_first[ns - 1];
                if (slot_first[ns] < 0) sx__kvslots_copy(&kv, S, ns, it->n_ctx);
            } else {
                for (int j = 0; j < it->n_ctx; j++, nr++) ptok[nr] = it->ctx[j], pseq[nr] = ns, ppos[nr] = j;
                pctx[np] = ns;
                prow[np++] = nr - 1;
                slot_first[ns] = ns;
            }
            rows += it->n_cont - 1;
            ns++, next++;
        }
        if (np > 0) {
            sx_rowset rs = {nr, ptok, pseq, ppos};
            if (sx__run(m, &rs, &view, hooks, n_hooks, -1, prow, np, plog, err)) goto out;
        }
        /* context logits: cont[0]; prefixes into the sharing items' slots */
        for (int q = 0, j = 0; j < ns; j++) {
            const sx_loglik_item *it = &items[i0 + j];
            const float *l;
            if (slot_first[j] < 0) l = clog;
            else {
                while (q + 1 < np && pctx[q + 1] <= slot_first[j]) q++;
                l = plog + (size_t)q * V;
                if (slot_first[j] != j) sx__kvslots_copy(&kv, slot_first[j], j, it->n_ctx);
            }
            sum_logprob[i0 + j] = row_logprob(l, V, it->cont[0]);
        }
        /* a context whose items continue in the next pass waits in the carry slot */
        if (next < n && same_ctx(&items[next], &items[next - 1])) {
            int j = ns - 1;
            if (slot_first[j] >= 0) {
                int q = 0;
                while (q + 1 < np && pctx[q + 1] <= slot_first[j]) q++;
                sx__kvslots_copy(&kv, slot_first[j], S, items[next - 1].n_ctx);
                memcpy(clog, plog + (size_t)q * V, (size_t)V * sizeof(float));
            }
            carry_item = next - 1;
        } else {
            carry_item = -1;
        }
        /* every item's cont[0..n-2] in one pass: logits of cont[1..n-1] */
        int dr = 0;
        for (int j = 0; j < ns; j++) {
            const sx_loglik_item *it = &items[i0 + j];
            for (int t = 0; t + 1 < it->n_cont; t++, dr++)
                dtok[dr] = it->cont[t], dseq[dr] = j, dpos[dr] = it->n_ctx + t, ditem[dr] = j;
        }
        if (dr > 0) {
            sx_rowset rs = {dr, dtok, dseq, dpos};
            if (sx__run(m, &rs, &view, hooks, n_hooks, -1, drow, dr, dlog, err)) goto out;
#pragma omp parallel for schedule(static) if (dr > 1)
            for (int r = 0; r < dr; r++) {
                const sx_loglik_item *it = &items[i0 + ditem[r]];
                dlp[r] = row_logprob(dlog + (size_t)r * V, V, it->cont[dpos[r] - it->n_ctx + 1]);
            }
            for (int r = 0; r < dr; r++) sum_logprob[i0 + ditem[r]] += dlp[r]; /* in order: as sx_loglik */
        }
        if (bo && bo->progress) bo->progress(bo->progress_user, next);
    }
    rc = 0;
out:
    sx__kvslots_free(&kv);
    free(seq_off), free(slot_first), free(prow), free(pctx), free(ptok), free(pseq), free(ppos), free(clog);
    sx__big_give(m, plog, (size_t)S * V * sizeof(float)), sx__big_give(m, dlog, (size_t)maxr * V * sizeof(float));
    free(dtok), free(dseq), free(dpos), free(drow), free(ditem), free(dlp);
    return rc;
}
