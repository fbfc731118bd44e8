/* lmtrain_layers.c — forward and backward kernels of the GPT-2 trainer (after llm.c).
 * Dense products go to cblas_sgemm; the rest are OpenMP loops whose threads write disjoint
 * outputs, so results do not depend on scheduling (determinism for a fixed thread count).
 * Cost per token (d = C, V = vocab): the unembedding is 2*V*C FLOPs forward and twice that
 * backward, which dominates for V = 50257, C = 128 (~39 MFLOP/token with everything). */
#include "models_isa.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmtrain_kernels.h"
#include "model_internal.h"

#define LN_EPS 1e-5f

void lmk_encoder_fwd(float *out, const int32_t *in, const float *wte, const float *wpe, int B,
                     int T, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < B * T; i++) {
        const float *e = wte + (size_t)in[i] * C, *p = wpe + (size_t)(i % T) * C;
        float *o = out + (size_t)i * C;
        for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
}

/* Serial: rows scatter into shared embedding rows (duplicate tokens), and N*C is small. */
void lmk_encoder_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *in, int B,
                     int T, int C) {
    for (int i = 0; i < B * T; i++) {
        const float *d = dout + (size_t)i * C;
        float *e = dwte + (size_t)in[i] * C, *p = dwpe + (size_t)(i % T) * C;
        for (int c = 0; c < C; c++) {
            e[c] += d[c];
            p[c] += d[c];
        }
    }
}

void lmk_layernorm_fwd(float *out, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C;
        float m = 0, v = 0;
        for (int c = 0; c < C; c++) m += xi[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (xi[c] - m) * (xi[c] - m);
        v /= C;
        float s = 1.0f / sqrtf(v + LN_EPS);
        float *o = out + (size_t)i * C;
        for (int c = 0; c < C; c++) o[c] = (xi[c] - m) * s * w[c] + b[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

void lmk_layernorm_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                       const float *w, const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C, *di = dout + (size_t)i * C;
        float m = mean[i], s = rstd[i], dnm = 0, dnnm = 0;
        for (int c = 0; c < C; c++) {
            float n = (xi[c] - m) * s, dn = w[c] * di[c];
            dnm += dn;
            dnnm += dn * n;
        }
        dnm /= C;
        dnnm /= C;
        float *o = dx + (size_t)i * C;
        for (int c = 0; c < C; c++) {
            float n = (xi[c] - m) * s, dn = w[c] * di[c];
            o[c] += (dn - dnm - n * dnnm) * s;
        }
    }
    /* parameter gradients: one column per thread, rows in order (deterministic) */
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float gw = 0, gb = 0;
        for (int i = 0; i < N; i++) {
            float d = dout[(size_t)i * C + c];
            gw += (x[(size_t)i * C + c] - mean[i]) * rstd[i] * d;
            gb += d;
        }
        dw[c] += gw;
        db[c] += gb;
    }
}

void lmk_matmul_fwd(float *out, const float *x, const float *w, const float *bias, int N,
                    int IC, int OC, float beta) {
    if (bias) {
        /* fold the bias in first so one sgemm with beta=1 finishes the job */
#pragma omp parallel for schedule(static)
        for (int i = 0; i < N; i++) {
            float *o = out + (size_t)i * OC;
            for (int j = 0; j < OC; j++) o[j] = (beta != 0 ? beta * o[j] : 0.0f) + bias[j];
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, IC, 1.0f, x, IC, w, OC, beta,
                out, OC);
}

void lmk_matmul_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                    const float *w, int N, int IC, int OC, float dx_beta) {
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, IC, OC, 1.0f, dout, OC, w, OC,
                    dx_beta, dx, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IC, OC, N, 1.0f, x, IC, dout, OC, 1.0f,
                dw, OC);
    if (db) {
#pragma omp parallel for schedule(static)
        for (int j = 0; j < OC; j++) {
            float s = 0;
            for (int i = 0; i < N; i++) s += dout[(size_t)i * OC + j];
            db[j] += s;
        }
    }
}

void lmk_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float mx = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * 3 * C + C + h * hs;
                    float s = 0;
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    s *= scale;
                    a[t2] = s;
                    if (s > mx) mx = s;
                }
                float sum = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    a[t2] = expf(a[t2] - mx);
                    sum += a[t2];
                }
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 < T; t2++) a[t2] = t2 <= t ? a[t2] * inv : 0.0f;
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * 3 * C + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                }
            }
}

/* One task per (batch, head): keys and values of a head receive gradient from every query
 * position, so the t loop stays inside the task and the order of sums is fixed. */
void lmk_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                       int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            float *da = malloc(sizeof(float) * (size_t)T);
            for (int t = 0; t < T; t++) {
                float *dk0 = dqkv + (size_t)b * T * 3 * C + C + h * hs;
                float *dv0 = dqkv + (size_t)b * T * 3 * C + 2 * C + h * hs;
                for (int i = 0; i < hs; i++) dk0[(size_t)t * 3 * C + i] = dv0[(size_t)t * 3 * C + i] = 0;
            }
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                const float *go = dout + ((size_t)b * T + t) * C + h * hs;
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                float *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * hs;
                float dot = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * 3 * C + 2 * C + h * hs;
                    float *dv = dqkv + ((size_t)b * T + t2) * 3 * C + 2 * C + h * hs;
                    float s = 0;
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) {
                        s += v[i] * go[i];
                        dv[i] += a[t2] * go[i];
                    }
                    da[t2] = s;
                    dot += a[t2] * s;
                }
                for (int i = 0; i < hs; i++) dq[i] = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    float dp = a[t2] * (da[t2] - dot) * scale; /* softmax backward */
                    const float *k = qkv + ((size_t)b * T + t2) * 3 * C + C + h * hs;
                    float *dk = dqkv + ((size_t)b * T + t2) * 3 * C + C + h * hs;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += k[i] * dp;
                        dk[i] += q[i] * dp;
                    }
                }
            }
            free(da);
        }
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

void lmk_gelu_fwd(float *out, const float *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    }
}

void lmk_gelu_bwd(float *dx, const float *x, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float th = tanhf(GELU_K * (v + 0.044715f * v * v * v));
        float g = 0.5f * (1.0f + th) +
                  0.5f * v * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = g * dout[i];
    }
}

/* The softmax rows use the branch-free sx__fast_expf (model_internal.h), so the row
 * loops vectorise (libm expf does not, and V = 50257 exps per token would cost as much as
 * the unembedding product). */
double lmk_classifier(float *dx, float *dwte, const float *x, const float *wte,
                      const int32_t *tgt, int N, int C, int V, float scale, float *scratch,
                      int chunk) {
    double total = 0;
    float *rowloss = malloc(sizeof(float) * (size_t)chunk);
    for (int r0 = 0; r0 < N; r0 += chunk) {
        int nr = N - r0 < chunk ? N - r0 : chunk;
        const float *xc = x + (size_t)r0 * C;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, V, C, 1.0f, xc, C, wte, C, 0.0f,
                    scratch, V);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < nr; r++) {
            float *l = scratch + (size_t)r * V;
            float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
            for (int j = 0; j < V; j++) mx = l[j] > mx ? l[j] : mx;
            int t = tgt[r0 + r];
            float lt = l[t] - mx, sum = 0;
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < V; j++) {
                float e = sx__fast_expf(l[j] - mx);
                l[j] = e;
                sum += e;
            }
            rowloss[r] = logf(sum) - lt;
            if (dx) {
                float inv = scale / sum;
#pragma omp simd
                for (int j = 0; j < V; j++) l[j] *= inv;
                l[t] -= scale;
            }
        }
        for (int r = 0; r < nr; r++) total += rowloss[r];
        if (dx) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, nr, 1.0f, scratch, V, xc,
                        C, 1.0f, dwte, C);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, C, V, 1.0f, scratch, V, wte,
                        C, 0.0f, dx + (size_t)r0 * C, C);
        }
    }
    free(rowloss);
    return total;
}
