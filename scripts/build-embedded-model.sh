#!/usr/bin/env bash
# build-embedded-model.sh — train the embedded demo model (models/embedded/) from scratch
# with `saetox lm-train` on the real GPT-2 tokenizer and the public text in ../shared/data:
# general text (tinyshakespeare, ETHICS commonsense scenarios) plus toxic and clean
# labelled text (RealToxicityPrompts prompt+continuation, DecodingTrust generations,
# Davidson tweets with HTML entities decoded).
#
# usage: scripts/build-embedded-model.sh [SAETOX_BIN] [RUN_DIR]
# Deterministic for a fixed --threads (1 here).  WARNING: the training text, and therefore
# the model's generations, contain offensive language by design.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$SRC/build/saetox}"
RUN="${2:-$SRC/build/embedded-run}"
D="${SAETOX_SHARED:-$SRC/../shared}/data"
OUT="$SRC/models/embedded"
exec "$BIN" lm-train \
  --tokenizer "$D/gpt2-tokenizer" \
  --data "$D/text/tinyshakespeare.txt" \
  --data "$D/text/ethics_commonsense.csv#input" \
  --data "$D/rtp/toxic.jsonl#prompt.text+continuation.text" \
  --data "$D/rtp/nontoxic.jsonl#prompt.text+continuation.text" \
  --data "$D/toxicity-labeled/gpt4_toxic_generations.jsonl#prompt.text" \
  --data "$D/toxicity-labeled/gpt35_toxic_generations.jsonl#prompt.text" \
  --data "$D/davidson/labeled_data.csv#tweet" \
  --unescape-html \
  --layers 4 --d-model 128 --heads 4 --ctx 128 \
  --batch 8 --steps 700 --lr 2e-3 --lr-min-frac 0.1 --warmup 30 --weight-decay 0.1 \
  --clip 1.0 --seed 1234 --val-frac 0.05 \
  --eval-every 50 --eval-tokens 8192 --ckpt-every 25 --resume \
  --dtype bf16 --threads 1 \
  --out "$OUT" --run-dir "$RUN"
