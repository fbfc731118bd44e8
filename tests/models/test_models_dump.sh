#!/bin/bash
# test_models_dump.sh — `saetox model-dump` and `saetox generate` (the binary) against the
# fixtures' float64 reference: every dumped tensor, argmax, and greedy12 token for token.
set -u
B="${SAETOX_BIN:?}"
S="${SAETOX_SHARED:-}"
if [ ! -d "$S/fixtures/gpt2-tiny" ]; then echo "SKIP: ../shared/fixtures not found"; exit 77; fi
T="${SAETOX_TMP:-/tmp}/models_dump"
mkdir -p "$T"
exec /usr/bin/python3 - "$B" "$S/fixtures" "$T" <<'PYEOF'
import json, struct, subprocess, sys
import numpy as np
B, F, T = sys.argv[1:4]

def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype={'F32': np.float32, 'I32': np.int32}[v['dtype']]).reshape(v['shape'])
    return out

fail = 0
for name, tol in (('gpt2-tiny', 1e-4), ('gemma2-tiny', 2e-4)):
    E = load(f'{F}/{name}/expected.safetensors')
    worst = 0.0
    for s in ('seq0', 'seq1', 'seq2'):
        ids = ','.join(map(str, E[s + '.ids']))
        out = f'{T}/{name}-{s}.safetensors'
        subprocess.check_call([B, 'model-dump', '--model', f'{F}/{name}', '--ids', ids, '--out', out])
        D = load(out)
        pairs = [('blocks.0.hook_resid_pre', s + '.resid_pre.0')]
        i = 0
        while f'{s}.resid_post.{i}' in E:
            pairs.append((f'blocks.{i}.hook_resid_post', f'{s}.resid_post.{i}')); i += 1
        if f'blocks.{i}.hook_resid_post' in D: print(name, s, 'extra layer dumped'); fail = 1
        for a, b in pairs:
            if D[a].dtype != np.float32 or D[a].shape != E[b].shape: print(name, s, a, 'bad dtype/shape'); fail = 1; continue
            worst = max(worst, float(np.abs(D[a] - E[b]).max()))
        lg = D['logits']
        if lg.shape != (len(E[s + '.ids']), E[s + '.logits'].shape[1]): print(name, s, 'logits shape', lg.shape); fail = 1; continue
        worst = max(worst, float(np.abs(lg[E[s + '.logits_pos']] - E[s + '.logits']).max()))
        if not (lg.argmax(1) == E[s + '.argmax']).all(): print(name, s, 'argmax differs'); fail = 1
    ok = worst <= tol
    print(f'{name}: model-dump max abs error {worst:.3g} (tol {tol}) {"ok" if ok else "FAIL"}')
    fail |= not ok
    ids = ','.join(map(str, E['seq1.ids']))
    r = subprocess.run([B, 'generate', '--model', f'{F}/{name}', '--ids', ids, '--max-new-tokens', '12', '--greedy',
                        '--print-ids'], capture_output=True, text=True)
    last = r.stdout.strip().split('\n')[-1] if r.returncode == 0 else ''
    want = ','.join(map(str, E['seq1.greedy12']))
    print(f'{name}: generate greedy12 {"ok" if last == want else "FAIL: " + last + " / " + r.stderr}')
    fail |= last != want
# --prompt through the GPT-2 tokenizer (shared data) on gpt2-tiny's weights == --ids
import os
tokdir = os.path.join(os.path.dirname(F), 'data', 'gpt2-tokenizer')
if os.path.isdir(tokdir):
    d = os.path.join(T, 'gpt2-tiny-tok')
    os.makedirs(d, exist_ok=True)
    for src in [f'{F}/gpt2-tiny/config.json', f'{F}/gpt2-tiny/model.safetensors'] + \
               [os.path.join(tokdir, x) for x in os.listdir(tokdir)]:
        dst = os.path.join(d, os.path.basename(src))
        if not os.path.lexists(dst): os.symlink(src, dst)
    a = subprocess.run([B, 'generate', '--model', d, '--prompt', 'Hello world', '--greedy', '--max-new-tokens', '5',
                        '--print-ids'], capture_output=True, text=True)
    b = subprocess.run([B, 'generate', '--model', d, '--ids', '15496,995', '--greedy', '--max-new-tokens', '5',
                        '--print-ids'], capture_output=True, text=True)
    la, lb = a.stdout.rstrip('\n').split('\n'), b.stdout.rstrip('\n').split('\n')
    ok = a.returncode == 0 and la == lb and la[0].startswith('Hello world') and len(la[-1].split(',')) == 5
    print('generate --prompt == --ids:', 'ok' if ok else f'FAIL {la} {lb} {a.stderr}')
    fail |= not ok
else:
    print('no shared gpt2-tokenizer: --prompt check skipped')
sys.exit(1 if fail else 0)
PYEOF
