#!/bin/bash
# test_mpi_evaluate.sh — `mpirun -np 2 saetox evaluate` against one process on the embedded
# model with every tier (none, ablate, suppress, steer at two strengths, meandiff, banned) and a
# benchmark: steering_sweep.csv, generations.jsonl and meandiff.safetensors byte-identical; 3
# ranks (more ranks than some share) too; bad inputs (an SAE that does not load, an output
# folder that cannot be made) give one line, exit nonzero on every rank, write nothing.
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
MPI3=("${MPI[@]}"); MPI3[4]=3
"${MPI3[@]}" "$BIN" evaluate "${E[@]}" --sae sae/topk-256 --out ev3 2>err3.txt
check "3 ranks: byte-identical" "[ $? -eq 0 ] && same ev3"
# bad inputs
"${MPI[@]}" "$BIN" evaluate "${E[@]}" --sae "$T/nosae" --out bad1 2>errb1.txt
check "SAE that does not load: nonzero, one line, nothing written" "[ $? -ne 0 ] && one_line errb1.txt && [ ! -e bad1 ]"
touch afile
"${MPI[@]}" "$BIN" evaluate "${E[@]}" --sae sae/topk-256 --out afile/sub 2>errb2.txt
check "output folder that cannot be made: nonzero, one error line naming rank 0 (after the scales line)" \
    "[ $? -ne 0 ] && [ \$(grep -c 'rank [0-9] of 2' errb2.txt) -eq 1 ] && grep -q 'rank 0 of 2: afile/sub: cannot create' errb2.txt && [ \$(grep -c . errb2.txt) -eq 2 ]"
exit $fail
