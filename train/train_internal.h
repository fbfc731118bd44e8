/* train_internal.h — the trainer's per-SAE state, scratch and step functions (internal). */
#ifndef SAETOX_TRAIN_INTERNAL_H
#define SAETOX_TRAIN_INTERNAL_H

#include <stdint.h>

#include "trainer.h"

/* Parameters of one SAE live in one flat array (so Adam and checkpoints see one blob):
 *   [WencT m*d][W_dec m*d][b_enc m][b_dec d][log_thr m (jumprelu)]
 *   gated: b_enc is b_gate, then [r_mag m][b_mag m] after b_dec.
 * WencT is the encoder transposed ([m, d], row j = latent j's encoder vector) so that the
 * sparse W_enc gradient of a latent is one contiguous row. */
typedef struct sx_tsae {
    sx_sae_arch arch;
    int d, m, k;
    double l1;            /* relu / jumprelu sparsity coefficient */
    char name[64];
    int64_t np;           /* parameter count */
    float *p, *am, *av;   /* params, Adam first and second moments */
    float *g;             /* dense gradient (relu / jumprelu), else NULL */
    float *WencT, *W_dec, *b_enc, *b_dec, *log_thr; /* views into p */
    float *r_mag, *b_mag;  /* gated: views into p */
    int n_groups;          /* matryoshka: nested prefix widths, groups[n_groups-1] = m (others 1, {m}) */
    int groups[SX_SAE_MAX_GROUPS];
    double group_mse[SX_SAE_MAX_GROUPS]; /* matryoshka: last step's sum ||x - x_hat_g||^2 per prefix */
    float bt_threshold;   /* batchtopk: running mean of the smallest kept activation */
    float *wpack;         /* topk family: WencT packed for the fused encoder (encode_fused.h) */
    int wpack_fresh;      /* 1: wpack matches WencT (the last update repacked it); code that
                           * writes WencT outside a training step must set it to 0 */
    int64_t *last_fired;  /* tokens seen when latent j last fired */
    /* --parallel latents: this rank holds latents lat_off .. lat_off+m-1 of an SAE of width
     * m_full (the others' are on the other ranks); 0 and m in a single process. */
    int lat_off, m_full;
    /* last step's statistics */
    double loss, mse_sum, aux_loss, sparsity_loss, l0_sum, maxact_sum;
    int64_t rows, n_dead;
} sx_tsae;

/* One sparse (row, latent) entry of the TopK family: a = activation, dpre = dL/dpre. */
typedef struct sx_entry {
    int32_t row;
    int16_t aux; /* 0: main entry (grad row G of its group), 1: AuxK entry (grad row Gaux) */
    int16_t grp; /* matryoshka: the latent's group (its gradient row is G + grp*B*d), else 0 */
    float a, dpre;
} sx_entry;

/* Scratch shared by all SAEs of a run (sized for the widest). */
typedef struct sx_scratch {
    int B, d, m_max, R, cand_max, aux_max, nthreads;
    float *xc, *G, *Gaux, *P;     /* [B,d] [n_groups*B,d] [B,d] [R,m_max] (P: dense archs only) */
    float *P2;                    /* gated: a fourth [R,m_max] block (sx_scratch_gated) */
    int n_groups;                 /* matryoshka: G holds one [B,d] gradient block per group */
    float *xpack;                 /* topk family: packed rows (encode_fused.h) */
    uint64_t *dead_bits;          /* topk family: dead latents, one word per latent panel */
    float *A, *dA;                /* dense archs: [R,m_max] */
    float *colsum_tmp;            /* [nthreads, d] */
    float *lat_tmp;               /* [nthreads, 2*d] per-thread latent scratch */
    int *row_n, *row_naux;        /* entries per row */
    int *cand_idx;                /* [B, cand_max] latent indices */
    float *cand_val;              /* [B, cand_max] pre-activations */
    int *aux_idx;                 /* [B, aux_max] */
    float *aux_val;
    float *sel_tmp;               /* [B*cand_max] batchtopk selection copy */
    int *lat_ptr, *lat_cur;       /* [m_max+1], [m_max] */
    float *cand_dp, *aux_dp;      /* dL/dpre of the candidate / aux entries */
    float *lat_a, *lat_b, *lat_c; /* [m_max] per-latent temporaries */
    unsigned char *fired;         /* [m_max] */
    sx_entry *ent;                /* [B*(cand_max+aux_max)] grouped by latent */
    int *dead_list;               /* [m_max] */
    double *tpart;                /* [nthreads, 8] per-thread partial sums */
    /* --parallel latents: each rank's candidate lists packed for the all-gather (trainer.c) */
    void *lp_send, *lp_recv;      /* [B, max(cand_max, aux_max)] and N times that, (int, float) pairs */
    int *lp_naux;                 /* [B] AuxK entries of each row over all ranks */
    float *lp_rowmax;             /* [B] dense archs: each row's largest activation (MAX over ranks) */
} sx_scratch;

typedef struct sx_step_ctx {
    int B;
    const float *x;       /* [B, d] the (normalised) batch */
    double lr, sparsity_scale; /* lr at this step; warm-up factor of the sparsity coef */
    int adam_t;           /* 1-based Adam step */
    int64_t tokens_before, dead_tokens;
    double clip, aux_coef, eps, bt_ema;
    int aux_k;
    int aux_normalize;    /* 1: AuxK as OpenAI's normalised MSE (the trainer; see rows_backward) */
    int lazy_adam;        /* sparse archs: skip the Adam update of latents without a gradient */
    int want_grad;        /* 1: write the gradient to grad_out instead of updating */
    float *grad_out;      /* [np] */
    sx_scratch *s;
    /* --parallel data (train_mpi.c): x holds this rank's B rows of a global batch of B_norm
     * rows; losses and gradients are scaled by 1/B_norm, and the step sums its statistics and
     * gradient over the ranks (core/sx_mpi.h) before the same Adam update on every rank. */
    int B_norm;           /* 0: B */
    int dp;               /* 1: data parallel */
    int lp;               /* 1: latent parallel (TopK / BatchTopK: sx_step_sparse_lp; the dense
                           * steps: train_lp.c) */
} sx_step_ctx;

/* The number of rows the loss is averaged over. */
static inline int sx_loss_rows(const sx_step_ctx *c) { return c->B_norm > 0 ? c->B_norm : c->B; }

/* Parallel mode of sx_train_run under mpirun (set by the CLI; 0 in a single process). */
enum { SX_PAR_NONE = 0, SX_PAR_DATA = 1, SX_PAR_LATENTS = 2 };
void sx_train_set_parallel(int mode);
int sx_train_get_parallel(void);

/* Parallel regions only pay off above this much work (elements); smaller problems (tests,
 * tiny SAEs) run serially, which is also faster on a loaded machine.  Depends only on sizes,
 * so results stay a function of (sizes, thread count). */
static inline int sx_par(int64_t work) { return work >= ((int64_t)1 << 18); }

int sx_tsae_init(sx_tsae *t, sx_sae_arch arch, int d, int m, int k, double l1, const char *name,
                 sx_err *err);
void sx_tsae_free(sx_tsae *t);
/* Random unit decoder rows (relu: norm 0.1), WencT = W_dec, b_dec = mean of x, b_enc = 0,
 * jumprelu log-thresholds = log(init_thr). */
/* Geometric median of B rows of x [B, d] (Weiszfeld iterations from the mean, float64, at most
 * 100 iterations or until the step is below 1e-6 of the spread): the point minimising the sum
 * of Euclidean distances; what SAELens initialises b_dec to with "geometric_median". */
void sx_geometric_median(const float *x, int B, int d, float *out);
void sx_tsae_init_params(sx_tsae *t, uint64_t seed, int stream, const float *x, int B,
                         double init_thr);
/* Export to an sx_sae (copies; W_enc transposed back). */
int sx_tsae_export(const sx_tsae *t, float norm_scale, sx_sae *out, sx_err *err);
/* --parallel latents, collective: write the SAE folder dir (sae_weights.safetensors, cfg.json)
 * from every rank's slice t, byte for byte what sx_tsae_export + sx_sae_save_meta give in one
 * process (sae_write_lp.c).  meta: the whole SAE's shape, names and norm_scale; no arrays. */
int sx_tsae_save_lp(const sx_tsae *t, const sx_sae *meta, const char *dir, const struct cJSON *extra, sx_err *err);

int sx_scratch_init(sx_scratch *s, int B, int d, int m_max, int k_max, int aux_k, int any_dense,
                    int batchtopk, sx_err *err);
void sx_scratch_free(sx_scratch *s);
/* Matryoshka: room for n_groups gradient blocks in G.  Gated: the extra P2 block. */
int sx_scratch_groups(sx_scratch *s, int n_groups, sx_err *err);
int sx_scratch_gated(sx_scratch *s, sx_err *err);

/* One training step (or a gradient export) of one SAE. */
int sx_step_sparse(sx_tsae *t, const sx_step_ctx *c, sx_err *err); /* topk / batchtopk */
/* --parallel latents: t is this rank's slice (t->lat_off, t->m of t->m_full latents); the whole
 * batch on every rank; candidate lists merged over the ranks, reconstruction summed. */
int sx_step_sparse_lp(sx_tsae *t, const sx_step_ctx *c, sx_err *err);
int sx_step_dense(sx_tsae *t, const sx_step_ctx *c, sx_err *err);  /* relu / jumprelu */
/* --parallel latents in the dense steps (train_lp.c; c->lp = 0: the one-process behaviour). */
void sx_lp_decode_init(const sx_tsae *t, const sx_step_ctx *c, float *Gb, int nb); /* b_dec once */
double sx_lp_rowmax_sum(const sx_step_ctx *c); /* sum over rows of the max over ranks of s->lp_rowmax */
void sx_lp_bdec_enc_term(const sx_tsae *t, const sx_step_ctx *c, const float *gpre, float *gbd);
float sx_lp_clip_scale(const sx_tsae *t, double clip);
int sx_step_gated(sx_tsae *t, const sx_step_ctx *c, sx_err *err);  /* gated (arch_gated.c) */

/* C (+)= alpha op(A) op(B) (row-major), split over the OpenMP threads by rows or columns of
 * C, each slice a single-threaded sgemm (call sx_blas_single(1) first). */
void sx_par_sgemm(int split_rows, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* 1: make OpenBLAS single-threaded (remembering the count); 0: restore it. */
void sx_blas_single(int on);

/* out[i] = sum over rows r of a[r, i], each column summed in row order (so the result does
 * not depend on the thread count), rows streamed in memory order.  Byte floor: rows*cols*4. */
void sx_column_sums(const float *a, int rows, int cols, float *out);

/* Adam on n contiguous parameters (g NULL = zero gradient), with the gradient scaled. */
typedef struct sx_adam {
    float lr_t, eps_t, b1, b2; /* bias corrections folded into lr_t and eps_t */
} sx_adam;
void sx_adam_prepare(sx_adam *a, double lr, int t);
/* Global-norm clipping of a dense gradient: clip / ||g|| when that is below 1, else 1 (and 1
 * when clip <= 0).  Float64 sum, serial: the result does not depend on the thread count. */
float sx_grad_clip_scale(const float *g, int64_t n, double clip);
void sx_adam_update(float *p, float *m, float *v, const float *g, int64_t n, float gscale,
                    const sx_adam *a);

double sx_lr_at(int64_t step, int64_t steps, double base, double warm_frac, double decay_frac);

/* Checkpoints: OUT/checkpoint/{state.json, sae_<i>.safetensors}, replaced atomically. */
typedef struct sx_ckpt_state {
    int64_t step, rows_consumed, skipped_batches;
    float norm_scale;
    uint64_t rng[4];
    char fingerprint[512];
} sx_ckpt_state;
int sx_ckpt_save(const char *out_dir, const sx_ckpt_state *st, sx_tsae *saes, int n,
                 sx_err *err);
/* 1 = loaded, 0 = no checkpoint, -1 = error (incl. fingerprint mismatch). */
int sx_ckpt_load(const char *out_dir, sx_ckpt_state *st, sx_tsae *saes, int n, sx_err *err);
/* Remove OUT/checkpoint.tmp.<pid>/ folders left by runs that were killed mid-checkpoint. */
void sx_ckpt_clean_stale(const char *out_dir);
/* Cut OUT/metrics.jsonl back to the lines of steps <= step (resume after a kill). */
int sx_metrics_truncate(const char *path, int64_t step, sx_err *err);

/* The calling thread's OpenMP index (0 without OpenMP): per-thread scratch slots. */
#ifdef _OPENMP
#include <omp.h>
#endif
static inline int tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#endif
