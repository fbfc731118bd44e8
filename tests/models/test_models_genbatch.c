/* test_models_genbatch.c — the continuous-batching path (sx_generate_many, sx_loglik_many)
 * against the one-prompt-at-a-time path (sx_generate with a prompt's k samples; sx_loglik
 * per item) on gpt2-tiny, gemma2-tiny and the embedded model:
 * - greedy: identical token ids for block sizes 1, 3 and 64 (prompts of 1..40 tokens, one
 *   longer than n_ctx - max_new so it is left-truncated, a stop id), with and without a hook;
 *   the fixture's greedy12 continuation through the batched path;
 * - nucleus 0.9: the same output for the same block size in two runs; the logits every
 *   sequence samples from (recorded by logits_fn) against the reference path's (bit-identical
 *   or within 1e-4); the sampled ids equal wherever the two paths' logits were bit-identical
 *   up to that step (how often they are is printed);
 * - the hook runs on every row: a hook that counts rows per position sees each prompt
 *   position once per prompt (prefill shared) and each generated position once per sample;
 * - sx_loglik_many equals sx_loglik per item (shared and unshared contexts) within 1e-4. */
#include <math.h>

#include "models_test_util.h"

enum { K = 4, P = 6, NEW = 7, MAXSTEP = 16 };

typedef struct rec {
    int V;
    int64_t nseq;
    int *steps;   /* [nseq] */
    float *logit; /* [nseq, MAXSTEP, V] */
    int64_t base; /* sequence id offset (the reference path numbers sequences per call) */
} rec;

static void rec_fn(void *user, int seq, float *l, int V) {
    rec *r = user;
    int64_t s = r->base + seq;
    if (s < 0 || s >= r->nseq || r->steps[s] >= MAXSTEP) return;
    memcpy(r->logit + ((size_t)s * MAXSTEP + (size_t)r->steps[s]) * V, l, (size_t)V * sizeof(float));
    r->steps[s]++;
}

static void rec_init(rec *r, int64_t nseq, int V) {
    r->V = V, r->nseq = nseq, r->base = 0;
    r->steps = calloc((size_t)nseq, sizeof(int));
    r->logit = calloc((size_t)nseq * MAXSTEP * V, sizeof(float));
}
static void rec_free(rec *r) { free(r->steps), free(r->logit); }

/* a row-wise hook: adds a fixed vector at blocks.0.hook_resid_post, and counts rows */
typedef struct addv {
    float *v;
    int64_t rows;
} addv;
static int add_hook(void *user, const sx_hook_ctx *c, float *x, sx_err *err) {
    (void)err;
    addv *a = user;
    for (int r = 0; r < c->n_rows; r++)
        for (int j = 0; j < c->d; j++) x[(size_t)r * c->d + j] += a->v[j];
    a->rows += c->n_rows;
    return 0;
}

/* The reference: one sx_generate call per prompt with its K samples, sequence p*K+s drawing
 * from (seed, p*K + s) like the batched path. */
static int ref_generate(sx_model *m, const int32_t *const *pr, const int *pl, sx_gen_opts o, rec *lr, int32_t **out,
                        int *ol) {
    sx_err err;
    for (int p = 0; p < P; p++) {
        const int32_t *rp[K];
        int rl[K];
        uint64_t seeds[K], streams[K];
        for (int s = 0; s < K; s++)
            rp[s] = pr[p], rl[s] = pl[p], seeds[s] = o.seed, streams[s] = (uint64_t)(p * K + s);
        o.seq_seeds = seeds, o.seq_streams = streams;
        if (lr) lr->base = p * K, o.logits_fn = rec_fn, o.logits_user = lr;
        if (sx_generate(m, rp, rl, K, &o, out + p * K, ol + p * K, &err)) {
            fprintf(stderr, "sx_generate: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

static int batched(sx_model *m, const int32_t *const *pr, const int *pl, sx_gen_opts o, int block, rec *lr,
                   int32_t **out, int *ol) {
    sx_err err;
    sx_batch_opts bo = {.block_rows = block};
    if (lr) lr->base = 0, o.logits_fn = rec_fn, o.logits_user = lr;
    if (sx_generate_many(m, pr, pl, P, K, &o, &bo, out, ol, &err)) {
        fprintf(stderr, "sx_generate_many: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int same_ids(int32_t **a, const int *al, int32_t **b, const int *bl, int n) {
    for (int i = 0; i < n; i++)
        if (al[i] != bl[i] || memcmp(a[i], b[i], (size_t)al[i] * sizeof(int32_t))) return 0;
    return 1;
}

static void free_out(int32_t **o, int n) {
    for (int i = 0; i < n; i++) free(o[i]), o[i] = NULL;
}

static void test_model(const char *dir, const char *label) {
    sx_model *m = load_or_die(dir);
    const sx_model_config *c = sx_model_cfg(m);
    const int V = c->vocab_size, n_ctx = c->n_ctx;
    /* prompts of 1, 5, 12, 3, 40 tokens and one longer than n_ctx - NEW (left-truncated) */
    int lens[P] = {1, 5, 12, 3, 40, n_ctx - NEW + 9};
    int32_t *buf[P];
    const int32_t *pr[P];
    for (int p = 0; p < P; p++) {
        buf[p] = malloc((size_t)lens[p] * sizeof(int32_t));
        for (int j = 0; j < lens[p]; j++) buf[p][j] = (int32_t)((p * 7919 + j * 104729 + 17) % (V - 1));
        pr[p] = buf[p];
    }
    const int N = P * K;
    int32_t *ref[P * K], *got[P * K], *got2[P * K];
    int rl[P * K], gl[P * K], gl2[P * K];
    /* greedy, without and with a hook, and with a stop id */
    float *vec = calloc((size_t)c->d_model, sizeof(float));
    for (int j = 0; j < c->d_model; j++) vec[j] = 0.5f * (float)((j * 37) % 11 - 5);
    addv av = {vec, 0};
    sx_hook hook = {0, SX_HOOK_RESID_POST, add_hook, &av};
    for (int variant = 0; variant < 3; variant++) {
        sx_gen_opts g = {.max_new_tokens = NEW, .temperature = 0, .top_p = 1};
        if (variant == 1) g.hooks = &hook, g.n_hooks = 1;
        int32_t stop = -1;
        if (ref_generate(m, pr, lens, g, NULL, ref, rl)) exit(1);
        if (variant == 2) { /* stop at the third token of sequence 0's greedy continuation */
            stop = ref[0][2];
            int first = 0;
            while (ref[0][first] != stop) first++;
            g.stop_ids = &stop, g.n_stop = 1;
            free_out(ref, N);
            if (ref_generate(m, pr, lens, g, NULL, ref, rl)) exit(1);
            CHECK(rl[0] == first + 1, "%s: stop id ends sequence 0 after %d tokens (%d)", label, first + 1, rl[0]);
        }
        static const int blocks[] = {1, 3, 64};
        for (int b = 0; b < 3; b++) {
            if (batched(m, pr, lens, g, blocks[b], NULL, got, gl)) exit(1);
            CHECK(same_ids(ref, rl, got, gl, N), "%s: greedy%s ids differ from the per-prompt path at block %d", label,
                  variant == 1 ? " (hook)" : variant == 2 ? " (stop id)" : "", blocks[b]);
            free_out(got, N);
        }
        if (variant == 1) { /* the hook changed something, so it ran */
            sx_gen_opts g0 = {.max_new_tokens = NEW, .temperature = 0, .top_p = 1};
            if (batched(m, pr, lens, g0, 64, NULL, got, gl)) exit(1);
            CHECK(!same_ids(ref, rl, got, gl, N), "%s: the hook has no effect on greedy decoding", label);
            free_out(got, N);
        }
        free_out(ref, N);
    }
    /* the hook runs on every row: prefill rows once per prompt, one row per sample per step */
    {
        sx_gen_opts g = {.max_new_tokens = NEW, .temperature = 0, .top_p = 1, .hooks = &hook, .n_hooks = 1};
        av.rows = 0;
        if (batched(m, pr, lens, g, 3, NULL, got, gl)) exit(1);
        int64_t want = 0;
        for (int p = 0; p < P; p++) {
            int eff = lens[p] < n_ctx - NEW ? lens[p] : n_ctx - NEW;
            want += eff + (int64_t)K * (NEW - 1); /* the last token is sampled, never fed */
        }
        CHECK(av.rows == want, "%s: hook saw %lld rows, want %lld", label, (long long)av.rows, (long long)want);
        free_out(got, N);
    }
    /* nucleus sampling */
    sx_gen_opts nu = {.max_new_tokens = NEW, .temperature = 1, .top_p = 0.9f, .seed = 11};
    rec lref, lgot;
    rec_init(&lref, N, V);
    if (ref_generate(m, pr, lens, nu, &lref, ref, rl)) exit(1);
    static const int blocks[] = {1, 3, 64};
    for (int b = 0; b < 3; b++) {
        rec_init(&lgot, N, V);
        if (batched(m, pr, lens, nu, blocks[b], &lgot, got, gl) || batched(m, pr, lens, nu, blocks[b], NULL, got2, gl2))
            exit(1);
        CHECK(same_ids(got, gl, got2, gl2, N), "%s: nucleus, block %d: two runs differ", label, blocks[b]);
        int bit_seqs = 0, equal_ids = 0, compared = 0;
        double maxd = 0;
        for (int i = 0; i < N; i++) {
            int steps = lgot.steps[i] < lref.steps[i] ? lgot.steps[i] : lref.steps[i], bit = 1;
            /* compare the logits while both paths sampled the same tokens so far */
            for (int t = 0; t < steps; t++) {
                const float *a = lref.logit + ((size_t)i * MAXSTEP + t) * V, *z = lgot.logit + ((size_t)i * MAXSTEP + t) * V;
                double d = test_max_abs_diff(a, z, (size_t)V);
                maxd = d > maxd ? d : maxd;
                compared++;
                if (d != 0) bit = 0;
                if (bit) CHECK(got[i][t] == ref[i][t], "%s: block %d seq %d step %d: same logits, different draw", label,
                               blocks[b], i, t);
                if (got[i][t] != ref[i][t]) break;
            }
            bit_seqs += bit;
            equal_ids += gl[i] == rl[i] && !memcmp(got[i], ref[i], (size_t)gl[i] * sizeof(int32_t));
        }
        CHECK(maxd <= 1e-4, "%s: block %d: logits differ from the per-prompt path by %g", label, blocks[b], maxd);
        printf("%s nucleus block %2d: %d/%d sequences with bit-identical logits, %d/%d identical ids, max |logit diff| "
               "%.3g over %d steps\n",
               label, blocks[b], bit_seqs, N, equal_ids, N, maxd, compared);
        free_out(got, N), free_out(got2, N);
        rec_free(&lgot);
    }
    free_out(ref, N);
    rec_free(&lref);
    /* sx_loglik_many vs sx_loglik */
    {
        enum { NI = 9 };
        sx_loglik_item it[NI];
        int32_t cont[NI][6];
        for (int i = 0; i < NI; i++) {
            int p = i < 4 ? 2 : i < 6 ? 4 : i - 6; /* items 0-3 share prompt 2, 4-5 prompt 4 */
            int nc = 1 + i % 6;
            for (int j = 0; j < nc; j++) cont[i][j] = (int32_t)((i * 31 + j * 977 + 5) % (V - 1));
            it[i] = (sx_loglik_item){pr[p], lens[p] < n_ctx - nc ? lens[p] : n_ctx - nc, cont[i], nc};
            if (p == 5) it[i].ctx = pr[p] + (lens[p] - it[i].n_ctx);
        }
        double want[NI], gotl[NI];
        sx_err err;
        for (int i = 0; i < NI; i++)
            CHECK(sx_loglik(m, it[i].ctx, it[i].n_ctx, it[i].cont, it[i].n_cont, NULL, 0, &want[i], &err) == 0,
                  "sx_loglik: %s", err.msg);
        for (int variant = 0; variant < 2; variant++) {
            static const int br[] = {1, 4, 512};
            for (int b = 0; b < 3; b++) {
                sx_batch_opts bo = {.block_rows = br[b]};
                const sx_hook *hk = variant ? &hook : NULL;
                if (variant)
                    for (int i = 0; i < NI; i++)
                        sx_loglik(m, it[i].ctx, it[i].n_ctx, it[i].cont, it[i].n_cont, hk, 1, &want[i], &err);
                CHECK(sx_loglik_many(m, it, NI, hk, variant, &bo, gotl, &err) == 0, "sx_loglik_many: %s", err.msg);
                double md = 0;
                for (int i = 0; i < NI; i++) md = fmax(md, fabs(gotl[i] - want[i]) / fmax(1, fabs(want[i])));
                CHECK(md <= 1e-4, "%s: sx_loglik_many%s, block %d: rel. diff %g", label, variant ? " (hook)" : "",
                      br[b], md);
            }
        }
    }
    free(vec);
    for (int p = 0; p < P; p++) free(buf[p]);
    sx_model_free(m);
}

/* The fixture's greedy continuation of seq1 through the batched path (block 3, 5 copies). */
static void test_greedy12(const char *dir, const char *label) {
    char path[4400];
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    sx_safetensors st;
    sx_err err;
    if (sx_st_open(&st, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    const sx_tensor_view *ids = need_t(&st, "seq1.ids"), *g12 = need_t(&st, "seq1.greedy12");
    sx_model *m = load_or_die(dir);
    const int32_t *pr = ids->data;
    int pl = (int)ids->shape[0];
    sx_gen_opts g = {.max_new_tokens = 12, .temperature = 0, .top_p = 1};
    sx_batch_opts bo = {.block_rows = 3};
    int32_t *out[5];
    int ol[5];
    CHECK(sx_generate_many(m, &pr, &pl, 1, 5, &g, &bo, out, ol, &err) == 0, "%s: %s", label, err.msg);
    for (int i = 0; i < 5; i++) {
        CHECK(ol[i] == 12 && !memcmp(out[i], g12->data, 12 * sizeof(int32_t)), "%s: greedy12 copy %d differs", label, i);
        free(out[i]);
    }
    sx_model_free(m);
    sx_st_close(&st);
}

int main(void) {
    const char *src = getenv("SAETOX_SOURCE");
    char dir[4200];
    if (src) {
        snprintf(dir, sizeof dir, "%s/models/embedded", src);
        test_model(dir, "embedded");
    }
    const char *shared = test_shared_or_skip("the model fixtures");
    snprintf(dir, sizeof dir, "%s/fixtures/gpt2-tiny", shared);
    test_model(dir, "gpt2-tiny");
    test_greedy12(dir, "gpt2-tiny");
    snprintf(dir, sizeof dir, "%s/fixtures/gemma2-tiny", shared);
    test_model(dir, "gemma2-tiny");
    test_greedy12(dir, "gemma2-tiny");
    return TEST_DONE();
}
