/* lmtrain_kernels.h — internal: forward/backward kernels of the GPT-2 trainer (lmtrain.c).
 * Row-major; N = B*T rows; C = d_model.  Backward kernels ADD into parameter gradients. */
#ifndef SAETOX_LMTRAIN_KERNELS_H
#define SAETOX_LMTRAIN_KERNELS_H

#include <stdint.h>

void lmk_encoder_fwd(float *out, const int32_t *in, const float *wte, const float *wpe, int B,
                     int T, int C);
void lmk_encoder_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *in, int B,
                     int T, int C);
void lmk_layernorm_fwd(float *out, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, int N, int C);
/* dx += ..., dw += ..., db += ... */
void lmk_layernorm_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                       const float *w, const float *mean, const float *rstd, int N, int C);
/* out = beta*out + x @ w (+ bias): x [N, IC], w [IC, OC] */
void lmk_matmul_fwd(float *out, const float *x, const float *w, const float *bias, int N,
                    int IC, int OC, float beta);
/* dx = dx_beta*dx + dout @ w^T (skipped when dx NULL); dw += x^T @ dout; db += colsum. */
void lmk_matmul_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                    const float *w, int N, int IC, int OC, float dx_beta);
/* qkv [B,T,3C] -> out [B,T,C]; att [B,NH,T,T] keeps the softmax probabilities. */
void lmk_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
/* dqkv = gradient wrt qkv (overwritten). */
void lmk_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                       int B, int T, int C, int NH);
void lmk_gelu_fwd(float *out, const float *x, int64_t n);
/* dx = gelu'(x) * dout */
void lmk_gelu_bwd(float *dx, const float *x, const float *dout, int64_t n);
/* Tied unembedding + softmax cross-entropy over rows [N, C] of x, in row chunks so the
 * [N, V] logits never exist at once.  Returns the summed loss (nats).  When dx != NULL:
 * dx = scale * dloss/dx (overwritten) and dwte += scale * dloss/dwte, with
 * loss = sum over rows (the caller folds the 1/N into scale).  scratch holds
 * chunk*V floats. */
double lmk_classifier(float *dx, float *dwte, const float *x, const float *wte,
                      const int32_t *tgt, int N, int C, int V, float scale, float *scratch,
                      int chunk);
#endif
