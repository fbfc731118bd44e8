/* arch_dense.c — one training step of a ReLU SAE with the decoder-norm-weighted L1 penalty
 * (Anthropic, April 2024: unconstrained decoder norms) or a JumpReLU SAE (Rajamanoharan et
 * al. 2024: L0 via straight-through estimators, rectangle kernel of width eps, learned
 * log-thresholds, unit-norm decoder rows).  Row blocks of R rows; gradients accumulate in
 * the SAE's dense gradient buffer.
 *   FLOP floor per row: 10*d*m (encoder, decoder, dL/df, dW_dec, dW_enc: five sgemms).
 * JumpReLU pseudo-gradients, u = z - theta, K(u) = 1{|u| < eps/2}:
 *   d f / d theta = -(theta/eps) K,   d H(u) / d theta = -(1/eps) K,   d f / d z = H(u),
 *   and d/d log(theta) = theta * d/d theta. */
#include "train_isa.h"

#include <cblas.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "sx_mpi.h"
#include "train_internal.h"

/* Column-range pass over a block: activation, per-latent sums, dL/dpre (into dA), theta
 * gradient.  Each thread owns a range of latents, so every sum runs in row order. */
static void block_latents(sx_tsae *t, const sx_step_ctx *c, int nb, double lam, float *g_benc,
                          float *g_thr) {
    sx_scratch *s = c->s;
    const int m = t->m;
    const int jr = t->arch == SX_SAE_JUMPRELU;
    const float eps = (float)c->eps, half = 0.5f * (float)c->eps;
    const float lamB = (float)(lam / sx_loss_rows(c));
    const float *dn = s->lat_a, *thr = s->lat_c;
    float *sumA = s->lat_b;
    int T = s->nthreads;
#pragma omp parallel num_threads(T) if (sx_par((int64_t)c->B * t->m))
    {
        int th = tid(), nt = 1;
#ifdef _OPENMP
        nt = omp_get_num_threads();
#endif
        int j0 = (int)((int64_t)m * th / nt), j1 = (int)((int64_t)m * (th + 1) / nt);
        for (int rr = 0; rr < nb; rr++) {
            const float *P = s->P + (int64_t)rr * m;
            const float *A = s->A + (int64_t)rr * m;
            float *dA = s->dA + (int64_t)rr * m;
            unsigned char *fired = s->fired;
            if (!jr) {
#pragma omp simd
                for (int j = j0; j < j1; j++) {
                    float a = A[j];
                    float dp = a > 0 ? dA[j] + lamB * dn[j] : 0.0f;
                    sumA[j] += a;
                    g_benc[j] += dp;
                    dA[j] = dp;
                    fired[j] |= a > 0;
                }
            } else {
#pragma omp simd
                for (int j = j0; j < j1; j++) {
                    float u = P[j] - thr[j];
                    g_thr[j] += fabsf(u) < half ? dA[j] * (-thr[j] / eps) + lamB * (-1.0f / eps) : 0.0f;
                    float dp = u > 0 ? dA[j] : 0.0f;
                    sumA[j] += u > 0 ? 1.0f : 0.0f;
                    fired[j] |= u > 0;
                    g_benc[j] += dp;
                    dA[j] = dp;
                }
            }
        }
    }
}

/* P += b_enc (the pre-activation), A = relu(P) (jumprelu: P where P > theta, else 0) for one
 * row; P is written back only when the JumpReLU pass needs it.  Counts the active latents
 * and returns the row maximum.  One read and one or two writes per latent (memory bound). */
static float activate_row(float *restrict P, const float *restrict b, const float *restrict thr, int m,
                          float *restrict A, int *cnt) {
    int j = 0, n = 0;
    float mx = 0.0f;
#ifdef __AVX512F__
    __m512 vmx = _mm512_setzero_ps(), zero = _mm512_setzero_ps();
    for (; j + 16 <= m; j += 16) {
        __m512 z = _mm512_add_ps(_mm512_loadu_ps(P + j), _mm512_loadu_ps(b + j));
        if (thr) _mm512_storeu_ps(P + j, z);
        __mmask16 on = _mm512_cmp_ps_mask(z, thr ? _mm512_loadu_ps(thr + j) : zero, _CMP_GT_OQ);
        on &= _mm512_cmp_ps_mask(z, zero, _CMP_GT_OQ); /* a > 0 */
        __m512 a = _mm512_maskz_mov_ps(on, z);
        _mm512_storeu_ps(A + j, a);
        n += __builtin_popcount(on);
        vmx = _mm512_max_ps(vmx, a);
    }
    mx = _mm512_reduce_max_ps(vmx);
#endif
    for (; j < m; j++) {
        float z = P[j] + b[j], a = (thr ? z > thr[j] : 1) && z > 0 ? z : 0.0f;
        if (thr) P[j] = z;
        A[j] = a;
        n += a > 0;
        mx = a > mx ? a : mx;
    }
    *cnt = n;
    return mx;
}

int sx_step_dense(sx_tsae *t, const sx_step_ctx *c, sx_err *err) {
    sx_scratch *s = c->s;
    const int B = c->B, d = t->d, m = t->m, R = s->R;
    const int jr = t->arch == SX_SAE_JUMPRELU;
    const int64_t md = (int64_t)m * d;
    float *gWe = t->g, *gWd = t->g + md, *gbe = t->g + 2 * md, *gbd = gbe + m;
    float *gthr = jr ? gbd + d : NULL;
    const double lam = t->l1 * c->sparsity_scale;
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int64_t i = 0; i < t->np; i++) t->g[i] = 0;
    memset(s->lat_b, 0, (size_t)m * sizeof(float));
    memset(s->fired, 0, (size_t)m);
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int j = 0; j < m; j++) {
        const float *w = t->W_dec + (int64_t)j * d;
        float ss = 0;
        for (int i = 0; i < d; i++) ss += w[i] * w[i];
        s->lat_a[j] = sqrtf(ss);
        if (jr) s->lat_c[j] = expf(t->log_thr[j]);
    }
    int64_t n_dead = 0;
    for (int j = 0; j < m; j++) n_dead += c->tokens_before - t->last_fired[j] >= c->dead_tokens;
    if (c->lp) sx_mpi_allreduce_i64(&n_dead, 1, SX_MPI_SUM); /* over the whole width */
    t->n_dead = n_dead;
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int r = 0; r < B; r++)
        for (int i = 0; i < d; i++) s->xc[(int64_t)r * d + i] = c->x[(int64_t)r * d + i] - t->b_dec[i];
    double mse = 0, l0 = 0, mx = 0;
    const int Bn = sx_loss_rows(c);
    const float g2 = 2.0f / (float)Bn;
    for (int r0 = 0; r0 < B; r0 += R) {
        int nb = B - r0 < R ? B - r0 : R;
        const float *xcb = s->xc + (int64_t)r0 * d;
        float *Gb = s->G + (int64_t)r0 * d;
        sx_par_sgemm(0, 0, 1, nb, m, d, 1.0f, xcb, d, t->WencT, d, 0.0f, s->P, m); /* + b_enc below */
        double l0b = 0, mxb = 0;
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m)) reduction(+ : l0b, mxb)
        for (int rr = 0; rr < nb; rr++) {
            float *restrict P = s->P + (int64_t)rr * m;
            float *restrict A = s->A + (int64_t)rr * m;
            int cnt = 0;
            float rowmax = activate_row(P, t->b_enc, jr ? s->lat_c : NULL, m, A, &cnt);
            l0b += cnt, mxb += rowmax;
            if (c->lp) s->lp_rowmax[r0 + rr] = rowmax; /* the row's maximum is over all ranks */
        }
        l0 += l0b, mx += mxb;
        sx_lp_decode_init(t, c, Gb, nb);
        sx_par_sgemm(1, 0, 0, nb, d, m, 1.0f, s->A, m, t->W_dec, d, 1.0f, Gb, d);
        if (c->lp) sx_mpi_allreduce_f(Gb, (int64_t)nb * d, SX_MPI_SUM); /* the ranks' a_j d_j summed */
        double mseb = 0;
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m)) reduction(+ : mseb)
        for (int rr = 0; rr < nb; rr++) {
            float *G = Gb + (int64_t)rr * d;
            const float *x = c->x + (int64_t)(r0 + rr) * d;
            double se = 0;
            for (int i = 0; i < d; i++) {
                float e = G[i] - x[i];
                se += (double)e * e;
                G[i] = g2 * e;
            }
            mseb += se;
        }
        mse += mseb;
        sx_par_sgemm(0, 0, 1, nb, m, d, 1.0f, Gb, d, t->W_dec, d, 0.0f, s->dA, m);
        block_latents(t, c, nb, lam, gbe, gthr);
        sx_par_sgemm(1, 1, 0, m, d, nb, 1.0f, s->A, m, Gb, d, 1.0f, gWd, d);
        sx_par_sgemm(1, 1, 0, m, d, nb, 1.0f, s->dA, m, xcb, d, 1.0f, gWe, d);
    }
    /* sparsity term and its decoder gradient; b_dec; theta -> log theta */
    double sp = 0;
    for (int j = 0; j < m; j++) sp += (double)s->lat_b[j] * (jr ? 1.0 : s->lat_a[j]);
    if (c->dp) { /* the global batch's statistics (the loss check then agrees on every rank) */
        double st[4] = {mse, l0, mx, sp};
        sx_mpi_allreduce_d(st, 4, SX_MPI_SUM);
        mse = st[0], l0 = st[1], mx = st[2], sp = st[3];
    }
    if (c->lp) { /* mse is the whole batch's already (the reconstruction was summed) */
        double st[2] = {l0, sp};
        sx_mpi_allreduce_d(st, 2, SX_MPI_SUM);
        l0 = st[0], sp = st[1], mx = sx_lp_rowmax_sum(c);
    }
    t->sparsity_loss = lam * sp / Bn;
    t->mse_sum = mse, t->l0_sum = l0, t->maxact_sum = mx, t->aux_loss = 0, t->rows = Bn;
    t->loss = mse / Bn + t->sparsity_loss;
    if (!isfinite(t->loss)) return sx_failc(err, SX_ENUMERIC, "%s: the loss became non-finite (diverged)", t->name);
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int j = 0; j < m; j++) {
        float *gw = gWd + (int64_t)j * d;
        const float *w = t->W_dec + (int64_t)j * d;
        if (!jr) {
            float f = s->lat_a[j] > 0 ? (float)(lam / Bn) * s->lat_b[j] / s->lat_a[j] : 0.0f;
            for (int i = 0; i < d; i++) gw[i] += f * w[i];
        } else {
            float pr = 0;
            for (int i = 0; i < d; i++) pr += gw[i] * w[i];
            for (int i = 0; i < d; i++) gw[i] -= pr * w[i];
            gthr[j] *= s->lat_c[j];
        }
    }
    sx_column_sums(s->G, B, d, gbd);
    sx_lp_bdec_enc_term(t, c, gbe, gbd);
    if (c->dp) { /* every term above is linear in this rank's rows: the sum is the global gradient */
        sx_mpi_allreduce_f(t->g, t->np, SX_MPI_SUM);
        sx_mpi_allreduce_u8(s->fired, m, SX_MPI_MAX);
    }
    if (c->want_grad) {
        memcpy(c->grad_out, t->g, (size_t)t->np * sizeof(float));
        return 0;
    }
    float gscale = c->lp ? sx_lp_clip_scale(t, c->clip) : sx_grad_clip_scale(t->g, t->np, c->clip);
    sx_adam ad;
    sx_adam_prepare(&ad, c->lr, c->adam_t);
    const int64_t CH = 1 << 16;
    int64_t nch = (t->np + CH - 1) / CH;
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
    for (int64_t q = 0; q < nch; q++) {
        int64_t o = q * CH, n = t->np - o < CH ? t->np - o : CH;
        sx_adam_update(t->p + o, t->am + o, t->av + o, t->g + o, n, gscale, &ad);
    }
    if (jr) {
#pragma omp parallel for schedule(static) if (sx_par((int64_t)c->B * t->m))
        for (int j = 0; j < m; j++) {
            float *w = t->W_dec + (int64_t)j * d, ss = 0;
            for (int i = 0; i < d; i++) ss += w[i] * w[i];
            float n = sqrtf(ss);
            if (n > 0)
                for (int i = 0; i < d; i++) w[i] /= n;
        }
    }
    for (int j = 0; j < m; j++)
        if (s->fired[j]) t->last_fired[j] = c->tokens_before + Bn;
    return 0;
}
