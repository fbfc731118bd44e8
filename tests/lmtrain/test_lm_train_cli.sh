#!/usr/bin/env bash
# saetox lm-train end to end on a tiny model: a run stopped and resumed from its checkpoint
# equals the uninterrupted run bit for bit; the folder has the HF files; bad input fails
# with a one-line error.
set -u
: "${SAETOX_BIN:?}" "${SAETOX_TMP:=/tmp}"
SH="${SAETOX_SHARED:-}"
if [ -z "$SH" ] || [ ! -f "$SH/data/gpt2-tokenizer/encoder.json" ]; then
  echo "SKIP: ../shared/data/gpt2-tokenizer not found"; exit 77
fi
T="$SAETOX_TMP/lm_train_cli"; rm -rf "$T"; mkdir -p "$T"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
python_text() {
  for i in $(seq 1 60); do
    printf 'The cat number %d sat on the mat and looked at the dog.\nIt was a good day.\n\n' "$i"
  done
}
python_text > "$T/a.txt"
printf '{"t":{"x":"hello &amp; world"},"y":" and more"}\n{"t":{"x":"second line"}}\n' > "$T/b.jsonl"
printf 'id,text\n1,"a ""quoted""\nmultiline tweet"\n2,plain\n' > "$T/c.csv"
TOK="$SH/data/gpt2-tokenizer"
COMMON=(--tokenizer "$TOK" --data "$T/a.txt" --data "$T/b.jsonl#t.x+y" --data "$T/c.csv#text"
        --unescape-html --layers 1 --d-model 16 --heads 2 --ctx 16 --batch 2 --steps 8
        --warmup 2 --lr 1e-2 --eval-every 4 --eval-tokens 64 --ckpt-every 2 --threads 1 --dtype f32
        --val-frac 0.2 --seed 3)
"$SAETOX_BIN" lm-train "${COMMON[@]}" --out "$T/full" 2> "$T/full.log" || fail "full run: $(tail -1 "$T/full.log")"
"$SAETOX_BIN" lm-train "${COMMON[@]}" --out "$T/part" --stop-at 3 2> "$T/part1.log" || fail "part run"
# a resume with other tokens (here another validation split) is refused, checkpoint untouched
cp "$T/part/checkpoint.bin" "$T/ckpt3.bin"
with() { # WITH = COMMON with the values of options replaced: with OPT VAL [OPT VAL ..]
  WITH=("${COMMON[@]}"); local i
  while [ $# -ge 2 ]; do
    for i in "${!WITH[@]}"; do [ "${WITH[$i]}" = "$1" ] && WITH[$((i + 1))]=$2; done
    shift 2
  done
}
with --val-frac 0.3
"$SAETOX_BIN" lm-train "${WITH[@]}" --out "$T/part" --resume 2> "$T/part_other.log"
rc=$?; [ $rc -eq 1 ] || fail "resume on other tokens: exit $rc"
grep -q "checkpoint.bin: trained on other tokens" "$T/part_other.log" || fail "other-tokens message: $(cat "$T/part_other.log")"
cmp -s "$T/part/checkpoint.bin" "$T/ckpt3.bin" || fail "a refused resume changed the checkpoint"
# a new mtime rebuilds the token cache; the tokens are the same, so the resume goes on
touch -d '2030-01-01' "$T/a.txt"
"$SAETOX_BIN" lm-train "${COMMON[@]}" --out "$T/part" --resume 2> "$T/part2.log" || fail "resumed run: $(tail -1 "$T/part2.log")"
grep -q "resuming at step 3" "$T/part2.log" || fail "did not resume at step 3: $(cat "$T/part2.log")"
cmp -s "$T/full/model.safetensors" "$T/part/model.safetensors" || fail "resumed weights differ from the uninterrupted run"
cmp -s "$T/full/checkpoint.bin" "$T/part/checkpoint.bin" || fail "resumed checkpoint differs"
for f in config.json model.safetensors encoder.json vocab.bpe metrics.jsonl summary.json; do
  [ -s "$T/full/$f" ] || fail "missing $f"
done
grep -q '"model_type":[[:space:]]*"gpt2"' "$T/full/config.json" || fail "config.json: model_type"
grep -q '"activation_function":[[:space:]]*"gelu_new"' "$T/full/config.json" || fail "config.json: activation"
[ "$(grep -c '"val_loss"' "$T/full/metrics.jsonl")" -ge 2 ] || fail "metrics.jsonl lacks val_loss lines"
grep -q '"unigram_val_loss"' "$T/full/summary.json" || fail "summary.json lacks the unigram baseline"
# the token cache is reused (and a changed option rebuilds it)
grep -q "train tokens" "$T/full.log" || fail "no token count line"
# bad inputs: one line on stderr naming the file, exit 1
"$SAETOX_BIN" lm-train "${COMMON[@]/#$T\/b.jsonl#t.x+y/$T/b.jsonl#nope}" --out "$T/bad" 2> "$T/bad.log"
rc=$?; [ $rc -eq 1 ] || fail "missing JSONL field: exit $rc"
grep -q "b.jsonl: no line has the field" "$T/bad.log" || fail "missing field message: $(cat "$T/bad.log")"
printf 'id,text\n1,"unterminated\n' > "$T/d.csv"
"$SAETOX_BIN" lm-train --tokenizer "$TOK" --data "$T/d.csv#text" --out "$T/bad2" 2> "$T/bad2.log"
rc=$?; [ $rc -eq 1 ] || fail "bad CSV: exit $rc"
# the io CSV reader's message: file:line where the quoted field starts
grep -q "d.csv:2: unterminated quoted field" "$T/bad2.log" || fail "bad CSV message: $(cat "$T/bad2.log")"
"$SAETOX_BIN" lm-train --tokenizer "$TOK" --data "$T/a.txt" --out "$T/bad3" --d-model 15 --heads 2 2> /dev/null
rc=$?; [ $rc -eq 2 ] || fail "bad sizes: exit $rc"
"$SAETOX_BIN" lm-train --tokenizer "$TOK" --out "$T/bad4" 2> "$T/bad4.log"
rc=$?; [ $rc -eq 1 ] || fail "no --data: exit $rc"
grep -q "no text: give --data or --split-data" "$T/bad4.log" || fail "no-data message: $(cat "$T/bad4.log")"
# --split-data alone is enough (no --data)
for i in $(seq 1 40); do printf '{"prompt":{"text":"prompt %d says the cat"},"c":" sat on mat %d."}\n' "$i" "$i"; done > "$T/s.jsonl"
"$SAETOX_BIN" lm-train --tokenizer "$TOK" --split-data "$T/s.jsonl#prompt.text+c" --holdout-split 0.3 \
  --val-frac 0 --layers 1 --d-model 16 --heads 2 --ctx 16 --batch 2 --steps 2 --threads 1 --out "$T/split" 2> "$T/split.log" \
  || fail "--split-data alone: $(tail -1 "$T/split.log")"
grep -q '"heldout_docs":[[:space:]]*[1-9]' "$T/split/summary.json" || fail "--split-data alone: no held-out docs"
grep -q '"heldout_loss"' "$T/split/summary.json" || fail "--split-data alone: no held-out loss"
grep -q '"val_loss"' "$T/split/summary.json" && fail "--val-frac 0: summary.json has a val_loss"
# --init-from: the weights land where the export reads them (a step with lr 1e-30 leaves them
# unchanged, so the re-export is the same file), a resumed warm start equals the uninterrupted
# one, and a checkpoint made from other init weights, or a folder of another shape, is refused
with --steps 1 --lr 1e-30
"$SAETOX_BIN" lm-train "${WITH[@]}" --init-from "$T/full" --out "$T/init0" 2> "$T/init0.log" \
  || fail "--init-from: $(tail -1 "$T/init0.log")"
cmp -s "$T/full/model.safetensors" "$T/init0/model.safetensors" || fail "--init-from did not load the weights as exported"
# a shallower folder grows the model in depth: the new blocks start as the identity, so the
# 3-layer model's loss at that (lr 1e-30) step is the 1-layer one's
with --steps 1 --lr 1e-30 --layers 3
"$SAETOX_BIN" lm-train "${WITH[@]}" --init-from "$T/full" --out "$T/grow" 2> "$T/grow.log" \
  || fail "--init-from a shallower folder: $(tail -1 "$T/grow.log")"
grep -q '"n_layer":[[:space:]]*3' "$T/grow/config.json" || fail "grown model is not 3 layers"
v0=$(grep -o 'val loss [0-9.]*' "$T/init0.log" | tail -1); v3=$(grep -o 'val loss [0-9.]*' "$T/grow.log" | tail -1)
[ -n "$v0" ] && [ "$v0" = "$v3" ] || fail "grown model's loss '$v3' is not the source's '$v0'"
# and a folder half as wide grows it in width (twice the heads, the same head width)
with --steps 1 --lr 1e-30 --d-model 32 --heads 4
"$SAETOX_BIN" lm-train "${WITH[@]}" --init-from "$T/full" --out "$T/widen" 2> "$T/widen.log" \
  || fail "--init-from a narrower folder: $(tail -1 "$T/widen.log")"
vw=$(grep -o 'val loss [0-9.]*' "$T/widen.log" | tail -1)
[ "$v0" = "$vw" ] || fail "widened model's loss '$vw' is not the source's '$v0'"
grep -q '"init_from_weights":[[:space:]]*true' "$T/init0/summary.json" || fail "summary.json lacks init_from_weights"
"$SAETOX_BIN" lm-train "${COMMON[@]}" --init-from "$T/full" --out "$T/initA" 2> /dev/null || fail "--init-from full run"
"$SAETOX_BIN" lm-train "${COMMON[@]}" --init-from "$T/full" --out "$T/initB" --stop-at 3 2> /dev/null || fail "--init-from part run"
"$SAETOX_BIN" lm-train "${COMMON[@]}" --init-from "$T/initA" --out "$T/initB" --resume 2> "$T/initB_other.log"
rc=$?; [ $rc -eq 1 ] || fail "resume from other init weights: exit $rc"
grep -q "made with other model or training options" "$T/initB_other.log" || fail "other-init message: $(cat "$T/initB_other.log")"
"$SAETOX_BIN" lm-train "${COMMON[@]}" --init-from "$T/full" --out "$T/initB" --resume 2> "$T/initB.log" || fail "--init-from resume"
grep -q "resuming at step 3" "$T/initB.log" || fail "--init-from run did not resume at step 3"
cmp -s "$T/initA/model.safetensors" "$T/initB/model.safetensors" || fail "resumed --init-from run differs from the uninterrupted one"
cmp -s "$T/full/model.safetensors" "$T/initA/model.safetensors" && fail "--init-from run did not train"
with --ctx 8
"$SAETOX_BIN" lm-train "${WITH[@]}" --init-from "$T/full" --out "$T/init_bad" 2> "$T/init_bad.log"
rc=$?; [ $rc -eq 1 ] || fail "--init-from of another shape: exit $rc"
grep -q "init-from $T/full: $T/full/model.safetensors: tensor 'wpe.weight' has shape" "$T/init_bad.log" \
  || fail "--init-from shape message: $(cat "$T/init_bad.log")"
[ -e "$T/init_bad/model.safetensors" ] && fail "a refused --init-from wrote a model"
[ $fails -eq 0 ] && echo "all lm-train CLI checks passed"
exit $((fails > 0))
