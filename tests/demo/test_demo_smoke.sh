#!/usr/bin/env bash
# Smoke test of `saetox demo` at toy size; needs nothing from ../shared.
set -euo pipefail
out="$SAETOX_TMP/demo-smoke"
rm -rf "$out"
"$SAETOX_BIN" demo --out "$out" --sample-tokens 10000 --epochs 1 --samples 1 --seed 7 > "$out.stdout" 2> "$out.stderr" || {
  echo "demo failed:"; tail -20 "$out.stderr"; exit 1; }
fail=0
for f in activations.h5 topk-1024/cfg.json topk-4096/sae_weights.safetensors metrics.jsonl \
         analysis/pairs.csv analysis/families.csv analysis/toxic_latents.csv analysis/latent_stats.csv \
         steering_sweep.csv summary.md report/dashboard.html report/report.ipynb \
         findings.csv findings.md steer-causal/causal_latents.csv steer-causal/steering_sweep.csv; do
  [ -s "$out/$f" ] || { echo "FAIL: missing $out/$f"; fail=1; }
done
ls "$out"/report/plots/*.png >/dev/null 2>&1 || { echo "FAIL: no PNG plots"; fail=1; }
# one sweep row per condition: 12 on the narrow SAE + 4 on the wide one
rows=$(($(wc -l < "$out/steering_sweep.csv") - 1))
[ "$rows" -eq 16 ] || { echo "FAIL: steering_sweep.csv has $rows rows, expected 16"; fail=1; }
grep -q "Aggressive tier" "$out.stdout" || { echo "FAIL: summary lacks the aggressive-tier line"; fail=1; }
grep -q "| none |" "$out.stdout" || { echo "FAIL: summary lacks the no-intervention row"; fail=1; }
# the study's findings on the demo's one seed (issue 19 item 4): every finding a row, F6.causal-* measured
grep -q "The study's findings on this run" "$out.stdout" || { echo "FAIL: summary lacks the findings table"; fail=1; }
for f in F1.steer F3 F4.split F4.steer F5.steer F6.steer F6.causal-steer F6.causal-cond F6.causal-vs-act; do
  grep -q "^| $f | .* | [-0-9.e+]* | " "$out.stdout" || { echo "FAIL: summary lacks finding $f"; fail=1; }
done
grep -q "^| F6.causal-steer | .* | - | not measured |" "$out.stdout" && { echo "FAIL: F6.causal-steer not measured"; fail=1; }
# the splitting line: the children it names are pairs of pairs.csv with the parent it names
split=$(grep -E "^Splitting compared below|^No top narrow toxic latent" "$out.stdout" || true)
if [ -z "$split" ]; then echo "FAIL: summary lacks the splitting line"; fail=1
elif [[ "$split" == Splitting* ]]; then
  parent=$(sed -E 's/.*narrow toxic latent ([0-9]+) split.*/\1/' <<<"$split")
  for kid in $(sed -E 's/.*>= [0-9.]+: (.*); the single.*/\1/' <<<"$split" | grep -oE '[0-9]+ \(' | tr -d ' ('); do
    grep -q "^$parent,$kid," "$out/analysis/pairs.csv" || { echo "FAIL: $parent,$kid is not in pairs.csv"; fail=1; }
  done
fi
grep -qE "vs all [0-9]+ children|alone EMT .*no split to compare" "$out.stdout" ||
  { echo "FAIL: summary lacks the single-vs-children lines"; fail=1; }
# the Matryoshka SAE beside the TopK pair: its row in the SAE table, its toxic latent's group,
# and the latent is one analyze toxic ranked first for it
grep -qE "^\| matryoshka-[0-9]+ \|" "$out.stdout" || { echo "FAIL: the SAE table lacks the Matryoshka row"; fail=1; }
mat=$(grep -E "^Matryoshka SAE \(" "$out.stdout" || true)
if [ -z "$mat" ]; then echo "FAIL: summary lacks the Matryoshka paragraph"; fail=1
else
  lat=$(sed -E 's/.*top toxic latent ([0-9]+) is in group.*/\1/' <<<"$mat")
  grep -qE "^matryoshka-[0-9]+,$lat,1," "$out/analysis-matryoshka/toxic_latents.csv" ||
    { echo "FAIL: Matryoshka latent $lat is not rank 1 in analysis-matryoshka/toxic_latents.csv"; fail=1; }
fi
# Markdown tables: every row of the toxic-latent table has its 6 cells (a '|' inside a token is escaped)
bad=$(grep -E "^\| topk-[0-9]+ \| [0-9]+ \|" "$out.stdout" | sed 's/\\|//g' | awk -F'|' 'NF != 8' | head -1)
[ -z "$bad" ] || { echo "FAIL: a summary table row has a stray '|': $bad"; fail=1; }
# the --help contract
"$SAETOX_BIN" demo --help | grep -q -- "--seed" || { echo "FAIL: demo --help"; fail=1; }
if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
