/* trainer.h — SAE training: ReLU + decoder-norm-weighted L1 (Anthropic, April 2024), TopK with
 * AuxK (Gao et al. 2024), BatchTopK (Bussmann et al. 2024), JumpReLU with straight-through
 * L0 (Rajamanoharan et al. 2024 / Gemma Scope), Matryoshka BatchTopK (Bussmann et al. 2025,
 * Nabeshima 2025: the MSE of every nested prefix summed) and Gated (Rajamanoharan et al. 2024:
 * gate L1 + auxiliary gate reconstruction; arch_gated.c).  Several SAEs (widths x k or x sparsity
 * coefficient) are trained in one pass: every batch is read once and fed to all of them.
 *
 * Conventions
 * - Loss per batch = (1/B) sum_rows ||x_hat - x||^2 (+ the architecture's sparsity term):
 *   relu:     + lambda * sum_i f_i ||d_i||              (lambda warmed up over 5% of steps)
 *   gated:    + lambda * sum_i relu(pi_gate_i) ||d_i|| + ||relu(pi_gate) sg(W_dec) + sg(b_dec) - x||^2
 *   matryoshka: sum over prefixes g of (1/B) sum ||x_hat_g - x||^2, + AuxK as batchtopk
 *   jumprelu: + lambda * sum_i H(z_i - theta_i)         (STE, rectangle kernel, eps 0.001)
 *   topk / batchtopk: + aux_coef * ||e - e_hat||^2 where e = x - x_hat and e_hat decodes
 *             the top aux_k pre-activations of the dead latents (no b_dec).
 * - Metrics: mse = mean squared error per element; fvu = sum ||x - x_hat||^2 /
 *   sum ||x - mean(x)||^2 over the batch; l0 = mean active latents per row; dead_frac =
 *   share of latents that have not fired in the last dead_tokens tokens; mean_max_act = mean
 *   over rows of the row's largest activation.  All in the (optionally normalised) units
 *   the SAE is trained in.
 * - With normalisation, inputs are scaled by norm_scale = sqrt(d_in) / mean ||x|| (estimated
 *   on the first batch); saved SAEs have the factor folded in (see sae_io.c).
 * - Same seed + same thread count => bit-identical weights, also across --resume. */
#ifndef SAETOX_TRAINER_H
#define SAETOX_TRAINER_H

#include "sx_defs.h"
#include <stdint.h>

#include "sae.h"

SX_BEGIN_DECLS

#define SX_TRAIN_MAX_SAES 32

typedef enum { SX_NAN_STOP = 0, SX_NAN_SKIP = 1 } sx_nan_policy;

typedef struct sx_train_opts {
    sx_sae_arch arch;
    int n_widths, widths[SX_TRAIN_MAX_SAES];
    int n_k, ks[8];          /* topk / batchtopk (default 32) */
    int n_l1;                /* relu / jumprelu / gated sparsity coefficients (default per arch) */
    double l1s[8];
    int n_groups;            /* matryoshka: nested prefix widths, strictly increasing, the last = */
    int groups[SX_SAE_MAX_GROUPS]; /* the width (so one width per run) */
    int64_t batch;           /* rows per step (default 4096) */
    int64_t tokens;          /* training rows in total; steps = tokens / batch */
    uint64_t seed;
    double lr;               /* <= 0: 2e-4 * sqrt(16384 / width), clamped to [5e-5, 4e-3] */
    double lr_warmup_frac;   /* default 0.05 */
    double lr_decay_frac;    /* linear decay to 0 over the last fraction (default 0.2) */
    double l1_warmup_frac;   /* default 0.05 */
    double grad_clip;        /* > 0: clip the global gradient norm per SAE */
    double aux_coef;         /* default 1/32 */
    int aux_normalize;       /* 1 (default): the AuxK term weighted as OpenAI's normalised MSE, i.e.
                                x sum||x - mean x||^2 / sum||e - mean e||^2 of the batch; 0: raw */
    int aux_k;               /* default d_in / 2 */
    int b_dec_init;          /* 0 (default): b_dec = mean of the first batch; 1: its geometric
                                median (Weiszfeld; SAELens b_dec_init_method "geometric_median") */
    int dense_adam;          /* topk / batchtopk / matryoshka: 0 (default) = lazy Adam: a latent's
                                encoder row, decoder row, bias and their moments change only on
                                steps where it got a gradient (it fired or took part in AuxK);
                                1 = every parameter every step, as torch.optim.Adam.  Lazy keeps
                                the momentum of a latent that stopped firing from pushing it
                                further down (train/README.md "Wide vs narrow") */
    int64_t dead_tokens;     /* <= 0: min(10M, max(batch, tokens / 8)) */
    double jumprelu_eps;     /* default 0.001 */
    double jumprelu_init_threshold; /* default 0.001 */
    double batchtopk_ema;    /* threshold running-mean weight of the past (default 0.99) */
    int normalize;           /* 1: scale inputs to mean norm sqrt(d_in) */
    sx_nan_policy nan_policy;
    int64_t checkpoint_every; /* steps; 0 = only when stopping early */
    int resume;
    int log_every;           /* steps between metrics lines (default 50) */
    int progress;            /* show the progress bar (stderr, tty only) */
    int64_t stop_after_steps; /* testing aid: checkpoint and stop after this many steps */
    const char *out_dir;
    const char *hook_name, *model_name; /* recorded in cfg.json */
} sx_train_opts;

void sx_train_opts_default(sx_train_opts *o);

/* A stream of training rows.  next fills out[rows, d_in] (returns rows filled, 0 at the end,
 * -1 on error); skip drops rows (for resume).  The trainer loops by asking for more. */
typedef struct sx_batch_source {
    void *ctx;
    int d_in;
    const char *name; /* named in error messages (e.g. the cache paths) */
    int64_t (*next)(void *ctx, float *out, int64_t rows, sx_err *err);
    int (*skip)(void *ctx, int64_t rows, sx_err *err);
} sx_batch_source;

/* Train on a source; writes OUT/<name>/ SAE folders, OUT/metrics.jsonl, OUT/checkpoint/. */
int sx_train_run(const sx_train_opts *o, sx_batch_source *src, sx_err *err);
/* Train on HDF5 activation caches (the datasets reader, shuffled, looping). */
int sx_train_caches(const sx_train_opts *o, const char *const *paths, int n_paths, sx_err *err);

/* Evaluate the saved SAEs of o->out_dir on up to 16384 rows of a held-out cache (raw units):
 * one JSON line per SAE {sae, rows, mse, fvu, l0, dead_frac} in OUT/eval.jsonl (atomic). */
int sx_train_eval(const sx_train_opts *o, const char *eval_cache, sx_err *err);
/* The same, each line also carrying ce_loss_score[i] and kl_div_score[i] of SAE number i (from
 * sx_sae_eval_run with the model, as `saetox train --eval-model`; null when not finite). */
int sx_train_eval_scores(const sx_train_opts *o, const char *eval_cache, const double *ce_loss_score,
                         const double *kl_div_score, sx_err *err);

/* The folder name of SAE number i (e.g. "topk-16384", "topk-16384-k32"). */
void sx_train_sae_name(const sx_train_opts *o, int i, char *buf, int n);
int sx_train_n_saes(const sx_train_opts *o);

SX_END_DECLS

#endif
