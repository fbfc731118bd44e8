/* test_attention.c — sx__attention against a straightforward double-precision reference on
 * random data: head_dim 64 / 256 / 24, grouped-query heads, the Gemma-2 sliding window and
 * logit softcap, prefill of several packed sequences (no cache: K/V inside a strided buffer)
 * and KV-cache rows (decoding, a continued prefill, scattered rows of one sequence).  Also:
 * results are bitwise the same with 1 and 2 threads, and decoding rows give the same bits
 * through decode_row (a task per row) as through the per-head path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model_internal.h"
#include "test.h"

typedef struct cfg_case {
    const char *name;
    sx_arch arch;
    int nh, nkv, hd, window, layer;
    float qpas, cap, qmul; /* query_pre_attn_scalar, softcap, query magnitude (peaky softmax) */
} cfg_case;

static float urand(sx_rng *r) { return (float)(sx_rng_uniform(r) * 2.0 - 1.0); }

/* double-precision reference for row r, head h */
static void ref_row(const sx_model_config *c, int layer, const sx_rowset *rs, const float *q, int qs,
                    const sx_kv *kv, int r, int h, double *o) {
    int hd = c->head_dim, g = h / (c->n_heads / c->n_kv_heads), p = rs->pos[r];
    int W = (c->arch == SX_ARCH_GEMMA2 && layer % 2 == 0) ? c->sliding_window : 0;
    int lo = W > 0 && p - W + 1 > 0 ? p - W + 1 : 0;
    double scale = c->arch == SX_ARCH_GEMMA2 ? 1.0 / sqrt(c->query_pre_attn_scalar) : 1.0 / sqrt((double)hd);
    double cap = c->arch == SX_ARCH_GEMMA2 ? c->attn_softcap : 0.0;
    const float *qr = q + (size_t)r * qs + (size_t)h * hd;
    int sq = rs->seq[r], pl = kv->pre_len ? kv->pre_len[sq] : 0;
    /* the row of position j: the layout sx_kv documents, written out independently */
#define ROW_OF(j) ((j) < pl ? (int64_t)kv->pre_off[sq] + (j) : (int64_t)kv->seq_off[sq] + (j) - pl)
    int64_t base = layer * kv->layer_stride + (int64_t)g * hd;
    double *s = malloc((size_t)(p + 1) * sizeof *s), mx = -INFINITY, sum = 0;
    for (int j = lo; j <= p; j++) {
        const float *kj = kv->k + base + ROW_OF(j) * kv->row_stride;
        double d = 0;
        for (int i = 0; i < hd; i++) d += (double)qr[i] * kj[i];
        d *= scale;
        if (cap > 0) d = cap * tanh(d / cap);
        s[j] = d;
        mx = d > mx ? d : mx;
    }
    for (int j = lo; j <= p; j++) sum += s[j] = exp(s[j] - mx);
    for (int i = 0; i < hd; i++) o[i] = 0;
    for (int j = lo; j <= p; j++) {
        const float *vj = kv->v + base + ROW_OF(j) * kv->row_stride;
        for (int i = 0; i < hd; i++) o[i] += s[j] / sum * vj[i];
    }
    free(s);
#undef ROW_OF
}

/* Run sx__attention with `threads` threads into out (n * nh * hd). */
static void run(const sx_model_config *c, int layer, const sx_rowset *rs, const float *q, int qs, const sx_kv *kv,
                float *out, int threads) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    float *ws = malloc(sx__attention_ws(c, rs) * sizeof *ws);
    for (size_t i = 0; i < (size_t)rs->n * c->n_heads * c->head_dim; i++) out[i] = NAN;
    sx__attention(c, layer, rs, q, qs, kv, out, ws);
    free(ws);
}

/* One rowset against one K/V layout: check vs the reference and 1 vs 2 threads. */
static void check(const char *what, const sx_model_config *c, int layer, const sx_rowset *rs, const float *q,
                  int qs, const sx_kv *kv) {
    int n = rs->n, nh = c->n_heads, hd = c->head_dim;
    size_t no = (size_t)n * nh * hd;
    float *o1 = malloc(no * sizeof *o1), *o2 = malloc(no * sizeof *o2);
    double *ref = malloc((size_t)hd * sizeof *ref), worst = 0;
    run(c, layer, rs, q, qs, kv, o2, 2);
    run(c, layer, rs, q, qs, kv, o1, 1);
    int bad = 0;
    for (int r = 0; r < n; r++)
        for (int h = 0; h < nh; h++) {
            ref_row(c, layer, rs, q, qs, kv, r, h, ref);
            const float *o = o1 + ((size_t)r * nh + h) * hd;
            for (int i = 0; i < hd; i++) {
                /* relative to the output, floored at the size of the values (|v| <= 1) */
                double e = fabs((double)o[i] - ref[i]) / (fabs(ref[i]) > 0.1 ? fabs(ref[i]) : 0.1);
                if (!(e <= 1e-5)) bad++; /* NaN counts as bad */
                if (e > worst || e != e) worst = e;
            }
        }
    CHECK(bad == 0, "%s: %d of %zu outputs off the reference (worst relative error %g)", what, bad, no, worst);
    CHECK(memcmp(o1, o2, no * sizeof *o1) == 0, "%s: 1 and 2 threads differ", what);
    /* decoding rows: the row-per-task path (decode_row) against the per-head path, same bits */
    sx__att_decode_rows = 0;
    run(c, layer, rs, q, qs, kv, o2, 2);
    sx__att_decode_rows = 1;
    CHECK(memcmp(o1, o2, no * sizeof *o1) == 0, "%s: the decode-row and per-head paths differ", what);
    printf("%-44s rows %4d  worst rel err %.2e\n", what, n, worst);
    free(o1), free(o2), free(ref);
}

static sx_model_config make_cfg(const cfg_case *k) {
    sx_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = k->arch;
    c.n_heads = k->nh, c.n_kv_heads = k->nkv, c.head_dim = k->hd;
    c.d_model = k->nh * k->hd;
    c.n_layers = 2;
    c.n_ctx = 512;
    c.query_pre_attn_scalar = k->qpas;
    c.attn_softcap = k->cap;
    c.sliding_window = k->window;
    return c;
}

/* Prefill without a cache: 3 sequences packed in one rowset, q/k/v rows of one strided buffer
 * (like GPT-2's qkv, plus padding so strides are not multiples of the head size). */
static void case_prefill(const cfg_case *k, sx_rng *rng) {
    sx_model_config c = make_cfg(k);
    int lens[3] = {37, 133, 6}, n = 37 + 133 + 6, qd = k->nh * k->hd, kd = k->nkv * k->hd;
    int stride = qd + 2 * kd + 3;
    float *buf = malloc((size_t)n * stride * sizeof *buf);
    for (size_t i = 0; i < (size_t)n * stride; i++) buf[i] = urand(rng);
    for (int r = 0; r < n; r++)
        for (int i = 0; i < qd; i++) buf[(size_t)r * stride + i] *= k->qmul;
    int *seq = malloc(n * sizeof *seq), *pos = malloc(n * sizeof *pos), off[3];
    for (int s = 0, r = 0; s < 3; s++) {
        off[s] = r;
        for (int j = 0; j < lens[s]; j++, r++) seq[r] = s, pos[r] = j;
    }
    sx_rowset rs = {n, NULL, seq, pos};
    sx_kv kv = {.k = buf + qd, .v = buf + qd + kd, .layer_stride = 0, .row_stride = stride, .seq_off = off};
    char what[128];
    snprintf(what, sizeof what, "%s prefill", k->name);
    check(what, &c, k->layer, &rs, buf, stride, &kv);
    free(buf), free(seq), free(pos);
}

/* KV cache (2 layers, 3 sequences of up to 300 positions): decoding rows at different
 * positions, a continued prefill (rows 40..69 of one sequence), scattered rows. */
static void case_cache(const cfg_case *k, sx_rng *rng) {
    sx_model_config c = make_cfg(k);
    int qd = k->nh * k->hd, kd = k->nkv * k->hd, maxp = 300, nseq = 3;
    int64_t layer_stride = (int64_t)nseq * maxp * kd;
    size_t nkv = (size_t)2 * layer_stride;
    float *K = malloc(nkv * sizeof *K), *V = malloc(nkv * sizeof *V);
    for (size_t i = 0; i < nkv; i++) K[i] = urand(rng), V[i] = urand(rng);
    int off[3] = {2 * maxp, 0, maxp}; /* sequences stored out of order */
    sx_kv kv = {.k = K, .v = V, .layer_stride = layer_stride, .row_stride = kd, .seq_off = off, .cache = 1};
    int nmax = 64;
    float *q = malloc((size_t)nmax * qd * sizeof *q);
    for (size_t i = 0; i < (size_t)nmax * qd; i++) q[i] = urand(rng) * k->qmul;
    int seq[64], pos[64], n;
    char what[128];
    /* decoding: one row per sequence */
    int dpos[3] = {0, 17, 299};
    for (n = 0; n < 3; n++) seq[n] = n, pos[n] = dpos[n];
    sx_rowset rs = {n, NULL, seq, pos};
    snprintf(what, sizeof what, "%s decode", k->name);
    check(what, &c, k->layer, &rs, q, qd, &kv);
    /* continued prefill of sequence 1 (positions 40..69) beside a decoding row of sequence 2 */
    for (n = 0; n < 30; n++) seq[n] = 1, pos[n] = 40 + n;
    seq[n] = 2, pos[n] = 250, n++;
    rs.n = n;
    snprintf(what, sizeof what, "%s continued prefill", k->name);
    check(what, &c, k->layer, &rs, q, qd, &kv);
    /* scattered rows of one sequence, not in order of position */
    int sp[9] = {5, 9, 10, 11, 12, 13, 3, 200, 201};
    for (n = 0; n < 9; n++) seq[n] = 0, pos[n] = sp[n];
    rs.n = n;
    snprintf(what, sizeof what, "%s scattered rows", k->name);
    check(what, &c, k->layer, &rs, q, qd, &kv);
    free(K), free(V), free(q);
}

/* Shared prompt prefixes (generate_batch.c): sequences 0 and 2 read positions < 23 from one
 * prefix region, sequence 1 has a prefix of its own (9), and their later positions live in
 * own rows.  The same rows against a contiguous copy of every sequence must give the same
 * bits (the kernels only change where a key row is read), and both match the reference. */
static void case_prefix(const cfg_case *k, sx_rng *rng) {
    sx_model_config c = make_cfg(k);
    int qd = k->nh * k->hd, kd = k->nkv * k->hd, maxp = 120, nseq = 3;
    int pl[3] = {23, 9, 23};
    /* contiguous: sequence s at rows s*maxp.. ; shared: prefix A (23 rows) at 0, prefix B (9)
     * at 23, own rows of s at 32 + s*maxp (positions pl[s]..) */
    int64_t ls_c = (int64_t)nseq * maxp * kd, ls_s = (int64_t)(32 + nseq * maxp) * kd;
    float *Kc = malloc((size_t)2 * ls_c * sizeof *Kc), *Vc = malloc((size_t)2 * ls_c * sizeof *Vc);
    float *Ks = malloc((size_t)2 * ls_s * sizeof *Ks), *Vs = malloc((size_t)2 * ls_s * sizeof *Vs);
    for (size_t i = 0; i < (size_t)2 * ls_s; i++) Ks[i] = NAN, Vs[i] = NAN; /* rows nobody may read */
    for (size_t i = 0; i < (size_t)2 * ls_c; i++) Kc[i] = urand(rng), Vc[i] = urand(rng);
    int off_c[3] = {0, maxp, 2 * maxp}, pre_off[3] = {0, 23, 0}, own[3] = {32, 32 + maxp, 32 + 2 * maxp};
    for (int l = 0; l < 2; l++)
        for (int s = 0; s < nseq; s++) {
            if (s == 2) /* sequence 2 shares sequence 0's prefix: same keys there */
                for (int j = 0; j < pl[0]; j++) {
                    memcpy(Kc + l * ls_c + ((int64_t)off_c[2] + j) * kd, Kc + l * ls_c + ((int64_t)off_c[0] + j) * kd, kd * sizeof(float));
                    memcpy(Vc + l * ls_c + ((int64_t)off_c[2] + j) * kd, Vc + l * ls_c + ((int64_t)off_c[0] + j) * kd, kd * sizeof(float));
                }
            for (int j = 0; j < maxp; j++) {
                int64_t src = l * ls_c + ((int64_t)off_c[s] + j) * kd;
                int64_t dst = l * ls_s + (j < pl[s] ? (int64_t)pre_off[s] + j : (int64_t)own[s] + j - pl[s]) * kd;
                memcpy(Ks + dst, Kc + src, kd * sizeof(float));
                memcpy(Vs + dst, Vc + src, kd * sizeof(float));
            }
        }
    sx_kv kc = {.k = Kc, .v = Vc, .layer_stride = ls_c, .row_stride = kd, .seq_off = off_c, .cache = 1};
    sx_kv ks = {.k = Ks, .v = Vs, .layer_stride = ls_s, .row_stride = kd, .seq_off = own, .cache = 1,
                .pre_off = pre_off, .pre_len = pl};
    float *q = malloc((size_t)64 * qd * sizeof *q);
    for (size_t i = 0; i < (size_t)64 * qd; i++) q[i] = urand(rng) * k->qmul;
    int seq[64], pos[64], n = 0;
    /* decoding rows (inside, at and past the split), a prefill of a prefix, a chunk across the split */
    int dseq[6] = {0, 1, 2, 0, 1, 2}, dp[6] = {23, 9, 100, 5, 119, 22};
    for (; n < 6; n++) seq[n] = dseq[n], pos[n] = dp[n];
    { /* the decoding rows alone: one row per chunk, so decode_row's path */
        sx_rowset rd = {6, NULL, seq, pos};
        size_t nd = (size_t)6 * k->nh * k->hd;
        float *d1 = malloc(nd * sizeof *d1), *d2 = malloc(nd * sizeof *d2);
        char wd[128];
        snprintf(wd, sizeof wd, "%s shared prefixes, decoding", k->name);
        check(wd, &c, k->layer, &rd, q, qd, &ks);
        run(&c, k->layer, &rd, q, qd, &kc, d1, 2);
        run(&c, k->layer, &rd, q, qd, &ks, d2, 2);
        CHECK(memcmp(d1, d2, nd * sizeof *d1) == 0, "%s: shared and contiguous layouts differ", wd);
        free(d1), free(d2);
    }
    for (int j = 0; j < 23; j++, n++) seq[n] = 0, pos[n] = j;
    for (int j = 15; j < 45; j++, n++) seq[n] = 2, pos[n] = j;
    sx_rowset rs = {n, NULL, seq, pos};
    char what[128];
    size_t no = (size_t)n * k->nh * k->hd;
    float *o1 = malloc(no * sizeof *o1), *o2 = malloc(no * sizeof *o2);
    for (int layer = k->layer; layer <= k->layer; layer++) { /* the case's layer: windowed or global */
        snprintf(what, sizeof what, "%s shared prefixes", k->name);
        check(what, &c, layer, &rs, q, qd, &ks);
        run(&c, layer, &rs, q, qd, &kc, o1, 2);
        run(&c, layer, &rs, q, qd, &ks, o2, 2);
        CHECK(memcmp(o1, o2, no * sizeof *o1) == 0, "%s: shared and contiguous layouts differ", what);
    }
    free(Kc), free(Vc), free(Ks), free(Vs), free(q), free(o1), free(o2);
}

int main(void) {
    const cfg_case cases[] = {
        {"gpt2 hd64", SX_ARCH_GPT2, 4, 4, 64, 0, 0, 0, 0, 3.0f},
        {"gemma2 hd256 gqa 8/2 window 8 softcap 2", SX_ARCH_GEMMA2, 8, 2, 256, 8, 0, 256, 2.0f, 3.0f},
        {"gemma2 hd256 gqa 8/2 global layer", SX_ARCH_GEMMA2, 8, 2, 256, 8, 1, 224, 50.0f, 3.0f},
        {"gemma2 hd24 gqa 8/2 window 50 softcap 5", SX_ARCH_GEMMA2, 8, 2, 24, 50, 0, 24, 5.0f, 4.0f},
        {"gemma2 hd128 gqa 4/1", SX_ARCH_GEMMA2, 4, 1, 128, 0, 1, 128, 0.0f, 3.0f},
        {"gpt2 hd40", SX_ARCH_GPT2, 3, 3, 40, 0, 0, 0, 0, 3.0f},
    };
    sx_rng rng;
    sx_rng_seed(&rng, 7);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        case_prefill(&cases[i], &rng);
        case_cache(&cases[i], &rng);
        case_prefix(&cases[i], &rng);
    }
    return TEST_DONE();
}
