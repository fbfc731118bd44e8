#!/bin/bash
# test_pin_topk_numpy.sh — TopK and BatchTopK inference (`saetox sae-encode`) against a float64
# numpy reference on a random SAELens SAE: every row keeps exactly its k largest
# pre-activations (ReLU'd), hidden_pre, feature_acts and the reconstruction agree within 1e-4.
# Rows are drawn so that the k-th and (k+1)-th pre-activations are at least 1e-3 apart (no
# near-ties), some rows have fewer than k positive pre-activations, most have k.
set -u
BIN=${SAETOX_BIN:?}
T=${SAETOX_TMP:-/tmp}/pin_topk_numpy
rm -rf "$T"; mkdir -p "$T"
PY=/usr/bin/python3
if ! $PY -c 'import numpy' 2>/dev/null; then echo "SKIP: $PY with numpy not found"; exit 77; fi
exec $PY - "$BIN" "$T" "${SAETOX_SOURCE:?}" <<'PYEOF'
import subprocess, sys
import numpy as np
bin_, T, src = sys.argv[1:4]
sys.path.insert(0, src + '/tests')
import st_np

from st_np import check, finish

d, m, k, n = 24, 96, 7, 40
rng = np.random.default_rng(20261201)
W_enc = rng.normal(0, 0.3, (d, m)).astype(np.float32)
b_enc = rng.normal(-0.5, 0.2, m).astype(np.float32)
W_dec = rng.normal(0, 1, (m, d)).astype(np.float32)
b_dec = rng.normal(0, 0.2, d).astype(np.float32)
f64 = lambda a: a.astype(np.float64)
rows = []
while len(rows) < n:  # keep rows whose top-k boundary is not a near-tie
    if len(rows) % 5 == 0:  # near b_dec: pre ~ b_enc < 0, fewer than k positive
        x = (b_dec + rng.normal(0, 0.1, d)).astype(np.float32)
    else:
        x = rng.normal(0, 1.5, d).astype(np.float32)
    pre = (f64(x) - f64(b_dec)) @ f64(W_enc) + f64(b_enc)
    s = np.sort(pre)[::-1]
    if s[k - 1] - s[k] > 1e-3 and abs(s[k - 1]) > 1e-3:
        rows.append(x)
X = np.array(rows)
pre = (f64(X) - f64(b_dec)) @ f64(W_enc) + f64(b_enc)
acts = np.zeros_like(pre)
for r in range(n):
    top = np.argsort(-pre[r])[:k]
    acts[r, top] = np.maximum(pre[r, top], 0)
rec = acts @ f64(W_dec) + f64(b_dec)
npos = (acts > 0).sum(1)
check((npos < k).any() and (npos == k).any(), 'fixture has rows with k and with fewer than k active latents (%s)' % sorted(set(npos.tolist())))
st_np.write(T + '/x.safetensors', {'x': X})

def run(folder):
    out = folder + '/out.safetensors'
    r = subprocess.run([bin_, 'sae-encode', '--sae', folder, '--in', T + '/x.safetensors', '--out', out])
    if r.returncode:
        return None
    return st_np.read(out)

# TopK
st_np.write_saelens(T + '/topk', 'topk', W_enc, b_enc, W_dec, b_dec, 'blocks.0.hook_resid_pre', k=k)
o = run(T + '/topk')
check(o is not None, 'sae-encode topk ran')
if o is not None:
    ga, gp, gr = o['feature_acts'], o['hidden_pre'], o['reconstruction']
    check(np.array_equal((ga > 0).sum(1), npos), 'topk: active latents per row = numpy (k=%d)' % k)
    check(np.array_equal(ga > 0, acts > 0), 'topk: the same latents are active')
    check(np.abs(gp - pre).max() <= 1e-4, 'topk: hidden_pre within 1e-4 (%.3g)' % np.abs(gp - pre).max())
    check(np.abs(ga - acts).max() <= 1e-4, 'topk: feature_acts within 1e-4 (%.3g)' % np.abs(ga - acts).max())
    check(np.abs(gr - rec).max() <= 1e-4, 'topk: reconstruction within 1e-4 (%.3g)' % np.abs(gr - rec).max())

# BatchTopK at inference: pre * (pre > threshold), one threshold for every latent; pick it
# halfway between two pre-activation values so no value sits near it.
v = np.sort(pre[pre > 0].ravel())
i = len(v) // 2
thr = np.float32((v[i] + v[i + 1]) / 2)
check(v[i + 1] - v[i] > 1e-5, 'batchtopk threshold not near a value')
bacts = np.where(pre > f64(thr), pre, 0.0)
brec = bacts @ f64(W_dec) + f64(b_dec)
st_np.write_saelens(T + '/btk', 'batchtopk', W_enc, b_enc, W_dec, b_dec, 'blocks.0.hook_resid_pre', k=k,
                    threshold=np.full(m, thr, np.float32))
o = run(T + '/btk')
check(o is not None, 'sae-encode batchtopk ran')
if o is not None:
    check(np.array_equal(o['feature_acts'] > 0, bacts > 0), 'batchtopk: active set = pre > threshold')
    check(np.abs(o['feature_acts'] - bacts).max() <= 1e-4, 'batchtopk: feature_acts within 1e-4')
    check(np.abs(o['reconstruction'] - brec).max() <= 1e-4, 'batchtopk: reconstruction within 1e-4')
finish()
PYEOF
