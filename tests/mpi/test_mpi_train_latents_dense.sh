#!/bin/bash
# test_mpi_train_latents_dense.sh — `mpirun -np 2 saetox train --parallel latents` for the dense
# architectures (ReLU / L1, JumpReLU, Gated; train/train_lp.c): each rank holds half of every
# SAE's latents, the decoder output of each row block is summed over the ranks.  Against one
# process with the same batch and seed: every weight within 1e-5 after 30 steps and the same
# metrics (two widths in one pass, with --grad-clip, with the row-block split: widths whose
# blocks are shorter than the batch); --resume with the same N bit-exact to the uninterrupted run.
. "$(dirname "$0")/mpi_common.sh"
T=${SAETOX_TMP:-/tmp}/mpi_train_latents_dense
rm -rf "$T"; mkdir -p "$T"

latents_setup "$T"
run_pair relu --arch relu --widths 64,192
run_pair relu-clip --arch relu --widths 96 --grad-clip 0.05
run_pair jumprelu --arch jumprelu --widths 64,96
run_pair gated --arch gated --widths 96
# a batch of 4096 rows at width 96 is one row block whose reconstruction sum goes through node
# shared memory (4096 x 16 floats >= 2^16); width 131072 makes the row block 128 rows
# (sx_scratch_init: 16M / width), two blocks per batch of 256, two sums per step (5 steps)
BT=(--batch 4096 --tokens 122880); run_pair relu-shm --arch relu --widths 96
BT=(--batch 256 --tokens 1280); run_pair relu-blocks --arch relu --widths 131072; BT=(--batch 256 --tokens 7680)

for a in jumprelu gated; do
    R=("${COMMON[@]}" "${BT[@]}" --arch $a --widths 64,96 --parallel latents)
    [ $a = gated ] && R=("${COMMON[@]}" "${BT[@]}" --arch gated --widths 96 --parallel latents)
    "${MPI[@]}" "$BIN" train "${R[@]}" --out "$T/res-$a" --stop-after 15 2>"$T/res-$a.err"
    check "$a resume: first half stops with one checkpoint per rank" "[ $? -eq 0 ] && [ -f '$T/res-$a/ranks/0-of-2/checkpoint/state.json' ] && [ -f '$T/res-$a/ranks/1-of-2/checkpoint/state.json' ]"
    "${MPI[@]}" "$BIN" train "${R[@]}" --out "$T/res-$a" --resume 2>>"$T/res-$a.err"
    check "$a resume: second half" "[ $? -eq 0 ]"
    check "$a resume: bit-exact to the uninterrupted 2-rank run" "cmp_py '$T/$a-2' '$T/res-$a' 0"
done
exit $fail
