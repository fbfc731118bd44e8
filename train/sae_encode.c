/* sae_encode.c — inference: encode (dense sgemm + each architecture's activation) and decode.
 * FLOP floor: encode 2*d_in*d_sae per row, decode 2*d_sae*d_in per row (dense). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sae_internal.h"
#include "topk_heap.h"

#define ENC_BLOCK 2048 /* rows per sgemm call: bounds the centred-input scratch */

void sx_topk_select(const float *v, int n, int k, float *hv, int *hi) {
    if (k > n) k = n;
    if (k <= 0) return;
    for (int j = 0; j < k; j++) hv[j] = v[j], hi[j] = j;
    for (int p = k / 2 - 1; p >= 0; p--) sx_heap_sift_down(hv, hi, k, p);
    float floor = hv[0];
    for (int j = k; j < n; j++) {
        if (v[j] > floor) { /* the common case is a single compare */
            hv[0] = v[j], hi[0] = j;
            sx_heap_sift_down(hv, hi, k, 0);
            floor = hv[0];
        }
    }
}

static void activate_rows(const sx_sae *sae, float *pre, int64_t n) {
    const int m = sae->d_sae;
    switch (sae->arch) {
    case SX_SAE_STANDARD:
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < n; r++)
            for (int j = 0; j < m; j++) pre[r * m + j] = pre[r * m + j] > 0 ? pre[r * m + j] : 0;
        break;
    case SX_SAE_GATED: /* handled in sx_sae_encode (needs the raw product) */
        break;
    case SX_SAE_JUMPRELU:
    case SX_SAE_MATRYOSHKA:
    case SX_SAE_BATCHTOPK: {
        const float *t = sae->threshold;
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < n; r++)
            for (int j = 0; j < m; j++) {
                float p = pre[r * m + j];
                pre[r * m + j] = (p > t[j] && p > 0) ? p : 0;
            }
        break;
    }
    case SX_SAE_TOPK: {
        const int k = sae->k < m ? sae->k : m;
#pragma omp parallel
        {
            float *hv = malloc((size_t)k * sizeof(float));
            int *hi = malloc((size_t)k * sizeof(int));
#pragma omp for schedule(static)
            for (int64_t r = 0; r < n; r++) {
                float *row = pre + r * m;
                sx_topk_select(row, m, k, hv, hi);
                memset(row, 0, (size_t)m * sizeof(float));
                for (int q = 0; q < k; q++) row[hi[q]] = hv[q] > 0 ? hv[q] : 0;
            }
            free(hv);
            free(hi);
        }
        break;
    }
    }
}

int sx_sae_encode(const sx_sae *sae, const float *x, int64_t n, float *feature_acts,
                  float *hidden_pre, sx_err *err) {
    const int d = sae->d_in, m = sae->d_sae;
    if (n <= 0) return 0;
    if (sae->arch == SX_SAE_TOPK && sae->k <= 0) return sx_failc(err, SX_EINVAL, "SAE: topk with k %d", sae->k);
    int64_t blk = n < ENC_BLOCK ? n : ENC_BLOCK;
    float *xc = malloc((size_t)blk * (size_t)d * sizeof(float));
    float *em = sae->arch == SX_SAE_GATED ? malloc((size_t)m * sizeof(float)) : NULL;
    if (!xc || (sae->arch == SX_SAE_GATED && (!em || !sae->r_mag || !sae->b_mag))) {
        free(xc), free(em);
        return sx_failc(err, SX_ENOMEM, "SAE encode: out of memory");
    }
    for (int j = 0; em && j < m; j++) em[j] = expf(sae->r_mag[j]);
    const float s = sae->norm_scale > 0 ? sae->norm_scale : 1.0f;
    for (int64_t r0 = 0; r0 < n; r0 += blk) {
        int64_t nb = n - r0 < blk ? n - r0 : blk;
        for (int64_t r = 0; r < nb; r++)
            for (int i = 0; i < d; i++)
                xc[r * d + i] = x[(r0 + r) * d + i] * s - (sae->apply_b_dec_to_input ? sae->b_dec[i] : 0.f);
        float *pre = feature_acts + r0 * m;
        const int gated = sae->arch == SX_SAE_GATED;
        for (int64_t r = 0; r < nb; r++)
            if (gated) memset(pre + r * m, 0, (size_t)m * sizeof(float));
            else memcpy(pre + r * m, sae->b_enc, (size_t)m * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, m, d, 1.0f, xc, d,
                    sae->W_enc, m, 1.0f, pre, m);
        if (gated) { /* one product P = xc W_enc serves both paths (W_mag = W_enc * exp(r_mag)) */
            const float *bg = sae->b_enc, *bm = sae->b_mag;
            float *hp = hidden_pre ? hidden_pre + r0 * m : NULL;
#pragma omp parallel for schedule(static) if (nb * m >= (1 << 16))
            for (int64_t r = 0; r < nb; r++)
                for (int j = 0; j < m; j++) {
                    float P = pre[r * m + j], mag = P * em[j] + bm[j];
                    if (hp) hp[r * m + j] = mag; /* SAELens: hidden_pre is the magnitude pre-activation */
                    pre[r * m + j] = (P + bg[j] > 0 && mag > 0) ? mag : 0.0f;
                }
            continue;
        }
        if (hidden_pre) memcpy(hidden_pre + r0 * m, pre, (size_t)nb * m * sizeof(float));
        activate_rows(sae, pre, nb);
    }
    free(xc);
    free(em);
    return 0;
}

void sx_sae_decode(const sx_sae *sae, const float *feature_acts, int64_t n, float *recon) {
    const int d = sae->d_in, m = sae->d_sae;
    for (int64_t r = 0; r < n; r++) memcpy(recon + r * d, sae->b_dec, (size_t)d * sizeof(float));
    if (n > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, d, m, 1.0f, feature_acts, m,
                    sae->W_dec, d, 1.0f, recon, d);
    const float s = sae->norm_scale > 0 ? sae->norm_scale : 1.0f;
    if (s != 1.0f)
        for (int64_t i = 0; i < n * d; i++) recon[i] /= s;
}
