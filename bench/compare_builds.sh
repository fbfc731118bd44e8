#!/bin/bash
# compare_builds.sh A B [ROUNDS] [SAE_CONFIGS]: the SAE trainer (bench_sae) and the model
# forward (bench_model) of two build folders side by side, alternating A B / B A every round
# so both see the machine in the same minutes; prints every run and the median ratio B/A.
#   bench/compare_builds.sh build-native build 5      (native build vs the portable one)
# SAE_CONFIGS: bench_sae configurations (default "topk-16384 relu-16384").
set -euo pipefail
A=${1:?usage: compare_builds.sh BUILD_A BUILD_B [ROUNDS] [SAE_CONFIGS]}; B=${2:?}
R=${3:-5}; CFGS=${4:-topk-16384 relu-16384}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
MODEL=$(mktemp -d /tmp/saetox_cmp_model.XXXXXX); trap 'rm -rf "$MODEL"' EXIT
"$A/bench_model" --keep "$MODEL" --reps 1 --skip-gen 1 --skip-forward 1 >/dev/null  # write the model once
declare -A runs
run() { # build key: append the figures of one run of each benchmark to runs[key/measure]
  local b=$1 k=$2 out
  out=$("$b/bench_model" --keep "$MODEL" --reps 3 --skip-gen 1)
  runs[$k/fwd6]+="$(sed -n 's/^forward to blocks.6.*: *\([0-9.]*\) tok\/s.*/\1/p' <<<"$out") "
  runs[$k/logits]+="$(sed -n 's/^forward, full logits.*: *\([0-9.]*\) tok\/s.*/\1/p' <<<"$out") "
  for c in $CFGS; do
    out=$("$b/bench_sae" 7 0 "$c")
    runs[$k/$c]+="$(awk -v c="$c" '$0 ~ /tok\/s \(median/ {print $3}' <<<"$out") "
  done
}
for ((i = 0; i < R; i++)); do
  if ((i % 2 == 0)); then run "$A" A; run "$B" B; else run "$B" B; run "$A" A; fi
  echo "round $((i + 1))/$R done" >&2
done
med() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2)? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf '%-22s %-48s %-48s %s\n' "tok/s" "A = $A" "B = $B" "median B/A"
for m in fwd6 logits $CFGS; do
  ma=$(med <<<"${runs[A/$m]}"); mb=$(med <<<"${runs[B/$m]}")
  printf '%-22s %-48s %-48s %.3f\n' "$m" "${runs[A/$m]}(med $ma)" "${runs[B/$m]}(med $mb)" "$(awk -v a="$ma" -v b="$mb" 'BEGIN{print b/a}')"
done
