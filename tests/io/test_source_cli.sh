#!/bin/bash
# test_source_cli.sh — the commands that read text take the SOURCE syntax of io.h:
# score-toxicity --in, train-scorer --data SOURCE;score=..., evaluate --prompts (and lm-train,
# through sx_lm_read_docs, in tests/lmtrain); a gzip'd JSONL and a CSV with quoted newlines.
set -u
BIN=${SAETOX_BIN:?}
T=${SAETOX_TMP:-/tmp}/io_source_cli
rm -rf "$T"; mkdir -p "$T"
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails+1)); fi; }
printf 'id,tweet\n1,"you are a lovely\nperson &amp; friend"\n2,shut up you idiot\n' > "$T/t.csv"
"$BIN" score-toxicity --in "csv:$T/t.csv#tweet" --out "$T/s.jsonl" 2> "$T/err"
check "score-toxicity --in csv:SOURCE" "[ \$? -eq 0 ] && [ \$(wc -l < $T/s.jsonl) -eq 2 ] && grep -q '\"text\":\"you are a lovely\\\\nperson &amp; friend\"' $T/s.jsonl && grep -q toxicity $T/s.jsonl"
for i in $(seq 1 30); do
  echo "{\"m\":{\"t\":\"you stupid idiot number $i\"},\"y\":1}"
  echo "{\"m\":{\"t\":\"a lovely day in the park $i\"},\"y\":0}"
done | gzip > "$T/lab.jsonl.gz"
"$BIN" score-toxicity --in "jsonl:$T/lab.jsonl.gz#m.t" > "$T/s2.jsonl" 2> "$T/err"
check "score-toxicity --in jsonl:F.gz#field" "[ \$? -eq 0 ] && [ \$(wc -l < $T/s2.jsonl) -eq 60 ]"
"$BIN" train-scorer --data "jsonl:$T/lab.jsonl.gz#m.t;score=y" --out "$T/w.bin" --report "$T/r.json" \
  --holdout-frac 0.3 --log2-buckets 12 2> "$T/err"
check "train-scorer --data SOURCE;score=FIELD" "[ \$? -eq 0 ] && [ -s $T/w.bin ] && grep -q auroc $T/r.json"
"$BIN" train-scorer --data "jsonl:$T/lab.jsonl.gz#m.t;score=y>=1@2" --out "$T/w2.bin" --holdout-frac 0.3 --log2-buckets 12 2> "$T/err"
check "train-scorer --data SOURCE;score=RULE@WEIGHT" "[ \$? -eq 0 ] && [ -s $T/w2.bin ]"
"$BIN" train-scorer --data "jsonl:$T/lab.jsonl.gz#m.t;score=nothere" --out "$T/w3.bin" 2> "$T/err"
check "train-scorer: no labelled examples is an error" "[ \$? -eq 1 ] && grep -q 'no labelled examples' $T/err"
SH=${SAETOX_SHARED:-}
if [ -n "$SH" ] && [ -d "$SH/fixtures/gpt2-tiny" ] && [ -d "$SH/data/gpt2-tokenizer" ]; then
  M="$T/model"; mkdir -p "$M"
  ln -sf "$SH/fixtures/gpt2-tiny/config.json" "$SH/fixtures/gpt2-tiny/model.safetensors" "$M/"
  ln -sf "$SH/data/gpt2-tokenizer/encoder.json" "$SH/data/gpt2-tokenizer/vocab.bpe" "$M/"
  "$BIN" evaluate --model "$M" --prompts "jsonl:$T/lab.jsonl.gz#m.t" --n-prompts 3 --tiers none --samples 1 \
    --max-new-tokens 2 --bootstrap 10 --out "$T/ev" 2> "$T/err"
  check "evaluate --prompts jsonl:F.gz#field" "[ \$? -eq 0 ] && awk -F, 'NR==2{exit \$5!=3}' $T/ev/steering_sweep.csv"
else
  echo "SKIP evaluate part: no fixtures"
fi
echo "$fails failed"
[ $fails -eq 0 ]
