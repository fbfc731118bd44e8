#!/bin/bash
# `saetox study` end to end at toy size (2 seeds, a 2000-row cache, 4 prompts x 1 continuation of
# 4 tokens, 10 benchmark items; seconds in Release): the tables exist and match their schemas,
# study_runs.csv has every condition of every seed, the findings agree with an independent
# recomputation from study_runs.csv (tests/study/ref_findings.py, when numpy/scipy are there),
# and bad arguments give one clear line, a nonzero exit and no output folder.
set -u
BIN=${SAETOX_BIN:?}; SRC=${SAETOX_SOURCE:?}; CHK=${SCHEMA_CHECK:?}
T=${SAETOX_TMP:-/tmp}/study_e2e
rm -rf "$T"; mkdir -p "$T"
export SAETOX_HOME=$SRC
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails+1)); fi; }
TINY=(--seeds 2 --seed0 3 --widths 256,1024 --sample-tokens 2000 --epochs 1 --samples 1 --n-prompts 4 --max-new-tokens 4
      --bench-items 10 --alphas 1,2 --threads 2 --causal-m 6 --causal-verify 2 --causal-val 3)
"$BIN" study --out "$T/out" "${TINY[@]}" > "$T/stdout" 2> "$T/stderr"
rc=$?
check "study runs (rc $rc)" "[ $rc -eq 0 ]"
[ $rc -eq 0 ] || tail -5 "$T/stderr"
for f in study_runs.csv study_seeds.csv findings.csv findings.md data/prompts.txt data/toxic.txt; do
  check "$f written" "[ -s $T/out/$f ]"
done
check "no partial folder left" "[ ! -e $T/out.partial ]"
check "tables match their schemas" "$CHK $T/out/study_runs.csv $T/out/study_seeds.csv $T/out/findings.csv"
# per seed: none, ablate, suppress@1,2, steer@1,2, cond@1,2, meandiff@1,2, banned (narrow top); steer@1,2
# (narrow single); steer@1,2 + steer-family@1,2 (wide); steer@1,2 + cond@1,2 (narrow causal); steer@1,2
# (Matryoshka) = 23
rows=$(($(wc -l < "$T/out/study_runs.csv") - 1))
check "study_runs.csv has 2 x 23 rows (got $rows)" "[ $rows -eq 46 ]"
check "causal rows: 2 seeds x 4" "[ \$(grep -c ',causal,' $T/out/study_runs.csv) -eq 8 ]"
for sd in 3 4; do
  check "seed $sd: causal_latents.csv matches its schema" "$CHK $T/out/seed-$sd/causal_latents.csv"
  # 6 candidates + 2 set sizes; exactly one chosen set; the causal sweep steers the chosen latents
  check "seed $sd: 6 candidates, 2 sets, one chosen" "[ \$(grep -c '^candidate,' $T/out/seed-$sd/causal_latents.csv) -eq 6 ] && [ \$(grep -c '^set,.*,1\$' $T/out/seed-$sd/causal_latents.csv) -eq 1 ]"
done
check "F6.causal-steer and F6.causal-vs-act reported" "grep -q '^| F6.causal-steer |' $T/stdout && grep -q '^| F6.causal-vs-act |' $T/stdout"
check "two seeds, 3 and 4" "[ \"\$(cut -d, -f1 $T/out/study_seeds.csv | tail -n +2 | tr '\n' ' ')\" = '3 4 ' ]"
check "findings.md printed" "grep -q '^| F1.steer |' $T/stdout"
check "4 evaluation prompts" "[ \$(wc -l < $T/out/data/prompts.txt) -eq 4 ]"
# the evaluation prompts are none of the selection texts
check "evaluation prompts disjoint from the selection texts" \
  "! grep -Fxq -f $T/out/data/prompts.txt $T/out/data/toxic.txt $T/out/data/clean.txt"
if /usr/bin/python3 -c "import numpy, scipy" 2>/dev/null; then
  check "findings agree with the reference recomputed from study_runs.csv" "/usr/bin/python3 - <<PY
import sys; sys.path.insert(0, '$SRC/tests/study')
import ref_findings as r
runs = r.load_runs('$T/out/study_runs.csv'); seeds = r.load_seeds('$T/out/study_seeds.csv')
bad = r.compare('$T/out/findings.csv', r.findings(runs, seeds, ('topk-256', 'topk-1024', 'matryoshka-1024')))
print('\n'.join(bad)); sys.exit(1 if bad else 0)
PY"
else
  echo "SKIP: reference check (no /usr/bin/python3 with numpy and scipy)"
fi
cp "$T/out/findings.csv" "$T/findings.first"
"$BIN" study --recompute "$T/out" > /dev/null 2>&1
check "--recompute gives the same numbers" "diff <(cut -d, -f1,4- $T/findings.first) <(cut -d, -f1,4- $T/out/findings.csv) >/dev/null"

# bad arguments: one line on stderr, nonzero exit, nothing written
bad() {
  local what=$1; shift
  rm -rf "$T/bad" "$T/bad.partial"
  "$BIN" study "$@" > /dev/null 2> "$T/err"; local r=$?
  check "$what: nonzero exit ($r), one line ($(head -c 120 "$T/err"))" \
    "[ $r -ne 0 ] && [ \$(wc -l < $T/err) -eq 1 ] && [ ! -e $T/bad ] && [ ! -e $T/bad.partial ]"
}
bad "no --out" "${TINY[@]}"
bad "--seeds 0" --out "$T/bad" --seeds 0
bad "decreasing --alphas" --out "$T/bad" --alphas 2,1
bad "one width" --out "$T/bad" --widths 1024
bad "unknown arch" --out "$T/bad" --archs jumprelu
bad "--split 1" --out "$T/bad" --split 1
bad "--budget 0.5" --out "$T/bad" --budget 0.5
bad "--causal-m 0" --out "$T/bad" --causal-m 0
bad "--causal-verify above --causal-m" --out "$T/bad" --causal-m 4 --causal-verify 5
bad "--cond-threshold -1" --out "$T/bad" --cond-threshold -1
bad "missing prompts file" --out "$T/bad" "${TINY[@]}" --eval-prompts "$T/nonexistent.txt"
mkdir -p "$T/full"; touch "$T/full/x"
"$BIN" study --out "$T/full" "${TINY[@]}" > /dev/null 2> "$T/err"; r=$?
check "non-empty --out refused, left alone" "[ $r -ne 0 ] && [ \$(wc -l < $T/err) -eq 1 ] && [ -e $T/full/x ] && [ \$(ls $T/full | wc -l) -eq 1 ]"
echo "$fails failed"
[ $fails -eq 0 ]
