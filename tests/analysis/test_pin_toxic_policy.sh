#!/bin/bash
# test_pin_toxic_policy.sh — `analyze toxic` effect sizes under each position policy against a
# float64 numpy reference, on the embedded model (no ../shared needed).  The hook is
# blocks.0.hook_resid_pre, which is wte[token] + wpe[position]: the reference reads those two
# matrices from model.safetensors itself, encodes with a random ReLU SAE, takes per document
# the last token's row (--policy last), the max over its tokens (max) or every token (token),
# and computes the README's definitions: means, firing rates, smoothed log-odds, Cohen's d
# (pooled sd, n-1), exact AUROC P(T > C) + P(T = C)/2, max activation on toxic.
set -u
BIN=${SAETOX_BIN:?}
T=${SAETOX_TMP:-/tmp}/pin_toxic_policy
rm -rf "$T"; mkdir -p "$T"
PY=/usr/bin/python3
if ! $PY -c 'import numpy' 2>/dev/null; then echo "SKIP: $PY with numpy not found"; exit 77; fi
exec $PY - "$BIN" "$T" "${SAETOX_SOURCE:?}" <<'PYEOF'
import csv, subprocess, sys
import numpy as np
bin_, T, src = sys.argv[1:4]
sys.path.insert(0, src + '/tests')
import st_np

MODEL = src + '/models/embedded'
fails = 0
def check(ok, what):
    global fails
    if not ok or 'fixture' in what:
        print(('ok: ' if ok else 'FAIL: ') + what)
    fails += not ok

toxic = ['you stupid idiot', 'shut up you fool', 'what a dumb jerk you are', 'I hate you so much',
         'go away loser', 'you are a worthless moron', 'nobody likes you', 'stop talking nonsense idiot']
clean = ['lovely weather this morning', 'the garden is lovely', 'thank you for the tea', 'we walked by the river',
         'the cat sleeps on the sofa', 'reading books is fun', 'see you tomorrow', 'the bread smells good']
open(T + '/toxic.txt', 'w').write('\n'.join(toxic) + '\n')
open(T + '/clean.txt', 'w').write('\n'.join(clean) + '\n')
W = st_np.read(MODEL + '/model.safetensors')
wte, wpe = W['wte.weight'], W['wpe.weight']
d, m = wte.shape[1], 24
rng = np.random.default_rng(7)
W_enc = rng.normal(0, 0.15, (d, m)).astype(np.float32)
b_enc = rng.normal(-0.3, 0.1, m).astype(np.float32)
W_dec = rng.normal(0, 0.1, (m, d)).astype(np.float32)
b_dec = rng.normal(0, 0.02, d).astype(np.float32)
st_np.write_saelens(T + '/sae', 'standard', W_enc, b_enc, W_dec, b_dec, 'blocks.0.hook_resid_pre')

seen = {0: set(), 1: set()}
open(T + '/lines.txt', 'w').write('\n'.join(toxic + clean) + '\n')  # one `tokenize --lines` call
TOK = dict(zip(toxic + clean, subprocess.run([bin_, 'tokenize', '--model', MODEL, '--file', T + '/lines.txt', '--lines'],
                                             check=True, capture_output=True, text=True).stdout.strip().split('\n')))
def doc_acts(text, cls):
    ids = [int(v) for v in TOK[text].split(',')]
    seen[cls].update(enumerate(ids))
    x = wte[ids] + wpe[:len(ids)]
    pre = (x - b_dec.astype(float)) @ W_enc.astype(float) + b_enc.astype(float)
    return pre
pres = {0: [doc_acts(t, 0) for t in clean], 1: [doc_acts(t, 1) for t in toxic]}
# equal rows across the classes would be exact ties in float64 but need not be in float32
# (the row's place in a batch changes the rounding): keep (position, token) pairs apart
check(not (seen[0] & seen[1]), 'fixture: no (position, token) in both classes')
margin = min(np.abs(p).min() for c in pres for p in pres[c])
check(margin > 1e-4, 'fixture: no pre-activation within 1e-4 of 0 (%.3g)' % margin)
check(all(len(p) >= 3 for c in pres for p in pres[c]), 'fixture: every document has >= 3 tokens')
relu = lambda a: np.maximum(a, 0)

def effects(t, c):
    nt, nc = len(t), len(c)
    mt, mc = t.mean(0), c.mean(0)
    ft, fc = (t > 0).sum(0), (c > 0).sum(0)
    lo = np.log((ft + .5) / (nt - ft + .5)) - np.log((fc + .5) / (nc - fc + .5))
    ss = ((t - mt) ** 2).sum(0) + ((c - mc) ** 2).sum(0)
    sd = np.sqrt(ss / (nt + nc - 2))
    cd = np.where(sd > 0, (mt - mc) / np.where(sd > 0, sd, 1), 0)
    au = ((t[:, None, :] > c[None, :, :]).sum((0, 1)) + 0.5 * (t[:, None, :] == c[None, :, :]).sum((0, 1))) / (nt * nc)
    return {'auroc': au, 'cohens_d': cd, 'mean_toxic': mt, 'mean_clean': mc, 'mean_diff': mt - mc,
            'fire_rate_toxic': ft / nt, 'fire_rate_clean': fc / nc, 'log_odds': lo, 'max_toxic': t.max(0)}

pick = {'last': lambda p: relu(p[-1:]), 'max': lambda p: relu(p).max(0, keepdims=True),
        'token': lambda p: relu(p), 'second_to_last': lambda p: relu(p[-2:-1])}
def ref(policy):
    return effects(*[np.concatenate([pick[policy](p) for p in pres[c]]) for c in (1, 0)])
wrong = ref('second_to_last')
for policy in ('last', 'max', 'token'):
    r = subprocess.run([bin_, 'analyze', 'toxic', '--model', MODEL, '--sae', T + '/sae', '--toxic', 'text:' + T + '/toxic.txt',
                        '--clean', 'text:' + T + '/clean.txt', '--policy', policy, '--top', str(m), '--lens-k', '0',
                        '--quiet', '--threads', '1', '--out', T + '/out_' + policy])
    check(r.returncode == 0, 'analyze toxic --policy %s ran' % policy)
    if r.returncode:
        continue
    rows = sorted(csv.DictReader(open(T + '/out_%s/latent_effects.csv' % policy)), key=lambda r: int(r['latent']))
    check(len(rows) == m, '%s: %d latent rows' % (policy, len(rows)))
    want = ref(policy)
    n_bad = 0
    for col, v in want.items():
        got = np.array([float(r[col]) for r in rows])
        bad = np.abs(got - v) > 2e-6 + 2e-5 * np.abs(v)
        if bad.any():
            j = int(np.argmax(bad))
            check(False, '%s: %s of latent %d: %.7g vs reference %.7g' % (policy, col, j, got[j], v[j]))
            n_bad += 1
    check(n_bad == 0, '--policy %s: all %d latents x %d columns match the reference' % (policy, m, len(want)))
    if policy == 'last':
        check(np.abs(want['auroc'] - wrong['auroc']).max() > 0.05,
              'fixture: the second-to-last token would give other AUROCs')
    if policy == 'max':
        check(np.abs(want['auroc'] - ref('last')['auroc']).max() > 0.05, 'fixture: max and last differ')
print('FAILED' if fails else 'all ok')
sys.exit(1 if fails else 0)
PYEOF
