/* eval_parts.h — the pieces of sx_eval_condition that the sweep hands out to MPI ranks
 * (private to steering/; evaluate.c and sweep.c).
 *
 * A condition's prompts are evaluated in chunks of sx__eval_chunk(o) prompts starting at
 * multiples of the chunk (each chunk one sx_generate_many call and one batched fluency pass;
 * with batch_rows < 0 the chunk is the unbatched path's group of 8).  A chunk's numbers depend
 * only on the chunk (the rows of every product are the chunk's, prompt p samples with seed
 * mix(seed, p)), so a chunk gives the same bits on whichever process runs it, and any split
 * of the chunks over ranks, gathered in prompt order and aggregated as one process does,
 * gives one process's files byte for byte.  The benchmark is cut the same way into chunks of
 * SX__MC_CHUNK items, each one sx_mc_eval call, counted exactly. */
#ifndef SAETOX_STEERING_EVAL_PARTS_H
#define SAETOX_STEERING_EVAL_PARTS_H

#include "steering.h"

/* Per-prompt results, SX__EVAL_NSTAT doubles per prompt: max toxicity of its samples, 1 when
 * any sample >= 0.5, mean toxicity, fluency NLL sum, fluency token count. */
enum { SX__EVAL_NSTAT = 5 };
/* benchmark items per sx_mc_eval call */
enum { SX__MC_CHUNK = 64 };

/* Prompts per chunk: max(1, rows / samples) with rows = batch_rows (0: 256, the scheduler's
 * default block), so a chunk is one wave of the scheduler; 8 on the unbatched path. */
int64_t sx__eval_chunk(const sx_eval_opts *o);
/* Check the options against the model and the prompt count (what sx_eval_condition refuses). */
int sx__eval_check(sx_model *m, const sx_eval_opts *o, int64_t n_prompts, sx_err *err);
/* Prompts [p0, p0 + np) of the condition (p0 a multiple of the chunk, or np reaching the
 * end): generate, score, fluency; stat[(p - p0) * SX__EVAL_NSTAT + j] as above; gen_out
 * (nullable) receives their JSON lines, prompt_idx the global index. */
int sx__eval_prompts(sx_model *m, const sx_tokenizer *tok, const sx_textlist *prompts, int64_t p0, int64_t np,
                     sx_intervention *iv, const sx_eval_opts *o, const sx_scorer *scorer, const char *external_cmd,
                     const char *condition, FILE *gen_out, double *stat, sx_err *err);
/* The statistics with bootstrap CIs over all P prompts of a condition from their stat rows. */
int sx__eval_aggregate(const double *stat, int64_t P, const sx_eval_opts *o, sx_eval_result *res, sx_err *err);
#endif
