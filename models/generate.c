/* generate.c — batched KV-cached generation: one packed prefill of every prompt, then one
 * row per live sequence per step.  Sampling: greedy (first index on ties), temperature,
 * top-k, top-p, each sequence i drawing from its own stream sx_rng_stream(seed, i) so its
 * result does not depend on the rest of the batch.  For many prompts x samples (evaluation)
 * generate_batch.c schedules the sequences in blocks instead, with one prefill per prompt.
 *
 * Per generated token the cost floor is the weights read once per step (shared by the whole
 * batch: ~500 MB for GPT-2 small F32 incl. the unembedding) plus 2*params flops per row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate_internal.h"

static int argmax_first(const float *l, int V) {
    int best = 0;
    for (int j = 1; j < V; j++)
        if (l[j] > l[best]) best = j;
    return best;
}

/* logits[argmax_first(l, V)], in 16 lanes (a vectorisable compare-and-select): a NaN at l[0]
 * stays (nothing compares greater), NaNs after it are skipped, as in argmax_first.  Only a
 * maximum of 0 present as both -0 and +0 can come out with the other sign, which changes no
 * difference l[j] - max that the sampler takes. */
static float max_first(const float *l, int V) {
    float acc[16];
    for (int q = 0; q < 16; q++) acc[q] = l[0];
    int j = 0;
    for (; j + 16 <= V; j += 16)
        for (int q = 0; q < 16; q++) acc[q] = l[j + q] > acc[q] ? l[j + q] : acc[q];
    float m = acc[0];
    for (int q = 1; q < 16; q++) m = acc[q] > m ? acc[q] : m;
    for (; j < V; j++) m = l[j] > m ? l[j] : m;
    return m;
}

static int cmp_desc(const void *a, const void *b, void *ctx) {
    const float *p = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    float pi = p[i], pj = p[j];
    if (pi != pj) return pi > pj ? -1 : 1;
    return (i > j) - (i < j);
}

static int cmp_index(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    return (i > j) - (i < j);
}

/* The nucleus without sorting the vocabulary: move to the front of idx[0..n) the smallest set
 * of most likely tokens (ties broken by lower index, as a stable descending sort would) whose
 * mass reaches target, by quickselect on probability: O(n) expected instead of O(n log n) —
 * the sort dominated sampling for flat distributions, where the nucleus holds thousands of
 * tokens.  Returns the set's size; *mass gets its mass.  Order inside the set is arbitrary
 * but deterministic. */
static int nucleus_select(int *idx, int n, const float *p, double target, double *mass) {
    int lo = 0, hi = n; /* idx[0..lo) is taken; the answer's rest lies in idx[lo..hi) */
    double taken = 0;
    while (hi > lo) {
        float a = p[idx[lo]], b = p[idx[lo + (hi - lo) / 2]], c = p[idx[hi - 1]];
        float v = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* three-way partition of idx[lo..hi): > v | == v | < v.  Branch-free: on the flat
         * distributions of evaluation (thousands of tokens in the nucleus) the comparisons are
         * coin flips, and the branchy loop spent most of its time in mispredictions.  The swap
         * partner is gt (> v), lt - 1 (< v) or i itself (== v: a no-op), which is exactly the
         * swap sequence of the branchy Dijkstra loop, and the masses add the same terms in the
         * same order (plus exact zeros), so the set, its order and its mass are unchanged. */
        int gt = lo, i = lo, lt = hi;
        double m_gt = 0, m_eq = 0;
        while (i < lt) {
            int t = idx[i];
            float pt = p[t];
            int g = pt > v, l = pt < v, e = !g & !l;
            int j = i + g * (gt - i) + l * (lt - 1 - i);
            idx[i] = idx[j];
            idx[j] = t;
            m_gt += (double)(g ? pt : 0.0f);
            m_eq += (double)(e ? pt : 0.0f);
            gt += g, i += !l, lt -= l;
        }
        if (taken + m_gt >= target && gt > lo) {
            hi = gt; /* the answer lies inside the larger part */
            continue;
        }
        taken += m_gt;
        if (taken + m_eq >= target) { /* ties at v: lowest indices first */
            qsort(idx + gt, (size_t)(lt - gt), sizeof *idx, cmp_index);
            int j = gt;
            while (j < lt && taken < target) taken += p[idx[j++]];
            *mass = taken;
            return j;
        }
        taken += m_eq;
        lo = lt; /* everything >= v is taken; continue below */
    }
    *mass = taken;
    return lo > 0 ? lo : 1;
}

/* Softmax(logits / T), then keep the top_k most likely (0 = all), then the smallest prefix of
 * those, by decreasing probability, holding top_p of their mass; sample from what is left.
 * Only tokens above a falling threshold are sorted (usually a few hundred, not the vocab). */
int sx__sample(float *logits, int V, float temperature, float top_p, int top_k, sx_rng *rng,
               int *idx, float *p) {
    if (temperature <= 0) return argmax_first(logits, V);
    float mx = max_first(logits, V);
    double sum = sx__sum_exp(logits, V, mx, 1.0f / temperature, p); /* vectorised exp (~1-2 ulp) */
    int use_k = top_k > 0 && top_k < V, use_p = top_p > 0 && top_p < 1;
    if (!use_k && !use_p) {
        double u = sx_rng_uniform(rng) * sum, cum = 0;
        int last = 0;
        for (int j = 0; j < V; j++) {
            if (p[j] <= 0) continue;
            cum += p[j];
            last = j;
            if (cum > u) return j;
        }
        return last;
    }
    int cnt = 0;
    for (double t = 1.0 / 64;; t /= 16) {
        if (t < 1e-37) t = 0;
        cnt = 0;
        double mass = 0;
        for (int j = 0; j < V; j++) { /* branch-free (flat distributions: coin flips) */
            float pj = p[j];
            int take = pj >= t;
            idx[cnt] = j; /* cnt <= j: in bounds; kept only when taken */
            cnt += take;
            mass += (double)(take ? pj : 0.0f); /* + exact zeros: the same sum as adding the taken */
        }
        if (t == 0 || (use_k && cnt >= top_k) || (!use_k && mass >= top_p * sum) ||
            (use_k && use_p && mass >= top_p * sum))
            break;
    }
    if (use_k && top_k < cnt) {
        /* top-k: the k largest (ties by index) */
        qsort_r(idx, (size_t)cnt, sizeof *idx, cmp_desc, p); /* GNU qsort_r: (a, b, ctx) */
        cnt = top_k;
    }
    /* nucleus over the top-k set, or over the whole distribution without top-k */
    double mk = 0;
    for (int i = 0; i < cnt; i++) mk += p[idx[i]];
    if (use_p) cnt = nucleus_select(idx, cnt, p, top_p * (use_k ? mk : sum), &mk);
    double u = sx_rng_uniform(rng) * mk, cum = 0;
    for (int i = 0; i < cnt; i++) {
        cum += p[idx[i]];
        if (cum > u) return idx[i];
    }
    return idx[cnt - 1];
}

typedef struct gen_state {
    int n, V;
    int *eff, *cap, *cur, *off, *done, *lseq;
    int32_t *tok;
    int *seq, *pos, *lrows;
    float *logits, *p;
    int *idx;
    sx_rng *rng;
    sx_kv kv;
} gen_state;

static void gen_free(gen_state *g) {
    free(g->eff), free(g->cap), free(g->cur), free(g->off), free(g->done), free(g->lseq);
    free(g->tok), free(g->seq), free(g->pos), free(g->lrows);
    free(g->logits), free(g->p), free(g->idx), free(g->rng);
    free(g->kv.k), free(g->kv.v);
}

int sx__gen_validate(const sx_model *m, const int32_t *const *prompts, const int *lens, int n,
                     const sx_gen_opts *o, sx_err *err) {
    if (n <= 0 || !prompts || !lens || !o) return sx_failc(err, SX_EINVAL, "%s: sx_generate: no prompts given", m->dir);
    if (o->max_new_tokens < 0) return sx_failc(err, SX_EINVAL, "sx_generate: max_new_tokens %d < 0", o->max_new_tokens);
    if (o->n_stop > 0 && !o->stop_ids) return sx_failc(err, SX_EINVAL, "sx_generate: n_stop > 0 but no stop ids");
    if (o->temperature > 0 && !isfinite(o->temperature))
        return sx_failc(err, SX_EINVAL, "sx_generate: temperature must be finite");
    for (int i = 0; i < n; i++) {
        if (lens[i] <= 0 || !prompts[i]) return sx_failc(err, SX_EINVAL, "%s: prompt %d is empty", m->dir, i);
        for (int j = 0; j < lens[i]; j++)
            if (prompts[i][j] < 0 || prompts[i][j] >= m->cfg.vocab_size)
                return sx_failc(err, SX_EINVAL, "%s: token id %d (prompt %d, position %d) is out of range: vocab_size is %d",
                               m->dir, (int)prompts[i][j], i, j, m->cfg.vocab_size);
    }
    return sx__hooks_check(m, o->hooks, o->n_hooks, err);
}

/* Sample from each row's logits, append, and queue the rows of the next step. */
static int step_sample(gen_state *g, int n_rows, const sx_gen_opts *o, int32_t **out_ids, int *out_lens) {
    int next = 0;
    int *nseq = g->lrows; /* reuse: the sequences of the next step's rows */
    for (int k = 0; k < n_rows; k++) {
        int i = g->lseq[k];
        float *l = g->logits + (size_t)k * g->V;
        if (o->logits_fn) o->logits_fn(o->logits_user, i, l, g->V);
        int t = sx__sample(l, g->V, o->temperature, o->top_p, o->top_k, &g->rng[i], g->idx, g->p);
        out_ids[i][out_lens[i]++] = t;
        int stop = out_lens[i] >= o->max_new_tokens || g->cur[i] >= g->cap[i];
        for (int s = 0; s < o->n_stop && !stop; s++) stop = o->stop_ids[s] == t;
        if (stop) continue;
        g->tok[next] = t;
        g->seq[next] = i;
        g->pos[next] = g->cur[i]++;
        nseq[next++] = i;
    }
    for (int k = 0; k < next; k++) {
        g->lseq[k] = nseq[k];
        g->lrows[k] = k;
    }
    return next;
}

int sx_generate(sx_model *m, const int32_t *const *prompts, const int *prompt_lens, int n,
                const sx_gen_opts *opts, int32_t **out_ids, int *out_lens, sx_err *err) {
    if (sx__gen_validate(m, prompts, prompt_lens, n, opts, err)) return -1;
    const sx_model_config *c = &m->cfg;
    int mx_new = opts->max_new_tokens, V = c->vocab_size, kd = c->n_kv_heads * c->head_dim;
    for (int i = 0; i < n; i++) out_ids[i] = NULL, out_lens[i] = 0;
    gen_state g = {.n = n, .V = V};
    int keep = c->n_ctx - mx_new > 1 ? c->n_ctx - mx_new : 1, rc = -1;
    g.eff = malloc((size_t)n * sizeof(int)), g.cap = malloc((size_t)n * sizeof(int));
    g.cur = malloc((size_t)n * sizeof(int)), g.off = malloc((size_t)n * sizeof(int));
    g.done = calloc((size_t)n, sizeof(int)), g.lseq = malloc((size_t)n * sizeof(int));
    g.rng = malloc((size_t)n * sizeof(sx_rng));
    if (!g.eff || !g.cap || !g.cur || !g.off || !g.done || !g.lseq || !g.rng) goto oom;
    int64_t total = 0, rows = 0;
    for (int i = 0; i < n; i++) {
        g.eff[i] = prompt_lens[i] < keep ? prompt_lens[i] : keep;
        int cp = g.eff[i] + mx_new;
        g.cap[i] = cp < c->n_ctx ? cp : c->n_ctx;
        g.off[i] = (int)total;
        total += g.cap[i];
        rows += g.eff[i];
        if (opts->seq_seeds && opts->seq_streams)
            sx_rng_stream(&g.rng[i], opts->seq_seeds[i], opts->seq_streams[i]);
        else
            sx_rng_stream(&g.rng[i], opts->seed, (uint64_t)i);
        out_ids[i] = malloc((size_t)(mx_new > 0 ? mx_new : 1) * sizeof(int32_t));
        if (!out_ids[i]) goto oom;
    }
    if (mx_new == 0) {
        rc = 0;
        goto out;
    }
    size_t nr = (size_t)(rows > n ? rows : n);
    g.tok = malloc(nr * sizeof(int32_t)), g.seq = malloc(nr * sizeof(int));
    g.pos = malloc(nr * sizeof(int)), g.lrows = malloc(nr * sizeof(int));
    g.logits = malloc((size_t)n * V * sizeof(float)), g.p = malloc((size_t)V * sizeof(float));
    g.idx = malloc((size_t)V * sizeof(int));
    size_t kvn = (size_t)c->n_layers * (size_t)total * (size_t)kd;
    g.kv.k = malloc(kvn * sizeof(float)), g.kv.v = malloc(kvn * sizeof(float));
    if (!g.tok || !g.seq || !g.pos || !g.lrows || !g.logits || !g.p || !g.idx || !g.kv.k || !g.kv.v) goto oom;
    g.kv.layer_stride = total * kd;
    g.kv.row_stride = kd;
    g.kv.seq_off = g.off;
    g.kv.cache = 1;
    /* prefill: every prompt (its last eff tokens) packed; logits at each prompt's last row */
    int r = 0;
    for (int i = 0; i < n; i++) {
        const int32_t *pr = prompts[i] + (prompt_lens[i] - g.eff[i]);
        for (int j = 0; j < g.eff[i]; j++, r++) g.tok[r] = pr[j], g.seq[r] = i, g.pos[r] = j;
        g.lrows[i] = r - 1;
        g.lseq[i] = i;
        g.cur[i] = g.eff[i];
    }
    sx__small_parallel(!sx_machine_busy()); /* decode steps serial on an overloaded machine */
    sx_rowset rs = {r, g.tok, g.seq, g.pos};
    if (sx__run(m, &rs, &g.kv, opts->hooks, opts->n_hooks, -1, g.lrows, n, g.logits, err)) goto out;
    int live = n;
    while (live > 0) {
        live = step_sample(&g, live, opts, out_ids, out_lens);
        if (live == 0) break;
        sx_rowset st = {live, g.tok, g.seq, g.pos};
        if (sx__run(m, &st, &g.kv, opts->hooks, opts->n_hooks, -1, g.lrows, live, g.logits, err)) goto out;
    }
    rc = 0;
    sx__small_parallel(1);
    goto out;
oom:
    sx_failc(err, SX_ENOMEM, "%s: out of memory in sx_generate (%d prompts, %d new tokens)", m->dir, n, mx_new);
out:
    sx__small_parallel(1);
    if (rc) {
        for (int i = 0; i < n; i++) free(out_ids[i]), out_ids[i] = NULL, out_lens[i] = 0;
    }
    gen_free(&g);
    return rc;
}
