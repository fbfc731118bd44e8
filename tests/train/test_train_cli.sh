#!/bin/bash
# test_train_cli.sh — `saetox train` end to end on HDF5 caches written with h5py: several
# widths and k in one pass, SAELens output folders readable by sae-encode, metrics.jsonl
# keys, --eval-cache, and the bad inputs (d_in mismatch between caches, NaN batches under
# both policies, width / k not positive, k > width) each give a one-line error and exit 1/2.
# Matryoshka (--groups) and gated: trained, SAELens cfg fields, sae-encode reads them; --groups
# not increasing / not ending at the width / on another arch: one line, exit 2, no output.
set -u
BIN=${SAETOX_BIN:?}
PY=/usr/bin/python3
$PY -c "import h5py, numpy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks h5py"; exit 77; }
T=${SAETOX_TMP:-/tmp}/train_cli
rm -rf "$T"; mkdir -p "$T"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

$PY - "$T" <<'PYEOF'
import sys, h5py, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(0)
atoms = rng.normal(size=(48, 16)); atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
def rows(n):
    x = 0.02 * rng.normal(size=(n, 16))
    for r in range(n):
        for j in rng.choice(48, 3, replace=False): x[r] += rng.uniform(0.5, 1.5) * atoms[j]
    return x.astype(np.float32)
with h5py.File(f"{t}/a.h5", "w") as f: f["activations"] = rows(3000)
with h5py.File(f"{t}/b.h5", "w") as f: f["activations"] = rows(2000).astype(np.float16)
with h5py.File(f"{t}/c.h5", "w") as f: f["activations"] = rng.normal(size=(500, 20)).astype(np.float32)
x = rows(2048); x[1000, 3] = np.nan
with h5py.File(f"{t}/nan.h5", "w") as f: f["activations"] = x
PYEOF

"$BIN" train --cache "$T/a.h5,$T/b.h5" --arch topk --widths 32,64 --k 3,6 --batch 256 --tokens 10240 \
    --seed 1 --out "$T/out" --log-every 10 --threads 1 --quiet --eval-cache "$T/a.h5" 2>"$T/err.txt"
check "train topk exits 0" "[ $? -eq 0 ]"
for s in topk-32-k3 topk-32-k6 topk-64-k3 topk-64-k6; do
    check "$s folder" "[ -f '$T/out/$s/cfg.json' ] && [ -f '$T/out/$s/sae_weights.safetensors' ]"
done
check "metrics.jsonl keys" "$PY -c \"
import json,sys
L=[json.loads(l) for l in open('$T/out/metrics.jsonl')]
need='step tokens sae mse fvu l0 dead_frac mean_max_act lr tokens_per_s'.split()
assert len(L)==16 and all(all(k in l for k in need) for l in L), L[:1]
assert {l['sae'] for l in L}=={'topk-32-k3','topk-32-k6','topk-64-k3','topk-64-k6'}
assert all(l['l0']<=6 for l in L)
\""
check "eval.jsonl has 4 SAEs" "[ \$(wc -l < '$T/out/eval.jsonl') -eq 4 ]"
check "cfg.json is SAELens-like" "$PY -c \"
import json; c=json.load(open('$T/out/topk-64-k6/cfg.json'))
assert c['architecture']=='topk' and c['d_in']==16 and c['d_sae']==64 and c['activation_fn_kwargs']['k']==6
assert c['apply_b_dec_to_input'] is True and c['normalize_activations']=='none' and c['dtype']=='float32'
\""
$PY - "$T" <<'PYEOF'
import sys, h5py, numpy as np, struct, json
t = sys.argv[1]
x = h5py.File(f"{t}/a.h5")["activations"][:50]
h = json.dumps({"x": {"dtype": "F32", "shape": [50, 16], "data_offsets": [0, 50*16*4]}}).encode()
h += b" " * (-len(h) % 8)
open(f"{t}/x.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + x.astype("<f4").tobytes())
PYEOF
"$BIN" sae-encode --sae "$T/out/topk-64-k6" --in "$T/x.safetensors" --out "$T/y.safetensors"
check "sae-encode on a trained SAE" "[ $? -eq 0 ] && [ -s '$T/y.safetensors' ]"

"$BIN" train --cache "$T/a.h5,$T/c.h5" --arch topk --widths 32 --k 4 --batch 64 --tokens 640 --out "$T/mm" --quiet 2>"$T/err.txt"
rc=$?; check "d_in mismatch exits 1 naming the file ($(head -c 200 $T/err.txt))" "[ $rc -eq 1 ] && grep -q 'c.h5' '$T/err.txt'"
"$BIN" train --cache "$T/nan.h5" --arch relu --widths 32 --batch 256 --tokens 2048 --out "$T/nan1" --quiet --threads 1 2>"$T/err.txt"
rc=$?; check "NaN stop exits 1 ($(head -c 200 $T/err.txt))" "[ $rc -eq 1 ] && grep -q 'NaN' '$T/err.txt' && grep -q 'nan.h5' '$T/err.txt'"
"$BIN" train --cache "$T/nan.h5" --arch relu --widths 32 --batch 256 --tokens 2048 --out "$T/nan2" --quiet --threads 1 --nan-policy skip 2>"$T/err.txt"
check "NaN skip exits 0" "[ $? -eq 0 ] && [ -f '$T/nan2/relu-32/cfg.json' ]"
"$BIN" train --cache "$T/a.h5" --arch topk --widths 32,0 --k 4 --batch 64 --tokens 640 --out "$T/w0" --quiet 2>"$T/err.txt"
rc=$?; check "width 0 rejected" "[ $rc -ne 0 ] && grep -q 'width 0' '$T/err.txt'"
"$BIN" train --cache "$T/a.h5" --arch topk --widths 32 --k 0 --batch 64 --tokens 640 --out "$T/k0" --quiet 2>"$T/err.txt"
rc=$?; check "k 0 rejected" "[ $rc -ne 0 ] && grep -q 'k 0' '$T/err.txt'"
"$BIN" train --cache "$T/a.h5" --arch topk --widths 32 --k 40 --batch 64 --tokens 640 --out "$T/kw" --quiet 2>"$T/err.txt"
rc=$?; check "k > width rejected" "[ $rc -ne 0 ] && grep -q 'larger than width' '$T/err.txt'"
"$BIN" train --cache "$T/a.h5" --arch mystery --widths 32 --tokens 640 --out "$T/ga" --quiet 2>"$T/err.txt"
check "unknown arch is a usage error" "[ $? -eq 2 ]"
# matryoshka and gated
"$BIN" train --cache "$T/a.h5" --arch matryoshka --widths 64 --groups 16,64 --k 3 --batch 256 --tokens 5120 \
    --seed 1 --out "$T/mat" --log-every 10 --threads 1 --quiet 2>"$T/err.txt"
check "train matryoshka exits 0 ($(head -c 200 $T/err.txt))" "[ $? -eq 0 ] && [ -f '$T/mat/matryoshka-64/sae_weights.safetensors' ]"
check "matryoshka cfg.json: matryoshka_batchtopk, matryoshka_widths, k, threshold" "$PY -c \"
import json,sys; sys.path.insert(0,'${SAETOX_SOURCE:?}/tests'); import st_np
c=json.load(open('$T/mat/matryoshka-64/cfg.json'))
assert c['architecture']=='matryoshka_batchtopk' and c['matryoshka_widths']==[16,64] and c['k']==3 and c['d_sae']==64
w=st_np.read('$T/mat/matryoshka-64/sae_weights.safetensors')
assert w['threshold'].shape==(64,) and (w['threshold']>0).all() and len(set(w['threshold'].tolist()))==1
L=[json.loads(l) for l in open('$T/mat/metrics.jsonl')]
assert all('fvu_group0' in l and 'threshold' in l and l['fvu_group0']>=l['fvu'] for l in L), L[-1]
\""
"$BIN" train --cache "$T/a.h5" --arch gated --widths 48 --batch 256 --tokens 5120 --seed 1 --out "$T/gat" \
    --log-every 10 --threads 1 --quiet 2>"$T/err.txt"
check "train gated exits 0 ($(head -c 200 $T/err.txt))" "[ $? -eq 0 ] && [ -f '$T/gat/gated-48/sae_weights.safetensors' ]"
check "gated safetensors: W_enc b_gate r_mag b_mag W_dec b_dec, no b_enc" "$PY -c \"
import json,sys; sys.path.insert(0,'${SAETOX_SOURCE:?}/tests'); import st_np
c=json.load(open('$T/gat/gated-48/cfg.json')); assert c['architecture']=='gated' and c['activation_fn_str']=='relu'
w=st_np.read('$T/gat/gated-48/sae_weights.safetensors')
assert sorted(w)==['W_dec','W_enc','b_dec','b_gate','b_mag','r_mag'], sorted(w)
assert w['W_enc'].shape==(16,48) and w['r_mag'].shape==(48,)
L=[json.loads(l) for l in open('$T/gat/metrics.jsonl')]
assert all('aux_loss' in l and 'sparsity_loss' in l for l in L)
\""
for s in mat/matryoshka-64 gat/gated-48; do
    "$BIN" sae-encode --sae "$T/$s" --in "$T/x.safetensors" --out "$T/enc.safetensors" 2>"$T/err.txt"
    check "sae-encode on the trained $s" "[ $? -eq 0 ] && [ -s '$T/enc.safetensors' ]"
    rm -f "$T/enc.safetensors"
done
bad() { # name, expected text, args..
    local name=$1 want=$2; shift 2
    "$BIN" train --cache "$T/a.h5" --batch 64 --tokens 640 --quiet --out "$T/bad" "$@" >"$T/out.txt" 2>"$T/err.txt"
    local rc=$?
    check "$name: exit $rc, one line ($(head -c 160 $T/err.txt)), no output" \
        "[ $rc -ne 0 ] && [ \$(wc -l < '$T/err.txt') -eq 1 ] && grep -q -- '$want' '$T/err.txt' && [ ! -s '$T/out.txt' ] && [ ! -e '$T/bad' ]"
}
bad "--groups not increasing" "strictly increasing" --arch matryoshka --widths 64 --groups 32,16,64 --k 3
bad "--groups equal widths" "strictly increasing" --arch matryoshka --widths 64 --groups 16,16,64 --k 3
bad "--groups not ending at the width" "end at the width" --arch matryoshka --widths 64 --groups 16,32 --k 3
bad "--groups past the width" "end at the width" --arch matryoshka --widths 64 --groups 16,128 --k 3
bad "--groups with two widths" "end at the width" --arch matryoshka --widths 32,64 --groups 16,64 --k 3
bad "matryoshka without --groups" "needs --groups" --arch matryoshka --widths 64 --k 3
bad "--groups on topk" "applies to matryoshka" --arch topk --widths 64 --groups 16,64 --k 3
bad "--groups not numbers" "comma-separated" --arch matryoshka --widths 64 --groups 16,x --k 3
# resume through the HDF5 reader (shuffled): stop at step 7, resume, compare with one run
args=(--cache "$T/a.h5,$T/b.h5" --arch batchtopk --widths 32,48 --k 3 --batch 128 --tokens 2560 --seed 4 --quiet --threads 2)
"$BIN" train "${args[@]}" --out "$T/r1" && "$BIN" train "${args[@]}" --out "$T/r2" --stop-after 7 &&
    "$BIN" train "${args[@]}" --out "$T/r2" --resume
check "resume via the cache reader runs" "[ $? -eq 0 ]"
check "resumed == uninterrupted (batchtopk-32)" "cmp -s '$T/r1/batchtopk-32/sae_weights.safetensors' '$T/r2/batchtopk-32/sae_weights.safetensors'"
check "resumed == uninterrupted (batchtopk-48)" "cmp -s '$T/r1/batchtopk-48/sae_weights.safetensors' '$T/r2/batchtopk-48/sae_weights.safetensors'"
"$BIN" train --cache "$T/a.h5" --arch relu --widths 32 --batch 128 --tokens 2560 --seed 4 --quiet --out "$T/r2" --resume 2>"$T/err.txt"
rc=$?; check "resume with other options refused ($(head -c 150 $T/err.txt))" "[ $rc -eq 1 ] && grep -q 'other options' '$T/err.txt'"
exit $fail
