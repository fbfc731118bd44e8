#!/usr/bin/python3
"""mutate.py — one-line mutation testing of the numeric and metric code.

For each mutant below (a file, an exact text on one of its lines, its replacement and the
CTest subset that should notice), the script writes the mutant into the source tree, rebuilds
incrementally (only `saetox` and the C test binaries of that subset), runs the subset with
`ctest -R`, restores the file byte for byte and records whether a test failed (caught) or
all passed (survived).  At the end it prints the score: caught / non-equivalent mutants.

    scripts/mutate.py [--build DIR] [--only ID,ID..] [--list] [--jobs N] [--no-baseline]

Safety: the original file is copied to BUILD/mutate-backup/ and a journal names it before the
mutant is written; the file is restored in a `finally`, on SIGINT/SIGTERM/SIGHUP and at exit,
and a run that was killed outright (-9) is repaired by the next start (it finds the journal).
A mutant whose text is not found (the code moved on) is reported as STALE, not run, and makes
the exit status nonzero.  The last step rebuilds the restored tree.

Mutants marked `equiv` are believed equivalent (no observable difference on any input the
code can get, or none short of measure-zero float ties); they are run too, and leave the
denominator only if they survive.  Keep runs targeted: on the shared 2-core machine one full
pass (57 mutants) takes ~25-35 minutes.
"""
import argparse
import atexit
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# CTest subsets (test_analyze_e2e is left out: it fails on AMD hosts for float reasons).
TRAIN = 'test_pin_train|test_pin_topk_numpy|test_sae_io|test_train_grad|test_train_recovery|test_train_resume|test_encode_fused|test_train_cli'
INFER = 'test_pin_topk_numpy|test_sae_io|test_pin_train|test_encode_fused'
EVAL = 'test_pin_evaluate|test_pin_metrics|test_steering_'
ANA = 'test_pin_split|test_pin_toxic_policy|test_analysis_'
GEN = 'test_models_gen|test_pin_sampling|test_pin_evaluate|test_steering_'

M = [
    # ---- the ten of issue 15 item 11 ----
    dict(id='topk-k-minus-1', file='train/sae_encode.c', tests=INFER,
         find='const int k = sae->k < m ? sae->k : m;', repl='const int k = (sae->k < m ? sae->k : m) - 1;'),
    dict(id='adam-no-bias-correction', file='train/train_state.c', tests=TRAIN,
         find='a->lr_t = (float)(lr * sqrt(bc2) / bc1);', repl='a->lr_t = (float)lr;'),
    dict(id='topk-no-renorm', file='train/arch_sparse.c', tests=TRAIN,
         find='if (nn > 0)', repl='if (0)'),
    dict(id='meandiff-reversed', file='cli/cmd_evaluate.c', tests=EVAL,
         find='mdv[k] = (float)(a[k] - b[k]);', repl='mdv[k] = (float)(b[k] - a[k]);'),
    dict(id='emt-mean-not-max', file='steering/evaluate.c', tests=EVAL,
         find='pmax[p] = mx, pany[p] = any', repl='pmax[p] = sum / k, pany[p] = any'),
    dict(id='bootstrap-hi-95', file='steering/bootstrap.c', tests=EVAL,
         find='ph = 0.975 * (m - 1)', repl='ph = 0.95 * (m - 1)'),
    dict(id='ppl-per-sequence', file='steering/evaluate.c', tests=EVAL,
         find='pntok[p] += nc;', repl='pntok[p] += 1;'),
    dict(id='fvu-eval-no-mean', file='train/train_eval.c', tests=TRAIN,
         find='var += ss - s * s / (double)(n > 0 ? n : 1);', repl='var += ss;'),
    dict(id='fvu-metrics-no-mean', file='train/trainer.c', tests=TRAIN,
         find='tot += ss - s * s / (double)B;', repl='tot += ss;'),
    dict(id='policy-last-second-to-last', file='analysis/toxic_run.c', tests=ANA,
         find='if (pos[r] != t->lens[s] - 1) continue;', repl='if (pos[r] != t->lens[s] - 2) continue;'),
    dict(id='split-children-strict', file='analysis/split.c', tests=ANA,
         find='cnt += v >= T;', repl='cnt += v > T;'),
    dict(id='split-pairs-strict', file='analysis/split.c', tests=ANA,
         find='if (c[j] >= T && pair_push', repl='if (c[j] > T && pair_push'),
    # ---- inference ----
    dict(id='encode-b_dec-sign', file='train/sae_encode.c', tests=INFER,
         find='* s - (sae->apply_b_dec_to_input', repl='* s + (sae->apply_b_dec_to_input'),
    dict(id='decode-norm-scale', file='train/sae_encode.c', tests=INFER,
         find='recon[i] /= s;', repl='recon[i] *= s;'),
    dict(id='jumprelu-threshold-inclusive', file='train/sae_encode.c', tests=INFER,
         find='(p > t[j] && p > 0)', repl='(p >= t[j] && p > 0)',
         equiv='p == threshold exactly has measure zero for float pre-activations; SAELens uses > too'),
    dict(id='relu-ge-zero', file='train/sae_encode.c', tests=INFER,
         find='pre[r * m + j] > 0 ? pre[r * m + j] : 0', repl='pre[r * m + j] >= 0 ? pre[r * m + j] : 0',
         equiv='at pre == 0 both give 0 (only -0.0 vs 0.0 could differ, and it compares equal)'),
    dict(id='topk-relu-dropped', file='train/sae_encode.c', tests=INFER,
         find='row[hi[q]] = hv[q] > 0 ? hv[q] : 0;', repl='row[hi[q]] = hv[q];'),
    dict(id='relu-l1-unweighted', file='train/arch_dense.c', tests=TRAIN,
         find='s->lat_a[j] = sqrtf(ss);', repl='s->lat_a[j] = 1.0f;'),
    # ---- optimiser / schedule / trainer ----
    dict(id='adam-eps-not-corrected', file='train/train_state.c', tests=TRAIN,
         find='a->eps_t = (float)(eps * sqrt(bc2));', repl='a->eps_t = (float)eps;'),
    dict(id='adam-v-not-squared', file='train/adam.c', tests=TRAIN,
         find='v[i] = b2 * v[i] + c2 * gi * gi;', repl='v[i] = b2 * v[i] + c2 * gi;'),
    dict(id='adam-m-no-c1', file='train/adam.c', tests=TRAIN,
         find='m[i] = b1 * m[i] + c1 * gi;', repl='m[i] = b1 * m[i] + gi;'),
    dict(id='adam-zero-grad-no-decay', file='train/adam.c', tests=TRAIN,
         find='m[i] = b1 * m[i];', repl='m[i] = m[i];'),
    dict(id='lr-warmup-off-by-one', file='train/train_state.c', tests=TRAIN,
         find='f = ((double)step + 1) / warm;', repl='f = (double)step / warm;'),
    dict(id='lr-decay-start', file='train/train_state.c', tests=TRAIN,
         find='double dstart = (1 - decay_frac) * (double)steps;', repl='double dstart = decay_frac * (double)steps;'),
    dict(id='adam-step-zero-based', file='train/trainer.c', tests=TRAIN,
         find='c.adam_t = (int)(step + 1);', repl='c.adam_t = (int)step + (step == 0);'),
    dict(id='jumprelu-no-renorm', file='train/arch_dense.c', tests=TRAIN,
         find='if (n > 0)', repl='if (0)'),
    dict(id='topk-no-grad-projection', file='train/arch_sparse.c', tests=TRAIN,
         find='axpy(-pr, wd, gdec, d);', repl='(void)pr;'),
    dict(id='batchtopk-kth', file='train/arch_sparse.c', tests=TRAIN,
         find='kth_largest(s->sel_tmp, N, K - 1)', repl='kth_largest(s->sel_tmp, N, K)',
         equiv='the threshold only splits > from ==: with the value of rank K, the K entries above it are '
               'kept (ties_left = 0); with rank K-1, the K-1 above it plus one tie; same set and same minimum'),
    dict(id='batchtopk-ema-swapped', file='train/arch_sparse.c', tests=TRAIN,
         find='(float)(c->bt_ema * t->bt_threshold + (1 - c->bt_ema) * mk)',
         repl='(float)((1 - c->bt_ema) * t->bt_threshold + c->bt_ema * mk)'),
    dict(id='metrics-l0-not-per-row', file='train/trainer.c', tests=TRAIN,
         find='t->l0_sum / B, (double)t->n_dead', repl='t->l0_sum, (double)t->n_dead'),
    dict(id='eval-l0-counts-zeros', file='train/train_eval.c', tests=TRAIN,
         find='if (acts[q] > 0) l0 += 1', repl='if (acts[q] >= 0) l0 += 1'),
    dict(id='eval-mse-per-row', file='train/train_eval.c', tests=TRAIN,
         find='se / ((double)n * d), var > 0', repl='se / (double)n, var > 0'),
    # ---- evaluation ----
    dict(id='toxprob-strict', file='steering/evaluate.c', tests=EVAL,
         find='any = t >= 0.5 ? 1 : any;', repl='any = t > 0.5 ? 1 : any;'),
    dict(id='meantox-k-minus-1', file='steering/evaluate.c', tests=EVAL,
         find='pmean[p] = sum / k;', repl='pmean[p] = sum / (k - 1);'),
    dict(id='nll-sign', file='steering/evaluate.c', tests=EVAL,
         find='pnll[p] -= lp;', repl='pnll[p] += lp;'),
    dict(id='bootstrap-lo-5', file='steering/bootstrap.c', tests=EVAL,
         find='double pl = 0.025 * (m - 1)', repl='double pl = 0.05 * (m - 1)'),
    dict(id='bootstrap-no-interp', file='steering/bootstrap.c', tests=EVAL,
         find='*hi = st[ih] + (ih + 1 < m ? (ph - ih) * (st[ih + 1] - st[ih]) : 0);', repl='*hi = st[ih];'),
    dict(id='bootstrap-den-not-resampled', file='steering/bootstrap.c', tests=EVAL,
         find='c += den ? den[k] : 1.0;', repl='c += den ? den[b % n] : 1.0;'),
    dict(id='meandiff-includes-pos0', file='steering/residstats.c', tests=EVAL, nth=1,
         find='if (pos[r] < 1) continue;', repl='if (pos[r] < 0) continue;'),
    dict(id='auroc-ties-as-wins', file='analysis/effects.c', tests='test_pin_metrics|test_analysis_effects',
         find='U += ct * (below + 0.5 * cc);', repl='U += ct * (below + cc);'),
    dict(id='scorer-threshold-strict', file='steering/metrics.c', tests=EVAL,
         find='int p = score[i] >= threshold', repl='int p = score[i] > threshold'),
    dict(id='steer-sign', file='steering/interventions.c', tests=EVAL,
         find='x[(size_t)r * d + k] -= c * dv[k];', repl='x[(size_t)r * d + k] += c * dv[k];'),
    dict(id='suppress-sign', file='steering/interventions.c', tests=EVAL,
         find='a + iv->alpha * iv->scale[j];', repl='a - iv->alpha * iv->scale[j];'),
    dict(id='ablate-does-nothing', file='steering/interventions.c', tests=EVAL,
         find='float c = iv->tier == SX_TIER_ABLATE ? a :', repl='float c = iv->tier == SX_TIER_ABLATE ? 0 :'),
    dict(id='scale-quantile-floor', file='steering/residstats.c', tests=EVAL,
         find='floor(q * (double)(a.nv[j] - 1) + 0.5)', repl='floor(q * (double)(a.nv[j] - 1))'),
    # ---- analysis ----
    dict(id='cohens-d-n', file='analysis/effects.c', tests=ANA,
         find='(double)(n_t + n_c - 2)', repl='(double)(n_t + n_c)'),
    dict(id='log-odds-smoothing', file='analysis/effects.c', tests=ANA,
         find='return log((fire_t + 0.5)', repl='return log((fire_t + 1.0)'),
    dict(id='policy-max-is-min', file='analysis/toxic_run.c', tests=ANA,
         find='dst[j] = src[j] > dst[j] ? src[j] : dst[j];', repl='dst[j] = src[j] < dst[j] ? src[j] : dst[j];'),
    dict(id='split-norm-not-sqrt', file='analysis/split.c', tests=ANA,
         find='(float)(1.0 / sqrt(s))', repl='(float)(1.0 / s)'),
    dict(id='split-best-b-tie', file='analysis/split.c', tests=ANA,
         find='if (v > cm[j]) { cm[j] = v; ca[j] = gi; }', repl='if (v >= cm[j]) { cm[j] = v; ca[j] = gi; }'),
    dict(id='split-best-a-tie', file='analysis/split.c', tests=ANA,
         find='if (m > s->bestA[gi]) {', repl='if (m >= s->bestA[gi]) {'),
    dict(id='stats-quantile-floor', file='analysis/stats.c', tests=ANA,
         find='double target = ceil(q * (double)L->n_fire);', repl='double target = floor(q * (double)L->n_fire);'),
    dict(id='stats-mean-act-per-row', file='analysis/stats.c', tests=ANA,
         find='L->sum / (double)L->n_fire : 0;', repl='L->sum / (double)s->rows : 0;'),
    dict(id='stats-fire-freq-denominator', file='analysis/stats.c', tests=ANA,
         find='(double)L->n_fire / (double)s->rows : 0;', repl='(double)L->n_fire / (double)(s->rows + 1) : 0;'),
    # ---- models: sampling and perplexity ----
    dict(id='sample-temperature-inverted', file='models/generate.c', tests=GEN,
         find='mx, 1.0f / temperature, p);', repl='mx, temperature, p);'),
    dict(id='loglik-row-off-by-one', file='models/forward.c', tests=GEN,
         find='lrows[i] = n_ctx - 1 + i;', repl='lrows[i] = n_ctx + i - (i == n_cont - 1);'),
    dict(id='loglik-drops-max', file='models/forward.c', tests=GEN,
         find='sum += (double)l[cont[i]] - mx - log(z);', repl='sum += (double)l[cont[i]] - log(z);'),
]

current = {'path': None, 'orig': None}


def journal_path(build):
    return os.path.join(build, 'mutate-journal.json')


def restore(build=None):
    if current['path'] is not None:
        with open(current['path'], 'wb') as f:
            f.write(current['orig'])
        current['path'] = None
    if build and os.path.exists(journal_path(build)):
        os.remove(journal_path(build))


def repair_from_journal(build):
    """A previous run was killed with a mutant in place: put the backup back."""
    j = journal_path(build)
    if not os.path.exists(j):
        return
    info = json.load(open(j))
    shutil.copyfile(info['backup'], info['file'])
    os.remove(j)
    print('mutate: restored %s from %s (an earlier run was interrupted)' % (info['file'], info['backup']))


def apply(m, build):
    path = os.path.join(ROOT, m['file'])
    orig = open(path, 'rb').read()
    text = orig.decode()
    n = text.count(m['find'])
    nth = m.get('nth', 1 if n == 1 else 0)
    if n == 0 or nth < 1 or nth > n:
        return False
    at = -1
    for _ in range(nth):
        at = text.index(m['find'], at + 1)
    mutated = text[:at] + m['repl'] + text[at + len(m['find']):]
    bdir = os.path.join(build, 'mutate-backup')
    os.makedirs(bdir, exist_ok=True)
    backup = os.path.join(bdir, m['file'].replace('/', '__'))
    with open(backup, 'wb') as f:
        f.write(orig)
    with open(journal_path(build), 'w') as f:
        json.dump({'file': path, 'backup': backup}, f)
    current['path'], current['orig'] = path, orig
    with open(path, 'w') as f:
        f.write(mutated)
    return True


def ctest_names(build, regex):
    out = subprocess.run(['ctest', '-N', '-R', regex, '-E', 'test_analyze_e2e'], cwd=build,
                         capture_output=True, text=True).stdout
    return re.findall(r'Test\s+#\d+: (\S+)', out)


def c_targets(build, names):
    return [n for n in names if glob.glob(os.path.join(build, 'tests', '*', n))]


def build_for(build, regex, jobs):
    targets = ['saetox'] + c_targets(build, ctest_names(build, regex))
    r = subprocess.run(['cmake', '--build', build, '-j', str(jobs), '--target'] + targets,
                       capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def run_tests(build, regex, jobs):
    r = subprocess.run(['ctest', '-R', regex, '-E', 'test_analyze_e2e', '-j', str(jobs), '--timeout', '300'],
                       cwd=build, capture_output=True, text=True)
    failed = re.findall(r'^\s*\d+ - (\S+) \(', r.stdout, re.M)
    return r.returncode, failed, r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--only', help='comma-separated mutant ids')
    ap.add_argument('--list', action='store_true', help='list the mutants and exit')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--no-baseline', action='store_true', help='skip checking that each subset passes unmutated')
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    if a.list:
        for m in M:
            print('%-30s %-26s %s -> %s%s' % (m['id'], m['file'], m['find'], m['repl'],
                                             '   [equivalent: %s]' % m['equiv'] if 'equiv' in m else ''))
        return 0
    if not os.path.exists(os.path.join(build, 'CTestTestfile.cmake')):
        sys.exit('mutate: %s is not a configured build folder (cmake -S . -B build first)' % build)
    repair_from_journal(build)
    atexit.register(restore, build)

    def on_signal(sig, frame):
        restore(build)
        print('\nmutate: interrupted, sources restored')
        os._exit(130)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    todo = M
    if a.only:
        want = a.only.split(',')
        unknown = [w for w in want if w not in {m['id'] for m in M}]
        if unknown:
            sys.exit('mutate: unknown mutant ids: %s' % ', '.join(unknown))
        todo = [m for m in M if m['id'] in want]
    if not a.no_baseline:
        for regex in sorted({m['tests'] for m in todo}):
            ok, log = build_for(build, regex, a.jobs)
            rc, failed, _ = run_tests(build, regex, a.jobs) if ok else (1, ['(build)'], '')
            if rc:
                sys.exit('mutate: the unmutated tree fails %s: %s' % (regex, ' '.join(failed)))
        print('mutate: baseline passes for %d test subsets' % len({m['tests'] for m in todo}))
    res = []
    for m in todo:
        t0 = time.time()
        try:
            if not apply(m, build):
                status, detail = 'STALE', 'text not found in %s' % m['file']
            else:
                ok, log = build_for(build, m['tests'], a.jobs)
                if not ok:
                    status, detail = 'NOBUILD', log.strip().split('\n')[-1][:100]
                else:
                    rc, failed, _ = run_tests(build, m['tests'], a.jobs)
                    status = 'caught' if rc else 'SURVIVED'
                    detail = ' '.join(failed)
        finally:
            restore(build)
        if status == 'SURVIVED' and 'equiv' in m:
            status = 'equivalent'
        res.append((m, status, detail))
        print('%-30s %-10s %5.0fs  %s' % (m['id'], status, time.time() - t0, detail), flush=True)
    # leave the build matching the restored sources
    subprocess.run(['cmake', '--build', build, '-j', str(a.jobs)], capture_output=True)
    caught = sum(s == 'caught' for _, s, _ in res)
    equiv = [m['id'] for m, s, _ in res if s == 'equivalent']
    bad = [m['id'] for m, s, _ in res if s in ('STALE', 'NOBUILD')]
    surv = [m['id'] for m, s, _ in res if s == 'SURVIVED']
    denom = len(res) - len(equiv) - len(bad)
    print('\nscore: %d caught / %d non-equivalent mutants (%.1f%%); %d equivalent, %d stale or not building'
          % (caught, denom, 100.0 * caught / denom if denom else 0, len(equiv), len(bad)))
    if surv:
        print('survivors: ' + ', '.join(surv))
    if equiv:
        print('equivalent (survived as expected): ' + ', '.join(equiv))
    if bad:
        print('stale / not building: ' + ', '.join(bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
