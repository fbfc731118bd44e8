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

/* ---------- nucleus sampling in sorted order, without sorting ----------
 * The order the nucleus is taken and walked in is the full sort: decreasing probability, ties
 * by lower index.  Masses are fixed point, q(p) = floor(p * 2^63) (p = exp((l - max) / T) is
 * in [0, 1]), summed exactly in 128 bits, so every prefix mass is a function of the prefix
 * alone and any algorithm that finds the same crossing finds the same token as sorting would
 * (test_sample_ref checks this against a full sort).  The nucleus is the shortest prefix
 * (at least one token) with mass >= ceil(top_p * total); the draw is the first token whose
 * running mass exceeds floor(u * nucleus mass).
 * Finding "the first sorted position where the running mass exceeds X" is a radix select on
 * the float bits of p (non-negative floats order like their bits): an 11-bit histogram of
 * masses over the vocabulary, the bin where the mass crosses X, then the next 11 and 10 bits
 * over that bin's members only, then the ties of the exact value in index order.  Cost
 * O(V) per draw (one histogram pass shared by the nucleus and the draw, one or two passes
 * collecting a bin's members) instead of O(V log V); for the random model's flat
 * distributions (nucleus of ~40k of 50k tokens) the quickselect this replaces took ~1.5 ms
 * per row, a quarter of the evaluation's CPU.  Floor: memory bound, ~3 passes over the V
 * floats of p (200 KB for GPT-2, in L2) and a few hundred cycles of bin walks per draw. */
typedef unsigned __int128 u128;

static inline uint32_t pkey(float p) {
    uint32_t u;
    memcpy(&u, &p, sizeof u);
    return p > 0 ? u : 0; /* NaN, -0, negatives: mass 0, the lowest key */
}
static inline uint64_t pmass(float p) {
    return p > 0 ? (p >= 1.0f ? (uint64_t)1 << 63 : (uint64_t)((double)p * 9223372036854775808.0)) : 0;
}

#define RS_BINS 2048
/* levels: key bits [31:21], [20:10], [9:0] */
static inline int rs_bin(uint32_t key, int level) {
    return level == 0 ? (int)(key >> 21) : level == 1 ? (int)((key >> 10) & 0x7ff) : (int)(key & 0x3ff);
}

/* The first element, in sorted order, at which the running mass exceeds X (X < total mass).
 * h1: the level-0 histogram of all V elements.  idx: V ints of scratch.  *before: the mass
 * of the elements sorted ahead of it. */
static int rs_cross(const float *p, int V, const u128 *h1, u128 X, int *idx, u128 *before) {
    u128 cum = 0, h[RS_BINS];
    int b = RS_BINS - 1;
    for (; b > 0 && cum + h1[b] <= X; b--) cum += h1[b];
    int n = sx__bin_members(p, V, b, idx); /* the bin's members, in index order */
    for (int level = 1; level < 3; level++) {
        int nb = level == 1 ? 2048 : 1024;
        memset(h, 0, (size_t)nb * sizeof *h);
        for (int i = 0; i < n; i++) {
            float pi = p[idx[i]];
            h[rs_bin(pkey(pi), level)] += pmass(pi);
        }
        int c = nb - 1;
        for (; c > 0 && cum + h[c] <= X; c--) cum += h[c];
        int m = 0;
        for (int i = 0; i < n; i++) {
            int t = idx[i];
            idx[m] = t;
            m += rs_bin(pkey(p[t]), level) == c;
        }
        n = m;
    }
    /* idx[0..n): the ties of one value, in index order */
    for (int i = 0; i < n; i++) {
        uint64_t q = pmass(p[idx[i]]);
        if (cum + q > X) {
            *before = cum;
            return idx[i];
        }
        cum += q;
    }
    *before = cum; /* not reached when X < total: the last tie of the crossing bin */
    return n > 0 ? idx[n - 1] : 0;
}

static int nucleus_radix(const float *p, int V, float top_p, sx_rng *rng, int *idx) {
    u128 h1[RS_BINS], tot = 0;
    memset(h1, 0, sizeof h1);
    for (int j = 0; j < V; j++) {
        float pj = p[j];
        h1[pkey(pj) >> 21] += pmass(pj);
    }
    for (int b = 0; b < RS_BINS; b++) tot += h1[b];
    if (tot == 0) return -1;
    u128 T = (u128)ceil((double)top_p * (double)tot), before;
    if (T < 1) T = 1;
    if (T > tot) T = tot;
    int last = rs_cross(p, V, h1, T - 1, idx, &before); /* the nucleus' last token */
    u128 qn = before + pmass(p[last]);
    u128 U = (u128)(sx_rng_uniform(rng) * (double)qn);
    if (U >= qn) U = qn - 1;
    return rs_cross(p, V, h1, U, idx, &before);
}

/* Softmax(logits / T), then keep the top_k most likely (0 = all), then the smallest prefix of
 * those, by decreasing probability (ties by lower index), holding top_p of their mass (fixed
 * point, as above); sample from what is left. */
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
    if (!use_k) {
        int t = nucleus_radix(p, V, top_p, rng, idx);
        return t >= 0 ? t : argmax_first(logits, V);
    }
    /* top-k: the candidates above a falling threshold (usually a few hundred), sorted; the
     * nucleus is a prefix of the first top_k of them */
    int cnt = 0;
    for (double t = 1.0 / 64;; t /= 16) {
        if (t < 1e-37) t = 0;
        cnt = 0;
        for (int j = 0; j < V; j++) {
            idx[cnt] = j; /* cnt <= j: in bounds; kept only when taken */
            cnt += p[j] >= t;
        }
        if (t == 0 || cnt >= top_k) break;
    }
    qsort_r(idx, (size_t)cnt, sizeof *idx, cmp_desc, p); /* GNU qsort_r: (a, b, ctx) */
    if (cnt > top_k) cnt = top_k;
    u128 qk = 0, qn = 0;
    for (int i = 0; i < cnt; i++) qk += pmass(p[idx[i]]);
    if (qk == 0) return idx[0];
    int n = cnt;
    if (use_p) {
        u128 T = (u128)ceil((double)top_p * (double)qk);
        if (T < 1) T = 1;
        for (n = 0; n < cnt && qn < T; n++) qn += pmass(p[idx[n]]);
    } else {
        qn = qk;
    }
    u128 U = (u128)(sx_rng_uniform(rng) * (double)qn), cum = 0;
    if (U >= qn) U = qn - 1;
    for (int i = 0; i < n; i++) {
        cum += pmass(p[idx[i]]);
        if (cum > U) return idx[i];
    }
    return idx[n - 1];
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
