#!/bin/bash
# test_mpi_evaluate.sh — `mpirun -np 2 saetox evaluate` against one process on the embedded
# model with every tier (none, ablate, suppress, steer at two strengths, meandiff, banned) and a
# benchmark: steering_sweep.csv, generations.jsonl and meandiff.safetensors byte-identical; 3
# ranks too.  The split is by (condition, prompt chunk): with --batch-rows 6 and 3 samples a
# chunk is 2 prompts, so 9 prompts make chunks of 2,2,2,2,1; 3 conditions on 2 ranks and 2
# conditions on 3 ranks (fewer conditions than ranks: every rank works) both cut a
# condition's prompts between ranks; with the fluency pass and a benchmark of 70 items (two
# benchmark chunks of 64 + 6, cut too), batched and on the unbatched path (--batch-rows -1,
# chunks of 8 prompts): byte-identical to one process.  Bad inputs (an SAE
# that does not load, an output folder that cannot be made) give one line, exit nonzero on
# every rank, write nothing.
. "$(dirname "$0")/mpi_common.sh"
SRC=${SAETOX_SOURCE:?}
T=${SAETOX_TMP:-/tmp}/mpi_evaluate
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
"$BIN" cache --model "$SRC/models/embedded" --data "text:$SRC/datasets/demo/toxic.txt,text:$SRC/datasets/demo/clean.txt" \
    --hook blocks.2.hook_resid_pre --context-size 32 --tokens 3000 --threads 1 --out c.h5 >/dev/null 2>&1 &&
"$BIN" train --cache c.h5 --arch topk --widths 256 --k 8 --batch 256 --tokens 2560 --threads 1 --quiet --out sae >/dev/null 2>&1
check "setup: cache + SAE" "[ -f sae/topk-256/cfg.json ]"
E=(--model "$SRC/models/embedded" --prompts "$SRC/datasets/demo/prompts.txt" --n-prompts 6 --samples 3 --max-new-tokens 8
   --latents 1,5,9 --tiers none,ablate,suppress,steer,meandiff,banned --alphas 1,2
   --toxic "text:$SRC/datasets/demo/toxic.txt" --clean "text:$SRC/datasets/demo/clean.txt"
   --bench "$SRC/datasets/demo/benchmark.jsonl" --bench-n 8 --bootstrap 100 --threads 1 --seed 4)
"$BIN" evaluate "${E[@]}" --sae sae/topk-256 --out ev1 2>err1.txt
check "one process" "[ $? -eq 0 ]"
"${MPI[@]}" "$BIN" evaluate "${E[@]}" --sae sae/topk-256 --out ev2 2>err2.txt
check "2 ranks" "[ $? -eq 0 ]"
same() { for f in steering_sweep.csv generations.jsonl meandiff.safetensors; do cmp -s "ev1/$f" "$1/$f" || return 1; done; }
check "2 ranks: the three files byte-identical" "same ev2"
check "2 ranks: one progress line per condition (rank 0 only)" "[ \$(grep -c ' emt ' err2.txt) -eq \$(grep -c ' emt ' err1.txt) ] && [ \$(grep -c 'scales A_i' err2.txt) -eq 1 ]"
"${MPI3[@]}" "$BIN" evaluate "${E[@]}" --sae sae/topk-256 --out ev3 2>err3.txt
check "3 ranks: byte-identical" "[ $? -eq 0 ] && same ev3"
# (condition, prompt) split: 2 conditions, 7 prompts in chunks of 2 (--batch-rows 6 / 3 samples)
$PY - "$SRC/datasets/demo/benchmark.jsonl" bench70.jsonl <<'PYEOF'
import sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
open(sys.argv[2], "w").writelines((lines * (70 // len(lines) + 1))[:70])
PYEOF
F=(--model "$SRC/models/embedded" --prompts "$SRC/datasets/demo/prompts.txt" --n-prompts 9 --samples 3 --max-new-tokens 8
   --latents 1,5,9 --tiers none,steer --bench bench70.jsonl --bootstrap 100 --threads 1 --seed 6)
# units: conditions x 5 prompt chunks (2,2,2,2,1 prompts; unbatched 2 chunks: 8,1) and
# conditions x 2 benchmark chunks, cut in contiguous stretches: 2 ranks get 3 conditions
# (none, steer@1, steer@2: rank 0 has steer@1's first 2 prompt chunks (unbatched: 1) and its
# first benchmark chunk, rank 1 the rest), 3 ranks 2 conditions (rank 1 has none's last 2
# prompt chunks and steer@2's first; unbatched: rank 0 and 1 one chunk of none each), so a
# condition's prompts and items are cut between ranks in every case
for br in 6 -1; do
    for np in 2 3; do
        al=2; [ $np -eq 2 ] && al=1,2; nc=$(( np == 2 ? 3 : 2 ))
        "$BIN" evaluate "${F[@]}" --alphas $al --batch-rows $br --sae sae/topk-256 --out f1_${np}_$br 2>errf1.txt
        check "$nc conditions, batch-rows $br: one process" "[ $? -eq 0 ] && [ \$(grep -c ' emt ' errf1.txt) -eq $nc ]"
        MPIN=("${MPI[@]}"); MPIN[4]=$np
        "${MPIN[@]}" "$BIN" evaluate "${F[@]}" --alphas $al --batch-rows $br --sae sae/topk-256 --out f${np}_$br 2>errf$np.txt
        check "$nc conditions on $np ranks, batch-rows $br: steering_sweep.csv and generations.jsonl byte-identical" \
            "[ $? -eq 0 ] && cmp -s f1_${np}_$br/steering_sweep.csv f${np}_$br/steering_sweep.csv && cmp -s f1_${np}_$br/generations.jsonl f${np}_$br/generations.jsonl"
        check "$nc conditions on $np ranks, batch-rows $br: one line per condition" "[ \$(grep -c ' emt ' errf$np.txt) -eq $nc ]"
    done
done
# the fluency and benchmark columns were in play (not empty), and 9 prompts x 3 samples per condition
check "fluency and accuracy filled, 54 generations" \
    "$PY -c \"import csv,sys; r=list(csv.DictReader(open('f1_3_6/steering_sweep.csv'))); sys.exit(not (len(r)==2 and all(x['ppl'] and x['acc'] and x['acc_n']=='70' and x['n_prompts']=='9' for x in r)))\" && [ \$(wc -l < f1_3_6/generations.jsonl) -eq 54 ]"
# bad inputs
"${MPI[@]}" "$BIN" evaluate "${E[@]}" --sae "$T/nosae" --out bad1 2>errb1.txt
check "SAE that does not load: nonzero, one line, nothing written" "[ $? -ne 0 ] && one_line errb1.txt && [ ! -e bad1 ]"
touch afile
"${MPI[@]}" "$BIN" evaluate "${E[@]}" --sae sae/topk-256 --out afile/sub 2>errb2.txt
check "output folder that cannot be made: nonzero, one error line naming rank 0 (after the scales line)" \
    "[ $? -ne 0 ] && [ \$(grep -c 'rank [0-9] of 2' errb2.txt) -eq 1 ] && grep -q 'rank 0 of 2: afile/sub: cannot create' errb2.txt && [ \$(grep -c . errb2.txt) -eq 2 ]"
exit $fail
