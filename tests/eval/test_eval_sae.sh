#!/bin/bash
# test_eval_sae.sh — `saetox eval-sae` against a float64 numpy implementation written here
# (GPT-2 forward over the gpt2-tiny fixture weights, the SAE encoders, every metric as
# defined in analysis/README.md): every column within 1e-4 relative, on one --ids sequence
# (with a BOS token in the middle) and on packed --data windows (windows from `saetox cache`
# on the same options, concatenated and --per-doc); an SAE that reconstructs exactly gives
# ce_loss_score 1 and KL 0 (on GPT-2 and Gemma-2);
# bad inputs give one line naming the file, a nonzero exit and no output.
set -u
SH="${SAETOX_SHARED:-}"
BIN="${SAETOX_BIN:?}"
PY=/usr/bin/python3
if [ -z "$SH" ] || [ ! -d "$SH/fixtures/gpt2-tiny" ] || [ ! -d "$SH/fixtures/sae" ] || [ ! -d "$SH/data/gpt2-tokenizer" ]; then
    echo "SKIP: ../shared (gpt2-tiny and SAE fixtures, GPT-2 tokenizer) not found"; exit 77
fi
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 has no h5py/numpy"; exit 77
fi
T="${SAETOX_TMP:-/tmp}/eval_sae"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
exec $PY - "$BIN" "$SH" "$T" <<'PYEOF'
import json, os, struct, subprocess, sys
import numpy as np
import h5py
B, SH, T = sys.argv[1:4]
F = f'{SH}/fixtures'
M = f'{F}/gpt2-tiny'
TOK = f'{SH}/data/gpt2-tokenizer'
fails = 0
def check(name, ok, detail=''):
    global fails
    print(('ok: ' if ok else 'FAIL: ') + name + ('' if ok else ' ' + str(detail)))
    fails += 0 if ok else 1

DT = {'F32': np.float32, 'I32': np.int32}
def st_load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=DT[v['dtype']]).reshape(v['shape'])
    return out
def st_save(p, tensors):
    hdr, off, blobs = {}, 0, []
    for k, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32); hdr[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        off += a.nbytes; blobs.append(a.tobytes())
    h = json.dumps(hdr).encode(); h += b' ' * (-len(h) % 8)
    open(p, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))

W = {k: v.astype(np.float64) for k, v in st_load(f'{M}/model.safetensors').items()}
cfg = json.load(open(f'{M}/config.json'))
NL, NH, BOS = cfg['n_layer'], cfg['n_head'], cfg['bos_token_id']

def ln(x, w, b):
    mu = x.mean(-1, keepdims=True); var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + cfg['layer_norm_epsilon']) * w + b
def gelu(x): return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
def block(l, x):
    p = f'h.{l}.'; Tn, d = x.shape; hd = d // NH
    qkv = ln(x, W[p + 'ln_1.weight'], W[p + 'ln_1.bias']) @ W[p + 'attn.c_attn.weight'] + W[p + 'attn.c_attn.bias']
    q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(Tn, NH, hd).transpose(1, 0, 2) for i in range(3))
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + np.triu(np.full((Tn, Tn), -np.inf), 1)
    a = np.exp(s - s.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
    o = (a @ v).transpose(1, 0, 2).reshape(Tn, d)
    x = x + o @ W[p + 'attn.c_proj.weight'] + W[p + 'attn.c_proj.bias']
    h = gelu(ln(x, W[p + 'ln_2.weight'], W[p + 'ln_2.bias']) @ W[p + 'mlp.c_fc.weight'] + W[p + 'mlp.c_fc.bias'])
    return x + h @ W[p + 'mlp.c_proj.weight'] + W[p + 'mlp.c_proj.bias']
def forward(ids, hook=None, fn=None):
    """log-softmax [T, V] and the residual at `hook` ((layer, 'pre'|'post')), fn replacing it."""
    x = W['wte.weight'][ids] + W['wpe.weight'][:len(ids)]; cap = None
    for l in range(NL):
        if hook == (l, 'pre'): cap = x.copy(); x = fn(x) if fn else x
        x = block(l, x)
        if hook == (l, 'post'): cap = x.copy(); x = fn(x) if fn else x
    lg = ln(x, W['ln_f.weight'], W['ln_f.bias']) @ W['wte.weight'].T
    m = lg.max(-1, keepdims=True)
    return lg - m - np.log(np.exp(lg - m).sum(-1, keepdims=True)), cap

def sae_load(path):
    if path.endswith('.npz'):
        z = np.load(path); s = {k: z[k].astype(np.float64) for k in z.files}; s['arch'] = 'jumprelu'; s['bdec_in'] = False
        return s
    c = json.load(open(f'{path}/cfg.json'))
    s = {k: v.astype(np.float64) for k, v in st_load(f'{path}/sae_weights.safetensors').items()}
    s['arch'] = c['architecture']; s['bdec_in'] = c['apply_b_dec_to_input']; s['hook'] = c['hook_name']
    return s
def sae_apply(s, x):
    pre = (x - (s['b_dec'] if s['bdec_in'] else 0)) @ s['W_enc'] + s['b_enc']
    z = pre * (pre > s['threshold']) if s['arch'] == 'jumprelu' else np.maximum(pre, 0)
    return z, z @ s['W_dec'] + s['b_dec']
def parse_hook(h):
    l = int(h.split('.')[1]); return (l, 'pre' if h.endswith('resid_pre') else 'post')

def reference(windows, saes):
    """Every column for each (name, sae, hook) over the windows, per the definitions."""
    rows = []
    clean = [forward(w)[0] for w in windows]
    ce_clean = np.concatenate([-lp[np.arange(len(w) - 1), w[1:]] for lp, w in zip(clean, windows)])
    for name, s, hook in saes:
        hk = parse_hook(hook); acc = {'x': [], 'r': [], 'z': [], 'ce_s': [], 'ce_z': [], 'kl_s': [], 'kl_z': []}
        for w, lpc in zip(windows, clean):
            w = np.asarray(w); keep = w == BOS; t = np.arange(len(w) - 1)
            def spl(x):
                z, r = sae_apply(s, x); y = np.where(keep[:, None], x, r)
                acc['x'].append(x[~keep]); acc['r'].append(r[~keep]); acc['z'].append(z[~keep]); return y
            def zero(x): return np.where(keep[:, None], x, 0.0)
            for key, fn in (('s', spl), ('z', zero)):
                lpm, _ = forward(w, hk, fn)
                acc['ce_' + key].append(-lpm[t, w[1:]])
                acc['kl_' + key].append((np.exp(lpc[t]) * (lpc[t] - lpm[t])).sum(-1))
        x, r, z = (np.concatenate(acc[k]) for k in 'xrz')
        cs, cz, ks, kz = (np.concatenate(acc[k]).mean() for k in ('ce_s', 'ce_z', 'kl_s', 'kl_z'))
        cc = ce_clean.mean(); n = len(x); fires = (z != 0).sum(0)
        ev = 1 - ((x - r) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
        rows.append({'sae': name, 'd_sae': z.shape[1], 'n_tokens': sum(map(len, windows)), 'l0': (z != 0).sum(1).mean(),
                     'mse': ((x - r) ** 2).mean(), 'explained_variance': ev, 'fvu': 1 - ev, 'ce_clean': cc,
                     'ce_spliced': cs, 'ce_zero': cz, 'ce_loss_score': (cz - cs) / (cz - cc), 'kl_spliced': ks,
                     'kl_zero': kz, 'kl_div_score': (kz - ks) / kz, 'dead_frac': (fires == 0).mean(),
                     'dense_frac': (fires > 0.1 * n).mean(), 'hook': hook, 'n_spliced': n,
                     'n_ce': len(ce_clean)})
    return rows

COLS = ['sae', 'd_sae', 'n_tokens', 'l0', 'mse', 'explained_variance', 'fvu', 'ce_clean', 'ce_spliced', 'ce_zero',
        'ce_loss_score', 'kl_spliced', 'kl_zero', 'kl_div_score', 'dead_frac', 'dense_frac']
def read_csv(d):
    import csv
    with open(f'{d}/sae_eval.csv', newline='') as f: return list(csv.DictReader(f))
def compare(label, out, ref):
    got = read_csv(out)
    check(f'{label}: {len(ref)} rows', len(got) == len(ref), len(got))
    check(f'{label}: header starts with the contract columns', list(got[0].keys())[:len(COLS)] == COLS, list(got[0].keys()))
    jl = [json.loads(l) for l in open(f'{out}/sae_eval.jsonl')]
    check(f'{label}: one JSON line per SAE', len(jl) == len(ref))
    worst = 0.0
    for g, r, j in zip(got, ref, jl):
        for c in COLS + ['hook', 'n_spliced', 'n_ce']:
            if c in ('sae', 'hook'):
                check(f'{label}: {c} {r[c]}', g[c] == r[c] and j[c] == r[c], (g[c], j[c]))
                continue
            a, b = float(g[c]), float(r[c])
            rel = abs(a - b) / max(abs(b), 1e-12)
            worst = max(worst, rel)
            if rel > 1e-4 or abs(float(j[c]) - a) > 1e-9 * max(1, abs(a)):
                check(f'{label}: {r["sae"]} {c}', False, f'saetox {a!r} numpy {b!r} json {j[c]!r}')
    check(f'{label}: every column within 1e-4 relative of float64 numpy (worst {worst:.2g})', worst <= 1e-4)
    return got

def run(args):
    return subprocess.run([B, 'eval-sae', '--model', M] + args, capture_output=True, text=True)

relu, jump, gs = f'{F}/sae/saelens-relu', f'{F}/sae/saelens-jumprelu', f'{F}/sae/gemmascope-jumprelu/params.npz'
# 1. one sequence (fixture seq2: 50256 at positions 0 and 20), three SAEs at three hooks,
#    one of them after the last block (only the unembedding runs from it)
E = st_load(f'{M}/expected.safetensors')
ids = [int(v) for v in E['seq2.ids']]
r = run(['--sae', relu, '--sae', jump, '--sae', gs, '--hook', 'blocks.0.hook_resid_pre',
         '--ids', ','.join(map(str, ids)), '--out', 'ids'])
check('--ids run exit 0', r.returncode == 0, r.stderr)
if r.returncode == 0:
    ref = reference([ids], [(relu, sae_load(relu), 'blocks.1.hook_resid_post'), (jump, sae_load(jump), 'blocks.1.hook_resid_post'),
                            (gs, sae_load(gs), 'blocks.0.hook_resid_pre')])
    got = compare('--ids', 'ids', ref)
    check('--ids: BOS positions not spliced', int(got[0]['n_spliced']) == len(ids) - 2, got[0]['n_spliced'])

# 2. an SAE that reconstructs exactly: relu(x) - relu(-x) = x with W_enc = [I, -I], W_dec = its inverse
os.makedirs('exact', exist_ok=True)
c = json.load(open(f'{relu}/cfg.json')); c.update(d_sae=128, hook_name='blocks.1.hook_resid_pre', hook_layer=1)
json.dump(c, open('exact/cfg.json', 'w'))
I = np.eye(64)
st_save('exact/sae_weights.safetensors', {'W_enc': np.hstack([I, -I]), 'b_enc': np.zeros(128),
                                          'W_dec': np.vstack([I, -I]), 'b_dec': np.zeros(64)})
r = run(['--sae', 'exact', '--ids', ','.join(map(str, ids)), '--out', 'exact-out'])
check('exact SAE exit 0', r.returncode == 0, r.stderr)
if r.returncode == 0:
    g = read_csv('exact-out')[0]
    check('exact SAE: ce_loss_score 1', abs(float(g['ce_loss_score']) - 1) < 1e-6, g['ce_loss_score'])
    check('exact SAE: kl_spliced 0', abs(float(g['kl_spliced'])) < 1e-9, g['kl_spliced'])
    check('exact SAE: kl_div_score 1', abs(float(g['kl_div_score']) - 1) < 1e-6, g['kl_div_score'])
    check('exact SAE: ce_spliced == ce_clean', float(g['ce_spliced']) == float(g['ce_clean']), (g['ce_spliced'], g['ce_clean']))
    check('exact SAE: mse 0, fvu 0', float(g['mse']) == 0 and abs(float(g['fvu'])) < 1e-12, (g['mse'], g['fvu']))

# 2b. the same on Gemma-2 (sliding-window attention, softcaps; BOS id 2 at positions 0 and 9)
r = subprocess.run([B, 'eval-sae', '--model', f'{F}/gemma2-tiny', '--sae', 'exact', '--ids', '2,82,0,280,140,511,263,5,9,2,44',
                    '--out', 'gemma-exact'], capture_output=True, text=True)
check('gemma2 exact SAE exit 0', r.returncode == 0, r.stderr)
if r.returncode == 0:
    g = read_csv('gemma-exact')[0]
    check('gemma2 exact SAE: ce_loss_score 1, kl_spliced 0, 9 spliced positions',
          abs(float(g['ce_loss_score']) - 1) < 1e-6 and abs(float(g['kl_spliced'])) < 1e-9 and g['n_spliced'] == '9'
          and float(g['kl_zero']) > 0.1, g)

# 3. packed text (documents joined by EOS = BOS, BOS first in every window, the last window cut),
#    two windows per batch; the windows are read back from `saetox cache` on the same options
data = f'jsonl:{SH}/data/rtp/toxic.jsonl#prompt.text'
common = ['--tokenizer', TOK, '--data', data, '--context-size', '24', '--tokens', '110', '--prepend-bos']
r = run(['--sae', relu, '--sae', gs, '--hook', 'blocks.1.hook_resid_pre', '--sae', 'exact', '--batch', '2', '--out', 'data'] + common)
check('--data run exit 0', r.returncode == 0, r.stderr)
rc = subprocess.run([B, 'cache', '--model', M, '--hook', 'blocks.0.hook_resid_pre', '--out', 'win.h5'] + common,
                    capture_output=True, text=True)
check('cache of the same windows', rc.returncode == 0, rc.stderr)
if r.returncode == 0 and rc.returncode == 0:
    f = h5py.File('win.h5', 'r'); tok, pos = f['token_ids'][:], f['positions'][:]
    starts = list(np.flatnonzero(pos == 0)) + [len(pos)]
    windows = [[int(t) for t in tok[a:b]] for a, b in zip(starts, starts[1:])]
    check('windows: 5 (the last cut to 14 tokens), BOS first, EOS inside',
          len(windows) == 5 and len(windows[-1]) == 14 and all(w[0] == BOS for w in windows) and
          any(BOS in w[1:] for w in windows), [len(w) for w in windows])
    ref = reference(windows, [(relu, sae_load(relu), 'blocks.1.hook_resid_post'), (gs, sae_load(gs), 'blocks.1.hook_resid_pre'),
                              ('exact', sae_load('exact'), 'blocks.1.hook_resid_pre')])
    compare('--data', 'data', ref)
    g = read_csv('data')[2]
    check('--data exact SAE: ce_loss_score 1, kl 0', abs(float(g['ce_loss_score']) - 1) < 1e-6 and abs(float(g['kl_spliced'])) < 1e-9,
          (g['ce_loss_score'], g['kl_spliced']))

# 3b. one document per window (--per-doc: the model sees only the real tokens), no BOS added
common = ['--tokenizer', TOK, '--data', data, '--context-size', '16', '--tokens', '60', '--per-doc']
r = run(['--sae', relu, '--out', 'perdoc'] + common)
check('--per-doc run exit 0', r.returncode == 0, r.stderr)
rc = subprocess.run([B, 'cache', '--model', M, '--hook', 'blocks.0.hook_resid_pre', '--out', 'perdoc.h5'] + common,
                    capture_output=True, text=True)
if r.returncode == 0 and rc.returncode == 0:
    f = h5py.File('perdoc.h5', 'r'); tok, pos = f['token_ids'][:], f['positions'][:]
    starts = list(np.flatnonzero(pos == 0)) + [len(pos)]
    windows = [[int(t) for t in tok[a:b]] for a, b in zip(starts, starts[1:])]
    check('--per-doc: windows of different lengths', len(set(map(len, windows))) > 1, [len(w) for w in windows])
    compare('--per-doc', 'perdoc', reference(windows, [(relu, sae_load(relu), 'blocks.1.hook_resid_post')]))
else:
    check('cache of the per-doc windows', False, rc.stderr)

# 4. bad inputs: one line naming the file, nonzero exit, nothing written
def bad(label, args, must):
    out = 'bad-' + label.replace(' ', '-')
    r = run(args + ['--out', out])
    lines = r.stderr.strip().split('\n')
    ok = r.returncode != 0 and len(lines) == 1 and must in lines[0] and not os.path.exists(f'{out}/sae_eval.csv') \
        and not os.path.exists(f'{out}/sae_eval.jsonl')
    check(f'bad input: {label}', ok, (r.returncode, r.stderr))
os.makedirs('deep', exist_ok=True)
c = json.load(open(f'{relu}/cfg.json')); c.update(hook_name='blocks.5.hook_resid_post', hook_layer=5)
json.dump(c, open('deep/cfg.json', 'w')); os.symlink(f'{relu}/sae_weights.safetensors', 'deep/sae_weights.safetensors')
bad('hook beyond the model', ['--sae', relu, '--sae', 'deep', '--ids', '1,2,3'], 'deep')
os.makedirs('narrow', exist_ok=True)
c = json.load(open(f'{relu}/cfg.json')); c.update(d_in=32)
json.dump(c, open('narrow/cfg.json', 'w'))
s = sae_load(relu)
st_save('narrow/sae_weights.safetensors', {'W_enc': s['W_enc'][:32], 'b_enc': s['b_enc'], 'W_dec': s['W_dec'][:, :32], 'b_dec': s['b_dec'][:32]})
bad('d_in mismatch', ['--sae', 'narrow', '--ids', '1,2,3'], 'narrow')
bad('ids beyond the vocabulary', ['--sae', relu, '--ids', '1,50257,3'], '50257')
open('empty.txt', 'w').close()
bad('empty data', ['--sae', relu, '--tokenizer', TOK, '--data', 'text:empty.txt', '--context-size', '8', '--tokens', '10'], 'empty.txt')
bad('no SAE hook (npz without --hook)', ['--sae', gs, '--ids', '1,2,3'], 'params.npz')
sys.exit(1 if fails else 0)
PYEOF
