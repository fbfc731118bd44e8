/* tokenizer.h — GPT-2 byte-level BPE (vocab.json + merges.txt or encoder.json + vocab.bpe)
 * and Hugging Face tokenizer.json BPE with byte fallback (Gemma). */
#ifndef SAETOX_TOKENIZER_H
#define SAETOX_TOKENIZER_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>

#include "core.h"

SX_BEGIN_DECLS

typedef struct sx_tokenizer sx_tokenizer;

/* Load whichever tokenizer files DIR holds (tokenizer.json preferred when present; its
 * tokenizer_config.json says whether BOS is added). */
int sx_tokenizer_load(const char *dir, sx_tokenizer **out, sx_err *err);
void sx_tokenizer_free(sx_tokenizer *t);

/* Encode len bytes of text (need not be NUL-terminated; invalid UTF-8 is handled, never a
 * crash).  add_special != 0 adds BOS where the tokenizer's config says so.  *ids is
 * malloc'd (caller frees). */
int sx_tokenizer_encode(const sx_tokenizer *t, const char *text, size_t len, int add_special,
                        int32_t **ids, int *n_ids, sx_err *err);
/* Decode ids to text (malloc'd, NUL-terminated). Special tokens are rendered as their text. */
int sx_tokenizer_decode(const sx_tokenizer *t, const int32_t *ids, int n_ids, char **text,
                        size_t *len, sx_err *err);
/* The vocabulary string of a token as stored (e.g. "Ġthe", "▁the"), or NULL. */
const char *sx_tokenizer_token_str(const sx_tokenizer *t, int id);
/* Look a vocabulary string up; -1 when absent. */
int sx_tokenizer_token_id(const sx_tokenizer *t, const char *token_str);
int sx_tokenizer_vocab_size(const sx_tokenizer *t);
int sx_tokenizer_bos(const sx_tokenizer *t); /* -1 if none */
int sx_tokenizer_eos(const sx_tokenizer *t); /* -1 if none */
int sx_tokenizer_adds_bos(const sx_tokenizer *t);
/* 1 when id is an added / special token of a tokenizer.json (<bos>, <start_of_turn>, ...)
 * or GPT-2's <|endoftext|>; 0 otherwise. */
int sx_tokenizer_is_special(const sx_tokenizer *t, int id);
/* A token as text people read (dashboards, reports, CSV token columns), unambiguous and
 * invertible: a special token as its vocabulary text ("<|endoftext|>", one token); else the
 * token's decoded bytes with each leading space shown as U+2423 (open box, UTF-8 E2 90 A3),
 * a backslash doubled, \n \t \r escaped, and \xNN (two lower-case hex digits) for other
 * control bytes and for every byte that is not part of a whole valid UTF-8 character
 * (GPT-2's partial emoji bytes); a literal U+2423 becomes \u2423.  Writes at most cap
 * bytes including the NUL (truncated, still NUL-terminated); returns the full length (as
 * snprintf), or -1 for an id outside the vocabulary (buf = ""). */
int sx_tokenizer_token_display(const sx_tokenizer *t, int id, char *buf, size_t cap);

/* A loaded tokenizer is read-only: encode/decode may run concurrently from many threads.
 * GPT-2 (encoder.json / vocab.json) follows gpt-3-encoder's Encoder.js exactly and treats
 * "<|endoftext|>" in text as plain text; a tokenizer.json matches its added tokens in text
 * (transformers.js semantics).  Decoding returns the exact bytes, so invalid UTF-8 input
 * round-trips. */

SX_END_DECLS

#endif
