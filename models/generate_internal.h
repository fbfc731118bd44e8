/* generate_internal.h — what generate.c shares with generate_batch.c and loglik_batch.c.  Not a
 * public header. */
#ifndef SAETOX_GENERATE_INTERNAL_H
#define SAETOX_GENERATE_INTERNAL_H

#include "model_internal.h"

/* The checks of sx_generate: prompts non-empty and in the vocabulary, options sane, hooks valid. */
int sx__gen_validate(const sx_model *m, const int32_t *const *prompts, const int *lens, int n,
                     const sx_gen_opts *o, sx_err *err);

/* Default sequences per decoding step of sx_generate_many (sx_batch_opts.block_rows = 0); see
 * bench/bench_eval and steering/README.md ("Batched evaluation") for how it was chosen. */
#define SX__BLOCK_ROWS_DEFAULT 256
/* KV memory the default block may take (an explicit block_rows is honoured as given): the slots
 * are cut to fit it when the prompts are long. */
#define SX__KV_BUDGET_DEFAULT ((size_t)1 << 30)
/* Logits memory the default block may take (2 x rows x vocab floats): Gemma-2's 256k vocabulary
 * gets ~131 sequences / rows instead of 256 / 512. */
#define SX__LOGITS_BUDGET_DEFAULT ((size_t)256 << 20)

/* Key/value store of `slots` sequences of up to slot_cap positions each, one region per slot:
 * the layout sx_kv describes, with seq_off mapping a sequence id to its slot's first row. */
typedef struct sx__kvslots {
    float *k, *v;
    int slots, slot_cap, kd, n_layers;
    sx_model *m; /* the blocks come from and go back to its cache (sx__big_take) */
    size_t bytes;
} sx__kvslots;

int sx__kvslots_alloc(sx__kvslots *s, sx_model *m, int slots, int slot_cap);
void sx__kvslots_free(sx__kvslots *s);
/* Slots of slot_cap positions that fit SX__KV_BUDGET_DEFAULT (at least 1). */
int sx__kvslots_fit(const sx_model_config *c, int slot_cap);
/* Copy the first n positions of every layer's K and V from slot a to slot b. */
void sx__kvslots_copy(const sx__kvslots *s, int a, int b, int n);
/* An sx_kv over the store (cache mode) with the given sequence -> first-row map. */
sx_kv sx__kvslots_view(const sx__kvslots *s, const int *seq_off);

#endif
