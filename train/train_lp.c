/* train_lp.c — the pieces the dense steps (arch_dense.c: ReLU / JumpReLU; arch_gated.c) share
 * under --parallel latents: each rank holds latents lat_off .. lat_off+m-1 of every SAE
 * (encoder columns, decoder rows, b_enc / log-thresholds / r_mag / b_mag, Adam moments) and
 * sees the whole batch.  Pre-activations, activations, the per-latent terms and the four
 * latent-side products are local; the decoder output of a row block (4*R*d bytes per block,
 * 4*B*d per step; gated: twice) is summed over the ranks, after which the residual, dL/dx_hat,
 * the MSE and b_dec's gradient are the whole batch's on every rank.  What crosses ranks
 * besides: the sparsity sums and L0 (2 doubles), the row maxima (B floats, MAX), the W_enc
 * term of b_dec's gradient (d floats), the dead count, the clip norm (1 double). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "sx_mpi.h"
#include "train_internal.h"

void sx_lp_decode_init(const sx_tsae *t, const sx_step_ctx *c, float *Gb, int nb) {
    /* b_dec enters the sum once: on the rank holding latent 0 (and everywhere in one process) */
    const int d = t->d;
    if (!c->lp || t->lat_off == 0)
        for (int rr = 0; rr < nb; rr++) memcpy(Gb + (int64_t)rr * d, t->b_dec, (size_t)d * sizeof(float));
    else
        memset(Gb, 0, (size_t)nb * d * sizeof(float));
}

double sx_lp_rowmax_sum(const sx_step_ctx *c) {
    sx_scratch *s = c->s;
    sx_mpi_allreduce_f(s->lp_rowmax, c->B, SX_MPI_MAX);
    double mx = 0;
    for (int r = 0; r < c->B; r++) mx += s->lp_rowmax[r];
    return mx;
}

void sx_lp_bdec_enc_term(const sx_tsae *t, const sx_step_ctx *c, const float *gpre, float *gbd) {
    const int d = t->d;
    if (!c->lp) {
        cblas_sgemv(CblasRowMajor, CblasTrans, t->m, d, -1.0f, t->WencT, d, gpre, 1, 1.0f, gbd, 1);
        return;
    }
    float part[d > 0 ? d : 1];
    cblas_sgemv(CblasRowMajor, CblasTrans, t->m, d, -1.0f, t->WencT, d, gpre, 1, 0.0f, part, 1);
    sx_mpi_allreduce_f(part, d, SX_MPI_SUM); /* - W_enc^T dL/dpre over all latents */
    for (int i = 0; i < d; i++) gbd[i] += part[i];
}

float sx_lp_clip_scale(const sx_tsae *t, double clip) {
    if (clip <= 0) return 1.0f;
    /* t->g = [latent blocks][b_dec d][latent extras]: b_dec is the same on every rank, so it
     * is counted once, after the latents' sums of squares are added over the ranks */
    const int64_t ob = 2 * (int64_t)t->m * t->d + t->m;
    double nn = 0, nb = 0;
    for (int64_t i = 0; i < t->np; i++) {
        double v = (double)t->g[i] * t->g[i];
        if (i >= ob && i < ob + t->d) nb += v;
        else nn += v;
    }
    sx_mpi_allreduce_d(&nn, 1, SX_MPI_SUM);
    nn = sqrt(nn + nb);
    return nn > clip ? (float)(clip / nn) : 1.0f;
}
