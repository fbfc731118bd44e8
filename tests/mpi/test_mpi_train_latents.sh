#!/bin/bash
# test_mpi_train_latents.sh — `mpirun -np 2 saetox train --parallel latents` (each rank holds half
# of every SAE's latents; candidate lists merged over the ranks, reconstruction summed) against
# one process with the same batch and seed: TopK (two widths in one pass, AuxK on, and with
# --grad-clip) and BatchTopK, every weight within 1e-5 after 30 steps and the same metrics
# (dead_frac over the whole width); --resume with the same N bit-exact to the uninterrupted
# run; bad inputs (a width not divisible by N, an architecture it is not built for): one line,
# every rank nonzero, nothing written.
. "$(dirname "$0")/mpi_common.sh"
T=${SAETOX_TMP:-/tmp}/mpi_train_latents
rm -rf "$T"; mkdir -p "$T"

$PY - "$T" <<'PYEOF'
import sys, h5py, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(0)
atoms = rng.normal(size=(48, 16)); atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
x = 0.02 * rng.normal(size=(4000, 16))
for r in range(4000):
    for j in rng.choice(48, 3, replace=False): x[r] += rng.uniform(0.5, 1.5) * atoms[j]
with h5py.File(f"{t}/a.h5", "w") as f: f["activations"] = x.astype(np.float32)
PYEOF
cmp_py() {
$PY - "$@" <<'PYEOF'
import sys, json, os
sys.path.insert(0, os.environ["SAETOX_SOURCE"] + "/tests")
import st_np
a, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
worst = 0.0
for sae in sorted(d for d in os.listdir(a) if os.path.isfile(f"{a}/{d}/sae_weights.safetensors")):
    A, B = st_np.read(f"{a}/{sae}/sae_weights.safetensors"), st_np.read(f"{b}/{sae}/sae_weights.safetensors")
    assert A.keys() == B.keys(), (A.keys(), B.keys())
    for k in A: worst = max(worst, float(abs(A[k] - B[k]).max()))
def rows(p):
    out = []
    for l in open(p):
        j = json.loads(l); j.pop("tokens_per_s"); out.append(j)
    return out
ma, mb = rows(f"{a}/metrics.jsonl"), rows(f"{b}/metrics.jsonl")
assert len(ma) == len(mb) and len(ma) > 0, (len(ma), len(mb))
for x, y in zip(ma, mb):
    assert x.keys() == y.keys()
    for k in x:
        if isinstance(x[k], float): assert abs(x[k] - y[k]) <= 1e-4 * max(1, abs(x[k])), (k, x[k], y[k])
        else: assert x[k] == y[k], (k, x[k], y[k])
print(f"max |w1 - w2| = {worst:.3g}")
sys.exit(0 if worst <= tol else 1)
PYEOF
}

BT=(--batch 256 --tokens 7680)
COMMON=(--cache "$T/a.h5" --seed 3 --threads 1 --quiet --log-every 5 --dead-tokens 256)
run_pair() { # name, arch options...
    local name=$1; shift
    "$BIN" train "${COMMON[@]}" "${BT[@]}" "$@" --out "$T/$name-1" 2>"$T/$name-1.err"
    check "$name: one process" "[ $? -eq 0 ]"
    "${MPI[@]}" "$BIN" train "${COMMON[@]}" "${BT[@]}" "$@" --parallel latents --out "$T/$name-2" 2>"$T/$name-2.err"
    check "$name: 2 ranks --parallel latents" "[ $? -eq 0 ]"
    check "$name: weights within 1e-5, metrics equal" "cmp_py '$T/$name-1' '$T/$name-2' 1e-5"
}
run_pair topk --arch topk --widths 64,192 --k 4
run_pair topk-clip --arch topk --widths 96 --k 4 --grad-clip 0.05
run_pair batchtopk --arch batchtopk --widths 96 --k 4
# batch 4096 x d_in 16: the reconstruction sum and the list exchange go through node shared memory
BT=(--batch 4096 --tokens 122880); run_pair topk-shm --arch topk --widths 96 --k 4; BT=(--batch 256 --tokens 7680)
check "dead latents were in play (AuxK exercised)" "grep -q '\"aux_loss\":0\.[0-9]*[1-9]' '$T/topk-1/metrics.jsonl'"

R=("${COMMON[@]}" "${BT[@]}" --arch topk --widths 64,192 --k 4 --parallel latents)
"${MPI[@]}" "$BIN" train "${R[@]}" --out "$T/res" --stop-after 15 2>"$T/res.err"
check "resume: first half stops with one checkpoint per rank" "[ $? -eq 0 ] && [ -f '$T/res/ranks/0-of-2/checkpoint/state.json' ] && [ -f '$T/res/ranks/1-of-2/checkpoint/state.json' ]"
"${MPI[@]}" "$BIN" train "${R[@]}" --out "$T/res" --resume 2>>"$T/res.err"
check "resume: second half" "[ $? -eq 0 ]"
check "resume: bit-exact to the uninterrupted 2-rank run" "cmp_py '$T/topk-2' '$T/res' 0"

"${MPI[@]}" "$BIN" train "${COMMON[@]}" "${BT[@]}" --arch topk --widths 63 --k 4 --parallel latents --out "$T/bad1" 2>"$T/bad1.err"
check "width 63 over 2 ranks: nonzero, one line, nothing written" \
    "[ $? -ne 0 ] && one_line '$T/bad1.err' && grep -q 'width 63 is not divisible by the 2 ranks' '$T/bad1.err' && [ ! -e '$T/bad1' ]"
"${MPI[@]}" "$BIN" train "${COMMON[@]}" "${BT[@]}" --arch relu --widths 64 --parallel latents --out "$T/bad2" 2>"$T/bad2.err"
check "relu under --parallel latents: nonzero, one line, nothing written" \
    "[ $? -ne 0 ] && one_line '$T/bad2.err' && grep -q 'built for topk and batchtopk' '$T/bad2.err' && [ ! -e '$T/bad2' ]"
exit $fail
