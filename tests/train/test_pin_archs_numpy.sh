#!/bin/bash
# test_pin_archs_numpy.sh — Gated and Matryoshka BatchTopK inference (`saetox sae-encode`)
# against float64 numpy references on random SAELens folders written by hand:
# - gated (SAELens "gated": W_enc, b_gate, r_mag, b_mag, W_dec, b_dec; no b_enc):
#   sae_in = x - b_dec, pi_gate = sae_in W_enc + b_gate, hidden_pre = pi_mag =
#   sae_in (W_enc * exp(r_mag)) + b_mag, feature_acts = 1[pi_gate > 0] * relu(pi_mag),
#   reconstruction = feature_acts W_dec + b_dec; rows drawn so no pi_gate or pi_mag is within
#   1e-3 of 0, the fixture has latents with the gate open and the magnitude negative and the
#   other way round; every output within 1e-4;
# - matryoshka_batchtopk (matryoshka_widths [8, 40, 96], k, threshold): pre * (pre > threshold),
#   the same as a batchtopk SAE; a cfg whose widths omit d_sae loads (SAELens appends it),
#   widths not increasing or beyond d_sae are refused with one line and no output file.
set -u
BIN=${SAETOX_BIN:?}
T=${SAETOX_TMP:-/tmp}/pin_archs_numpy
rm -rf "$T"; mkdir -p "$T"
PY=/usr/bin/python3
if ! $PY -c 'import numpy' 2>/dev/null; then echo "SKIP: $PY with numpy not found"; exit 77; fi
exec $PY - "$BIN" "$T" "${SAETOX_SOURCE:?}" <<'PYEOF'
import json, os, subprocess, sys
import numpy as np
bin_, T, src = sys.argv[1:4]
sys.path.insert(0, src + '/tests')
import st_np

from st_np import check, finish

def folder(path, cfg, tensors):
    os.makedirs(path, exist_ok=True)
    base = {'d_in': d, 'd_sae': m, 'hook_name': 'blocks.0.hook_resid_pre', 'apply_b_dec_to_input': True,
            'normalize_activations': 'none', 'dtype': 'float32', 'model_name': 'pin-test'}
    base.update(cfg)
    st_np.write(path + '/sae_weights.safetensors', tensors)
    json.dump(base, open(path + '/cfg.json', 'w'))

def run(path, out=None):
    out = out or path + '/out.safetensors'
    r = subprocess.run([bin_, 'sae-encode', '--sae', path, '--in', T + '/x.safetensors', '--out', out],
                       capture_output=True, text=True)
    return r, (st_np.read(out) if r.returncode == 0 else None)

d, m, n = 24, 96, 40
rng = np.random.default_rng(20261202)
f64 = lambda a: a.astype(np.float64)
W_enc = rng.normal(0, 0.3, (d, m)).astype(np.float32)
b_gate = rng.normal(0, 0.3, m).astype(np.float32)
r_mag = rng.normal(0, 0.5, m).astype(np.float32)
b_mag = rng.normal(0, 0.3, m).astype(np.float32)
W_dec = rng.normal(0, 1, (m, d)).astype(np.float32)
b_dec = rng.normal(0, 0.2, d).astype(np.float32)

def gated_ref(X):
    s = f64(X) - f64(b_dec)
    pg = s @ f64(W_enc) + f64(b_gate)
    pm = s @ (f64(W_enc) * np.exp(f64(r_mag))) + f64(b_mag)
    acts = (pg > 0) * np.maximum(pm, 0)
    return pg, pm, acts, acts @ f64(W_dec) + f64(b_dec)

rows = []
while len(rows) < n:
    x = rng.normal(0, 1.5, d).astype(np.float32)
    pg, pm, _, _ = gated_ref(x[None])
    if np.abs(pg).min() > 1e-3 and np.abs(pm).min() > 1e-3:
        rows.append(x)
X = np.array(rows)
st_np.write(T + '/x.safetensors', {'x': X})
pg, pm, acts, rec = gated_ref(X)
check(((pg > 0) & (pm <= 0)).any() and ((pg <= 0) & (pm > 0)).any(),
      'fixture: gate open with negative magnitude, and closed with positive magnitude')
folder(T + '/gated', {'architecture': 'gated', 'activation_fn_str': 'relu'},
       {'W_enc': W_enc, 'b_gate': b_gate, 'r_mag': r_mag, 'b_mag': b_mag, 'W_dec': W_dec, 'b_dec': b_dec})
r, o = run(T + '/gated')
check(o is not None, 'sae-encode gated ran (%s)' % r.stderr.strip())
if o is not None:
    check(np.array_equal(o['feature_acts'] > 0, acts > 0), 'gated: active set = gate open and magnitude > 0')
    for k, ref in (('hidden_pre', pm), ('feature_acts', acts), ('reconstruction', rec)):
        e = np.abs(o[k] - ref).max()
        check(e <= 1e-4, 'gated: %s within 1e-4 (%.3g)' % (k, e))
folder(T + '/gated_nobmag', {'architecture': 'gated'},
       {'W_enc': W_enc, 'b_gate': b_gate, 'r_mag': r_mag, 'W_dec': W_dec, 'b_dec': b_dec})
r, o = run(T + '/gated_nobmag')
check(r.returncode != 0 and 'b_mag' in r.stderr and len(r.stderr.strip().splitlines()) == 1
      and not os.path.exists(T + '/gated_nobmag/out.safetensors'),
      'gated without b_mag: one line naming it, no output (%s)' % r.stderr.strip())

# Matryoshka BatchTopK at inference: one threshold, as batchtopk
b_enc = rng.normal(-0.3, 0.2, m).astype(np.float32)
pre = (f64(X) - f64(b_dec)) @ f64(W_enc) + f64(b_enc)
v = np.sort(pre[pre > 0].ravel())
i = len(v) // 2
thr = np.float32((v[i] + v[i + 1]) / 2)
check(v[i + 1] - v[i] > 1e-5, 'matryoshka threshold not near a value')
macts = np.where(pre > f64(thr), pre, 0.0)
mrec = macts @ f64(W_dec) + f64(b_dec)
T_m = {'W_enc': W_enc, 'b_enc': b_enc, 'W_dec': W_dec, 'b_dec': b_dec, 'threshold': np.full(m, thr, np.float32)}
for name, widths in (('mat', [8, 40, 96]), ('mat_short', [8, 40])):
    folder(T + '/' + name, {'architecture': 'matryoshka_batchtopk', 'matryoshka_widths': widths, 'k': 5,
                            'activation_fn_kwargs': {'k': 5}}, T_m)
    r, o = run(T + '/' + name)
    check(o is not None, 'sae-encode matryoshka widths %s ran (%s)' % (widths, r.stderr.strip()))
    if o is not None:
        check(np.array_equal(o['feature_acts'] > 0, macts > 0), 'matryoshka %s: active set = pre > threshold' % widths)
        check(np.abs(o['feature_acts'] - macts).max() <= 1e-4, 'matryoshka %s: feature_acts within 1e-4' % widths)
        check(np.abs(o['reconstruction'] - mrec).max() <= 1e-4, 'matryoshka %s: reconstruction within 1e-4' % widths)
for name, widths, word in (('mat_dec', [40, 8, 96], 'increasing'), ('mat_big', [8, 200], 'exceeds')):
    folder(T + '/' + name, {'architecture': 'matryoshka_batchtopk', 'matryoshka_widths': widths, 'k': 5,
                            'activation_fn_kwargs': {'k': 5}}, T_m)
    r, o = run(T + '/' + name)
    check(r.returncode != 0 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1
          and not os.path.exists(T + '/' + name + '/out.safetensors'),
          'matryoshka widths %s refused: %s' % (widths, r.stderr.strip()))
finish()
PYEOF
