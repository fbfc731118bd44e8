/* lmtrain.h — training a small GPT-2 from scratch in C (llm.c style): forward and backward
 * of every layer, AdamW, checkpoints, the text data pipeline and the Hugging Face export
 * that the normal loader (models.h) reads.
 *
 * Parameters are kept in the Hugging Face GPT-2 layout (Conv1D weights are [in, out]) so the
 * export is a dtype conversion.  Determinism: every reduction has a fixed order for a fixed
 * thread count (OpenMP loops write disjoint outputs; sums over rows are done per column or
 * in fixed chunks), so the same seed and thread count give the same bits. */
#ifndef SAETOX_LMTRAIN_H
#define SAETOX_LMTRAIN_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>

#include "core.h"

SX_BEGIN_DECLS

typedef struct sx_lm_cfg {
    int vocab;   /* 50257 for the GPT-2 tokenizer */
    int n_ctx;   /* n_positions */
    int n_layer;
    int n_head;
    int d;       /* n_embd; the MLP is 4d wide */
} sx_lm_cfg;

/* Parameter tensors, in this order in the flat parameter array. Per-layer tensors are
 * stacked over layers ([L, ...]). */
enum {
    SX_LM_WTE, SX_LM_WPE, SX_LM_LN1W, SX_LM_LN1B, SX_LM_QKVW, SX_LM_QKVB, SX_LM_APW,
    SX_LM_APB, SX_LM_LN2W, SX_LM_LN2B, SX_LM_FCW, SX_LM_FCB, SX_LM_FPW, SX_LM_FPB,
    SX_LM_LNFW, SX_LM_LNFB, SX_LM_NT
};

typedef struct sx_lm_acts sx_lm_acts;

typedef struct sx_lm {
    sx_lm_cfg cfg;
    size_t off[SX_LM_NT], numel[SX_LM_NT]; /* whole tensor (all layers) */
    size_t n_params;
    float *params, *grads, *m, *v;         /* m, v: AdamW moments */
    int64_t adam_t;                        /* AdamW steps taken */
    sx_lm_acts *acts;                      /* activation memory for the current B x T */
} sx_lm;

/* Name of tensor id (short internal name, e.g. "qkvw") and whether it is a matrix (gets
 * weight decay). */
const char *sx_lm_tensor_name(int id);
int sx_lm_tensor_is_matrix(int id);

int sx_lm_new(const sx_lm_cfg *cfg, sx_lm **out, sx_err *err);
void sx_lm_free(sx_lm *m);
/* GPT-2 initialisation: N(0, std) weights (residual projections scaled by 1/sqrt(2L)),
 * zero biases, unit LayerNorm gains; one RNG stream in a fixed order. */
void sx_lm_init(sx_lm *m, uint64_t seed, float std);

/* Mean cross-entropy (nats) of targets [B*T] given inputs [B*T]; forward only. */
double sx_lm_loss(sx_lm *m, const int32_t *in, const int32_t *tgt, int B, int T, sx_err *err);
/* Forward + backward: ADDS scale * d(mean loss)/d(params) into m->grads.  Returns the mean
 * loss, or NAN with err set on a bad input. */
double sx_lm_grad(sx_lm *m, const int32_t *in, const int32_t *tgt, int B, int T, float scale,
                  sx_err *err);
/* Logits [B*T, vocab] of every position (for checks against the inference code). */
int sx_lm_logits(sx_lm *m, const int32_t *in, int B, int T, float *logits, sx_err *err);
void sx_lm_zero_grad(sx_lm *m);
double sx_lm_grad_norm(const sx_lm *m); /* global L2 norm, fixed summation order */

typedef struct sx_adamw {
    float beta1, beta2, eps, weight_decay;
} sx_adamw;
/* One AdamW step with learning rate lr on grads * grad_scale (grad_scale < 1 clips). */
void sx_lm_adamw(sx_lm *m, const sx_adamw *o, float lr, float grad_scale);

/* Cosine schedule with linear warm-up: lr at step s (0-based) of total. */
float sx_lm_lr(int64_t s, int64_t total, int64_t warmup, float lr_max, float lr_min);

/* ---------- files (lmtrain_io.c) ---------- */
/* Hugging Face GPT-2 folder: config.json, model.safetensors (dt = F32|F16|BF16) and, when
 * tok_dir is not NULL, its encoder.json, vocab.bpe and LICENSE copied beside them. */
int sx_lm_save_hf(const sx_lm *m, const char *dir, sx_dtype dt, const char *tok_dir,
                  sx_err *err);
/* Read the weights of a GPT-2 folder of m's shape (as sx_lm_save_hf writes, any dtype) into
 * m->params, for continued training from it; AdamW moments and step reset.  The folder may
 * have fewer layers (Ls <= L, same width and vocabulary): that grows the model in depth.
 * Source layer j fills block floor(j*L/Ls); every other block keeps m's values (call
 * sx_lm_init first) with its attention and MLP output projections zeroed, so each new
 * block adds nothing to the residual and the grown model computes what the folder's does.
 * The folder may also be half as wide (d = 2 d_s, same head width, so twice the heads; its
 * config.json gives n_head): each residual channel, head and MLP unit gets a twin, an input
 * row's weight is split between its two copies as w/2 +- r (r from m's init, so call
 * sx_lm_init first) and ln_f is halved, so the logits are the folder's up to rounding while
 * the +-r split gives the twins different gradients. */
int sx_lm_load_hf(sx_lm *m, const char *dir, sx_err *err);
/* Checkpoint: config, params, AdamW moments and step, plus an opaque trainer state blob.
 * Written atomically. */
int sx_lm_ckpt_save(const sx_lm *m, const char *path, const void *state, size_t state_len,
                    sx_err *err);
/* Load a checkpoint; state (state_len bytes) receives the blob (length must match). */
int sx_lm_ckpt_load(const char *path, sx_lm **out, void *state, size_t state_len,
                    sx_err *err);

/* ---------- data (lmtrain_data.c) ---------- */
/* A data spec: a SOURCE of io.h ("jsonl:F#prompt.text", "csv:F#tweet", "text:F", archives,
 * globs; a document per record), or "PATH" (plain text: documents are separated by blank lines),
 * "PATH.jsonl#FIELD[+FIELD..]" (dotted paths, e.g. prompt.text+continuation.text; fields
 * joined with nothing between them) or "PATH.csv#COLUMN" (RFC 4180, header row).  The
 * format comes from the extension (.jsonl/.json, .csv, anything else is plain text).  Empty
 * documents are skipped; leading newlines and trailing whitespace are trimmed. */
typedef int (*sx_lm_doc_fn)(void *user, const char *text, size_t len, sx_err *err);
int sx_lm_read_docs(const char *spec, int unescape_html, sx_lm_doc_fn fn, void *user,
                    sx_err *err);
/* The same with each document's key: the raw text of the first field of a PATH.jsonl#F+G
 * record (e.g. an RTP prompt.text; NULL when that field is missing), NULL for every other
 * document. */
typedef int (*sx_lm_doc_key_fn)(void *user, const char *text, size_t len, const char *key,
                                sx_err *err);
int sx_lm_read_docs_keyed(const char *spec, int unescape_html, sx_lm_doc_key_fn fn, void *user,
                          sx_err *err);
/* unescape_html: HTML entities decoded with sx_html_decode (io.h), before trimming. */

typedef struct sx_lm_tokens {
    uint16_t *train, *val, *held;
    int64_t n_train, n_val, n_held;
    int64_t docs_train, docs_val, docs_held;
    uint64_t hash; /* FNV-1a of the three token sets and their sizes: what the model trains on */
} sx_lm_tokens;
/* Read every spec, tokenize each document with the tokenizer in tok_dir (no BOS), append
 * eos after each, and split documents into train/val (each document goes to val with
 * probability val_frac, decided by seed).  holdout > 0: a document of a spec with
 * split_spec[i] != 0 whose key (see sx_lm_read_docs_keyed) is on the evaluation side of the
 * hash split sx_text_is_holdout(key, holdout) -- the split of `saetox study --split` -- goes
 * to `held` instead, never to train or val, so a study's evaluation prompts (and their RTP
 * continuations) stay unseen.  split_spec may be NULL (no spec is split).  When cache_path is
 * not NULL the result is cached there (uint16) keyed by the specs, their sizes and mtimes,
 * and the options.  out->hash identifies the tokens themselves (not paths or mtimes), so a
 * resumed run can check it trains on what the checkpoint trained on. */
int sx_lm_tokens_build(const char *const *specs, const unsigned char *split_spec, int n_specs,
                       int unescape_html, const char *tok_dir, double val_frac, double holdout,
                       uint64_t seed, const char *cache_path, sx_lm_tokens *out, sx_err *err);
void sx_lm_tokens_free(sx_lm_tokens *t);

SX_END_DECLS
#endif
