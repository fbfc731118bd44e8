/* logit_lens.c — which tokens a decoder direction promotes or suppresses: logits = W_U d
 * through the tied unembedding, without the final norm (documented choice: the final norm's
 * centring and scale belong to a whole residual vector, not to one direction; the ranking
 * is the usual "W_dec @ W_U" of SAE dashboards).  Gemma's final softcap is monotone and
 * does not change the ranking.
 * Cost: 2 n vocab d FLOP (50 directions x GPT-2: 3.9 GFLOP), rows copied in blocks so the
 * unembedding is never duplicated whole (Gemma: 256k x 2304). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"

#define LENS_BLOCK 2048

/* keep the k best (largest when sign=+1, smallest when -1) in v/id sorted best first */
static void keep_best(float *v, int32_t *id, int *cnt, int k, float x, int32_t tok, int sign) {
    float sx = sign * x;
    int n = *cnt;
    if (n == k && !(sx > sign * v[n - 1])) return;
    int i = n < k ? n : k - 1;
    while (i > 0 && sx > sign * v[i - 1]) {
        v[i] = v[i - 1], id[i] = id[i - 1];
        i--;
    }
    v[i] = x, id[i] = tok;
    if (n < k) *cnt = n + 1;
}

int sx_logit_lens(const sx_model *m, const float *dirs, int n, int k, int32_t *promoted,
                  int32_t *suppressed, sx_err *err) {
    const sx_model_config *c = sx_model_cfg(m);
    const int d = c->d_model, V = c->vocab_size;
    if (n <= 0 || k <= 0) return 0;
    if (k > V) k = V;
    float *E = malloc((size_t)LENS_BLOCK * d * sizeof *E);
    float *L = malloc((size_t)n * LENS_BLOCK * sizeof *L);
    float *tv = malloc((size_t)n * k * sizeof *tv), *bv = malloc((size_t)n * k * sizeof *bv);
    int *tc = calloc((size_t)n, sizeof *tc), *bc = calloc((size_t)n, sizeof *bc);
    if (!E || !L || !tv || !bv || !tc || !bc) {
        free(E), free(L), free(tv), free(bv), free(tc), free(bc);
        return sx_failc(err, SX_ENOMEM, "logit lens: out of memory");
    }
    for (int t0 = 0; t0 < V; t0 += LENS_BLOCK) {
        int nb = V - t0 < LENS_BLOCK ? V - t0 : LENS_BLOCK;
        for (int t = 0; t < nb; t++) sx_model_embedding_row(m, t0 + t, E + (size_t)t * d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nb, d, 1.0f, dirs, d, E, d, 0.0f,
                    L, nb);
        for (int i = 0; i < n; i++)
            for (int t = 0; t < nb; t++) {
                float x = L[(size_t)i * nb + t];
                keep_best(tv + (size_t)i * k, promoted + (size_t)i * k, &tc[i], k, x, t0 + t, 1);
                keep_best(bv + (size_t)i * k, suppressed + (size_t)i * k, &bc[i], k, x, t0 + t, -1);
            }
    }
    free(E), free(L), free(tv), free(bv), free(tc), free(bc);
    return 0;
}

int sx_logit_lens_full(const sx_model *m, const float *dirs, int n, float *logits, sx_err *err) {
    const sx_model_config *c = sx_model_cfg(m);
    const int d = c->d_model, V = c->vocab_size;
    if (n <= 0) return 0;
    float *E = malloc((size_t)LENS_BLOCK * d * sizeof *E);
    float *L = malloc((size_t)n * LENS_BLOCK * sizeof *L);
    if (!E || !L) {
        free(E), free(L);
        return sx_failc(err, SX_ENOMEM, "logit lens: out of memory");
    }
    for (int t0 = 0; t0 < V; t0 += LENS_BLOCK) {
        int nb = V - t0 < LENS_BLOCK ? V - t0 : LENS_BLOCK;
        for (int t = 0; t < nb; t++) sx_model_embedding_row(m, t0 + t, E + (size_t)t * d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nb, d, 1.0f, dirs, d, E, d, 0.0f,
                    L, nb);
        for (int i = 0; i < n; i++)
            memcpy(logits + (size_t)i * V + t0, L + (size_t)i * nb, (size_t)nb * sizeof *L);
    }
    free(E), free(L);
    return 0;
}
