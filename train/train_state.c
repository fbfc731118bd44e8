/* train_state.c — allocation, initialisation and export of a training SAE, and the scratch
 * buffers shared by all SAEs of a run (allocated once: no allocation inside the step loop);
 * Adam's bias-corrected step and the learning-rate schedule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sae_internal.h"
#include "encode_fused.h"
#include "train_internal.h"

int sx_tsae_init(sx_tsae *t, sx_sae_arch arch, int d, int m, int k, double l1, const char *name,
                 sx_err *err) {
    memset(t, 0, sizeof *t);
    t->arch = arch, t->d = d, t->m = m, t->k = k, t->l1 = l1;
    snprintf(t->name, sizeof t->name, "%s", name);
    int64_t md = (int64_t)m * d;
    t->np = 2 * md + m + d + (arch == SX_SAE_JUMPRELU ? m : 0) + (arch == SX_SAE_GATED ? 2 * m : 0);
    t->n_groups = 1, t->groups[0] = m;
    t->m_full = m;
    size_t bytes = (size_t)t->np * sizeof(float);
    t->p = calloc(1, bytes), t->am = calloc(1, bytes), t->av = calloc(1, bytes);
    int dense = arch == SX_SAE_STANDARD || arch == SX_SAE_JUMPRELU || arch == SX_SAE_GATED;
    if (dense) t->g = malloc(bytes);
    else t->wpack = aligned_alloc(64, ((size_t)sx_enc_latents_floats(m, d) * sizeof(float) + 63) / 64 * 64);
    t->last_fired = calloc((size_t)m, sizeof(int64_t));
    if (!t->p || !t->am || !t->av || (dense ? !t->g : !t->wpack) || !t->last_fired) {
        /* sx_tsae_free zeroes *t: keep the count for the message. */
        long long np = (long long)t->np;
        sx_tsae_free(t);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory for %lld parameters (%.1f GiB for weights and "
                            "Adam moments)", name, np, 3.0 * (double)np * sizeof(float) / (1 << 30));
    }
    t->WencT = t->p;
    t->W_dec = t->p + md;
    t->b_enc = t->p + 2 * md;
    t->b_dec = t->b_enc + m;
    t->log_thr = arch == SX_SAE_JUMPRELU ? t->b_dec + d : NULL;
    t->r_mag = arch == SX_SAE_GATED ? t->b_dec + d : NULL;
    t->b_mag = arch == SX_SAE_GATED ? t->r_mag + m : NULL;
    return 0;
}

void sx_tsae_free(sx_tsae *t) {
    free(t->p), free(t->am), free(t->av), free(t->g), free(t->last_fired), free(t->wpack);
    memset(t, 0, sizeof *t);
}

void sx_geometric_median(const float *x, int B, int d, float *out) {
    double *y = calloc((size_t)d, sizeof(double)), *num = calloc((size_t)d, sizeof(double));
    if (!y || !num || B <= 0) {
        free(y), free(num);
        for (int i = 0; i < d; i++) out[i] = 0;
        return;
    }
    for (int r = 0; r < B; r++)
        for (int i = 0; i < d; i++) y[i] += x[(int64_t)r * d + i];
    for (int i = 0; i < d; i++) y[i] /= B;
    double spread = 0; /* mean distance to the mean: the scale of the stopping rule */
    for (int r = 0; r < B; r++) {
        double q = 0;
        for (int i = 0; i < d; i++) q += (x[(int64_t)r * d + i] - y[i]) * (x[(int64_t)r * d + i] - y[i]);
        spread += sqrt(q) / B;
    }
    for (int it = 0; it < 100 && spread > 0; it++) {
        double wsum = 0;
        for (int i = 0; i < d; i++) num[i] = 0;
        for (int r = 0; r < B; r++) {
            const float *xr = x + (int64_t)r * d;
            double q = 0;
            for (int i = 0; i < d; i++) q += (xr[i] - y[i]) * (xr[i] - y[i]);
            double w = 1.0 / fmax(sqrt(q), 1e-12 * spread); /* a row on the estimate: a large finite weight */
            wsum += w;
            for (int i = 0; i < d; i++) num[i] += w * xr[i];
        }
        double step = 0;
        for (int i = 0; i < d; i++) {
            double v = num[i] / wsum;
            step += (v - y[i]) * (v - y[i]);
            y[i] = v;
        }
        if (sqrt(step) < 1e-6 * spread) break;
    }
    for (int i = 0; i < d; i++) out[i] = (float)y[i];
    free(y), free(num);
}

void sx_tsae_init_params(sx_tsae *t, uint64_t seed, int stream, const float *x, int B,
                         double init_thr) {
    t->wpack_fresh = 0;
    const int d = t->d, m = t->m;
    sx_rng rng;
    sx_rng_stream(&rng, seed, 1000 + (uint64_t)stream);
    /* Anthropic's ReLU recipe starts decoder norms small (0.1); the constrained archs use 1. */
    const double norm = t->arch == SX_SAE_STANDARD ? 0.1 : 1.0;
    /* --parallel latents: the slice starting at latent lat_off draws what the whole SAE would
     * draw for it (the stream is consumed latent by latent), so the split is invisible */
    for (int64_t q = 0; q < (int64_t)t->lat_off * d; q++) (void)sx_rng_normal(&rng);
    for (int j = 0; j < m; j++) {
        float *r = t->W_dec + (int64_t)j * d;
        double ss = 0;
        for (int i = 0; i < d; i++) {
            r[i] = (float)sx_rng_normal(&rng);
            ss += (double)r[i] * r[i];
        }
        float s = (float)(norm / sqrt(ss > 0 ? ss : 1));
        for (int i = 0; i < d; i++) r[i] *= s;
    }
    memcpy(t->WencT, t->W_dec, (size_t)m * d * sizeof(float));
    memset(t->b_enc, 0, (size_t)m * sizeof(float));
    for (int i = 0; i < d; i++) {
        double s = 0;
        for (int r = 0; r < B; r++) s += x[(int64_t)r * d + i];
        t->b_dec[i] = (float)(s / (B > 0 ? B : 1));
    }
    if (t->log_thr)
        for (int j = 0; j < m; j++) t->log_thr[j] = (float)log(init_thr);
    if (t->r_mag) { /* SAELens / the paper: r_mag = b_gate = b_mag = 0 (W_mag = W_gate) */
        memset(t->r_mag, 0, (size_t)m * sizeof(float));
        memset(t->b_mag, 0, (size_t)m * sizeof(float));
    }
    t->bt_threshold = 0;
}

int sx_tsae_export(const sx_tsae *t, float norm_scale, sx_sae *out, sx_err *err) {
    if (sx_sae_alloc(out, t->arch, t->d, t->m, t->k, err)) return -1;
    const int d = t->d, m = t->m;
    for (int j = 0; j < m; j++)
        for (int i = 0; i < d; i++) out->W_enc[(int64_t)i * m + j] = t->WencT[(int64_t)j * d + i];
    memcpy(out->W_dec, t->W_dec, (size_t)m * d * sizeof(float));
    memcpy(out->b_enc, t->b_enc, (size_t)m * sizeof(float));
    memcpy(out->b_dec, t->b_dec, (size_t)d * sizeof(float));
    if (t->arch == SX_SAE_JUMPRELU)
        for (int j = 0; j < m; j++) out->threshold[j] = expf(t->log_thr[j]);
    if (t->arch == SX_SAE_BATCHTOPK || t->arch == SX_SAE_MATRYOSHKA)
        for (int j = 0; j < m; j++) out->threshold[j] = t->bt_threshold;
    if (t->arch == SX_SAE_MATRYOSHKA) {
        out->n_groups = t->n_groups;
        memcpy(out->groups, t->groups, sizeof out->groups);
    }
    if (t->arch == SX_SAE_GATED) {
        memcpy(out->r_mag, t->r_mag, (size_t)m * sizeof(float));
        memcpy(out->b_mag, t->b_mag, (size_t)m * sizeof(float));
    }
    out->norm_scale = norm_scale;
    return 0;
}

void sx_scratch_free(sx_scratch *s) {
    free(s->xc), free(s->G), free(s->Gaux), free(s->P), free(s->P2), free(s->A), free(s->dA), free(s->xpack);
    free(s->dead_bits);
    free(s->colsum_tmp), free(s->lat_tmp), free(s->row_n), free(s->row_naux);
    free(s->cand_idx), free(s->cand_val), free(s->aux_idx), free(s->aux_val), free(s->sel_tmp);
    free(s->lat_ptr), free(s->lat_cur), free(s->cand_dp), free(s->aux_dp), free(s->lat_a);
    free(s->lat_b), free(s->lat_c), free(s->fired), free(s->ent), free(s->dead_list);
    free(s->tpart);
    free(s->lp_send), free(s->lp_recv), free(s->lp_naux), free(s->lp_rowmax);
    memset(s, 0, sizeof *s);
}

#define ALLOC(ptr, n) ((ptr) = malloc((size_t)(n) * sizeof *(ptr)), bad |= !(ptr))
/* 64-byte aligned (the packed panels are read with aligned vector loads) */
#define ALLOC64(ptr, n) \
    ((ptr) = aligned_alloc(64, ((size_t)(n) * sizeof *(ptr) + 63) / 64 * 64), bad |= !(ptr))

int sx_scratch_init(sx_scratch *s, int B, int d, int m_max, int k_max, int aux_k, int any_dense,
                    int batchtopk, sx_err *err) {
    memset(s, 0, sizeof *s);
    s->B = B, s->d = d, s->m_max = m_max, s->n_groups = 1;
    s->nthreads = sx_get_threads();
    /* Row block for the dense archs: ~64 MB of pre-activations, at least 64 rows. */
    int64_t R = ((int64_t)16 << 20) / m_max;
    if (R < 64) R = 64;
    if (R > B) R = B;
    s->R = (int)R;
    s->cand_max = batchtopk ? (4 * k_max < m_max ? 4 * k_max : m_max) : (k_max < m_max ? k_max : m_max);
    s->aux_max = aux_k < m_max ? aux_k : m_max;
    int bad = 0, T = s->nthreads;
    ALLOC(s->xc, (int64_t)B * d);
    ALLOC(s->G, (int64_t)B * d);
    ALLOC(s->Gaux, (int64_t)B * d);
    if (any_dense) {
        ALLOC(s->P, R * m_max);
        ALLOC(s->A, R * m_max);
        ALLOC(s->dA, R * m_max);
    }
    ALLOC(s->colsum_tmp, (int64_t)T * d);
    ALLOC(s->lat_tmp, (int64_t)T * 2 * d);
    ALLOC(s->row_n, B);
    ALLOC(s->row_naux, B);
    ALLOC(s->cand_idx, (int64_t)B * s->cand_max);
    ALLOC(s->cand_val, (int64_t)B * s->cand_max);
    ALLOC(s->aux_idx, (int64_t)B * s->aux_max);
    ALLOC(s->aux_val, (int64_t)B * s->aux_max);
    if (batchtopk) ALLOC(s->sel_tmp, (int64_t)B * s->cand_max);
    ALLOC(s->lat_ptr, m_max + 1);
    ALLOC(s->lat_cur, m_max);
    ALLOC(s->cand_dp, (int64_t)B * s->cand_max);
    ALLOC(s->aux_dp, (int64_t)B * s->aux_max);
    ALLOC(s->lat_a, m_max);
    ALLOC(s->lat_b, m_max);
    ALLOC(s->lat_c, m_max);
    ALLOC(s->fired, m_max);
    ALLOC(s->ent, (int64_t)B * (s->cand_max + s->aux_max));
    ALLOC(s->dead_list, m_max);
    ALLOC(s->tpart, (int64_t)T * 8);
    if (!any_dense) { /* one architecture per run: the TopK family */
        ALLOC64(s->xpack, sx_enc_rows_floats(B, d));
        ALLOC(s->dead_bits, (m_max + SX_ENC_NR - 1) / SX_ENC_NR);
    }
    if (bad) {
        sx_scratch_free(s);
        return sx_failc(err, SX_ENOMEM, "trainer: out of memory for batch buffers (batch %d, width %d)", B, m_max);
    }
    return 0;
}

int sx_scratch_groups(sx_scratch *s, int n_groups, sx_err *err) {
    if (n_groups <= s->n_groups) return 0;
    float *g = realloc(s->G, (size_t)n_groups * s->B * s->d * sizeof(float));
    if (!g) return sx_failc(err, SX_ENOMEM, "trainer: out of memory for %d matryoshka gradient blocks", n_groups);
    s->G = g, s->n_groups = n_groups;
    return 0;
}

int sx_scratch_gated(sx_scratch *s, sx_err *err) {
    if (s->P2) return 0;
    s->P2 = malloc((size_t)s->R * s->m_max * sizeof(float));
    if (!s->P2) return sx_failc(err, SX_ENOMEM, "trainer: out of memory for the gated buffers (width %d)", s->m_max);
    return 0;
}

/* Adam (beta 0.9/0.999, eps 1e-8): the step size and epsilon with the bias corrections folded in. */
void sx_adam_prepare(sx_adam *a, double lr, int t) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    /* p -= lr * (m/bc1) / (sqrt(v/bc2) + eps)  ==  p -= lr_t * m / (sqrt(v) + eps_t) */
    a->lr_t = (float)(lr * sqrt(bc2) / bc1);
    a->eps_t = (float)(eps * sqrt(bc2));
    a->b1 = (float)b1;
    a->b2 = (float)b2;
}

double sx_lr_at(int64_t step, int64_t steps, double base, double warm_frac, double decay_frac) {
    double f = 1.0;
    double warm = warm_frac * (double)steps;
    if (warm >= 1 && (double)step < warm) f = ((double)step + 1) / warm;
    double dstart = (1 - decay_frac) * (double)steps;
    if (decay_frac > 0 && (double)step >= dstart) {
        double g = ((double)steps - (double)step) / (decay_frac * (double)steps);
        if (g < f) f = g;
    }
    return base * (f > 0 ? f : 0);
}

float sx_grad_clip_scale(const float *g, int64_t n, double clip) {
    if (clip <= 0) return 1.0f;
    double nn = 0;
    for (int64_t i = 0; i < n; i++) nn += (double)g[i] * g[i];
    nn = sqrt(nn);
    return nn > clip ? (float)(clip / nn) : 1.0f;
}
