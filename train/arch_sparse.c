/* arch_sparse.c — one training step of a TopK (Gao et al. 2024), BatchTopK (Bussmann et al.
 * 2024) or Matryoshka BatchTopK (Bussmann et al. 2025, Nabeshima 2025) SAE, with AuxK for dead
 * latents.  Matryoshka: nested prefixes W_0 < .. < W_{n-1} = m; x_hat_g decodes the kept
 * latents j < W_g (+ b_dec) and the loss is sum_g (1/B) sum_rows ||x_hat_g - x||^2 (SAELens
 * matryoshka_batchtopk: every inner level's MSE added to the outer loss with weight 1); a
 * latent of group h gets the gradient row G_h = (2/B) sum_{g >= h} (x_hat_g - x).  AuxK fits
 * the full residual x - x_hat_{n-1}.  Only the encoder is dense:
 *   FLOP floor per row: 2*d*m (encoder sgemm)  +  ~4*d*(k + k_aux) (sparse decoder forward,
 *   its backward and the W_enc/W_dec gradients)  +  m compares (top-k selection).
 * The encoder never materialises the B x m pre-activations (encode_fused.c).
 * Gradients are scattered per latent (entries grouped by latent, each latent owned by one
 * thread) and Adam is applied to a latent's rows right after its gradient is formed, so no
 * dense gradient buffer exists.  No sum crosses latents or threads, so the step does not
 * depend on the thread count (beyond what sgemm itself does). */
#include "train_isa.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "encode_fused.h"
#include "sae_internal.h"
#include "sx_mpi.h"
#include "train_internal.h"

/* 16 partial sums (a fixed-width inner loop the compiler vectorises; GCC 12 leaves `omp simd`
 * reductions scalar): the order depends on n alone, not on threads. */
static inline float dot(const float *a, const float *b, int n) {
    float acc[16] = {0}, s = 0;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int q = 0; q < 16; q++) acc[q] += a[i + q] * b[i + q];
    for (int q = 0; q < 16; q++) s += acc[q];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
static inline void axpy(float a, const float *restrict x, float *restrict y, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* Deterministic quickselect: the value of rank q (0 = largest) of v[0..n). */
static float kth_largest(float *v, int64_t n, int64_t q) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float a = v[lo], b = v[(lo + hi) / 2], c = v[hi];
        float piv = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > piv) i++;
            while (v[j] < piv) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j], v[j] = t;
                i++, j--;
            }
        }
        if (q <= j) hi = j;
        else if (q >= i) lo = i;
        else return v[q];
    }
    return v[q];
}

/* Encoder fused with the selection (encode_fused.c): per row the top C positive
 * pre-activations and the top k_aux positive dead latents, without a B x m matrix. */
static void encode_select(sx_tsae *t, const sx_step_ctx *c, int C, int kaux, int n_dead) {
    sx_scratch *s = c->s;
    const int B = c->B, d = t->d, m = t->m;
    sx_enc_pack_rows(s->xc, B, d, s->xpack);
    if (!t->wpack_fresh) sx_enc_pack_latents(t->WencT, m, d, t->wpack); /* else the update did */
    t->wpack_fresh = 0;
    int npan = (m + SX_ENC_NR - 1) / SX_ENC_NR;
    memset(s->dead_bits, 0, (size_t)npan * sizeof(uint64_t));
    for (int q = 0; q < n_dead; q++) {
        int j = s->dead_list[q];
        s->dead_bits[j / SX_ENC_NR] |= 1ull << (j % SX_ENC_NR);
    }
    sx_enc_sink sink = {C, kaux, s->cand_max, s->aux_max, s->cand_idx, s->aux_idx, s->row_n, s->row_naux,
                        s->cand_val, s->aux_val};
    sx_encode_topk_fused(s->xpack, t->wpack, t->b_enc, B, d, m, s->dead_bits, &sink);
}

/* Data parallel: the candidates of all ranks' rows, in rank (= global row) order, in sel_tmp
 * (sized for the global batch); returns their count.  Bytes sent per rank: 8 + 4 * its
 * candidate count (B_local * min(4k, m)). */
static int64_t gather_candidates(sx_scratch *s, int64_t N) {
    int P = sx_mpi_size(), me = sx_mpi_rank();
    int64_t cnt[P];
    cnt[me] = N;
    sx_mpi_allgather(&cnt[me], sizeof(int64_t), cnt);
    int64_t tot = 0, bytes[P];
    for (int r = 0; r < P; r++) {
        bytes[r] = cnt[r] * (int64_t)sizeof(float);
        tot += cnt[r];
    }
    float *mine = s->cand_dp; /* [B*cand_max], free until rows_backward */
    memcpy(mine, s->sel_tmp, (size_t)N * sizeof(float));
    sx_mpi_allgatherv(mine, N * (int64_t)sizeof(float), s->sel_tmp, bytes);
    return tot;
}

/* BatchTopK: keep the B*k largest candidates of the batch (ties in row order; under
 * --parallel data, of the global batch, so the kept set is the one-process set). */
static float batch_select(sx_tsae *t, const sx_step_ctx *c) {
    sx_scratch *s = c->s;
    const int B = c->B;
    int64_t N = 0, K = (int64_t)sx_loss_rows(c) * t->k;
    for (int r = 0; r < B; r++)
        for (int q = 0; q < s->row_n[r]; q++) s->sel_tmp[N++] = s->cand_val[(int64_t)r * s->cand_max + q];
    if (c->dp) N = gather_candidates(s, N);
    if (N == 0) return 0;
    float thr = N > K ? kth_largest(s->sel_tmp, N, K - 1) : 0;
    int64_t above = 0;
    if (N > K)
        for (int64_t i = 0; i < N; i++) above += s->sel_tmp[i] > thr;
    int64_t ties_left = N > K ? K - above : 0;
    if (c->dp && N > K) { /* ties are kept in global row order: lower ranks' rows first */
        int P = sx_mpi_size(), me = sx_mpi_rank();
        int64_t ties[P], mt = 0;
        for (int r = 0; r < B; r++)
            for (int q = 0; q < s->row_n[r]; q++) mt += s->cand_val[(int64_t)r * s->cand_max + q] == thr;
        ties[me] = mt;
        sx_mpi_allgather(&ties[me], sizeof(int64_t), ties);
        for (int r = 0; r < me; r++) ties_left -= ties[r];
        if (ties_left < 0) ties_left = 0;
    }
    float minkept = INFINITY;
    for (int r = 0; r < B; r++) {
        int *ci = s->cand_idx + (int64_t)r * s->cand_max;
        float *cv = s->cand_val + (int64_t)r * s->cand_max;
        int n = 0;
        for (int q = 0; q < s->row_n[r]; q++) {
            int keep = N <= K || cv[q] > thr || (cv[q] == thr && ties_left-- > 0);
            if (keep) {
                ci[n] = ci[q], cv[n++] = cv[q];
                if (cv[q] < minkept) minkept = cv[q];
            }
        }
        s->row_n[r] = n;
    }
    if (c->dp) {
        double mk = minkept;
        sx_mpi_allreduce_d(&mk, 1, SX_MPI_MIN);
        minkept = (float)mk;
    }
    return minkept;
}

/* Ask for a d-float row ahead of its use: the row gathers below (from L3 or DRAM) are
 * latency-bound otherwise.  Measured at width 16384, batch 4096: rows_backward 29 -> 20 ms,
 * latent_pass 66 -> 55 ms per step. */
static inline void prefetch_row(const float *p, int d) {
    for (int i = 0; i < d; i += 16) __builtin_prefetch(p + i);
}

/* The matryoshka group of this rank's latent j (0 for the other archs; under --parallel
 * latents the groups are of the whole width: j is lat_off + j there). */
static inline int group_of(const sx_tsae *t, int j) {
    if (t->n_groups == 1) return 0;
    int g = 0;
    j += t->lat_off;
    while (j >= t->groups[g]) g++;
    return g;
}

/* Matryoshka rows: prefix reconstructions, their residuals, the cumulative gradient rows G_h
 * (G + h*B*d) and dL/dpre of the kept entries.  Returns sum_g ||e_g||^2; *se_last, *se_first
 * the outer and innermost terms.  acc: d floats of scratch.  Gs NULL: each group's part of the
 * decode from this row's entries; under --parallel latents Gs holds the decoder output of each
 * group summed over the ranks (block g; it may be s->G itself: each element is read before it
 * is written).  Extra cost over one decode: the n_groups residual rows (n_groups * 3d FLOPs). */
static double matryoshka_row(const sx_tsae *t, const sx_step_ctx *c, const float *Gs, int r, float *acc,
                             double *se_last, double *se_first) {
    const sx_scratch *s = c->s;
    const int d = t->d, ng = t->n_groups;
    const int64_t BD = (int64_t)c->B * d;
    const float g2 = 2.0f / (float)sx_loss_rows(c);
    const float *xr = c->x + (int64_t)r * d;
    const int *ci = s->cand_idx + (int64_t)r * s->cand_max;
    const float *cv = s->cand_val + (int64_t)r * s->cand_max;
    float *cdp = s->cand_dp + (int64_t)r * s->cand_max;
    memcpy(acc, t->b_dec, (size_t)d * sizeof(float));
    double tot = 0;
    for (int g = 0; g < ng; g++) {
        if (Gs) {
            const float *S = Gs + g * BD + (int64_t)r * d;
            for (int i = 0; i < d; i++) acc[i] += S[i];
        } else {
            int lo = g ? t->groups[g - 1] : 0, hi = t->groups[g];
            for (int q = 0; q < s->row_n[r]; q++)
                if (ci[q] >= lo && ci[q] < hi) axpy(cv[q], t->W_dec + (int64_t)ci[q] * d, acc, d);
        }
        float *E = s->G + g * BD + (int64_t)r * d;
        double se = 0;
        for (int i = 0; i < d; i++) {
            float e = acc[i] - xr[i];
            se += (double)e * e;
            E[i] = e;
        }
        tot += se;
        if (g == 0) *se_first = se;
        if (g == ng - 1) *se_last = se;
    }
    for (int g = ng - 1; g >= 0; g--) { /* G_g = g2 e_g + G_{g+1} */
        float *E = s->G + g * BD + (int64_t)r * d;
        if (g == ng - 1)
            for (int i = 0; i < d; i++) E[i] = g2 * E[i];
        else
            for (int i = 0; i < d; i++) E[i] = g2 * E[i] + E[i + BD];
    }
    for (int q = 0; q < s->row_n[r]; q++)
        cdp[q] = dot(s->G + group_of(t, ci[q]) * BD + (int64_t)r * d, t->W_dec + (int64_t)ci[q] * d, d);
    return tot;
}

/* Per row: sparse decode, residual, dL/dx_hat, dL/dpre of every entry, AuxK. */
static void rows_backward(sx_tsae *t, const sx_step_ctx *c, int kaux) {
    sx_scratch *s = c->s;
    const int B = c->B, d = t->d, Bn = sx_loss_rows(c);
    const float g2 = 2.0f / (float)Bn, ga = (float)(2.0 * c->aux_coef / Bn);
    const int ng = t->n_groups;
    const int64_t BD = (int64_t)B * d;
    memset(s->tpart, 0, (size_t)s->nthreads * 8 * sizeof(double));
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int r = 0; r < B; r++) {
        double *tp = s->tpart + (int64_t)tid() * 8;
        const float *xr = c->x + (int64_t)r * d;
        float *G = s->G + (ng - 1) * BD + (int64_t)r * d; /* the outer level's row */
        const int *ci = s->cand_idx + (int64_t)r * s->cand_max;
        const float *cv = s->cand_val + (int64_t)r * s->cand_max;
        float *cdp = s->cand_dp + (int64_t)r * s->cand_max;
        float mx = 0;
        for (int q = 0; q < s->row_n[r]; q++)
            if (cv[q] > mx) mx = cv[q];
        double se = 0;
        if (ng > 1) {
            double se0 = 0;
            tp[4] += matryoshka_row(t, c, NULL, r, s->lat_tmp + (int64_t)tid() * 2 * d, &se, &se0);
            tp[5] += se0;
        } else {
            memcpy(G, t->b_dec, (size_t)d * sizeof(float));
            for (int q = 0; q < s->row_n[r]; q++) {
                if (q + 1 < s->row_n[r]) prefetch_row(t->W_dec + (int64_t)ci[q + 1] * d, d);
                axpy(cv[q], t->W_dec + (int64_t)ci[q] * d, G, d);
            }
            for (int i = 0; i < d; i++) {
                float e = G[i] - xr[i];
                se += (double)e * e;
                G[i] = g2 * e;
            }
            for (int q = 0; q < s->row_n[r]; q++) cdp[q] = dot(G, t->W_dec + (int64_t)ci[q] * d, d);
            tp[4] += se, tp[5] += se;
        }
        tp[0] += se, tp[2] += s->row_n[r], tp[3] += mx;
        if (kaux > 0 && s->row_naux[r] > 0) {
            const int *ai = s->aux_idx + (int64_t)r * s->aux_max;
            const float *av = s->aux_val + (int64_t)r * s->aux_max;
            float *adp = s->aux_dp + (int64_t)r * s->aux_max;
            float *Ga = s->Gaux + (int64_t)r * d;
            /* e = x - x_hat = -G/g2; diff = e_hat - e (matryoshka: the outer x_hat, G_{n-1} = g2 e) */
            for (int i = 0; i < d; i++) Ga[i] = G[i] / g2;
            for (int q = 0; q < s->row_naux[r]; q++) axpy(av[q], t->W_dec + (int64_t)ai[q] * d, Ga, d);
            double sa = 0;
            for (int i = 0; i < d; i++) {
                sa += (double)Ga[i] * Ga[i];
                Ga[i] *= ga;
            }
            for (int q = 0; q < s->row_naux[r]; q++) adp[q] = dot(Ga, t->W_dec + (int64_t)ai[q] * d, d);
            tp[1] += sa;
        }
    }
    double acc[6] = {0, 0, 0, 0, 0, 0};
    for (int th = 0; th < s->nthreads; th++)
        for (int q = 0; q < 6; q++) acc[q] += s->tpart[th * 8 + q];
    if (c->dp) sx_mpi_allreduce_d(acc, 6, SX_MPI_SUM); /* the global batch's sums */
    if (kaux > 0 && c->aux_normalize) {
        /* OpenAI (Gao et al. 2024) weight AuxK as normalised MSEs: ||x_hat - x||^2 / ||x - mean x||^2
         * + 1/32 ||e_hat - e||^2 / ||e - mean e||^2.  Our main term is not normalised, so the AuxK
         * term gets the factor f = sum ||x - mean x||^2 / sum ||e - mean e||^2 over the batch (a
         * constant, as the detached target's variance is there): without it AuxK is ~1/FVU times
         * weaker than theirs (x50 at FVU 0.02).  Applied to the finished AuxK rows. */
        double vx = 0, ve = 0;
        const float *E = s->G + (ng - 1) * BD; /* g2 (x_hat - x) */
        double csum[c->dp ? 4 * d : 1], *cs = c->dp ? csum : NULL;
        for (int i = 0; i < d; i++) {
            double sx = 0, ssx = 0, se_ = 0, sse = 0;
            for (int r = 0; r < B; r++) {
                double xv = c->x[(int64_t)r * d + i], ev = E[(int64_t)r * d + i] / g2;
                sx += xv, ssx += xv * xv, se_ += ev, sse += ev * ev;
            }
            if (cs) cs[4 * i] = sx, cs[4 * i + 1] = ssx, cs[4 * i + 2] = se_, cs[4 * i + 3] = sse;
            else vx += ssx - sx * sx / B, ve += sse - se_ * se_ / B;
        }
        if (cs) { /* per-column moments of the global batch (4*d doubles per rank) */
            sx_mpi_allreduce_d(cs, 4 * (int64_t)d, SX_MPI_SUM);
            for (int i = 0; i < d; i++)
                vx += cs[4 * i + 1] - cs[4 * i] * cs[4 * i] / Bn, ve += cs[4 * i + 3] - cs[4 * i + 2] * cs[4 * i + 2] / Bn;
        }
        float f = ve > 0 && vx > 0 ? (float)(vx / ve) : 1.0f;
        for (int64_t q = 0; q < BD; q++) s->Gaux[q] *= f;
        for (int r = 0; r < B; r++)
            for (int q = 0; q < s->row_naux[r]; q++) s->aux_dp[(int64_t)r * s->aux_max + q] *= f;
        acc[1] *= f;
    }
    t->mse_sum = acc[0], t->aux_loss = c->aux_coef * acc[1] / Bn, t->l0_sum = acc[2], t->maxact_sum = acc[3];
    t->group_mse[0] = acc[5], t->group_mse[ng - 1] = acc[0];
    t->sparsity_loss = 0;
    t->loss = acc[4] / Bn + t->aux_loss;
}

/* Group the entries by latent (counting sort; row order inside a latent). */
static void group_entries(sx_tsae *t, const sx_step_ctx *c) {
    sx_scratch *s = c->s;
    const int B = c->B, m = t->m;
    memset(s->lat_ptr, 0, (size_t)(m + 1) * sizeof(int));
    for (int r = 0; r < B; r++) {
        const int *ci = s->cand_idx + (int64_t)r * s->cand_max;
        for (int q = 0; q < s->row_n[r]; q++) s->lat_ptr[ci[q] + 1]++;
        const int *ai = s->aux_idx + (int64_t)r * s->aux_max;
        for (int q = 0; q < s->row_naux[r]; q++) s->lat_ptr[ai[q] + 1]++;
    }
    for (int j = 0; j < m; j++) s->lat_ptr[j + 1] += s->lat_ptr[j];
    memcpy(s->lat_cur, s->lat_ptr, (size_t)m * sizeof(int));
    for (int r = 0; r < B; r++) {
        const int *ci = s->cand_idx + (int64_t)r * s->cand_max;
        const float *cv = s->cand_val + (int64_t)r * s->cand_max;
        const float *cdp = s->cand_dp + (int64_t)r * s->cand_max;
        for (int q = 0; q < s->row_n[r]; q++)
            s->ent[s->lat_cur[ci[q]]++] = (sx_entry){r, 0, (int16_t)group_of(t, ci[q]), cv[q], cdp[q]};
        const int *ai = s->aux_idx + (int64_t)r * s->aux_max;
        const float *av = s->aux_val + (int64_t)r * s->aux_max;
        const float *adp = s->aux_dp + (int64_t)r * s->aux_max;
        for (int q = 0; q < s->row_naux[r]; q++)
            s->ent[s->lat_cur[ai[q]]++] = (sx_entry){r, 1, 0, av[q], adp[q]};
    }
    /* b_enc gradient per latent, summed in row order (the latent pass repeats this sum) */
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int j = 0; j < m; j++) {
        float gbe = 0;
        for (int e = s->lat_ptr[j]; e < s->lat_ptr[j + 1]; e++) gbe += s->ent[e].dpre;
        s->lat_a[j] = gbe;
    }
}

/* mode 0: gradient norm per latent (into lat_b); 1: Adam update; 2: export the gradient (and
 * s->fired); 3: Adam update from the dense gradient c->grad_out (--parallel data, after the
 * gradients of all ranks were summed).
 * Latents are independent here (no cross-latent sums), so dynamic scheduling keeps the
 * result independent of the thread count and of timing. */
static void latent_pass(sx_tsae *t, const sx_step_ctx *c, int mode, float gscale, const sx_adam *ad) {
    sx_scratch *s = c->s;
    const int d = t->d, m = t->m;
    const int64_t md = (int64_t)m * d, BD = (int64_t)c->B * d;
#pragma omp parallel for schedule(dynamic, SX_ENC_NR) if (sx_par((int64_t)c->B * t->m))
    for (int j = 0; j < m; j++) { /* chunks of whole latent panels: no two threads share a line */
        int th = tid();
        float *gdec = s->lat_tmp + (int64_t)th * 2 * d, *genc = gdec + d;
        float *wd = t->W_dec + (int64_t)j * d, *we = t->WencT + (int64_t)j * d;
        int e0 = s->lat_ptr[j], e1 = s->lat_ptr[j + 1];
        float gbe = s->lat_a[j];
        int fired = 0;
        if (mode == 3) {
            if (c->lazy_adam && !s->fired[j]) continue; /* lazy Adam, as mode 1 */
            const float *go = c->grad_out;
            int64_t od = md + (int64_t)j * d, oe = (int64_t)j * d, ob = 2 * md + j;
            sx_adam_update(wd, t->am + od, t->av + od, go + od, d, gscale, ad);
            sx_adam_update(we, t->am + oe, t->av + oe, go + oe, d, gscale, ad);
            float *wp = t->wpack + (int64_t)(j / SX_ENC_NR) * d * SX_ENC_NR + j % SX_ENC_NR;
            for (int i = 0; i < d; i++) wp[(int64_t)i * SX_ENC_NR] = we[i];
            sx_adam_update(t->b_enc + j, t->am + ob, t->av + ob, go + ob, 1, gscale, ad);
            float nn = sqrtf(dot(wd, wd, d));
            if (nn > 0)
                for (int i = 0; i < d; i++) wd[i] /= nn;
            if (s->fired[j] == 2) t->last_fired[j] = c->tokens_before + sx_loss_rows(c);
            continue;
        }
        if (e1 > e0) {
            memset(gdec, 0, (size_t)2 * d * sizeof(float));
            for (int e = e0; e < e1; e++) {
                const sx_entry *en = &s->ent[e];
                const float *Gr = (en->aux ? s->Gaux : s->G + en->grp * BD) + (int64_t)en->row * d;
                if (e + 1 < e1) { /* rows are scattered over 2 x B*d floats: start the next two early */
                    prefetch_row((en[1].aux ? s->Gaux : s->G + en[1].grp * BD) + (int64_t)en[1].row * d, d);
                    prefetch_row(s->xc + (int64_t)en[1].row * d, d);
                }
                axpy(en->a, Gr, gdec, d);
                axpy(en->dpre, s->xc + (int64_t)en->row * d, genc, d);
                fired |= !en->aux;
            }
            float pr = dot(gdec, wd, d); /* unit-norm decoder: project the gradient */
            axpy(-pr, wd, gdec, d);
        }
        if (mode == 0) {
            s->lat_b[j] = e1 > e0 ? dot(gdec, gdec, d) + dot(genc, genc, d) + gbe * gbe : 0.0f;
        } else if (mode == 2) {
            float *go = c->grad_out;
            if (e1 > e0) {
                memcpy(go + md + (int64_t)j * d, gdec, (size_t)d * sizeof(float));
                memcpy(go + (int64_t)j * d, genc, (size_t)d * sizeof(float));
            } else {
                memset(go + md + (int64_t)j * d, 0, (size_t)d * sizeof(float));
                memset(go + (int64_t)j * d, 0, (size_t)d * sizeof(float));
            }
            go[2 * md + j] = gbe;
            /* 2: fired, 1: only in AuxK, 0: no entry; the data-parallel step takes the MAX over
             * the ranks, so lazy Adam skips a latent only when no rank had an entry for it */
            s->fired[j] = (unsigned char)(fired ? 2 : e1 > e0 ? 1 : 0);
        } else {
            int64_t od = md + (int64_t)j * d, oe = (int64_t)j * d, ob = 2 * md + j;
            const int has = e1 > e0;
            /* Lazy Adam (torch SparseAdam, TF LazyAdam): a latent that neither fired nor took
             * part in AuxK keeps its parameters and moments.  Dense Adam would keep moving it
             * by its decaying momentum m/sqrt(v) for tens of steps after it stopped firing,
             * pushing its pre-activations further down when the last gradients said "smaller";
             * at the LRs a short run needs, that killed 13% of the demo's 4096 latents. */
            if (!has && c->lazy_adam) continue;
            sx_adam_update(wd, t->am + od, t->av + od, has ? gdec : NULL, d, gscale, ad);
            sx_adam_update(we, t->am + oe, t->av + oe, has ? genc : NULL, d, gscale, ad);
            float *wp = t->wpack + (int64_t)(j / SX_ENC_NR) * d * SX_ENC_NR + j % SX_ENC_NR;
            for (int i = 0; i < d; i++) wp[(int64_t)i * SX_ENC_NR] = we[i]; /* repack for the next encode */
            sx_adam_update(t->b_enc + j, t->am + ob, t->av + ob, has ? &gbe : NULL, 1, gscale, ad);
            float nn = sqrtf(dot(wd, wd, d));
            if (nn > 0)
                for (int i = 0; i < d; i++) wd[i] /= nn;
            if (fired) t->last_fired[j] = c->tokens_before + sx_loss_rows(c);
        }
    }
}

/* gb_dec = sum_r G_r - W_enc gb_enc (old W_enc: call before the update). */
static void bdec_grad(sx_tsae *t, const sx_step_ctx *c, float *out) {
    sx_column_sums(c->s->G, c->B, t->d, out);
    cblas_sgemv(CblasRowMajor, CblasTrans, t->m, t->d, -1.0f, t->WencT, t->d, c->s->lat_a, 1, 1.0f, out, 1);
}

/* The optimiser's half of a step: the optional global-norm clip (latent norms summed over the
 * ranks when each holds a slice of the latents: sum_ranks), then Adam on the latents (lazy:
 * those the step touched) and on b_dec. */
static void clip_and_update(sx_tsae *t, const sx_step_ctx *c, const float *gbd, int sum_ranks) {
    sx_scratch *s = c->s;
    const int d = t->d, m = t->m;
    float gscale = 1.0f;
    if (c->clip > 0) {
        latent_pass(t, c, 0, 1.0f, NULL);
        double nn = 0;
        for (int j = 0; j < m; j++) nn += s->lat_b[j];
        if (sum_ranks) sx_mpi_allreduce_d(&nn, 1, SX_MPI_SUM);
        for (int i = 0; i < d; i++) nn += (double)gbd[i] * gbd[i];
        nn = sqrt(nn);
        if (nn > c->clip) gscale = (float)(c->clip / nn);
    }
    sx_adam ad;
    sx_adam_prepare(&ad, c->lr, c->adam_t);
    latent_pass(t, c, 1, gscale, &ad);
    t->wpack_fresh = 1;
    int64_t ob = 2 * (int64_t)m * d + m;
    sx_adam_update(t->b_dec, t->am + ob, t->av + ob, gbd, d, gscale, &ad);
}

int sx_step_sparse(sx_tsae *t, const sx_step_ctx *c, sx_err *err) {
    sx_scratch *s = c->s;
    const int B = c->B, d = t->d, m = t->m;
    const int bt = t->arch == SX_SAE_BATCHTOPK || t->arch == SX_SAE_MATRYOSHKA;
    if (t->n_groups > s->n_groups || t->groups[t->n_groups - 1] != m)
        return sx_failc(err, SX_EINVAL, "%s: %d matryoshka groups need sx_scratch_groups and must end at width %d", t->name,
                       t->n_groups, m);
    int C = bt ? (4 * t->k < m ? 4 * t->k : m) : (t->k < m ? t->k : m);
    if (C > s->cand_max) C = s->cand_max;
    int n_dead = 0;
    for (int j = 0; j < m; j++)
        if (c->tokens_before - t->last_fired[j] >= c->dead_tokens) s->dead_list[n_dead++] = j;
    t->n_dead = n_dead;
    int kaux = (c->aux_coef > 0 && n_dead > 0) ? (c->aux_k < n_dead ? c->aux_k : n_dead) : 0;
    if (kaux > s->aux_max) kaux = s->aux_max;
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int r = 0; r < B; r++)
        for (int i = 0; i < d; i++) s->xc[(int64_t)r * d + i] = c->x[(int64_t)r * d + i] - t->b_dec[i];
    encode_select(t, c, C, kaux, n_dead);
    if (bt) {
        float mk = batch_select(t, c);
        if (!c->want_grad && isfinite(mk))
            t->bt_threshold = t->bt_threshold > 0 ? (float)(c->bt_ema * t->bt_threshold + (1 - c->bt_ema) * mk) : mk;
    }
    rows_backward(t, c, kaux);
    t->rows = sx_loss_rows(c);
    if (!isfinite(t->loss)) return sx_failc(err, SX_ENUMERIC, "%s: the loss became non-finite (diverged)", t->name);
    group_entries(t, c);
    float gbd[d > 0 ? d : 1];
    float gscale = 1.0f;
    bdec_grad(t, c, gbd);
    if (c->want_grad) {
        latent_pass(t, c, 2, 1.0f, NULL);
        memcpy(c->grad_out + 2 * (int64_t)m * d + m, gbd, (size_t)d * sizeof(float));
        return 0;
    }
    if (c->dp) {
        /* Data parallel: this rank's gradient, dense (at k 32 and batch 4096 nearly every latent
         * fires in a global batch, so a sparse exchange would carry as much), summed over the
         * ranks: 4*np bytes per rank per step, then the same Adam update everywhere. */
        if (!t->g) return sx_failc(err, SX_EINVAL, "%s: data-parallel step without its gradient buffer", t->name);
        sx_step_ctx c2 = *c;
        c2.grad_out = t->g;
        latent_pass(t, &c2, 2, 1.0f, NULL);
        memcpy(t->g + 2 * (int64_t)m * d + m, gbd, (size_t)d * sizeof(float));
        sx_mpi_allreduce_f(t->g, t->np, SX_MPI_SUM);
        sx_mpi_allreduce_u8(s->fired, m, SX_MPI_MAX);
        if (c->clip > 0) gscale = sx_grad_clip_scale(t->g, t->np, c->clip);
        sx_adam ad;
        sx_adam_prepare(&ad, c->lr, c->adam_t);
        latent_pass(t, &c2, 3, gscale, &ad);
        t->wpack_fresh = 1;
        int64_t ob = 2 * (int64_t)m * d + m;
        sx_adam_update(t->b_dec, t->am + ob, t->av + ob, t->g + ob, d, gscale, &ad);
        return 0;
    }
    clip_and_update(t, c, gbd, 0);
    return 0;
}

/* ---------- --parallel latents (trainer.c; each rank holds a slice of the latents) ----------
 * Every rank sees the whole batch and encodes it with its own latents; each row's top-C list
 * (the fused encoder keeps it sorted by value, equal values by lower index) is all-gathered and
 * merged by (value desc, global index asc), so every rank holds the one-process list, in the
 * one-process order, whatever N is.  BatchTopK then selects on the merged lists exactly as one
 * process does.  The decoder output is summed over the ranks (each adds its kept latents'
 * a_j d_j), so the residual, dL/dx_hat and every statistic are the one-process ones up to the
 * order of that sum; each rank then updates only its latents, b_dec everywhere.
 * Bytes sent per rank per step: 8*B*C (lists) + 4*B*d (reconstruction) + 4*d (b_dec's
 * W_enc term), plus 8*B*k_aux + 4*B*d while AuxK is on (dead latents). */

/* Merge the ranks' lists (local indices, shifted by each rank's offset) into idx/val/cnt. */
static void merge_lists(const sx_tsae *t, int B, int C, int stride, int *idx, float *val, int *cnt, sx_scratch *s) {
    const int P = sx_mpi_size();
    typedef struct { int32_t i; float v; } pair;
    pair *snd = s->lp_send, *rcv = s->lp_recv;
    for (int r = 0; r < B; r++)
        for (int q = 0; q < C; q++) {
            int ok = q < cnt[r];
            snd[(int64_t)r * C + q] = (pair){ok ? idx[(int64_t)r * stride + q] + t->lat_off : -1,
                                             ok ? val[(int64_t)r * stride + q] : 0.0f};
        }
    sx_mpi_allgather(snd, (int64_t)B * C * (int64_t)sizeof(pair), rcv);
#pragma omp parallel for schedule(static) if (sx_par((int64_t)B * t->m))
    for (int r = 0; r < B; r++) {
        int at[P];
        for (int p = 0; p < P; p++) at[p] = 0;
        int n = 0;
        while (n < C) {
            int best = -1;
            pair bp = {-1, 0};
            for (int p = 0; p < P; p++) {
                if (at[p] >= C) continue;
                pair e = rcv[((int64_t)p * B + r) * C + at[p]];
                if (e.i < 0) continue;
                if (best < 0 || e.v > bp.v || (e.v == bp.v && e.i < bp.i)) best = p, bp = e;
            }
            if (best < 0) break;
            at[best]++;
            idx[(int64_t)r * stride + n] = bp.i, val[(int64_t)r * stride + n] = bp.v;
            n++;
        }
        cnt[r] = n;
    }
}

/* Keep this rank's entries of the merged lists, as local indices. */
static void keep_local(const sx_tsae *t, int B, int stride, int *idx, float *val, int *cnt) {
    for (int r = 0; r < B; r++) {
        int n = 0;
        for (int q = 0; q < cnt[r]; q++) {
            int j = idx[(int64_t)r * stride + q] - t->lat_off;
            if (j >= 0 && j < t->m) idx[(int64_t)r * stride + n] = j, val[(int64_t)r * stride + n++] = val[(int64_t)r * stride + q];
        }
        cnt[r] = n;
    }
}

/* rows_backward with the decoder sums over the ranks (see above). */
static void rows_backward_lp(sx_tsae *t, const sx_step_ctx *c, int kaux) {
    sx_scratch *s = c->s;
    const int B = c->B, d = t->d, ng = t->n_groups;
    const float g2 = 2.0f / (float)B, ga = (float)(2.0 * c->aux_coef / B);
    const int64_t BD = (int64_t)B * d;
    const int par = sx_par((int64_t)B * t->m_full);
    /* This rank's parts of x_hat - b_dec (matryoshka: one block per group) and e_hat go
     * straight into the node's shared window when there is one (sx_mpi_sum_begin: no copy in
     * or out, one sum for all), else into G and Gaux and through sx_mpi_allreduce_f. */
    const int64_t nsum = (kaux > 0 ? ng + 1 : ng) * BD;
    float *win = sx_mpi_sum_begin(nsum);
    float *Gp = win ? win : s->G, *Gap = win ? win + ng * BD : s->Gaux;
#pragma omp parallel for schedule(static) if (par)
    for (int r = 0; r < B; r++) {
        float *G = Gp + (int64_t)r * d, *Ga = Gap + (int64_t)r * d;
        const int *ci = s->cand_idx + (int64_t)r * s->cand_max;
        const float *cv = s->cand_val + (int64_t)r * s->cand_max;
        for (int g = 0; g < ng; g++) memset(G + g * BD, 0, (size_t)d * sizeof(float));
        for (int q = 0; q < s->row_n[r]; q++) axpy(cv[q], t->W_dec + (int64_t)ci[q] * d, G + group_of(t, ci[q]) * BD, d);
        if (kaux > 0) {
            memset(Ga, 0, (size_t)d * sizeof(float));
            const int *ai = s->aux_idx + (int64_t)r * s->aux_max;
            const float *av = s->aux_val + (int64_t)r * s->aux_max;
            for (int q = 0; q < s->row_naux[r]; q++) axpy(av[q], t->W_dec + (int64_t)ai[q] * d, Ga, d);
        }
    }
    const float *Gs = s->G, *Gas = s->Gaux; /* the sums over the ranks */
    if (win) {
        Gs = sx_mpi_sum_end(nsum), Gas = Gs + ng * BD;
    } else {
        sx_mpi_allreduce_f(s->G, ng * BD, SX_MPI_SUM);
        if (kaux > 0) sx_mpi_allreduce_f(s->Gaux, BD, SX_MPI_SUM);
    }
    memset(s->tpart, 0, (size_t)s->nthreads * 8 * sizeof(double));
#pragma omp parallel for schedule(static) if (par)
    for (int r = 0; r < B; r++) {
        double *tp = s->tpart + (int64_t)tid() * 8;
        float *G = s->G + (ng - 1) * BD + (int64_t)r * d; /* the outer level's row */
        double se = 0, se0 = 0; /* one group (TopK, BatchTopK): the plain residual */
        tp[4] += matryoshka_row(t, c, Gs, r, s->lat_tmp + (int64_t)tid() * 2 * d, &se, &se0);
        tp[5] += se0;
        tp[0] += se;
        if (kaux > 0 && s->lp_naux[r] > 0) { /* as rows_backward: rows with AuxK entries */
            float *Ga = s->Gaux + (int64_t)r * d;
            const float *Gar = Gas + (int64_t)r * d;
            double sa = 0;
            for (int i = 0; i < d; i++) {
                Ga[i] = Gar[i] + G[i] / g2; /* e_hat - e */
                sa += (double)Ga[i] * Ga[i];
                Ga[i] *= ga;
            }
            const int *ai = s->aux_idx + (int64_t)r * s->aux_max;
            float *adp = s->aux_dp + (int64_t)r * s->aux_max;
            for (int q = 0; q < s->row_naux[r]; q++) adp[q] = dot(Ga, t->W_dec + (int64_t)ai[q] * d, d);
            tp[1] += sa;
        }
    }
    double acc[6] = {0, 0, 0, 0, 0, 0};
    for (int th = 0; th < s->nthreads; th++)
        for (int q = 0; q < 6; q++) acc[q] += s->tpart[th * 8 + q];
    if (kaux > 0 && c->aux_normalize) { /* as rows_backward: the whole batch is here */
        double vx = 0, ve = 0;
        const float *E = s->G + (ng - 1) * BD; /* g2 (x_hat - x) */
        for (int i = 0; i < d; i++) {
            double sx = 0, ssx = 0, se_ = 0, sse = 0;
            for (int r = 0; r < B; r++) {
                double xv = c->x[(int64_t)r * d + i], ev = E[(int64_t)r * d + i] / g2;
                sx += xv, ssx += xv * xv, se_ += ev, sse += ev * ev;
            }
            vx += ssx - sx * sx / B, ve += sse - se_ * se_ / B;
        }
        float f = ve > 0 && vx > 0 ? (float)(vx / ve) : 1.0f;
        for (int r = 0; r < B; r++) /* the rows with AuxK entries: the others' Gaux is never read (nor written) */
            if (s->lp_naux[r] > 0)
                for (int i = 0; i < d; i++) s->Gaux[(int64_t)r * d + i] *= f;
        for (int r = 0; r < B; r++)
            for (int q = 0; q < s->row_naux[r]; q++) s->aux_dp[(int64_t)r * s->aux_max + q] *= f;
        acc[1] *= f;
    }
    t->mse_sum = acc[0], t->aux_loss = c->aux_coef * acc[1] / B;
    t->group_mse[0] = acc[5], t->group_mse[ng - 1] = acc[0];
    t->sparsity_loss = 0;
    t->loss = acc[4] / B + t->aux_loss;
}

int sx_step_sparse_lp(sx_tsae *t, const sx_step_ctx *c, sx_err *err) {
    sx_scratch *s = c->s;
    const int B = c->B, d = t->d, m = t->m, M = t->m_full;
    const int bt = t->arch == SX_SAE_BATCHTOPK || t->arch == SX_SAE_MATRYOSHKA;
    if (t->arch != SX_SAE_TOPK && !bt) return sx_failc(err, SX_EUNSUPPORTED, "%s: --parallel latents is for topk, batchtopk and matryoshka", t->name);
    if (t->n_groups > s->n_groups || t->groups[t->n_groups - 1] != M)
        return sx_failc(err, SX_EINVAL, "%s: %d matryoshka groups need sx_scratch_groups and must end at width %d", t->name,
                       t->n_groups, M);
    int C = bt ? (4 * t->k < M ? 4 * t->k : M) : (t->k < M ? t->k : M);
    if (C > s->cand_max) C = s->cand_max;
    int n_dead = 0;
    for (int j = 0; j < m; j++)
        if (c->tokens_before - t->last_fired[j] >= c->dead_tokens) s->dead_list[n_dead++] = j;
    int64_t nd_all = n_dead;
    sx_mpi_allreduce_i64(&nd_all, 1, SX_MPI_SUM);
    t->n_dead = nd_all;
    int kaux = (c->aux_coef > 0 && nd_all > 0) ? (c->aux_k < nd_all ? c->aux_k : (int)nd_all) : 0;
    if (kaux > s->aux_max) kaux = s->aux_max;
#pragma omp parallel for schedule(static) if (sx_par((int64_t)B * M))
    for (int r = 0; r < B; r++)
        for (int i = 0; i < d; i++) s->xc[(int64_t)r * d + i] = c->x[(int64_t)r * d + i] - t->b_dec[i];
    encode_select(t, c, C < m ? C : m, kaux < n_dead ? kaux : n_dead, n_dead);
    merge_lists(t, B, C, s->cand_max, s->cand_idx, s->cand_val, s->row_n, s);
    if (kaux > 0) merge_lists(t, B, kaux, s->aux_max, s->aux_idx, s->aux_val, s->row_naux, s);
    else
        for (int r = 0; r < B; r++) s->row_naux[r] = 0;
    if (bt) { /* on the merged (global) lists: the same selection on every rank */
        float mk = batch_select(t, c);
        if (isfinite(mk)) t->bt_threshold = t->bt_threshold > 0 ? (float)(c->bt_ema * t->bt_threshold + (1 - c->bt_ema) * mk) : mk;
    }
    double l0 = 0, mx = 0;
    for (int r = 0; r < B; r++) {
        float rm = 0;
        for (int q = 0; q < s->row_n[r]; q++) rm = s->cand_val[(int64_t)r * s->cand_max + q] > rm ? s->cand_val[(int64_t)r * s->cand_max + q] : rm;
        l0 += s->row_n[r], mx += rm;
    }
    for (int r = 0; r < B; r++) s->lp_naux[r] = s->row_naux[r];
    keep_local(t, B, s->cand_max, s->cand_idx, s->cand_val, s->row_n);
    keep_local(t, B, s->aux_max, s->aux_idx, s->aux_val, s->row_naux);
    rows_backward_lp(t, c, kaux);
    t->l0_sum = l0, t->maxact_sum = mx, t->rows = B;
    if (!isfinite(t->loss)) return sx_failc(err, SX_ENUMERIC, "%s: the loss became non-finite (diverged)", t->name);
    group_entries(t, c);
    float gbd[d > 0 ? d : 1], gpart[d > 0 ? d : 1];
    sx_column_sums(s->G, B, d, gbd); /* the whole dL/dx_hat is on every rank */
    memset(gpart, 0, sizeof gpart);
    cblas_sgemv(CblasRowMajor, CblasTrans, m, d, -1.0f, t->WencT, d, s->lat_a, 1, 0.0f, gpart, 1);
    sx_mpi_allreduce_f(gpart, d, SX_MPI_SUM); /* - W_enc gb_enc over all latents */
    for (int i = 0; i < d; i++) gbd[i] += gpart[i];
    clip_and_update(t, c, gbd, 1);
    return 0;
}
