/* split.c — decoder-cosine similarity between a narrow SAE A [n_a, d] and a wide SAE B
 * [n_b, d], computed block by block with sgemm and scanned on the fly: for each A latent its
 * children (cos >= T) and best match, for each B latent its best match in A.  The full
 * n_a x n_b matrix never exists (16384 x 65536 would be 4 GB).
 *
 * Cost floor: 2 n_a n_b d FLOP in sgemm (16384 x 65536 x 768: 1.65 TFLOP, ~6 s at 285
 * GFLOP/s) plus one read of each n_a x n_b block for the scan (4 bytes/element: 4.3 GB of
 * cache-resident-ish traffic, ~0.5 s) — the scan is kept fused in one pass. */
#include "analysis_isa.h"

#include "analysis.h"
#include "models.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void sx_split_opts_default(sx_split_opts *o) {
    o->threshold = SX_SPLIT_DEFAULT_THRESHOLD;
    o->block_a = 2048;
    o->block_b = 8192;
    o->max_pairs = 20000000;
}

void sx_split_free(sx_split_result *r) {
    if (!r) return;
    free(r->pairs);
    free(r->best_a);
    free(r->best_a_cos);
    free(r->best_b);
    free(r->best_b_cos);
    free(r->n_children);
    memset(r, 0, sizeof *r);
}

/* Unit-normalised copy of W [n, d] (double accumulation; zero rows stay zero). */
static float *normalised_copy(const float *W, int n, int d) {
    float *o = malloc((size_t)n * d * sizeof *o);
    if (!o) return NULL;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const float *w = W + (size_t)i * d;
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)w[k] * w[k];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int k = 0; k < d; k++) o[(size_t)i * d + k] = w[k] * inv;
    }
    return o;
}

typedef struct pair_buf {
    sx_split_pair *p;
    int64_t n, cap;
} pair_buf;

static int pair_push(pair_buf *b, int32_t a, int32_t j, float c) {
    if (b->n == b->cap) {
        int64_t nc = b->cap ? b->cap * 2 : 1024;
        sx_split_pair *np = realloc(b->p, (size_t)nc * sizeof *np);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
    b->p[b->n++] = (sx_split_pair){a, j, c};
    return 0;
}

static int pair_cmp(const void *x, const void *y) {
    const sx_split_pair *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* Scan one block C [ra, rb] (rows = A latents a0.., cols = B latents b0..).  Each thread
 * takes a contiguous row range and keeps its own column maxima (merged afterwards, lower
 * thread = lower rows wins ties, so results do not depend on the thread count). */
typedef struct scan_ctx {
    const float *C;
    int ra, rb, a0, b0;
    float T;
    float *bestA; int32_t *argA; int32_t *nchild;   /* global, indexed by A latent */
    float *colmax; int32_t *colarg;                 /* [nthreads][rb] */
    pair_buf *bufs;                                 /* [nthreads] */
    int oom;
} scan_ctx;

static void scan_block(scan_ctx *s) {
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int i0 = (int)((int64_t)s->ra * t / nt), i1 = (int)((int64_t)s->ra * (t + 1) / nt);
        float *cm = s->colmax + (size_t)t * s->rb;
        int32_t *ca = s->colarg + (size_t)t * s->rb;
        for (int j = 0; j < s->rb; j++) cm[j] = -INFINITY, ca[j] = -1;
        const float T = s->T;
        for (int i = i0; i < i1; i++) {
            const float *c = s->C + (size_t)i * s->rb;
            const int32_t gi = s->a0 + i;
            float m = -INFINITY;
            int cnt = 0;
#pragma omp simd reduction(max : m) reduction(+ : cnt)
            for (int j = 0; j < s->rb; j++) {
                float v = c[j];
                m = v > m ? v : m;
                cnt += v >= T;
                if (v > cm[j]) { cm[j] = v; ca[j] = gi; }
            }
            if (m > s->bestA[gi]) {
                int j = 0;
                while (c[j] != m) j++; /* first index of the max */
                s->bestA[gi] = m;
                s->argA[gi] = s->b0 + j;
            }
            if (cnt) {
                s->nchild[gi] += cnt;
                for (int j = 0; j < s->rb; j++)
                    if (c[j] >= T && pair_push(&s->bufs[t], gi, s->b0 + j, c[j])) s->oom = 1;
            }
        }
    }
}

int sx_split_compute(const float *Wa, int n_a, const float *Wb, int n_b, int d,
                     const sx_split_opts *opts, sx_split_result *r, sx_err *err) {
    memset(r, 0, sizeof *r);
    sx_split_opts o;
    sx_split_opts_default(&o);
    if (opts) o = *opts;
    if (o.block_a <= 0) o.block_a = 2048;
    if (o.block_b <= 0) o.block_b = 8192;
    if (o.max_pairs <= 0) o.max_pairs = 20000000;
    if (n_a <= 0 || n_b <= 0 || d <= 0)
        return sx_failc(err, SX_EINVAL, "split: empty decoder matrix (n_a=%d, n_b=%d, d=%d)", n_a, n_b, d);
    if (!(o.threshold > -1.0f && o.threshold <= 1.0f))
        return sx_failc(err, SX_EINVAL, "split: threshold %g is not in (-1, 1]", (double)o.threshold);
    sx_blas_fix_coretype(); /* this OpenBLAS may sit on SSE3 kernels otherwise (models.h) */
    double t0 = sx_now();
    int ba = o.block_a < n_a ? o.block_a : n_a, bb = o.block_b < n_b ? o.block_b : n_b;
    int nth = omp_get_max_threads();
    float *An = normalised_copy(Wa, n_a, d), *Bn = normalised_copy(Wb, n_b, d);
    float *C = malloc((size_t)ba * bb * sizeof *C);
    float *colmax = malloc((size_t)nth * bb * sizeof *colmax);
    int32_t *colarg = malloc((size_t)nth * bb * sizeof *colarg);
    pair_buf *bufs = calloc((size_t)nth, sizeof *bufs);
    r->n_a = n_a, r->n_b = n_b, r->d = d, r->threshold = o.threshold;
    r->best_a = malloc((size_t)n_a * sizeof *r->best_a);
    r->best_a_cos = malloc((size_t)n_a * sizeof *r->best_a_cos);
    r->n_children = calloc((size_t)n_a, sizeof *r->n_children);
    r->best_b = malloc((size_t)n_b * sizeof *r->best_b);
    r->best_b_cos = malloc((size_t)n_b * sizeof *r->best_b_cos);
    int rc = 0;
    if (!An || !Bn || !C || !colmax || !colarg || !bufs || !r->best_a || !r->best_a_cos ||
        !r->n_children || !r->best_b || !r->best_b_cos) {
        rc = sx_failc(err, SX_ENOMEM, "split: out of memory (%d x %d latents, d=%d)", n_a, n_b, d);
        goto done;
    }
    for (int i = 0; i < n_a; i++) r->best_a_cos[i] = -INFINITY, r->best_a[i] = -1;
    for (int j = 0; j < n_b; j++) r->best_b_cos[j] = -INFINITY, r->best_b[j] = -1;
    for (int a0 = 0; a0 < n_a && !rc; a0 += ba) {
        int ra = n_a - a0 < ba ? n_a - a0 : ba;
        for (int b0 = 0; b0 < n_b; b0 += bb) {
            int rb = n_b - b0 < bb ? n_b - b0 : bb;
            /* C[ra, rb] = An[a0:a0+ra] * Bn[b0:b0+rb]^T */
            double tg = sx_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ra, rb, d, 1.0f,
                        An + (size_t)a0 * d, d, Bn + (size_t)b0 * d, d, 0.0f, C, rb);
            r->seconds_gemm += sx_now() - tg;
            scan_ctx s = {C, ra, rb, a0, b0, o.threshold, r->best_a_cos, r->best_a,
                          r->n_children, colmax, colarg, bufs, 0};
            scan_block(&s);
            if (s.oom) {
                rc = sx_failc(err, SX_ENOMEM, "split: out of memory collecting pairs");
                break;
            }
            int64_t total = 0;
            for (int t = 0; t < nth; t++) total += bufs[t].n;
            if (total > o.max_pairs) {
                rc = sx_failc(err, SX_EINVAL, "split: more than %lld pairs at threshold %g; raise the "
                             "threshold", (long long)o.max_pairs, (double)o.threshold);
                break;
            }
            /* merge the per-thread column maxima in thread (= row) order */
            for (int t = 0; t < nth; t++) {
                const float *cm = colmax + (size_t)t * rb;
                const int32_t *ca = colarg + (size_t)t * rb;
                for (int j = 0; j < rb; j++)
                    if (ca[j] >= 0 && cm[j] > r->best_b_cos[b0 + j])
                        r->best_b_cos[b0 + j] = cm[j], r->best_b[b0 + j] = ca[j];
            }
        }
    }
    if (!rc) {
        int64_t total = 0;
        for (int t = 0; t < nth; t++) total += bufs[t].n;
        r->pairs = malloc((size_t)(total ? total : 1) * sizeof *r->pairs);
        if (!r->pairs) {
            rc = sx_failc(err, SX_ENOMEM, "split: out of memory for %lld pairs", (long long)total);
        } else {
            int64_t k = 0;
            for (int t = 0; t < nth; t++) {
                if (bufs[t].n) memcpy(r->pairs + k, bufs[t].p, (size_t)bufs[t].n * sizeof *r->pairs);
                k += bufs[t].n;
            }
            r->n_pairs = total;
            if (total > 1) qsort(r->pairs, (size_t)total, sizeof *r->pairs, pair_cmp);
        }
    }
done:
    for (int t = 0; bufs && t < nth; t++) free(bufs[t].p);
    free(bufs);
    free(colarg);
    free(colmax);
    free(C);
    free(Bn);
    free(An);
    r->seconds = sx_now() - t0;
    r->gflop = 2.0 * n_a * (double)n_b * d / 1e9;
    if (rc) sx_split_free(r);
    return rc;
}
