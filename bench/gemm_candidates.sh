#!/bin/bash
# gemm_candidates.sh BUILD [ROUNDS]: compile bench/candidates/gemm_candidates.c against the
# build's libsaetox.a, oneDNN (libdnnl-dev) and libxsmm (libxsmm-dev), and print GFLOP/s of
# every engine at the model's and the SAE trainer's shapes, measured in one run.
set -euo pipefail
B=${1:?usage: gemm_candidates.sh BUILD [ROUNDS]}; R=${2:-3}
S=$(cd "$(dirname "$0")/.." && pwd)
[ -f /usr/include/oneapi/dnnl/dnnl.h ] && [ -f /usr/include/libxsmm.h ] ||
  { echo "needs libdnnl-dev and libxsmm-dev (apt-get install -y libdnnl-dev libxsmm-dev)"; exit 77; }
OB=$(ls -d /usr/lib/x86_64-linux-gnu/openblas-openmp 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)
OUT=$(mktemp /tmp/gemm_candidates.XXXXXX); trap 'rm -f "$OUT"' EXIT
gcc -O2 -fopenmp -I"$S/core" -I"$S/include/saetox" -I"$S/include" -I"$B/generated/include" -I/usr/include/openblas \
  "$S/bench/candidates/gemm_candidates.c" "$B/libsaetox.a" -L/usr/lib -lxsmmext -lxsmm -lxsmmnoblas -ldnnl \
  -L"$OB" -Wl,-rpath,"$OB" -lopenblas -lcjson -larchive -lhdf5_serial -lm -ldl -lpthread -o "$OUT"
"$OUT" "$R"
