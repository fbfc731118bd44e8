/* generate_batch.c — continuous batching for evaluation: k sampled continuations of each of
 * many prompts decode together, block_rows sequences at a time.
 *
 * Scheduler: sequences (prompt p, sample s) are admitted in order into B = block_rows slots,
 * each slot the KV rows of its sequence's new positions.  A prompt is prefilled once (all
 * prompts admitted in a round share one packed prefill pass) into a prefix entry that all its
 * samples read (sx_kv.pre_off/pre_len) until the last of them finishes: no per-sample copy,
 * and a third less fresh memory at the sweep's shape (prompts of ~10 tokens, 20 new).  Entries
 * are reused lowest first.  When a prompt's samples do not all fit, its last logits wait in a
 * carry row until the rest are admitted (admission is in order, so at most one prompt is ever
 * partly admitted; hence at most B + 1 prompts hold an entry).  Each
 * round: admit into the free slots (prefill), run one decoding pass over the live sequences,
 * sample every sequence that has logits (in parallel: each has its own stream), append, and
 * free the slots of the finished ones, which the next round refills.
 *
 * Cost floor (GPT-2 small, per new token): ~2 * 85M (blocks) + 2 * 38.6M (unembedding)
 * = 247 MFLOP, i.e. ~6.2 GFLOP per 25 rows; with B >= 100 rows a step is compute bound
 * (weights ~500 MB read once per step, ~2 flop per weight byte per row), so the floor is
 * 247 MFLOP / (sgemm GFLOP/s) per token: ~1,200 tokens/s at 300 GFLOP/s.  Prefill adds
 * 247 MFLOP per prompt token once per prompt (not once per sample).  Sampling is O(V) per
 * row (softmax + nucleus selection), run across the threads.  Memory: KV of B slots of the new
 * positions and B + 1 prefix entries, of which only those in use are touched (2 * n_layers *
 * kd * 4 bytes per position: 74 KB for GPT-2 small), 2 B + 1 logits rows. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "generate_internal.h"

int sx__kvslots_alloc(sx__kvslots *s, sx_model *m, int slots, int slot_cap) {
    const sx_model_config *c = &m->cfg;
    s->slots = slots, s->slot_cap = slot_cap, s->kd = c->n_kv_heads * c->head_dim, s->n_layers = c->n_layers;
    size_t n = (size_t)c->n_layers * (size_t)slots * (size_t)slot_cap * (size_t)s->kd;
    s->m = m, s->bytes = n * sizeof(float);
    s->k = sx__big_take(m, s->bytes); /* ~0.4 GB at 200 rows: kept by the model between calls */
    s->v = sx__big_take(m, s->bytes);
    if (!s->k || !s->v) {
        sx__kvslots_free(s);
        return -1;
    }
    return 0;
}

int sx__kvslots_fit(const sx_model_config *c, int slot_cap) {
    size_t per = (size_t)2 * c->n_layers * c->n_kv_heads * c->head_dim * sizeof(float) * (size_t)slot_cap;
    size_t n = SX__KV_BUDGET_DEFAULT / (per > 0 ? per : 1);
    return n > (1u << 20) ? 1 << 20 : n < 2 ? 1 : (int)n - 1; /* one slot is the carry */
}

void sx__kvslots_free(sx__kvslots *s) {
    if (s->m) sx__big_give(s->m, s->k, s->bytes), sx__big_give(s->m, s->v, s->bytes);
    s->k = s->v = NULL;
}

void sx__kvslots_copy(const sx__kvslots *s, int a, int b, int n) {
    if (a == b || n <= 0) return;
    size_t ls = (size_t)s->slots * s->slot_cap * s->kd, sl = (size_t)s->slot_cap * s->kd;
    for (int l = 0; l < s->n_layers; l++) {
        memcpy(s->k + l * ls + (size_t)b * sl, s->k + l * ls + (size_t)a * sl, (size_t)n * s->kd * sizeof(float));
        memcpy(s->v + l * ls + (size_t)b * sl, s->v + l * ls + (size_t)a * sl, (size_t)n * s->kd * sizeof(float));
    }
}

sx_kv sx__kvslots_view(const sx__kvslots *s, const int *seq_off) {
    sx_kv kv = {.k = s->k, .v = s->v, .layer_stride = (int64_t)s->slots * s->slot_cap * s->kd, .row_stride = s->kd,
                .seq_off = seq_off, .cache = 1};
    return kv;
}

/* A sequence that has logits to sample from in this round. */
typedef struct entry {
    int64_t seq;
    int slot;
    const float *logits; /* shared prompt logits (copied before use) or its own decode row */
    int shared;
    int tok;
} entry;

typedef struct sched {
    sx_model *m;
    int B, cap, V, k, nt;
    int own_cap, pre_cap;     /* rows per slot (new positions), per prefix entry (prompt) */
    int64_t N;
    sx__kvslots kv;           /* rows: B slots x own_cap, then B + 1 entries x pre_cap */
    int *seq_off;             /* [N]: sequence -> its slot's first row (position pre_len) */
    int *pre_off, *pre_len;   /* [N]: sequence -> its prompt's entry row, prompt length */
    int *pentry;              /* [n_prompts]: prompt -> entry, -1 = not prefilled */
    int *eref;                /* [B + 1]: samples of the entry's prompt not yet finished, 0 = free */
    int64_t *slot_seq;        /* [B]: the sequence in each slot, -1 = free */
    int *cur;                 /* [B]: next position of the slot's sequence */
    sx_rng *rng;              /* [B] */
    int32_t *dtok, *ptok;     /* decode rows [B], prefill rows [B * cap] */
    int *dseq, *dpos, *drow, *pseq, *ppos, *prow;
    float *dlog, *plog, *clog; /* decode [B, V], prefill [(B + 1), V], carry [V] */
    entry *ent, *ent2;        /* [2 B] */
    int *idx;                 /* [nt, V] sampling scratch */
    float *p, *row;           /* [nt, V] each */
} sched;

/* The lowest free prefix entry (one exists: at most B + 1 prompts hold one). */
static int entry_take(sched *s) {
    int e = 0;
    while (e < s->B && s->eref[e] > 0) e++;
    s->eref[e] = s->k;
    return e;
}

static void sched_free(sched *s) {
    sx__kvslots_free(&s->kv);
    free(s->seq_off), free(s->pre_off), free(s->pre_len), free(s->pentry), free(s->eref), free(s->slot_seq), free(s->cur), free(s->rng), free(s->dtok), free(s->ptok);
    free(s->dseq), free(s->dpos), free(s->drow), free(s->pseq), free(s->ppos), free(s->prow);
    if (s->m) sx__big_give(s->m, s->dlog, (size_t)s->B * s->V * sizeof(float)),
        sx__big_give(s->m, s->plog, (size_t)(s->B + 1) * s->V * sizeof(float));
    free(s->clog), free(s->ent), free(s->ent2), free(s->idx), free(s->p), free(s->row);
}

static int sched_alloc(sched *s, sx_model *m, int n_prompts) {
    size_t B = (size_t)s->B, V = (size_t)s->V, nt = (size_t)s->nt;
    s->m = m;
    if (sx__kvslots_alloc(&s->kv, m, 1, s->B * s->own_cap + (s->B + 1) * s->pre_cap)) return -1;
    s->seq_off = malloc((size_t)s->N * sizeof(int));
    s->pre_off = malloc((size_t)s->N * sizeof(int)), s->pre_len = malloc((size_t)s->N * sizeof(int));
    s->pentry = malloc((size_t)n_prompts * sizeof(int)), s->eref = calloc(B + 1, sizeof(int));
    if (!s->pre_off || !s->pre_len || !s->pentry || !s->eref) return -1;
    for (int p = 0; p < n_prompts; p++) s->pentry[p] = -1;
    s->slot_seq = malloc(B * sizeof(int64_t)), s->cur = malloc(B * sizeof(int)), s->rng = malloc(B * sizeof(sx_rng));
    s->dtok = malloc(B * sizeof(int32_t)), s->dseq = malloc(B * sizeof(int)), s->dpos = malloc(B * sizeof(int));
    s->drow = malloc(B * sizeof(int));
    s->ptok = malloc(B * s->cap * sizeof(int32_t)), s->pseq = malloc(B * s->cap * sizeof(int));
    s->ppos = malloc(B * s->cap * sizeof(int)), s->prow = malloc(B * sizeof(int));
    s->dlog = sx__big_take(m, B * V * sizeof(float)), s->plog = sx__big_take(m, (B + 1) * V * sizeof(float));
    s->clog = malloc(V * sizeof(float));
    s->ent = malloc(2 * B * sizeof(entry)), s->ent2 = malloc(2 * B * sizeof(entry));
    s->idx = malloc(nt * V * sizeof(int)), s->p = malloc(nt * V * sizeof(float)), s->row = malloc(nt * V * sizeof(float));
    if (!s->seq_off || !s->slot_seq || !s->cur || !s->rng || !s->dtok || !s->dseq || !s->dpos || !s->drow ||
        !s->ptok || !s->pseq || !s->ppos || !s->prow || !s->dlog || !s->plog || !s->clog || !s->ent || !s->ent2 ||
        !s->idx || !s->p || !s->row)
        return -1;
    for (size_t b = 0; b < B; b++) s->slot_seq[b] = -1;
    for (size_t r = 0; r < B; r++) s->drow[r] = (int)r;
    return 0;
}

/* Sample every entry: rows are independent (own stream, own scratch), so the result does not
 * depend on the thread count or the schedule. */
static void sample_all(sched *s, entry *e, int n, const sx_gen_opts *o) {
#pragma omp parallel for schedule(dynamic, 2) if (n > 1)
    for (int j = 0; j < n; j++) {
#ifdef _OPENMP
        int t = omp_get_thread_num();
#else
        int t = 0;
#endif
        float *l = (float *)e[j].logits;
        if (e[j].shared) {
            l = s->row + (size_t)t * s->V;
            memcpy(l, e[j].logits, (size_t)s->V * sizeof(float));
        }
        if (o->logits_fn) o->logits_fn(o->logits_user, (int)e[j].seq, l, s->V);
        e[j].tok = sx__sample(l, s->V, o->temperature, o->top_p, o->top_k, &s->rng[e[j].slot], s->idx + (size_t)t * s->V,
                              s->p + (size_t)t * s->V);
    }
}

int sx_generate_many(sx_model *m, const int32_t *const *prompts, const int *prompt_lens, int n_prompts, int k,
                     const sx_gen_opts *o, const sx_batch_opts *bo, int32_t **out_ids, int *out_lens, sx_err *err) {
    if (k < 1) return sx_failc(err, SX_EINVAL, "sx_generate_many: %d samples per prompt", k);
    if (sx__gen_validate(m, prompts, prompt_lens, n_prompts, o, err)) return -1;
    const sx_model_config *c = &m->cfg;
    const int64_t N = (int64_t)n_prompts * k;
    if (N > (1 << 30)) return sx_failc(err, SX_EINVAL, "sx_generate_many: too many sequences (%lld)", (long long)N);
    const int mx_new = o->max_new_tokens, keep = c->n_ctx - mx_new > 1 ? c->n_ctx - mx_new : 1;
    for (int64_t i = 0; i < N; i++) out_ids[i] = NULL, out_lens[i] = 0;
    for (int64_t i = 0; i < N; i++)
        if (!(out_ids[i] = malloc((size_t)(mx_new > 0 ? mx_new : 1) * sizeof(int32_t)))) {
            for (int64_t j = 0; j < i; j++) free(out_ids[j]), out_ids[j] = NULL;
            return sx_failc(err, SX_ENOMEM, "%s: out of memory for %lld continuations", m->dir, (long long)N);
        }
    if (mx_new == 0) return 0;
    sched s;
    memset(&s, 0, sizeof s);
    int blk = bo && bo->block_rows > 0 ? bo->block_rows : SX__BLOCK_ROWS_DEFAULT;
    s.B = (int64_t)blk < N ? blk : (int)N;
    s.N = N, s.V = c->vocab_size, s.k = k;
#ifdef _OPENMP
    s.nt = omp_get_max_threads();
#else
    s.nt = 1;
#endif
    for (int p = 0; p < n_prompts; p++) {
        int eff = prompt_lens[p] < keep ? prompt_lens[p] : keep, cp = eff + mx_new < c->n_ctx ? eff + mx_new : c->n_ctx;
        s.cap = cp > s.cap ? cp : s.cap;
        s.pre_cap = eff > s.pre_cap ? eff : s.pre_cap;
    }
    s.own_cap = mx_new < c->n_ctx ? mx_new : c->n_ctx; /* a sequence's positions past its prompt */
    if (!(bo && bo->block_rows > 0)) { /* the default block: within the KV and logits budgets */
        int fit = sx__kvslots_fit(c, s.cap), lfit = (int)(SX__LOGITS_BUDGET_DEFAULT / (2 * (size_t)s.V * sizeof(float)));
        s.B = s.B < fit ? s.B : fit;
        s.B = s.B < lfit ? s.B : lfit > 1 ? lfit : 1;
    }
    int rc = -1;
    if (sched_alloc(&s, m, n_prompts)) {
        sx_failc(err, SX_ENOMEM, "%s: out of memory for a block of %d sequences x %d positions", m->dir, s.B, s.cap);
        goto out;
    }
    sx_kv kv = sx__kvslots_view(&s.kv, s.seq_off);
    kv.pre_off = s.pre_off, kv.pre_len = s.pre_len;
    const int pre0 = s.B * s.own_cap; /* first row of the prefix entries */
    int carry_p = -1, n_live = 0;
    int64_t next = 0, done = 0;
    sx__small_parallel(!sx_machine_busy()); /* as sx_generate: few-row steps serial on an overloaded machine */
    for (;;) {
        /* 1. admission: fill the free slots in order; prefill the prompts first seen here */
        int n_new = 0, np = 0, nr = 0, carry_row = -1;
        entry *ne = s.ent + n_live; /* new entries follow the live ones */
        for (int b = 0; b < s.B && next < N; b++) {
            if (s.slot_seq[b] >= 0) continue;
            int64_t i = next++;
            int p = (int)(i / k), eff = prompt_lens[p] < keep ? prompt_lens[p] : keep;
            s.slot_seq[b] = i;
            s.seq_off[i] = b * s.own_cap;
            s.pre_len[i] = eff;
            s.cur[b] = eff;
            if (o->seq_seeds && o->seq_streams) sx_rng_stream(&s.rng[b], o->seq_seeds[i], o->seq_streams[i]);
            else sx_rng_stream(&s.rng[b], o->seed, (uint64_t)i);
            entry *e = &ne[n_new++];
            e->seq = i, e->slot = b, e->shared = 1;
            if (s.pentry[p] >= 0) { /* a later sample of a prompt already prefilled */
                s.pre_off[i] = pre0 + s.pentry[p] * s.pre_cap;
                e->logits = NULL; /* resolved after the prefill */
                if (p == carry_p) { /* in an earlier round */
                    carry_row = 1; /* its logits go to plog row np, after the prefill's */
                    e->tok = -1;
                } else { /* now: the last prompt of this round's prefill */
                    e->tok = -2 - (np - 1);
                }
                continue;
            }
            s.pentry[p] = entry_take(&s);
            s.pre_off[i] = pre0 + s.pentry[p] * s.pre_cap;
            const int32_t *pr = prompts[p] + (prompt_lens[p] - eff);
            for (int j = 0; j < eff; j++, nr++) s.ptok[nr] = pr[j], s.pseq[nr] = (int)i, s.ppos[nr] = j;
            s.prow[np++] = nr - 1;
            e->logits = NULL;
            e->tok = -2 - (np - 1);
        }
        if (np > 0) {
            sx_rowset rs = {nr, s.ptok, s.pseq, s.ppos};
            if (sx__run(m, &rs, &kv, o->hooks, o->n_hooks, -1, s.prow, np, s.plog, err)) goto out;
        }
        if (carry_row >= 0) memcpy(s.plog + (size_t)np * s.V, s.clog, (size_t)s.V * sizeof(float));
        /* resolve the new entries' logits */
        for (int j = 0; j < n_new; j++) {
            entry *e = &ne[j];
            e->logits = s.plog + (size_t)(e->tok == -1 ? np : -2 - e->tok) * s.V;
        }
        /* a prompt whose samples did not all fit: its logits wait in the carry row */
        if (n_new > 0 && next < N) {
            entry *last = &ne[n_new - 1];
            int p = (int)(last->seq / k);
            if (next / k == p && p != carry_p) {
                memcpy(s.clog, s.plog + (size_t)(-2 - last->tok) * s.V, (size_t)s.V * sizeof(float));
                carry_p = p;
            }
        }
        /* 2. one decoding pass over the live sequences */
        if (n_live > 0) {
            sx_rowset rs = {n_live, s.dtok, s.dseq, s.dpos};
            if (sx__run(m, &rs, &kv, o->hooks, o->n_hooks, -1, s.drow, n_live, s.dlog, err)) goto out;
            for (int r = 0; r < n_live; r++) s.ent[r].logits = s.dlog + (size_t)r * s.V, s.ent[r].shared = 0;
        }
        int n_ent = n_live + n_new;
        if (n_ent == 0) break;
        /* 3. sample, 4. append; the survivors are the next pass's rows */
        sample_all(&s, s.ent, n_ent, o);
        int nl = 0;
        for (int j = 0; j < n_ent; j++) {
            entry *e = &s.ent[j];
            int64_t i = e->seq;
            int b = e->slot;
            out_ids[i][out_lens[i]++] = e->tok;
            int p = (int)(i / k), eff = prompt_lens[p] < keep ? prompt_lens[p] : keep;
            int cap_i = eff + mx_new < c->n_ctx ? eff + mx_new : c->n_ctx;
            int stop = out_lens[i] >= mx_new || s.cur[b] >= cap_i; /* as sx_generate */
            for (int q = 0; q < o->n_stop && !stop; q++) stop = o->stop_ids[q] == e->tok;
            if (stop) {
                s.slot_seq[b] = -1;
                s.eref[s.pentry[p]]--; /* the last sample of the prompt frees its entry */
                done++;
                continue;
            }
            s.dtok[nl] = e->tok, s.dseq[nl] = (int)i, s.dpos[nl] = s.cur[b]++;
            s.ent2[nl] = (entry){.seq = i, .slot = b};
            nl++;
        }
        memcpy(s.ent, s.ent2, (size_t)nl * sizeof(entry));
        n_live = nl;
        if (bo && bo->progress) bo->progress(bo->progress_user, done);
    }
    rc = 0;
out:
    sx__small_parallel(1);
    if (rc)
        for (int64_t i = 0; i < N; i++) free(out_ids[i]), out_ids[i] = NULL, out_lens[i] = 0;
    sched_free(&s);
    return rc;
}
