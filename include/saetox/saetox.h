/* saetox.h — the whole saetox C API in one include: #include <saetox/saetox.h> and link with
 * `pkg-config --cflags --libs saetox` (or CMake's find_package(saetox), target saetox::saetox).
 *
 *   core.h       errors (sx_err: code + message), files, dtypes, safetensors, RNG, threads,
 *                sx_init / sx_version / sx_data_dir
 *   io.h         the I/O layer: CSV reader/writer, JSONL reader, HTML entities, text sources
 *   schema.h     the typed schema of every output table (columns, types, meaning)
 *   models.h     GPT-2 / Gemma-2 inference with hooks, sampling
 *   tokenizer.h  GPT-2 byte-level BPE and HF tokenizer.json
 *   lmtrain.h    training small GPT-2 models (`saetox lm-train`)
 *   datasets.h   packing, the HDF5 activation cache
 *   sae.h        SAEs (SAELens folders, Gemma Scope npz): load, encode, decode, save
 *   trainer.h    the multithreaded SAE trainer
 *   analysis.h   toxicity latents, feature splitting, statistics, eval-sae metrics
 *   steering.h   the toxicity scorer, interventions, the steering evaluation and sweep
 *   export.h     notebook / HTML / PNG reports, the width comparison (sx_compare_*)
 *   capi.h       a flat API for language bindings (handles, caller-provided buffers)
 * Every call that can fail returns -1 (or NULL) and fills an sx_err; library code never
 * prints to stdout and never exits. */
#ifndef SAETOX_SAETOX_H
#define SAETOX_SAETOX_H

#include "version.h"
#include "core.h"
#include "io.h"
#include "schema.h"
#include "models.h"
#include "tokenizer.h"
#include "lmtrain.h"
#include "datasets.h"
#include "sae.h"
#include "trainer.h"
#include "analysis.h"
#include "steering.h"
#include "export.h"
#include "capi.h"

#endif
