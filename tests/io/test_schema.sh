#!/bin/bash
# test_schema.sh — every stage's output table against include/saetox/schema.h: a small pipeline on the
# gpt2-tiny fixture (cache, train, analyze stats / split / toxic, eval-sae, evaluate, export)
# and each CSV's header must be exactly its schema's columns, in order; metrics.jsonl must
# carry every schema key.  Also: io/README.md lists exactly the schemas (`schema_check
# --markdown` between its SCHEMAS markers).
set -u
SRC=${SAETOX_SOURCE:?}
CHK=${SCHEMA_CHECK:?}
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails+1)); fi; }
T=${SAETOX_TMP:-/tmp}/io_schema
rm -rf "$T"; mkdir -p "$T"
"$CHK" --markdown > "$T/want.md"
sed -n '/<!-- SCHEMAS BEGIN/,/<!-- SCHEMAS END/p' "$SRC/io/README.md" | sed '1d;$d' > "$T/got.md"
check "io/README.md lists the schemas of include/saetox/schema.h" "diff -u $T/want.md $T/got.md"

SH=${SAETOX_SHARED:-}
if [ -z "$SH" ] || [ ! -d "$SH/fixtures/gpt2-tiny" ] || [ ! -d "$SH/data/rtp" ]; then
  echo "SKIP pipeline: ../shared (fixtures, data) not found"; [ $fails -eq 0 ] && exit 77; exit 1
fi
BIN=$SAETOX_BIN
M=$SH/fixtures/gpt2-tiny; TOK=$SH/data/gpt2-tokenizer; SAE=$SH/fixtures/sae/saelens-relu
head -c 20000 "$SH/data/text/tinyshakespeare.txt" > "$T/shake.txt"
head -30 "$SH/data/rtp/toxic.jsonl" > "$T/tox.jsonl"; head -30 "$SH/data/rtp/nontoxic.jsonl" > "$T/clean.jsonl"
run() { "$@" > "$T/log" 2>&1 || { echo "FAIL: $*"; cat "$T/log"; fails=$((fails+1)); }; }
run "$BIN" cache --model "$M" --tokenizer "$TOK" --data "text:$T/shake.txt" --hook blocks.1.hook_resid_post \
  --context-size 64 --tokens 1500 --out "$T/c.h5"
run "$BIN" train --cache "$T/c.h5" --arch topk --widths 32,64 --k 4,8 --batch 64 --tokens 1280 --log-every 5 --quiet --out "$T/run/train"
run "$BIN" analyze stats --sae "$SAE" --cache "$T/c.h5" --tokenizer "$TOK" --quiet --out "$T/run/stats"
run "$BIN" analyze split --sae "$SAE" --sae "$SAE" --name narrow --name wide --quiet --out "$T/run/split"
run "$BIN" analyze toxic --model "$M" --tokenizer "$TOK" --sae "$SAE" --name narrow \
  --toxic "jsonl:$T/tox.jsonl#prompt.text" --clean "jsonl:$T/clean.jsonl#prompt.text" \
  --top 5 --families "$T/run/split" --quiet --out "$T/run/toxic"
run "$BIN" eval-sae --model "$M" --tokenizer "$TOK" --sae "$SAE" --data "text:$T/shake.txt" --context-size 32 --tokens 256 --out "$T/run/eval"
head -c 400 "$T/shake.txt" | tr -s '\n' | head -3 > "$T/prompts.txt"
EM="$T/model"; mkdir -p "$EM" # evaluate reads the tokenizer from the model folder
ln -sf "$M/config.json" "$M/model.safetensors" "$TOK/encoder.json" "$TOK/vocab.bpe" "$EM/"
run "$BIN" evaluate --model "$EM" --prompts "$T/prompts.txt" --sae "$SAE" --latents 3,17 --tiers none,ablate \
  --alphas 1 --samples 1 --max-new-tokens 3 --bootstrap 20 --out "$T/run/steering"
run "$BIN" export --in "$T/run" --out "$T/report" --no-plots --no-html --no-notebook
for f in train/metrics.jsonl stats/latent_stats.csv stats/top_contexts.csv split/pairs.csv split/families.csv \
         split/best_matches.csv toxic/latent_effects.csv toxic/toxic_latents.csv toxic/family_effects.csv \
         eval/sae_eval.csv steering/steering_sweep.csv; do
  check "$f matches its schema" "$CHK $T/run/$f"
done
for f in training_metrics.csv family_comparison.csv width_comparison.csv steering_sweep.csv pairs.csv; do
  check "export $f matches its schema" "$CHK $T/report/$f"
done
lat=$(ls "$T/report"/latents_*.csv 2>/dev/null | head -1)
check "export latents_<sae>.csv matches its schema" "[ -n \"$lat\" ] && $CHK $lat"
echo "$fails failed"
[ $fails -eq 0 ]
