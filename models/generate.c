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
 * in [0, 1]; q clamps larger p to 2^63), summed exactly, so every prefix mass is a function
 * of the prefix alone and any algorithm that finds the same crossing finds the same token as
 * sorting would (test_sample_ref checks this against a full sort and against the radix
 * select this replaced).  The nucleus is the shortest prefix (at least one token) with mass
 * >= ceil(top_p * total); the draw is the first token whose running mass exceeds
 * floor(u * nucleus mass).
 * Finding "the first sorted position where the running mass exceeds X" is a radix select on
 * the float bits of p (the key: positive floats order like their bits; NaN, zeros and
 * negatives have key 0 and mass 0, never the crossing).  Level 0, a slot per key >> 19 (16
 * per binade), is one histogram pass over the vocabulary (kernels.c, sx__nucleus_hist, in
 * sx__sample fused with the exp that writes p); the slot where the mass crosses X is
 * collected (sx__bin_members) and split by key bits [18:12], [11:6], [5:0] over its
 * members only, then the ties of the exact value are counted in index order.  The nucleus
 * end and the draw share the histogram, and the members and their level-1 sums when both
 * fall into one slot.
 * Why the sums fit in 64 bits: a slot holds one biased exponent E, so p = M * 2^(E-150)
 * with M = 2^23 | mantissa, and q(p) = M << (E - 87) for E >= 87 (exact), floor(M >> (87 -
 * E)) below (p < 2^-40; E >= 64 for any slot with mass).  With a(p) = M or that floored
 * shift, a slot's mass is (sum of a) << max(E - 87, 0): every a is below 2^24, so the sums
 * of up to 2^40 elements are exact in uint64 and the slot's u128 mass is formed once.
 * p == 1 (E = 127) is M = 2^23 << 40 = 2^63, the clamp itself; p > 1 (not produced by
 * sx__fast_expf, at most 1 for exponents <= 0) gets its own slot, and such a row takes the
 * plain sort (nucleus_sorted), so the selection stays exact for any p.
 * Cost per top-p call, passes over V: the max (logits read), exp fused with the histogram
 * (kernels.c, sx__nucleus_exp_hist: logits read, p written, one scalar read-modify-write
 * per token into the slot table: the floor of this design, ~0.35 ns per token on Zen 5,
 * beside ~0.33 for the exp itself on AVX-512), one member pass per distinct crossing slot
 * (p read, vector compares, ~0.1 ns per token), then O(slot members) scalar work (V/25 to
 * V/75 tokens on the near-flat rows) and slot walks of a few hundred cycles.
 * bench_sample, V = 50257, best of 3-4 runs: AVX-512 ~57-67 us per call where the
 * 11/11/10-bit radix select with u128 bins this replaces took ~105-144 us (its level-0 u128
 * adds chained through memory on the few busy bins); AVX2 ~83-138 us and generic ~143-193
 * us, from ~370-420 (sx__fast_expf's clamp kept the exp of those paths scalar); V = 256000,
 * AVX-512: ~300-375 us from ~535-790.  The quickselect before the radix select took ~1.5 ms
 * per row. */
typedef unsigned __int128 u128;

#define NS_SLOTS 1011 /* sx__nucleus_hist: 0 (no mass), 1..1009 (key >> 19 == 1023 + s), 1010 (p > 1) */
#define NS_OVER (NS_SLOTS - 1)
#define NS_CAND 512 /* candidates kept on the stack below level 1 */

static inline uint64_t pmass(float p) {
    return p > 0 ? (p >= 1.0f ? (uint64_t)1 << 63 : (uint64_t)((double)p * 9223372036854775808.0)) : 0;
}
static inline uint32_t fbits(float p) {
    uint32_t u;
    memcpy(&u, &p, sizeof u);
    return u;
}
/* a slot's mass is (its sum of a) << slot_shift */
static inline int slot_shift(int s) {
    int e = (s + 1023) >> 4; /* the slot's biased exponent, 127 for slots 1009 and 1010 */
    return e > 87 ? e - 87 : 0;
}

/* The members of one slot (in index order), with what the levels below need. */
typedef struct {
    const float *p;
    const int *mem;
    int n, sh;       /* a member's mass is a << sh */
    uint32_t kb;     /* key >> 19 of every member */
    uint32_t hb, rs; /* a = ((key & 0x7ffff) | hb) >> rs: M, shifted down when E < 87 */
    int same;        /* every member has the key k0 (ties only: the crossing is a count) */
    uint32_t k0;
    uint64_t h1[128]; /* sums of a by key bits [18:12] */
} slot_set;

static inline uint64_t slot_a(const slot_set *c, uint32_t key) { return ((key & 0x7ffffu) | c->hb) >> c->rs; }

/* Collect slot s's members into idx (V ints) and their level-1 sums. */
static void slot_load(slot_set *c, const float *p, int V, int s, int *idx) {
    uint32_t kb = (uint32_t)s + 1023, e = kb >> 4;
    c->p = p, c->mem = idx, c->kb = kb, c->sh = slot_shift(s);
    c->hb = 0x800000u | (kb & 15) << 19, c->rs = e < 87 ? 87 - e : 0;
    c->n = sx__bin_members(p, V, (int)kb, idx); /* >= 1: the slot has mass */
    uint64_t w[2][128]; /* two copies: ties put runs of members into one bin */
    memset(w, 0, sizeof w);
    uint32_t k0 = fbits(p[idx[0]]), diff = 0;
    int i = 0;
    for (; i + 2 <= c->n; i += 2) {
        uint32_t ka = fbits(p[idx[i]]), kz = fbits(p[idx[i + 1]]);
        diff |= (ka ^ k0) | (kz ^ k0);
        w[0][(ka >> 12) & 127] += slot_a(c, ka);
        w[1][(kz >> 12) & 127] += slot_a(c, kz);
    }
    if (i < c->n) {
        uint32_t ka = fbits(p[idx[i]]);
        diff |= ka ^ k0;
        w[0][(ka >> 12) & 127] += slot_a(c, ka);
    }
    for (int b = 0; b < 128; b++) c->h1[b] = w[0][b] + w[1][b];
    c->same = diff == 0, c->k0 = k0;
}

/* Walk bins h[nb-1], h[nb-2], ... (larger keys first) while their sum fits in the budget *R;
 * returns the bin where the running sum exceeds it (*R, *skip: what is left, what was passed). */
static inline int walk_bins(const uint64_t *h, int nb, uint64_t *R, uint64_t *skip) {
    int b = nb - 1;
    for (; b > 0 && h[b] <= *R; b--) *R -= h[b], *skip += h[b];
    return b;
}

/* The first member, in sorted order, at which the running mass exceeds X, given cum, the
 * mass of everything sorted ahead of the slot (cum <= X < cum + the slot's mass).  *before:
 * the mass sorted ahead of that member.  In units of 2^sh the budget R is exact:
 * cum + (x << sh) <= X iff x <= (X - cum) >> sh, and passing x leaves (R - x). */
static int slot_cross(const slot_set *c, u128 cum, u128 X, u128 *before) {
    uint64_t R = (uint64_t)((X - cum) >> c->sh), skip = 0; /* < the slot's sum: fits */
    uint32_t want = c->k0;
    int cand[NS_CAND], m = -1; /* m >= 0: cand[0..m) holds the members still in the running */
    if (!c->same) {
        uint32_t pre = c->kb << 7 | (uint32_t)walk_bins(c->h1, 128, &R, &skip); /* key >> 12 */
        for (int sh = 6; sh >= 0; sh -= 6) { /* key bits [11:6], then [5:0] */
            uint64_t h[64] = {0};
            const int *src = m >= 0 ? cand : c->mem;
            int ns = m >= 0 ? m : c->n, mm = 0;
            for (int i = 0; i < ns; i++) {
                int t = src[i];
                uint32_t k = fbits(c->p[t]);
                if (k >> (sh + 6) != pre) continue;
                if (mm < NS_CAND) cand[mm] = t; /* in place when src is cand: mm <= i */
                mm++;
                h[(k >> sh) & 63] += slot_a(c, k);
            }
            m = mm <= NS_CAND ? mm : -1;
            pre = pre << 6 | (uint32_t)walk_bins(h, 64, &R, &skip);
        }
        want = pre;
    }
    /* the ties of `want`, each of mass q: r of them fit in what is left, the next crosses */
    uint64_t q = slot_a(c, want), r = R / q;
    *before = cum + ((u128)(skip + r * q) << c->sh);
    if (c->same) return c->mem[r];
    const int *src = m >= 0 ? cand : c->mem;
    int ns = m >= 0 ? m : c->n;
    for (int i = 0; i < ns; i++)
        if (fbits(c->p[src[i]]) == want && r-- == 0) return src[i];
    return src[ns - 1]; /* not reached */
}

/* The slot where the running mass exceeds X (< the total); *cum: the mass ahead of it. */
static int slot_find(const uint64_t *S, u128 X, u128 *cum) {
    u128 c = 0;
    int s = NS_OVER - 1;
    for (; s > 1; s--) {
        u128 ms = (u128)S[s] << slot_shift(s);
        if (c + ms > X) break;
        c += ms;
    }
    *cum = c;
    return s;
}

/* Rows with some p > 1 (see above): the whole positive part sorted, then the same walk. */
static int nucleus_sorted(const float *p, int V, float top_p, sx_rng *rng, int *idx) {
    int cnt = 0;
    for (int j = 0; j < V; j++) {
        idx[cnt] = j;
        cnt += p[j] > 0; /* NaN out: cmp_desc needs ordered values; the rest has no mass */
    }
    qsort_r(idx, (size_t)cnt, sizeof *idx, cmp_desc, (void *)p);
    u128 tot = 0, qn = 0, cum = 0;
    for (int i = 0; i < cnt; i++) tot += pmass(p[idx[i]]);
    u128 T = (u128)ceil((double)top_p * (double)tot);
    if (T < 1) T = 1;
    int n = 0;
    while (n < cnt && qn < T) qn += pmass(p[idx[n++]]);
    u128 U = (u128)(sx_rng_uniform(rng) * (double)qn);
    if (U >= qn) U = qn - 1;
    for (int i = 0; i < n; i++) {
        cum += pmass(p[idx[i]]);
        if (cum > U) return idx[i];
    }
    return idx[n - 1];
}

/* top-p over the whole vocabulary given p and its slot histogram S: the token, or -1 when
 * no p has mass (then the caller takes the argmax).  One uniform drawn when there is mass. */
static int nucleus_hist(const float *p, int V, const uint64_t *S, float top_p, sx_rng *rng, int *idx) {
    if (S[NS_OVER]) return nucleus_sorted(p, V, top_p, rng, idx);
    u128 tot = 0, cum, before;
    for (int s = 1; s < NS_OVER; s++) tot += (u128)S[s] << slot_shift(s); /* S[0] == 0 */
    if (tot == 0) return -1;
    u128 T = (u128)ceil((double)top_p * (double)tot);
    if (T < 1) T = 1;
    if (T > tot) T = tot;
    slot_set c;
    int s1 = slot_find(S, T - 1, &cum);
    slot_load(&c, p, V, s1, idx);
    int last = slot_cross(&c, cum, T - 1, &before); /* the nucleus' last token */
    u128 qn = before + pmass(p[last]);
    u128 U = (u128)(sx_rng_uniform(rng) * (double)qn);
    if (U >= qn) U = qn - 1;
    int s2 = slot_find(S, U, &cum);
    if (s2 != s1) slot_load(&c, p, V, s2, idx);
    return slot_cross(&c, cum, U, &before);
}
/* The same from p alone.  External for test_sample_ref, which feeds it p no exp produces
 * (p > 1, +inf, NaN, negatives, denormals) and declares it itself. */
int sx__nucleus(const float *p, int V, float top_p, sx_rng *rng, int *idx);
int sx__nucleus(const float *p, int V, float top_p, sx_rng *rng, int *idx) {
    uint64_t S[NS_SLOTS];
    sx__nucleus_hist(p, V, S);
    return nucleus_hist(p, V, S, top_p, rng, idx);
}

/* Softmax(logits / T), then keep the top_k most likely (0 = all), then the smallest prefix of
 * those, by decreasing probability (ties by lower index), holding top_p of their mass (fixed
 * point, as above); sample from what is left. */
int sx__sample(float *logits, int V, float temperature, float top_p, int top_k, sx_rng *rng,
               int *idx, float *p) {
    if (temperature <= 0) return argmax_first(logits, V);
    float mx = max_first(logits, V);
    int use_k = top_k > 0 && top_k < V, use_p = top_p > 0 && top_p < 1;
    if (use_p && !use_k) {
        uint64_t S[NS_SLOTS];
        sx__nucleus_exp_hist(logits, V, mx, 1.0f / temperature, p, S);
        int t = nucleus_hist(p, V, S, top_p, rng, idx);
        return t >= 0 ? t : argmax_first(logits, V);
    }
    double sum = sx__sum_exp(logits, V, mx, 1.0f / temperature, p); /* vectorised exp (~1-2 ulp) */
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
