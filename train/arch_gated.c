/* arch_gated.c — one training step of a Gated SAE (Rajamanoharan et al. 2024, "Improving
 * Dictionary Learning with Gated Sparse Autoencoders"; SAELens architecture "gated").
 *
 *   xc = x - b_dec,  P = xc W_enc                        (one product serves both paths)
 *   pi_gate = P + b_gate,  pi_mag = exp(r_mag) * P + b_mag   (W_mag = W_enc * exp(r_mag))
 *   f = 1[pi_gate > 0] * relu(pi_mag),  x_hat = f W_dec + b_dec
 *   L = (1/B) sum_rows ( ||x_hat - x||^2
 *                        + lambda * sum_j relu(pi_gate_j) ||d_j||            (sparsity, gate only)
 *                        + ||relu(pi_gate) sg(W_dec) + sg(b_dec) - x||^2 )   (auxiliary, weight 1)
 * sg = stop-gradient: the auxiliary reconstruction trains only the gate (W_enc, b_gate, and
 * b_dec through xc).  The Heaviside gate has zero gradient, so the reconstruction term reaches
 * W_enc only through the magnitude path.  The L1 is weighted by the decoder norms, and the
 * decoder rows are kept at unit norm (gradient projected onto the sphere, rows renormalised
 * after each step), as dictionary_learning's GatedSAETrainer does (trainers/gdm.py,
 * ConstrainedAdam; with unit rows the weighting is 1): without the constraint nothing but the L1 acts on the
 * norms (the auxiliary path has the decoder detached and r_mag absorbs any scale on the
 * magnitude path), so they shrink and the gate's L1 fades (measured: L0 58 -> 90 of 128 on
 * the planted test instead of ~3).
 *
 * Row blocks of R rows; five [R, m] passes and seven products:
 *   FLOP floor per row: 14*d*m (encoder, decoder, auxiliary decoder, dL/df, dL/drelu(pi_gate),
 *   dW_dec, dW_enc).  The elementwise passes are memory bound (~6 floats read per latent).
 * Not an ISA file: it is BLAS-bound; the Adam and column-sum kernels it calls are dispatched. */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cblas.h>

#include "sx_mpi.h"
#include "train_internal.h"

/* dL/dpi per latent for one block, summed over rows in row order by the thread owning the
 * latent range (the result does not depend on the thread count).  On return dA holds
 * dL/dP = dL/dpi_gate + exp(r_mag) dL/dpi_mag. */
static void gated_latents(sx_tsae *t, const sx_step_ctx *c, int nb, double lam, float *gbg, float *gr,
                          float *gbm) {
    sx_scratch *s = c->s;
    const int m = t->m;
    const float lamB = (float)(lam / sx_loss_rows(c));
    const float *dn = s->lat_a, *em = s->lat_c;
    float *sumAG = s->lat_b;
#pragma omp parallel num_threads(s->nthreads) if (sx_par((int64_t)c->B * t->m))
    {
        int th = tid(), nt = 1;
#ifdef _OPENMP
        nt = omp_get_num_threads();
#endif
        int j0 = (int)((int64_t)m * th / nt), j1 = (int)((int64_t)m * (th + 1) / nt);
        for (int rr = 0; rr < nb; rr++) {
            const float *P = s->P + (int64_t)rr * m, *AG = s->P2 + (int64_t)rr * m;
            const float *dAG = s->A + (int64_t)rr * m;
            float *dA = s->dA + (int64_t)rr * m;
#pragma omp simd
            for (int j = j0; j < j1; j++) {
                float pg = P[j] + t->b_enc[j], pm = em[j] * P[j] + t->b_mag[j];
                int on = pg > 0 && pm > 0;
                float dpm = on ? dA[j] : 0.0f;
                float dpg = pg > 0 ? dAG[j] + lamB * dn[j] : 0.0f;
                gbm[j] += dpm;
                gbg[j] += dpg;
                gr[j] += dpm * em[j] * P[j];
                sumAG[j] += AG[j];
                s->fired[j] |= on;
                dA[j] = dpg + em[j] * dpm;
            }
        }
    }
}

int sx_step_gated(sx_tsae *t, const sx_step_ctx *c, sx_err *err) {
    sx_scratch *s = c->s;
    const int B = c->B, d = t->d, m = t->m, R = s->R;
    const int64_t md = (int64_t)m * d;
    if (!s->P2 || !t->r_mag) return sx_fail(err, "%s: gated step without its buffers", t->name);
    float *gWe = t->g, *gWd = t->g + md, *gbg = t->g + 2 * md, *gbd = gbg + m, *gr = gbd + d, *gbm = gr + m;
    const double lam = t->l1 * c->sparsity_scale;
    const int par = sx_par((int64_t)c->B * t->m);
#pragma omp parallel for schedule(static) if (par)
    for (int64_t i = 0; i < t->np; i++) t->g[i] = 0;
    memset(s->lat_b, 0, (size_t)m * sizeof(float));
    memset(s->fired, 0, (size_t)m);
#pragma omp parallel for schedule(static) if (par)
    for (int j = 0; j < m; j++) {
        const float *w = t->W_dec + (int64_t)j * d;
        float ss = 0;
        for (int i = 0; i < d; i++) ss += w[i] * w[i];
        s->lat_a[j] = sqrtf(ss);
        s->lat_c[j] = expf(t->r_mag[j]);
    }
    int64_t n_dead = 0;
    for (int j = 0; j < m; j++) n_dead += c->tokens_before - t->last_fired[j] >= c->dead_tokens;
    if (c->lp) sx_mpi_allreduce_i64(&n_dead, 1, SX_MPI_SUM); /* over the whole width */
    t->n_dead = n_dead;
#pragma omp parallel for schedule(static) if (par)
    for (int r = 0; r < B; r++)
        for (int i = 0; i < d; i++) s->xc[(int64_t)r * d + i] = c->x[(int64_t)r * d + i] - t->b_dec[i];
    double mse = 0, aux = 0, l0 = 0, mx = 0;
    const int Bn = sx_loss_rows(c);
    const float g2 = 2.0f / (float)Bn;
    for (int r0 = 0; r0 < B; r0 += R) {
        int nb = B - r0 < R ? B - r0 : R;
        const float *xcb = s->xc + (int64_t)r0 * d;
        float *Gb = s->G + (int64_t)r0 * d, *Ab = s->Gaux + (int64_t)r0 * d;
        sx_par_sgemm(0, 0, 1, nb, m, d, 1.0f, xcb, d, t->WencT, d, 0.0f, s->P, m);
        double l0b = 0, mxb = 0;
#pragma omp parallel for schedule(static) if (par) reduction(+ : l0b, mxb)
        for (int rr = 0; rr < nb; rr++) {
            const float *P = s->P + (int64_t)rr * m;
            float *A = s->A + (int64_t)rr * m, *AG = s->P2 + (int64_t)rr * m;
            int cnt = 0;
            float rowmax = 0;
            for (int j = 0; j < m; j++) {
                float pg = P[j] + t->b_enc[j], pm = s->lat_c[j] * P[j] + t->b_mag[j];
                float f = pg > 0 && pm > 0 ? pm : 0.0f;
                A[j] = f;
                AG[j] = pg > 0 ? pg : 0.0f;
                cnt += f > 0;
                rowmax = f > rowmax ? f : rowmax;
            }
            l0b += cnt, mxb += rowmax;
            if (c->lp) s->lp_rowmax[r0 + rr] = rowmax; /* the row's maximum is over all ranks */
        }
        l0 += l0b, mx += mxb;
        sx_lp_decode_init(t, c, Gb, nb);
        sx_lp_decode_init(t, c, Ab, nb);
        sx_par_sgemm(1, 0, 0, nb, d, m, 1.0f, s->A, m, t->W_dec, d, 1.0f, Gb, d);
        sx_par_sgemm(1, 0, 0, nb, d, m, 1.0f, s->P2, m, t->W_dec, d, 1.0f, Ab, d);
        if (c->lp) { /* both reconstructions summed over the ranks (Gb and Ab are adjacent only per block) */
            sx_mpi_allreduce_f(Gb, (int64_t)nb * d, SX_MPI_SUM);
            sx_mpi_allreduce_f(Ab, (int64_t)nb * d, SX_MPI_SUM);
        }
        double mseb = 0, auxb = 0;
#pragma omp parallel for schedule(static) if (par) reduction(+ : mseb, auxb)
        for (int rr = 0; rr < nb; rr++) {
            float *G = Gb + (int64_t)rr * d, *Ga = Ab + (int64_t)rr * d;
            const float *x = c->x + (int64_t)(r0 + rr) * d;
            double se = 0, sa = 0;
            for (int i = 0; i < d; i++) {
                float e = G[i] - x[i], ea = Ga[i] - x[i];
                se += (double)e * e, sa += (double)ea * ea;
                G[i] = g2 * e, Ga[i] = g2 * ea;
            }
            mseb += se, auxb += sa;
        }
        mse += mseb, aux += auxb;
        sx_par_sgemm(0, 0, 1, nb, m, d, 1.0f, Gb, d, t->W_dec, d, 0.0f, s->dA, m); /* dL/df */
        sx_par_sgemm(1, 1, 0, m, d, nb, 1.0f, s->A, m, Gb, d, 1.0f, gWd, d);
        sx_par_sgemm(0, 0, 1, nb, m, d, 1.0f, Ab, d, t->W_dec, d, 0.0f, s->A, m); /* dL/drelu(pi_gate) */
        gated_latents(t, c, nb, lam, gbg, gr, gbm);
        sx_par_sgemm(1, 1, 0, m, d, nb, 1.0f, s->dA, m, xcb, d, 1.0f, gWe, d);
    }
    double sp = 0;
    for (int j = 0; j < m; j++) sp += (double)s->lat_b[j] * s->lat_a[j];
    if (c->dp) { /* the global batch's statistics (the loss check then agrees on every rank) */
        double st[5] = {mse, l0, mx, sp, aux};
        sx_mpi_allreduce_d(st, 5, SX_MPI_SUM);
        mse = st[0], l0 = st[1], mx = st[2], sp = st[3], aux = st[4];
    }
    if (c->lp) { /* mse and aux are the whole batch's already (the reconstructions were summed) */
        double st[2] = {l0, sp};
        sx_mpi_allreduce_d(st, 2, SX_MPI_SUM);
        l0 = st[0], sp = st[1], mx = sx_lp_rowmax_sum(c);
    }
    t->sparsity_loss = lam * sp / Bn;
    t->aux_loss = aux / Bn;
    t->mse_sum = mse, t->l0_sum = l0, t->maxact_sum = mx, t->rows = Bn;
    t->loss = mse / Bn + t->sparsity_loss + t->aux_loss;
    if (!isfinite(t->loss)) return sx_failc(err, SX_ENUMERIC, "%s: the loss became non-finite (diverged)", t->name);
#pragma omp parallel for schedule(static) if (par)
    for (int j = 0; j < m; j++) { /* d/d_j of lambda/B sumAG_j ||d_j||, then tangent to the sphere */
        float f = s->lat_a[j] > 0 ? (float)(lam / Bn) * s->lat_b[j] / s->lat_a[j] : 0.0f;
        float *gw = gWd + (int64_t)j * d;
        const float *w = t->W_dec + (int64_t)j * d;
        float pr = 0, n2 = s->lat_a[j] * s->lat_a[j];
        for (int i = 0; i < d; i++) gw[i] += f * w[i], pr += gw[i] * w[i];
        if (n2 > 0)
            for (int i = 0; i < d; i++) gw[i] -= pr / n2 * w[i];
    }
    /* b_dec: + sum_r dL/dx_hat (the auxiliary path has it detached), - W_enc^T sum_r dL/dP */
    sx_column_sums(s->G, B, d, gbd);
    for (int j = 0; j < m; j++) s->lat_b[j] = gbg[j] + s->lat_c[j] * gbm[j];
    sx_lp_bdec_enc_term(t, c, s->lat_b, gbd);
    if (c->dp) { /* linear in this rank's rows: the sum is the global gradient */
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
#pragma omp parallel for schedule(static) if (par)
    for (int64_t q = 0; q < nch; q++) {
        int64_t o = q * CH, n = t->np - o < CH ? t->np - o : CH;
        sx_adam_update(t->p + o, t->am + o, t->av + o, t->g + o, n, gscale, &ad);
    }
#pragma omp parallel for schedule(static) if (par)
    for (int j = 0; j < m; j++) {
        float *w = t->W_dec + (int64_t)j * d, ss = 0;
        for (int i = 0; i < d; i++) ss += w[i] * w[i];
        float n = sqrtf(ss);
        if (n > 0)
            for (int i = 0; i < d; i++) w[i] /= n;
    }
    for (int j = 0; j < m; j++)
        if (s->fired[j]) t->last_fired[j] = c->tokens_before + Bn;
    return 0;
}
