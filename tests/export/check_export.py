"""check_export.py RUN OUT — pandas reads every report `saetox export` wrote with the documented
columns, the tricky strings of the synthetic run round-trip exactly, and report.ipynb validates
with nbformat (4.5, cell ids, python3 kernelspec).  Exit 0 on success, 1 with messages."""
import glob
import json
import os
import sys

import nbformat
import pandas as pd

RUN, OUT = sys.argv[1], sys.argv[2]
COLS = {
    'training_metrics.csv': 'sae,step,tokens,mse,fvu,l0,dead_frac,mean_max_act,lr,tokens_per_s',
    'latents_topk-64.csv': None, 'latents_topk-256.csv': None,
    'family_comparison.csv': 'family_id,n_toxic,narrow_sae,narrow_width,narrow_size,narrow_latents,'
                            'wide_sae,wide_width,wide_size,wide_latents,split_ratio,'
                            'narrow_max_mean_diff,wide_max_mean_diff,wide_sum_mean_diff,'
                            'wide_top_share,narrow_best_score,wide_best_score,cos_max,cos_mean',
    'steering_sweep.csv': 'condition,tier,alpha,latents,n_prompts,n_samples,emt,emt_lo,emt_hi,'
                          'tox_prob,tox_prob_lo,tox_prob_hi,mean_tox,mean_tox_lo,mean_tox_hi,ppl,'
                          'ppl_lo,ppl_hi,acc,acc_norm,acc_n',
    'pairs.csv': 'small_latent,wide_latent,cosine',
}
LATENT = ('sae,latent,fire_freq,mean_act,max_act,q50,q90,q99,is_toxic,toxic_rank,score,auroc,'
          'cohens_d,mean_toxic,mean_clean,mean_diff,fire_rate_toxic,fire_rate_clean,log_odds,'
          'family_id,family_size,family_members,top_promoted,top_suppressed,top_activation,'
          'top_context_before,top_token,top_context_after')
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)


def rd(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[''])


strings = set()
for name, cols in COLS.items():
    cols = (cols or LATENT).split(',')
    path = os.path.join(OUT, name)
    df = rd(path)
    check(list(df.columns) == cols, f'{name}: columns {list(df.columns)}')
    check(len(df) > 0, f'{name}: no rows')
    for c in df.columns:
        if df[c].dtype == object:
            strings.update(v for v in df[c] if isinstance(v, str))

lat = rd(os.path.join(OUT, 'latents_topk-64.csv'))
check(len(lat) == 64 and list(lat['latent']) == list(range(64)), 'latents_topk-64: 64 rows 0..63')
check(int(lat['is_toxic'].sum()) == 5, 'five toxic latents')
check(lat['fire_freq'].dtype.kind == 'f' and lat['score'].dtype.kind == 'f', 'numeric dtypes')
tm = rd(os.path.join(OUT, 'training_metrics.csv'))
check(len(tm) == 82 and set(tm['sae']) == {'topk-64', 'topk-256'}, 'training rows')
sw = rd(os.path.join(OUT, 'steering_sweep.csv'))
check(set(sw['tier']) == {'none', 'ablate', 'suppress', 'steer', 'meandiff', 'banned'}, 'tiers')
check(sw['condition'][0] == 'none, alpha=0 "q"', f'condition round trip: {sw["condition"][0]!r}')

# every tricky string of the run survives the trip through the report CSVs exactly
tricky = json.load(open(os.path.join(RUN, 'tricky.json'), encoding='utf-8'))
for s in tricky:
    check(s in strings, f'tricky string lost: {s!r}')
# and the reports agree with pandas' own reading of the inputs
ctx = rd(os.path.join(RUN, 'top_contexts.csv'))
top = ctx[ctx['rank'] == 0].set_index(['sae', 'latent'])
for f in glob.glob(os.path.join(OUT, 'latents_*.csv')):
    df = rd(f)
    for _, r in df[df['is_toxic'] == 1].iterrows():
        t = top.loc[(r['sae'], r['latent'])]
        check(r['top_context_before'] == t['context_before'] and r['top_token'] == t['token']
              and r['top_context_after'] == t['context_after'], f'{f}: latent {r["latent"]} context')

nb = nbformat.read(os.path.join(OUT, 'report.ipynb'), as_version=4)
nbformat.validate(nb)
check(nb.nbformat == 4 and nb.nbformat_minor == 5, 'nbformat 4.5')
check(nb.metadata.kernelspec.name == 'python3', 'kernelspec')
check(all('id' in c for c in nb.cells), 'cell ids')
kinds = [c.cell_type for c in nb.cells]
check(kinds.count('code') >= 6 and kinds.count('markdown') >= 6, f'cells {kinds}')
for i, c in enumerate(nb.cells):
    if c.cell_type == 'code':
        compile(c.source, f'cell{i}', 'exec')

if fails:
    print('\n'.join('FAIL: ' + f for f in fails))
    sys.exit(1)
print(f'check_export.py: all good ({len(strings)} distinct strings checked)')
