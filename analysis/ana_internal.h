/* ana_internal.h — shared pieces of the analysis drivers (not part of the public API). */
#ifndef SAETOX_ANA_INTERNAL_H
#define SAETOX_ANA_INTERNAL_H

#include "analysis.h"
#include "models.h"
#include "sae.h"
#include "tokenizer.h"

/* Rows of SAE activations delivered by sx_ana_forward_encode: acts [n, d_sae] of the SAE
 * index `which`, with the sequence (index in the batch), position and token of each row. */
typedef int (*sx_ana_rows_fn)(void *user, int which, const float *acts, int n,
                              const int *seq, const int *pos, const int32_t *tok, sx_err *err);

typedef struct sx_ana_enc {
    sx_model *model;
    const sx_sae *const *saes;  /* n_saes SAEs; each is applied at its own hook */
    int n_saes;
    const int *layers;          /* [n_saes] */
    const sx_hook_point *points;
    int skip_bos_id;            /* rows at position 0 with this token are skipped (-1: none) */
    sx_ana_rows_fn fn;
    void *user;
} sx_ana_enc;

/* Forward n_seqs sequences (concatenated tokens, lens) to the deepest hook, encode the rows
 * at each SAE's hook in blocks of 256 and hand them to fn. */
int sx_ana_forward_encode(sx_ana_enc *e, const int32_t *tokens, const int *lens, int n_seqs,
                          sx_err *err);

/* Resolve an SAE's hook (override or its cfg hook_name) against the model. */
int sx_ana_hook_of(const sx_sae *sae, const char *override, const sx_model *m, int *layer,
                   sx_hook_point *pt, sx_err *err);

/* Token strings for CSV cells: whitespace and control bytes become \xNN so that a space
 * separated list stays parseable. */
void sx_ana_token_cell(const char *s, char *out, size_t outsz);

/* Logit lens of directions dirs [n, d] through the (tied) unembedding: logits = W_U d,
 * without the final norm (a direction has no meaningful norm statistics).  For each
 * direction, the top k promoted and suppressed token ids (descending / ascending). */
int sx_logit_lens(const sx_model *m, const float *dirs, int n, int k, int32_t *promoted,
                  int32_t *suppressed, sx_err *err);
/* The same logits over the whole vocabulary: logits [n, vocab_size] (the report's logit
 * histogram and top/bottom table; 2 n V d FLOP, n V floats the caller holds). */
int sx_logit_lens_full(const sx_model *m, const float *dirs, int n, float *logits, sx_err *err);

/* The token of every cache row (stats_run.c): token id, document, position; contexts never
 * cross a document or a window (sx_ana_same_ctx).  16 bytes a row. */
typedef struct sx_ana_tape {
    int32_t *tok, *pos;
    int64_t *grp;
    int64_t n, cap;
    int have; /* token ids known */
} sx_ana_tape;
/* The first n rows' /token_ids, /positions, /doc_ids of a cache (absent ones: unknown). */
int sx_ana_tape_from_cache(sx_ana_tape *t, const char *path, int64_t n, sx_err *err);
/* Row q is in the same context as row r. */
int sx_ana_same_ctx(const sx_ana_tape *t, int64_t r, int64_t q);
void sx_ana_tape_free(sx_ana_tape *t);
#endif
