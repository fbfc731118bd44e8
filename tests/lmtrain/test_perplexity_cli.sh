#!/bin/bash
# test_perplexity_cli.sh — `saetox perplexity` and `lm-train --split-data/--holdout-split`:
# - the held-out documents are the JSONL records whose first field falls on the evaluation side
#   of the hash split (an independent Python copy of the hash decides which; lm-train's
#   summary.json and `perplexity --side heldout/rest` agree with it and with each other);
# - the cross-entropy equals an independent computation: for every document, log-softmax of the
#   logits that `saetox model-dump` writes for each scoring window (the first window [start] + x,
#   later ones the n_ctx/2 tokens before the next n_ctx/2 targets), summed in float64 with numpy;
# - bad options exit 2 with one line; an empty side exits 1 naming the problem.
set -u
BIN=${SAETOX_BIN:?}
SRC=${SAETOX_SOURCE:?}
SH="${SAETOX_SHARED:-}"
if [ -z "$SH" ] || [ ! -f "$SH/data/gpt2-tokenizer/encoder.json" ]; then
  echo "SKIP: ../shared/data/gpt2-tokenizer not found"; exit 77
fi
T=${SAETOX_TMP:-/tmp}/perplexity_cli
rm -rf "$T"; mkdir -p "$T"
PY=/usr/bin/python3
if ! $PY -c 'import numpy' 2>/dev/null; then echo "SKIP: $PY with numpy not found"; exit 77; fi
exec $PY - "$BIN" "$T" "$SRC" "$SH/data/gpt2-tokenizer" <<'PYEOF'
import json, subprocess, sys
import numpy as np
bin_, T, src, tok = sys.argv[1:5]
sys.path.insert(0, src + '/tests')
import st_np
from st_np import check, finish

def is_holdout(text, frac):  # independent copy of sx_text_is_holdout (core/rng.c)
    h = 0x84222325cbf29ce4
    for c in text.encode():
        h = ((h ^ c) * 0x100000001b3) & (2**64 - 1)
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & (2**64 - 1)
    h ^= h >> 33
    return (h >> 11) * 2.0**-53 < frac

rng = np.random.default_rng(5)
words = 'the cat dog sat on a mat and ran far away from home today it was good bad'.split()
recs = []
for i in range(40):
    p = 'prompt %d %s' % (i, ' '.join(rng.choice(words, 3)))
    n = 40 if i % 7 == 0 else int(rng.integers(2, 8))  # some documents longer than the context
    recs.append({'prompt': {'text': p}, 'continuation': {'text': ' ' + ' '.join(rng.choice(words, n))}})
with open(T + '/r.jsonl', 'w') as f:
    for r in recs: f.write(json.dumps(r) + '\n')
with open(T + '/g.txt', 'w') as f:
    for i in range(30): f.write('General text number %d about the dog and the cat.\n\n' % i)
spec = T + '/r.jsonl#prompt.text+continuation.text'
held = [r for r in recs if is_holdout(r['prompt']['text'], 0.3)]
check(0 < len(held) < len(recs), 'the split puts %d of %d records on the evaluation side' % (len(held), len(recs)))

common = ['--tokenizer', tok, '--data', T + '/g.txt', '--split-data', spec, '--holdout-split', '0.3',
          '--layers', '1', '--d-model', '16', '--heads', '2', '--ctx', '16', '--batch', '4', '--steps', '40',
          '--warmup', '2', '--lr', '1e-2', '--eval-every', '2', '--eval-tokens', '64', '--threads', '1', '--dtype', 'f32',
          '--val-frac', '0.1', '--seed', '3']
r = subprocess.run([bin_, 'lm-train'] + common + ['--out', T + '/m'], capture_output=True, text=True)
check(r.returncode == 0, 'lm-train with --split-data: ' + r.stderr.strip().split('\n')[-1])
summ = json.load(open(T + '/m/summary.json'))
check(summ.get('heldout_docs') == len(held), 'summary heldout_docs %s == %d' % (summ.get('heldout_docs'), len(held)))
check('heldout_loss' in summ and np.isfinite(summ['heldout_loss']), 'summary has a finite heldout_loss')

def ids_of(text):
    out = subprocess.run([bin_, 'tokenize', '--model', T + '/m', '--text', text, '--no-special'],
                         capture_output=True, text=True, check=True)
    return [int(x) for x in out.stdout.strip().split(',') if x]

def logprobs(ids):  # log-softmax rows of model-dump's logits, float64
    o = T + '/dump.safetensors'
    subprocess.run([bin_, 'model-dump', '--model', T + '/m', '--ids', ','.join(map(str, ids)), '--out', o,
                    '--threads', '1'], check=True, capture_output=True)
    lg = st_np.read(o)['logits']
    m = lg.max(axis=1, keepdims=True)
    return lg - m - np.log(np.exp(lg - m).sum(axis=1, keepdims=True))

cfg = json.load(open(T + '/m/config.json'))
C, EOS = cfg['n_positions'], cfg['eos_token_id']
def ref_nll(docs, short_ctx=False):
    nll, ntok = 0.0, 0
    for d in docs:
        x = ids_of(d['prompt']['text'] + d['continuation']['text']) + [EOS]
        ntok += len(x)
        first, half = C - 1, C // 2
        lp = logprobs([EOS] + x[:first])
        nll -= sum(lp[i, x[i]] for i in range(min(len(x), first)))
        b = first
        while b < len(x):
            c = 1 if short_ctx else min(C - half, b)
            seg = x[b - c:b + half]
            lp = logprobs(seg)
            nll -= sum(lp[c - 1 + j, x[b + j]] for j in range(min(half, len(x) - b)))
            b += half
    return nll, ntok

def ppl(side, extra=()):
    r = subprocess.run([bin_, 'perplexity', '--model', T + '/m', '--data', spec, '--threads', '1'] +
                       (['--holdout-split', '0.3', '--side', side] if side != 'all' else []) + list(extra),
                       capture_output=True, text=True)
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)

rest = [r for r in recs if not is_holdout(r['prompt']['text'], 0.3)]
for side, docs in (('heldout', held), ('rest', rest), ('all', recs)):
    r, j = ppl(side)
    check(r.returncode == 0, 'perplexity --side %s runs: %s' % (side, r.stderr.strip()[-200:]))
    if not j: continue
    nll, ntok = ref_nll(docs)
    check(j['docs'] == len(docs) and j['tokens'] == ntok, '%s: %d docs / %d tokens (ref %d / %d)' %
          (side, j['docs'], j['tokens'], len(docs), ntok))
    check(abs(j['nll'] - nll) <= 1e-3, '%s: nll %.6f vs reference %.6f' % (side, j['nll'], nll))
    check(abs(j['ce'] - nll / ntok) <= 1e-4 and abs(j['ppl'] - np.exp(j['ce'])) <= 1e-6 * j['ppl'],
          '%s: ce %.5f and ppl consistent' % (side, j['ce']))
# the windows matter: one token of context instead of n_ctx/2 gives a different sum
long_docs = [r for r in recs if len(r['continuation']['text'].split()) == 40]
a, b = ref_nll(long_docs)[0], ref_nll(long_docs, True)[0]
check(abs(a - b) > 1e-2, 'the trained model depends on the context: %.4f vs %.4f with a 1-token context' % (a, b))
# lm-train's heldout_loss is the same text scored in training windows of the token stream: close
_, jh = ppl('heldout')
if jh: check(abs(summ['heldout_loss'] - jh['ce']) < 0.5, 'lm-train heldout_loss %.3f near perplexity %.3f' %
             (summ['heldout_loss'], jh['ce']))

for args, what in ((['--side', 'heldout'], 'side without a split'), (['--side', 'nope', '--holdout-split', '0.3'], 'bad side'),
                   (['--max-docs', '-1'], 'negative --max-docs')):
    r = subprocess.run([bin_, 'perplexity', '--model', T + '/m', '--data', spec] + args, capture_output=True, text=True)
    check(r.returncode == 2 and len(r.stderr.strip().split('\n')) == 1, what + ': exit 2, one line')
with open(T + '/e.jsonl', 'w') as f: f.write('{"prompt": {"text": "only"}}\n')
r = subprocess.run([bin_, 'perplexity', '--model', T + '/m', '--data', T + '/e.jsonl#nothing'], capture_output=True, text=True)
check(r.returncode == 1 and 'e.jsonl' in r.stderr, 'a missing field: exit 1 naming the file: ' + r.stderr.strip())
r = subprocess.run([bin_, 'lm-train'] + [a for a in common if a not in ('--holdout-split', '0.3')] + ['--out', T + '/m2'],
                   capture_output=True, text=True)
check(r.returncode == 1 and 'holdout-split' in r.stderr, '--split-data without --holdout-split fails: ' + r.stderr.strip())
finish()
PYEOF
