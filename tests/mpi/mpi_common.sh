# mpi_common.sh — sourced by the tests/mpi scripts: find mpirun (skip with a message when it is
# absent), the flags this machine needs (root in CI, 2 ranks on fewer cores), a checker.
set -u
BIN=${SAETOX_BIN:?}
PY=/usr/bin/python3
MPIRUN=$(command -v mpirun) || { echo "SKIP: mpirun not found (install openmpi-bin)"; exit 77; }
$PY -c "import h5py, numpy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks h5py"; exit 77; }
# -q: no Open MPI banners (saetox's own line is the error report); --oversubscribe: 2 ranks
# may exceed the cores; as root (CI containers) Open MPI needs --allow-run-as-root.
MPI=("$MPIRUN" -q --oversubscribe -np 2) MPI3=("$MPIRUN" -q --oversubscribe -np 3)
[ "$(id -u)" -eq 0 ] && MPI+=(--allow-run-as-root) MPI3+=(--allow-run-as-root)
# sanitizer builds: Open MPI's own allocations at exit are not saetox's leaks
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
# one line from saetox on stderr (mpirun -q adds nothing), no other rank's copy
one_line() { [ "$(grep -c . "$1")" -eq 1 ] && grep -q "rank [0-9] of 2" "$1"; }
# planted_cache DIR: DIR/a.h5, 4000 rows of d 16, each a sum of 3 of 48 random unit atoms plus noise
planted_cache() {
$PY - "$1" <<'PYEOF'
import sys, h5py, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(0)
atoms = rng.normal(size=(48, 16)); atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
x = 0.02 * rng.normal(size=(4000, 16))
for r in range(4000):
    for j in rng.choice(48, 3, replace=False): x[r] += rng.uniform(0.5, 1.5) * atoms[j]
with h5py.File(f"{t}/a.h5", "w") as f: f["activations"] = x.astype(np.float32)
PYEOF
}
# cmp_py A B TOL: max |a - b| over every tensor of two SAE folders <= TOL, the same
# safetensors header and file size, the same cfg.json, and their metrics lines (all but
# tokens_per_s) equal
cmp_py() {
$PY - "$@" <<'PYEOF'
import sys, json, os
sys.path.insert(0, os.environ["SAETOX_SOURCE"] + "/tests")
import st_np
a, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
# optional: elements above tol are allowed up to hard, if they are at most 1 in 1000
hard = float(sys.argv[4]) if len(sys.argv) > 4 else tol
worst, over, total = 0.0, 0, 0
for sae in sorted(d for d in os.listdir(a) if os.path.isfile(f"{a}/{d}/sae_weights.safetensors")):
    A, B = st_np.read(f"{a}/{sae}/sae_weights.safetensors"), st_np.read(f"{b}/{sae}/sae_weights.safetensors")
    assert A.keys() == B.keys(), (A.keys(), B.keys())
    # the same file layout (header bytes: tensor order, shapes, offsets) and the same cfg.json
    ha, hb = (open(f"{x}/{sae}/sae_weights.safetensors", "rb").read() for x in (a, b))
    n = 8 + int.from_bytes(ha[:8], "little")
    assert len(ha) == len(hb) and ha[:n] == hb[:n], (sae, "safetensors headers differ")
    ca, cb = (json.load(open(f"{x}/{sae}/cfg.json")) for x in (a, b))
    assert ca == cb, (sae, ca, cb)
    for k in A:
        dk = abs(A[k] - B[k])
        worst, over, total = max(worst, float(dk.max())), over + int((dk > tol).sum()), total + dk.size
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
print(f"max |w1 - w2| = {worst:.3g}" + (f", {over} of {total} above {tol:g}" if over else ""))
sys.exit(0 if worst <= tol or (worst <= hard and over * 1000 <= total) else 1)
PYEOF
}
# latents_setup DIR: the planted cache in DIR, the options both --parallel latents tests share
# (COMMON, and BT: batch and tokens, which a test may change), and run_pair NAME ARCH-OPTIONS..:
# one process against 2 ranks --parallel latents, every weight within 1e-5 and the metrics equal
latents_setup() {
    planted_cache "$1"
    BT=(--batch 256 --tokens 7680)
    COMMON=(--cache "$1/a.h5" --seed 3 --threads 1 --quiet --log-every 5 --dead-tokens 256)
}
run_pair() {
    local name=$1; shift
    "$BIN" train "${COMMON[@]}" "${BT[@]}" "$@" --out "$T/$name-1" 2>"$T/$name-1.err"
    check "$name: one process" "[ $? -eq 0 ]"
    "${MPI[@]}" "$BIN" train "${COMMON[@]}" "${BT[@]}" "$@" --parallel latents --out "$T/$name-2" 2>"$T/$name-2.err"
    check "$name: 2 ranks --parallel latents" "[ $? -eq 0 ]"
    check "$name: weights within 1e-5, metrics equal" "cmp_py '$T/$name-1' '$T/$name-2' 1e-5"
}
