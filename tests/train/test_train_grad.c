/* test_train_grad.c — every architecture's backward pass against central finite differences
 * of an independent float64 reference loss (AuxK's residual e held fixed, as the trainer
 * detaches it; unit-norm decoders compared after projecting out the row direction), and
 * JumpReLU's straight-through threshold pseudo-gradients against their definition.
 * Matryoshka: the sum of the nested prefixes' MSE (groups 3, 7, 10) + AuxK.  Gated: MSE +
 * decoder-norm-weighted L1 of relu(pi_gate) + the auxiliary gate reconstruction through the
 * detached decoder and b_dec (held at their unperturbed values, as the trainer detaches them). */
#include "sae_internal.h"
#include "test.h"
#include "train_internal.h"

enum { D = 6, M = 10, B = 8, K = 3, AUXK = 2 };

typedef struct {
    sx_sae_arch arch;
    double l1, eps, aux_coef;
    const int *dead;
    const double *p_fixed; /* gated: the detached W_dec / b_dec of the auxiliary path */
} ref_cfg;

static const int GROUPS[3] = {3, 7, 10};

static void top_idx(const double *v, const int *allowed, int n, int k, int *out) {
    int used[M] = {0};
    for (int q = 0; q < k; q++) {
        int best = -1;
        for (int j = 0; j < n; j++)
            if ((!allowed || allowed[j]) && !used[j] && (best < 0 || v[j] > v[best])) best = j;
        out[q] = best;
        if (best >= 0) used[best] = 1;
    }
}

/* Gated: MSE + l1 sum relu(pi_gate) ||d_j|| + ||relu(pi_gate) Wd0 + bd0 - x||^2, per row / B.
 * p: WencT [M*D], W_dec [M*D], b_gate [M], b_dec [D], r_mag [M], b_mag [M]. */
static double ref_gated(const ref_cfg *c, const double *p, const float *x) {
    const double *We = p, *Wd = p + M * D, *bg = p + 2 * M * D, *bd = bg + M, *rm = bd + D, *bm = rm + M;
    const double *Wd0 = c->p_fixed + M * D, *bd0 = c->p_fixed + 2 * M * D + M;
    double loss = 0;
    for (int r = 0; r < B; r++) {
        double rec[D], arec[D];
        for (int i = 0; i < D; i++) rec[i] = bd[i], arec[i] = bd0[i];
        for (int j = 0; j < M; j++) {
            double P = 0, nn = 0;
            for (int i = 0; i < D; i++) P += (x[r * D + i] - bd[i]) * We[j * D + i], nn += Wd[j * D + i] * Wd[j * D + i];
            double pg = P + bg[j], pm = P * exp(rm[j]) + bm[j];
            double f = pg > 0 && pm > 0 ? pm : 0, g = pg > 0 ? pg : 0;
            for (int i = 0; i < D; i++) rec[i] += f * Wd[j * D + i], arec[i] += g * Wd0[j * D + i];
            loss += c->l1 * g * sqrt(nn) / B;
        }
        for (int i = 0; i < D; i++) {
            double e = rec[i] - x[r * D + i], ea = arec[i] - x[r * D + i];
            loss += (e * e + ea * ea) / B;
        }
    }
    return loss;
}

/* p: WencT [M*D], W_dec [M*D], b_enc [M], b_dec [D], log_thr [M] */
static double ref_loss(const ref_cfg *c, const double *p, const float *x, const double *e_fixed,
                       double *e_out) {
    if (c->arch == SX_SAE_GATED) return ref_gated(c, p, x);
    const double *We = p, *Wd = p + M * D, *be = p + 2 * M * D, *bd = be + M, *lt = bd + D;
    double pre[B][M], a[B][M];
    for (int r = 0; r < B; r++)
        for (int j = 0; j < M; j++) {
            double z = be[j];
            for (int i = 0; i < D; i++) z += (x[r * D + i] - bd[i]) * We[j * D + i];
            pre[r][j] = z;
            a[r][j] = 0;
        }
    if (c->arch == SX_SAE_STANDARD || c->arch == SX_SAE_JUMPRELU) {
        for (int r = 0; r < B; r++)
            for (int j = 0; j < M; j++)
                a[r][j] = c->arch == SX_SAE_STANDARD ? (pre[r][j] > 0 ? pre[r][j] : 0)
                                                     : (pre[r][j] > exp(lt[j]) ? pre[r][j] : 0);
    } else if (c->arch == SX_SAE_TOPK) {
        for (int r = 0; r < B; r++) {
            int idx[K];
            top_idx(pre[r], NULL, M, K, idx);
            for (int q = 0; q < K; q++) a[r][idx[q]] = pre[r][idx[q]] > 0 ? pre[r][idx[q]] : 0;
        }
    } else { /* batchtopk: per-row candidates (4k >= M here: all), global top B*K positives */
        double cand[B * M];
        int n = 0;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < M; j++)
                if (pre[r][j] > 0) cand[n++] = pre[r][j];
        double thr = 0;
        if (n > B * K) { /* value of rank B*K-1 */
            for (int q = 0; q < B * K; q++) {
                int bi = q;
                for (int i = q + 1; i < n; i++)
                    if (cand[i] > cand[bi]) bi = i;
                double t = cand[q];
                cand[q] = cand[bi], cand[bi] = t;
            }
            thr = cand[B * K - 1];
        }
        for (int r = 0; r < B; r++)
            for (int j = 0; j < M; j++)
                if (pre[r][j] > 0 && pre[r][j] >= thr) a[r][j] = pre[r][j];
    }
    double loss = 0, sp = 0;
    for (int r = 0; r < B; r++) {
        double rec[D];
        for (int i = 0; i < D; i++) rec[i] = bd[i];
        if (c->arch == SX_SAE_MATRYOSHKA) /* every inner prefix's MSE (the outer one below) */
            for (int g = 0, lo = 0; g < 2; lo = GROUPS[g++]) {
                for (int j = lo; j < GROUPS[g]; j++)
                    for (int i = 0; i < D; i++) rec[i] += a[r][j] * Wd[j * D + i];
                for (int i = 0; i < D; i++) loss += (rec[i] - x[r * D + i]) * (rec[i] - x[r * D + i]) / B;
            }
        for (int j = c->arch == SX_SAE_MATRYOSHKA ? GROUPS[1] : 0; j < M; j++)
            for (int i = 0; i < D; i++) rec[i] += a[r][j] * Wd[j * D + i];
        for (int i = 0; i < D; i++) {
            double e = rec[i] - x[r * D + i];
            loss += e * e / B;
            if (e_out) e_out[r * D + i] = -e;
        }
        for (int j = 0; j < M; j++) {
            double nn = 0;
            for (int i = 0; i < D; i++) nn += Wd[j * D + i] * Wd[j * D + i];
            if (c->arch == SX_SAE_STANDARD) sp += a[r][j] * sqrt(nn);
            if (c->arch == SX_SAE_JUMPRELU) sp += a[r][j] > 0;
        }
        if (c->arch == SX_SAE_TOPK || c->arch == SX_SAE_BATCHTOPK || c->arch == SX_SAE_MATRYOSHKA) {
            int idx[AUXK];
            top_idx(pre[r], c->dead, M, AUXK, idx);
            double eh[D] = {0};
            for (int q = 0; q < AUXK; q++)
                if (idx[q] >= 0 && pre[r][idx[q]] > 0)
                    for (int i = 0; i < D; i++) eh[i] += pre[r][idx[q]] * Wd[idx[q] * D + i];
            for (int i = 0; i < D; i++) {
                double e = e_fixed ? e_fixed[r * D + i] : x[r * D + i] - rec[i];
                loss += c->aux_coef * (eh[i] - e) * (eh[i] - e) / B;
            }
        }
    }
    return loss + c->l1 * sp / B;
}

static void check_arch(sx_sae_arch arch) {
    sx_err err = {0};
    sx_tsae t;
    sx_scratch s;
    int dense = arch == SX_SAE_STANDARD || arch == SX_SAE_JUMPRELU || arch == SX_SAE_GATED;
    int bt = arch == SX_SAE_BATCHTOPK || arch == SX_SAE_MATRYOSHKA;
    int unconstrained = arch == SX_SAE_STANDARD; /* decoder norms free */
    CHECK(sx_tsae_init(&t, arch, D, M, K, dense ? 0.7 : 0, "grad", &err) == 0, "init");
    CHECK(sx_scratch_init(&s, B, D, M, K, AUXK, dense, bt, &err) == 0, "scratch");
    if (arch == SX_SAE_MATRYOSHKA) {
        t.n_groups = 3;
        memcpy(t.groups, GROUPS, sizeof GROUPS);
        CHECK(sx_scratch_groups(&s, 3, &err) == 0, "groups: %s", err.msg);
    }
    if (arch == SX_SAE_GATED) CHECK(sx_scratch_gated(&s, &err) == 0, "gated scratch: %s", err.msg);
    sx_rng rng;
    sx_rng_seed(&rng, 1234 + (uint64_t)arch);
    float x[B * D];
    for (int i = 0; i < B * D; i++) x[i] = (float)sx_rng_normal(&rng);
    sx_tsae_init_params(&t, 77, 0, x, B, 0.3);
    for (int i = 0; i < t.np; i++) t.p[i] += (float)(0.2 * sx_rng_normal(&rng)); /* off the init */
    for (int j = 0; j < M; j++) { /* unit decoder rows where the arch keeps them unit */
        float *w = t.W_dec + j * D, nn = 0;
        for (int i = 0; i < D; i++) nn += w[i] * w[i];
        for (int i = 0; i < D && !unconstrained; i++) w[i] /= sqrtf(nn);
    }
    int dead[M] = {0};
    for (int j = 0; j < M; j += 2) dead[j] = 1, t.last_fired[j] = -5; /* latents 0,2,4,6,8 dead */
    float *g = malloc((size_t)t.np * sizeof(float));
    sx_step_ctx c = {0};
    c.B = B, c.x = x, c.s = &s, c.adam_t = 1, c.lr = 0, c.sparsity_scale = 1, c.tokens_before = 0;
    c.dead_tokens = 1, c.aux_coef = 0.25, c.aux_k = AUXK, c.eps = 0.4, c.want_grad = 1, c.grad_out = g;
    int rc = arch == SX_SAE_GATED ? sx_step_gated(&t, &c, &err)
             : dense               ? sx_step_dense(&t, &c, &err)
                                   : sx_step_sparse(&t, &c, &err);
    CHECK(rc == 0, "step: %s", err.msg);
    double p[2 * M * D + 3 * M + D], p0[2 * M * D + 3 * M + D], e0[B * D];
    for (int i = 0; i < t.np; i++) p[i] = p0[i] = t.p[i];
    ref_cfg rc_ = {arch, dense ? 0.7 : 0, 0.4, dense ? 0 : 0.25, dead, p0};
    double L0 = ref_loss(&rc_, p, x, NULL, e0);
    CHECK(fabs(L0 - t.loss) <= 1e-4 * fmax(1, fabs(L0)), "arch %d: loss %.8g vs reference %.8g", arch, t.loss, L0);
    if (!dense) CHECK(t.aux_loss > 0, "arch %d: the AuxK term is exercised (aux loss %g)", arch, t.aux_loss);
    int64_t nfd = arch == SX_SAE_GATED ? t.np : 2 * M * D + M + D; /* log_thr handled below */
    double *fd = malloc((size_t)nfd * sizeof(double));
    const double h = 1e-5;
    for (int64_t i = 0; i < nfd; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = ref_loss(&rc_, p, x, e0, NULL);
        p[i] = keep - h;
        double lm = ref_loss(&rc_, p, x, e0, NULL);
        p[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    if (!unconstrained) /* tangent to the unit sphere, as the trainer projects */
        for (int j = 0; j < M; j++) {
            double *gd = fd + M * D + j * D, pr = 0;
            for (int i = 0; i < D; i++) pr += gd[i] * p[M * D + j * D + i];
            for (int i = 0; i < D; i++) gd[i] -= pr * p[M * D + j * D + i];
        }
    double worst = 0, gmax = 0;
    int64_t wi = 0;
    for (int64_t i = 0; i < nfd; i++) {
        double e = fabs(fd[i] - g[i]);
        if (e > worst) worst = e, wi = i;
        if (fabs(fd[i]) > gmax) gmax = fabs(fd[i]);
    }
    printf("arch %d: loss %.6f, max |grad - FD| %.3g (at %lld) over %lld params, max |grad| %.3g\n", arch, L0,
           worst, (long long)wi, (long long)nfd, gmax);
    CHECK(worst <= 1e-3 * fmax(1, gmax), "arch %d: gradient off by %g at param %lld (%g vs FD %g)", arch, worst,
          (long long)wi, g[wi], fd[wi]);
    CHECK(gmax > 1e-3, "arch %d: gradient not trivially zero", arch);
    if (arch == SX_SAE_JUMPRELU) {
        /* reference STE: dL/dlog(theta_j) = theta_j sum_r K(u)[(G_r.d_j)(-theta_j/eps) - l1/(B eps)] */
        double worst_t = 0;
        int nwin = 0;
        for (int j = 0; j < M; j++) {
            double th = exp(p[2 * M * D + M + D + j]), acc = 0;
            for (int r = 0; r < B; r++) {
                double z = p[2 * M * D + j], gd = 0;
                for (int i = 0; i < D; i++) z += (x[r * D + i] - p[2 * M * D + M + i]) * p[j * D + i];
                if (fabs(z - th) >= 0.2) continue;
                nwin++;
                for (int i = 0; i < D; i++) gd += -2.0 / B * e0[r * D + i] * p[M * D + j * D + i];
                acc += gd * (-th / 0.4) + 0.7 / B * (-1 / 0.4);
            }
            double e = fabs(th * acc - g[2 * M * D + M + D + j]);
            if (e > worst_t) worst_t = e;
        }
        printf("jumprelu: %d pre-activations inside the kernel window, max |dlogtheta - ref| %.3g\n", nwin, worst_t);
        CHECK(nwin > 0, "the window test needs pre-activations near the threshold");
        CHECK(worst_t <= 1e-4, "jumprelu threshold pseudo-gradient off by %g", worst_t);
    }
    free(g), free(fd);
    sx_scratch_free(&s);
    sx_tsae_free(&t);
}

int main(void) {
    check_arch(SX_SAE_STANDARD);
    check_arch(SX_SAE_JUMPRELU);
    check_arch(SX_SAE_TOPK);
    check_arch(SX_SAE_BATCHTOPK);
    check_arch(SX_SAE_MATRYOSHKA);
    check_arch(SX_SAE_GATED);
    return TEST_DONE();
}
