#!/bin/bash
# test_eval_batch.sh — `saetox evaluate` batched (the continuous-batching scheduler, block sizes
# 3 and the default) against the unbatched path (--batch-rows -1: sx_generate per group of 8
# prompts, sx_loglik per continuation), on the embedded model, a tiny sweep (none, ablate and
# steer with a random ReLU SAE, meandiff, banned; fluency pass and the demo's two-choice
# benchmark on):
# - greedy (top-p 1e-6): generations.jsonl identical, steering_sweep.csv equal within float
#   rounding (toxicity columns exact, perplexity and its CI within 1e-4 relative, accuracy exact);
# - nucleus 0.9: the same batch setting (3) twice gives byte-identical files; across batch settings
#   the continuations may differ where float rounding moves a draw over a boundary (the
#   models test compares the logits): at least 90% of them must be identical, and the count is
#   printed.
set -u
BIN=${SAETOX_BIN:?}
SRC=${SAETOX_SOURCE:?}
T=${SAETOX_TMP:-/tmp}/eval_batch
rm -rf "$T"; mkdir -p "$T"
PY=/usr/bin/python3
if ! $PY -c 'import numpy' 2>/dev/null; then echo "SKIP: $PY with numpy not found"; exit 77; fi
exec $PY - "$BIN" "$T" "$SRC" <<'PYEOF'
import csv, json, subprocess, sys
import numpy as np
bin_, T, src = sys.argv[1:4]
sys.path.insert(0, src + '/tests')
import st_np
from st_np import check, finish

MODEL = src + '/models/embedded'
DEMO = src + '/datasets/demo'
HOOK = 'blocks.1.hook_resid_post'
D_MODEL = json.load(open(MODEL + '/config.json'))['n_embd']
rng = np.random.default_rng(9)
st_np.write_saelens(T + '/sae', 'standard', rng.normal(0, 0.1, (D_MODEL, 8)).astype(np.float32), np.zeros(8, np.float32),
                    rng.normal(0, 0.1, (8, D_MODEL)).astype(np.float32), rng.normal(0, 0.05, D_MODEL).astype(np.float32), HOOK)

def run(name, batch, top_p):
    out = T + '/' + name
    subprocess.run([bin_, 'evaluate', '--model', MODEL, '--prompts', DEMO + '/prompts.txt', '--n-prompts', '10',
                    '--tiers', 'none,ablate,steer,meandiff,banned', '--sae', T + '/sae', '--latents', '0,1,2',
                    '--hook', HOOK, '--alphas', '1', '--toxic', DEMO + '/toxic.txt', '--clean', DEMO + '/clean.txt',
                    '--bench', DEMO + '/benchmark.jsonl', '--bench-n', '12', '--samples', '5', '--max-new-tokens', '6',
                    '--top-p', str(top_p), '--seed', '4', '--bootstrap', '200', '--batch-rows', str(batch),
                    '--out', out], check=True, capture_output=True, text=True)
    rows = list(csv.DictReader(open(out + '/steering_sweep.csv')))
    gens = [json.loads(l) for l in open(out + '/generations.jsonl')]
    return rows, gens, open(out + '/steering_sweep.csv').read() + open(out + '/generations.jsonl').read()

EXACT = ['condition', 'tier', 'alpha', 'latents', 'n_prompts', 'n_samples', 'emt', 'emt_lo', 'emt_hi', 'tox_prob',
         'tox_prob_lo', 'tox_prob_hi', 'mean_tox', 'mean_tox_lo', 'mean_tox_hi', 'acc', 'acc_norm', 'acc_n']
def same_csv(a, b, what):
    check(len(a) == len(b) and len(a) == 5, '%s: %d vs %d rows' % (what, len(a), len(b)))
    for ra, rb in zip(a, b):
        for c in EXACT:
            check(ra[c] == rb[c], '%s: %s %s: %s vs %s' % (what, ra['condition'], c, ra[c], rb[c]))
        for c in ['ppl', 'ppl_lo', 'ppl_hi']:
            x, y = float(ra[c]), float(rb[c])
            check(abs(x - y) <= 1e-4 * abs(y), '%s: %s %s: %.7g vs %.7g' % (what, ra['condition'], c, x, y))

ref, ref_g, _ = run('greedy_unbatched', -1, 1e-6)
check(all(r['ppl'] and float(r['ppl']) > 1 for r in ref), 'the fluency pass ran')
check(all(r['acc'] != '' for r in ref), 'the benchmark ran')
check(len(set(r['emt'] for r in ref)) > 1, 'the conditions differ (the interventions act)')
for batch in (3, 0):
    rows, gens, _ = run('greedy_b%d' % batch, batch, 1e-6)
    same_csv(ref, rows, 'greedy, batch %d vs unbatched' % batch)
    check([g['continuation'] for g in gens] == [g['continuation'] for g in ref_g],
          'greedy, batch %d: the continuations equal the unbatched ones' % batch)

nref, nref_g, _ = run('nucleus_unbatched', -1, 0.9)
for batch in (3, 0):
    rows, gens, blob = run('nucleus_b%d' % batch, batch, 0.9)
    if batch == 3:
        _, _, blob2 = run('nucleus_b%d_again' % batch, batch, 0.9)
        check(blob == blob2, 'nucleus, batch %d: two runs give identical files' % batch)
    same = sum(a['continuation'] == b['continuation'] for a, b in zip(gens, nref_g))
    print('nucleus, batch %d: %d of %d continuations identical to the unbatched path' % (batch, same, len(gens)))
    check(same >= 0.9 * len(gens), 'nucleus, batch %d: only %d of %d continuations as unbatched' % (batch, same, len(gens)))
finish()
PYEOF
