/* models.h — Hugging Face model folders (GPT-2 family, Gemma-2), batched forward passes with
 * residual-stream hooks, log-likelihoods and KV-cached generation.
 *
 * Threading: OpenBLAS for the dense products, OpenMP for the rest.  A model object is not
 * safe for concurrent calls from several threads (it owns its scratch memory). */
#ifndef SAETOX_MODELS_H
#define SAETOX_MODELS_H

#include "sx_defs.h"
#include <stdint.h>

#include "core.h"

SX_BEGIN_DECLS

typedef enum { SX_ARCH_GPT2 = 1, SX_ARCH_GEMMA2 = 2 } sx_arch;

typedef struct sx_model_config {
    sx_arch arch;
    char model_type[32];   /* "gpt2" | "gemma2" */
    int vocab_size;
    int d_model;
    int n_layers;
    int n_heads;
    int n_kv_heads;        /* == n_heads for GPT-2 */
    int head_dim;
    int d_ff;              /* MLP hidden size */
    int n_ctx;             /* maximum positions */
    float norm_eps;
    /* Gemma-2 only */
    float rope_theta;
    float query_pre_attn_scalar;
    float attn_softcap;    /* 0 = none */
    float final_softcap;   /* 0 = none */
    int sliding_window;    /* on even layers */
    int bos_id, eos_id, pad_id; /* -1 when unknown */
} sx_model_config;

typedef struct sx_model sx_model;

/* Load DIR/config.json and DIR/model.safetensors (or a sharded checkpoint with
 * model.safetensors.index.json).  Weights are memory-mapped; F32, F16 and BF16 accepted.
 * Every tensor is checked against the config. */
int sx_model_load(const char *dir, sx_model **out, sx_err *err);
void sx_model_free(sx_model *m);
/* Release the large buffers the model keeps between batched calls (sx_generate_many,
 * sx_loglik_many keep their key/value slots and logits rows, up to ~1.5 GB, because fresh
 * memory is expensive to fault in); the next call allocates them again. */
void sx_model_trim(sx_model *m);
const sx_model_config *sx_model_cfg(const sx_model *m);

/* ---------- hooks (TransformerLens names) ---------- */
typedef enum { SX_HOOK_RESID_PRE = 0, SX_HOOK_RESID_POST = 1 } sx_hook_point;

/* Parse "blocks.{L}.hook_resid_pre|post". Returns -1 (err set) for anything else. */
int sx_hook_parse(const char *name, int *layer, sx_hook_point *point, sx_err *err);
/* Canonical order of hook points: resid_pre L == resid_post L-1 in value, but they are
 * distinct hook points (both are called when both are registered). */

typedef struct sx_hook_ctx {
    int layer;
    sx_hook_point point;
    int n_rows;              /* rows of x in this call */
    int d;                   /* d_model */
    const int *seq_of_row;   /* which sequence of the batch each row belongs to */
    const int *pos_of_row;   /* absolute position of each row in its sequence */
    const int32_t *token_of_row;
} sx_hook_ctx;

/* A hook reads and may overwrite x [n_rows, d] in place.  Nonzero return aborts the pass
 * (the hook fills err). */
typedef int (*sx_hook_fn)(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err);

typedef struct sx_hook {
    int layer;
    sx_hook_point point;
    sx_hook_fn fn;
    void *user;
} sx_hook;

/* ---------- batched forward ---------- */
typedef struct sx_forward_opts {
    const sx_hook *hooks;
    int n_hooks;
    int stop_after_layer;  /* -1: full model; L >= 0: stop after block L (no logits) */
    int logits;            /* 0: none, 1: every position, 2: last position of each sequence */
} sx_forward_opts;

/* Run n_seqs sequences (tokens concatenated in `tokens`, lengths in `lens`, each starting at
 * position 0).  logits_out, when opts->logits != 0, receives [sum(lens), vocab] or
 * [n_seqs, vocab] floats.  Token ids out of range and sequences longer than n_ctx are
 * errors. */
int sx_forward(sx_model *m, const int32_t *tokens, const int *lens, int n_seqs,
               const sx_forward_opts *opts, float *logits_out, sx_err *err);

/* The same pass started from the residual x_at_hook [sum(lens), d] at hook point (layer,
 * point) instead of from the embeddings: blocks.L.hook_resid_pre enters block L,
 * blocks.L.hook_resid_post enters block L + 1 (for the last layer only the final norm and
 * unembedding run).  Exact, not an approximation: in a pass over whole sequences every
 * block's keys and values come from its own input rows, so nothing before the hook is
 * needed.  opts->hooks run at the points after the start point only.  Rows, tokens (used by
 * the hooks and checked like sx_forward) and logits are as in sx_forward; stop_after_layer
 * must not be before the start block. */
int sx_forward_from_hook(sx_model *m, const int32_t *tokens, const int *lens, int n_seqs, int layer,
                         sx_hook_point point, const float *x_at_hook, const sx_forward_opts *opts,
                         float *logits_out, sx_err *err);

/* log sum_j exp(l[j]) over j < n, in double from float terms (vectorised exp, ~1-2 ulp per
 * term); when probs is not NULL it receives the softmax exp(l[j] - lse) as floats. */
double sx_logsumexp(const float *l, int n, float *probs);

/* Final norm + unembedding (+ final softcap for Gemma-2) of n residual vectors x [n, d] into
 * logits [n, vocab]: the logit lens. */
int sx_model_unembed(sx_model *m, const float *x, int n, float *logits, sx_err *err);
/* Final norm only (ln_f / model.norm) of x [n, d] into out [n, d] (may alias x): the input of
 * the unembedding. */
int sx_model_final_norm(sx_model *m, const float *x, int n, float *out, sx_err *err);
/* The unembedding rows (tied embedding) as a read-only F32 view if the model has F32
 * weights in memory, else NULL; sx_model_embedding_row copies any row as F32. */
void sx_model_embedding_row(const sx_model *m, int token, float *out);
/* The unembedding matrix [vocab, d] as a read-only F32 view (lm_head.weight, or the tied
 * embedding).  Always non-NULL: F32 weights are used in place, BF16 ones widened to an F32
 * copy on the first call (vocab x d floats); valid until sx_model_free.  Note Gemma-2's final
 * softcap is not part of it. */
const float *sx_model_unembed_weights(const sx_model *m);

/* Sum of log p(cont | ctx) under the model (natural log), with optional hooks.  *n_tokens
 * gets the number of scored tokens. */
int sx_loglik(sx_model *m, const int32_t *ctx, int n_ctx, const int32_t *cont, int n_cont,
              const sx_hook *hooks, int n_hooks, double *sum_logprob, sx_err *err);

/* ---------- generation with a KV cache ---------- */
/* Called on each sequence's next-token logits before sampling (e.g. a banned-token filter). */
typedef void (*sx_logits_fn)(void *user, int seq, float *logits, int vocab);

typedef struct sx_gen_opts {
    int max_new_tokens;
    float temperature;     /* <= 0: greedy (first index on ties) */
    float top_p;           /* 1 = off */
    int top_k;             /* 0 = off */
    uint64_t seed;         /* sequence i samples from sx_rng_stream(seed, i) */
    const int32_t *stop_ids;
    int n_stop;            /* generation of a sequence ends after it emits a stop id */
    const sx_hook *hooks;  /* applied at prompt and generated positions */
    int n_hooks;
    sx_logits_fn logits_fn;
    void *logits_user;
    /* Optional per-sequence random streams: when set, sequence i samples from
     * sx_rng_stream(seq_seeds[i], seq_streams[i]) instead of (seed, i), so callers can batch
     * independent requests together and get what each would get alone. */
    const uint64_t *seq_seeds;
    const uint64_t *seq_streams;
} sx_gen_opts;

/* Generate continuations for n prompts at once.  out_ids[i] (malloc'd, caller frees) gets
 * the new tokens only, out_lens[i] their count.  Prompts plus new tokens must fit n_ctx: a
 * prompt longer than n_ctx - max_new_tokens keeps its last tokens (left truncation). */
int sx_generate(sx_model *m, const int32_t *const *prompts, const int *prompt_lens, int n,
                const sx_gen_opts *opts, int32_t **out_ids, int *out_lens, sx_err *err);

/* ---------- batched evaluation: many prompts x samples (generate_batch.c, loglik_batch.c) ---------- */
typedef struct sx_batch_opts {
    /* generation: sequences decoding together (one row each per step; a finished sequence's
     * slot is refilled at once); scoring: rows per pass.  0 = default (256 sequences / 512 rows,
     * cut to fit 1 GiB of keys/values when prompts are long); KV memory is
     * bounded by this many sequences, never by the whole job. */
    int block_rows;
    /* called after each step with the number of sequences (generation) or items (scoring)
     * finished so far; may be NULL */
    void (*progress)(void *user, int64_t done);
    void *progress_user;
} sx_batch_opts;

/* k sampled continuations of each of n_prompts prompts, all decoding together through a
 * continuous-batching scheduler: sequence i = p * k + s (prompt p, sample s) gets out_ids[i]
 * (malloc'd, caller frees; new tokens only) and out_lens[i].  Each prompt's prefill runs once
 * and its keys/values are copied into its samples' slots.  Options as sx_generate, with
 * sequence i sampling from sx_rng_stream(seq_seeds[i], seq_streams[i]) (or (seed, i)), so the
 * tokens equal those of sx_generate over the prompts repeated k times, up to float rounding
 * (both use the same kernels; only the rows per product differ).  logits_fn gets seq = i and
 * may be called from several threads at once (for different sequences); hooks see
 * seq_of_row = i.  bo may be NULL. */
int sx_generate_many(sx_model *m, const int32_t *const *prompts, const int *prompt_lens, int n_prompts, int k,
                     const sx_gen_opts *opts, const sx_batch_opts *bo, int32_t **out_ids, int *out_lens,
                     sx_err *err);

/* One scoring item: log p(cont | ctx) summed (natural log), as sx_loglik. */
typedef struct sx_loglik_item {
    const int32_t *ctx;
    int n_ctx;
    const int32_t *cont;
    int n_cont;
} sx_loglik_item;

/* sx_loglik for n items in batched passes: consecutive items with the same context (same
 * pointer and length) share one prefill of it.  sum_logprob[i] gets item i's sum.  Equal to
 * sx_loglik per item up to float rounding.  bo may be NULL. */
int sx_loglik_many(sx_model *m, const sx_loglik_item *items, int64_t n, const sx_hook *hooks, int n_hooks,
                   const sx_batch_opts *bo, double *sum_logprob, sx_err *err);

/* Opt-in (SAETOX_LOAD_ADAPT=1): 1 when the 1-minute load average exceeds the CPU count
 * (+0.5); forward passes and generation then run single-threaded for that call
 * (multi-threaded barriers are several times slower on an overloaded machine).  Off by
 * default, because results must not depend on what else the machine is doing. */
int sx_machine_busy(void);

SX_END_DECLS
#endif
