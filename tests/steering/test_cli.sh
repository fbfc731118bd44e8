#!/bin/bash
# test_cli.sh — score-toxicity / train-scorer / evaluate through the saetox program:
# outputs, exit codes and one-line errors for bad inputs, the sweep CSV header.
set -u
BIN=${SAETOX_BIN:?}
T=${SAETOX_TMP:-/tmp}/steering_cli
rm -rf "$T"; mkdir -p "$T"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

printf '%s\n' '{"text":"Have a lovely day, friend.","id":7}' '{"text":"shut up you stupid idiot"}' > "$T/in.jsonl"
"$BIN" score-toxicity --in "$T/in.jsonl" --out "$T/out.jsonl"
check "score-toxicity exit 0" "[ $? -eq 0 ]"
check "two lines with toxicity" "[ \$(grep -c '\"toxicity\":' $T/out.jsonl) -eq 2 ]"
check "fields kept" "grep -q '\"id\":7' $T/out.jsonl"
/usr/bin/python3 - "$T/out.jsonl" <<'PY' || fail=1
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert 0 <= r[0]["toxicity"] < 0.5 < r[1]["toxicity"] <= 1, r
print("ok: clean < 0.5 < toxic")
PY
printf 'garbage' > "$T/bad.bin"
"$BIN" score-toxicity --in "$T/in.jsonl" --weights "$T/bad.bin" 2> "$T/err.txt"
check "corrupt weights exit 1" "[ $? -eq 1 ]"
check "one-line error naming the file" "[ \$(wc -l < $T/err.txt) -eq 1 ] && grep -q 'bad.bin' $T/err.txt"
echo '{"text": 5}' > "$T/badin.jsonl"
"$BIN" score-toxicity --in "$T/badin.jsonl" 2> "$T/err.txt"
check "non-string text exit 1" "[ $? -eq 1 ] && grep -q 'badin.jsonl:1' $T/err.txt"
# Python's json.dumps writes a lone surrogate as "\ud800"; \u0000 once cut the text there.
# Both become U+FFFD and the rest of the text is kept (core/jsonl.c).
printf '%s\n' '{"text":"broken \ud800 text, then more"}' '{"text":"a\u0000 you stupid idiot"}' > "$T/odd.jsonl"
"$BIN" score-toxicity --in "$T/odd.jsonl" --out "$T/odd_out.jsonl" 2> "$T/err.txt"
check "lone surrogate and NUL accepted" "[ $? -eq 0 ]"
/usr/bin/python3 - "$T/odd_out.jsonl" <<'PY' || fail=1
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert r[0]["text"] == "broken \ufffd text, then more", r[0]
assert r[1]["text"] == "a\ufffd you stupid idiot" and r[1]["toxicity"] > 0.5, r[1]
print("ok: U+FFFD in place, the rest of the text kept and scored")
PY
"$BIN" score-toxicity --in "$T/in.jsonl" --external-cmd "sed 's/.*/0.25/'" > "$T/ext.jsonl"
check "external command scores" "[ \$(grep -c '\"toxicity\":0.25' $T/ext.jsonl) -eq 2 ]"

# train-scorer on a tiny labelled set
for i in $(seq 1 40); do echo "{\"text\":\"you idiot number $i\",\"label\":1}"; echo "{\"text\":\"nice sunny day $i\",\"label\":0}"; done > "$T/lab.jsonl"
"$BIN" train-scorer --data "jsonl:$T/lab.jsonl" --out "$T/w.bin" --report "$T/r.json" --holdout-frac 0.3 --log2-buckets 12 2>/dev/null
check "train-scorer exit 0" "[ $? -eq 0 ] && [ -s $T/w.bin ] && grep -q auroc $T/r.json"
"$BIN" score-toxicity --in "$T/in.jsonl" --weights "$T/w.bin" > /dev/null
check "trained weights load" "[ $? -eq 0 ]"

SH=${SAETOX_SHARED:-}
if [ -z "$SH" ] || [ ! -d "$SH/fixtures/gpt2-tiny" ]; then echo "SKIP evaluate part: no fixtures"; exit $fail; fi
M="$T/model"; mkdir -p "$M"
ln -sf "$SH/fixtures/gpt2-tiny/config.json" "$SH/fixtures/gpt2-tiny/model.safetensors" "$M/"
ln -sf "$SH/data/gpt2-tokenizer/encoder.json" "$SH/data/gpt2-tokenizer/vocab.bpe" "$M/"
SAE="$SH/fixtures/sae/saelens-relu"
: > "$T/empty.txt"
"$BIN" evaluate --model "$M" --prompts "$T/empty.txt" --tiers none --out "$T/ev" 2> "$T/err.txt"
check "empty prompt file exit 1" "[ $? -eq 1 ] && grep -q 'empty.txt' $T/err.txt"
printf 'Shut up, you\nThe weather is\n' > "$T/prompts.txt"
"$BIN" evaluate --model "$M" --prompts "$T/prompts.txt" --sae "$SAE" --latents 3,256 --tiers none,ablate --out "$T/ev" 2> "$T/err.txt"
check "latent >= d_sae exit 1" "[ $? -eq 1 ] && grep -q 'out of range' $T/err.txt && [ \$(wc -l < $T/err.txt) -eq 1 ]"
"$BIN" evaluate --model "$M" --prompts "$T/prompts.txt" --sae "$SAE" --hook blocks.0.hook_resid_post --latents 3 --tiers ablate --out "$T/ev" 2> "$T/err.txt"
check "SAE hook mismatch exit 1" "[ $? -eq 1 ] && grep -q 'hook' $T/err.txt"
check "nothing half-written" "[ ! -e $T/ev/steering_sweep.csv ]"
# generate with steering options
g0=$("$BIN" generate --model "$M" --prompt "You are a" --max-new-tokens 6 --greedy --print-ids | tail -1)
g1=$("$BIN" generate --model "$M" --prompt "You are a" --max-new-tokens 6 --greedy --print-ids --sae "$SAE" --latents 3,17 --tier steer --alpha 50 | tail -1)
check "generate --tier steer changes the greedy ids ($g0 vs $g1)" "[ -n \"$g0\" ] && [ -n \"$g1\" ] && [ \"$g0\" != \"$g1\" ]"
"$BIN" generate --model "$M" --prompt "x" --sae "$SAE" --latents 999 --tier steer 2> "$T/err.txt" > /dev/null
check "generate: latent out of range exit 1" "[ $? -eq 1 ] && grep -q 'out of range' $T/err.txt"
"$BIN" evaluate --model "$M" --prompts "$T/prompts.txt" --sae "$SAE" --latents 3,17 --tiers none,ablate,steer,banned --alphas 1 \
  --samples 2 --max-new-tokens 4 --toxic "$T/prompts.txt" --bench "$SH/data/hellaswag" --bench-n 3 --bootstrap 100 --out "$T/ev" 2> "$T/log.txt"
check "evaluate exit 0" "[ $? -eq 0 ]"
check "sweep header" "[ \"\$(head -1 $T/ev/steering_sweep.csv)\" = 'condition,tier,alpha,latents,n_prompts,n_samples,emt,emt_lo,emt_hi,tox_prob,tox_prob_lo,tox_prob_hi,mean_tox,mean_tox_lo,mean_tox_hi,ppl,ppl_lo,ppl_hi,acc,acc_norm,acc_n' ]"
check "four conditions" "[ \$(wc -l < $T/ev/steering_sweep.csv) -eq 5 ]"
check "generations: 4 conditions x 2 prompts x 2 samples" "[ \$(wc -l < $T/ev/generations.jsonl) -eq 16 ]"
/usr/bin/python3 - "$T/ev" <<'PY' || fail=1
import sys, pandas as pd
d = pd.read_csv(sys.argv[1] + "/steering_sweep.csv")
assert list(d.tier) == ["none", "ablate", "steer", "banned"], d.tier
assert (d.emt_lo <= d.emt).all() and (d.emt <= d.emt_hi).all()
assert ((d.acc >= 0) & (d.acc <= 1)).all() and (d.acc_n == 3).all()
assert (d.ppl > 1).all()
g = pd.read_json(sys.argv[1] + "/generations.jsonl", lines=True)
assert set(g.columns) >= {"condition", "prompt", "continuation", "toxicity"}
print("ok: CSV and generations readable by pandas")
PY
exit $fail
