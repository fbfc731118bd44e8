#!/bin/bash
# test_train_eval_model.sh — `saetox train --eval-model`: after training, every SAE spliced into
# the model (the embedded one, models/embedded) on held-out text; the ce_loss_score and
# kl_div_score it reports (OUT/sae_eval.jsonl and OUT/eval.jsonl) equal what `saetox eval-sae`
# reports for the same SAE folders and text within 1e-6.  Bad inputs: a cache whose hook the
# model lacks, a cache whose d_in is not the model's d_model, --eval-model without --eval-data:
# one line, nonzero exit, no output folder (checked before training).
set -u
BIN=${SAETOX_BIN:?}
PY=/usr/bin/python3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
M=$SRC/models/embedded
D=$SRC/datasets/demo
$PY -c "import h5py, numpy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks h5py"; exit 77; }
T=${SAETOX_TMP:-/tmp}/train_eval_model
rm -rf "$T"; mkdir -p "$T"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

"$BIN" cache --model "$M" --data "text:$D/toxic.txt" --hook blocks.2.hook_resid_pre --context-size 32 \
    --tokens 4096 --prepend-bos --out "$T/acts.h5" --threads 2 >/dev/null 2>"$T/cache_err.txt"
check "cache exits 0" "[ $? -eq 0 ]" || cat "$T/cache_err.txt"

EVAL=(--eval-model "$M" --eval-data "text:$D/clean.txt" --eval-tokens 1024 --eval-prepend-bos)
"$BIN" train --cache "$T/acts.h5" --arch topk --widths 256,512 --k 8 --batch 256 --tokens 8192 --seed 1 \
    --out "$T/out" --threads 2 --quiet --eval-cache "$T/acts.h5" "${EVAL[@]}" >"$T/train_out.txt" 2>"$T/train_err.txt"
check "train --eval-model exits 0" "[ $? -eq 0 ]" || cat "$T/train_err.txt"
check "train prints ce_loss_score per SAE" "[ \$(grep -c 'ce_loss_score' '$T/train_out.txt') -eq 2 ]"
check "OUT/sae_eval.csv and .jsonl" "[ -s '$T/out/sae_eval.csv' ] && [ \$(wc -l < '$T/out/sae_eval.jsonl') -eq 2 ]"

"$BIN" eval-sae --model "$M" --sae "$T/out/topk-256" --sae "$T/out/topk-512" --data "text:$D/clean.txt" \
    --context-size 32 --tokens 1024 --prepend-bos --out "$T/ev" --threads 2 >/dev/null 2>"$T/ev_err.txt"
check "eval-sae exits 0" "[ $? -eq 0 ]" || cat "$T/ev_err.txt"
check "train's ce_loss_score / kl_div_score == eval-sae's (1e-6), also in eval.jsonl" "$PY - '$T' <<'PY'
import json, sys
t = sys.argv[1]
a = [json.loads(l) for l in open(f'{t}/out/sae_eval.jsonl')]
b = [json.loads(l) for l in open(f'{t}/ev/sae_eval.jsonl')]
e = {j['sae']: j for j in map(json.loads, open(f'{t}/out/eval.jsonl'))}
assert len(a) == len(b) == 2, (a, b)
for x, y in zip(a, b):
    assert x['n_tokens'] == y['n_tokens'] == 1024, (x, y)
    for k in ('ce_loss_score', 'kl_div_score', 'fvu', 'ce_spliced'):
        assert abs(x[k] - y[k]) <= 1e-6, (k, x[k], y[k])
    name = x['sae'].rsplit('/', 1)[1]
    assert abs(e[name]['ce_loss_score'] - y['ce_loss_score']) <= 1e-6, (e[name], y)
    assert abs(e[name]['kl_div_score'] - y['kl_div_score']) <= 1e-6, (e[name], y)
    assert 0 < y['ce_loss_score'] <= 1.01, y
print('ce_loss_score', [round(y['ce_loss_score'], 4) for y in b])
PY"

# bad inputs: checked before training, so nothing is written
DM=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['n_embd'])" "$M/config.json")
$PY - "$T" "$DM" <<'PY'
import sys, h5py, numpy as np
t, dm = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for name, d, hook in (('deep', dm, 'blocks.7.hook_resid_pre'), ('narrow', 16, 'blocks.2.hook_resid_pre'),
                      ('nohook', dm, None)):
    with h5py.File(f'{t}/{name}.h5', 'w') as f:
        f['activations'] = rng.normal(size=(600, d)).astype(np.float32)
        f.attrs['context_size'] = 32
        if hook: f.attrs['hook_name'] = hook
PY
bad() { # name expected-pattern train-args..
    local n=$1 pat=$2; shift 2
    "$BIN" train --arch topk --widths 64 --k 4 --batch 64 --tokens 640 --threads 1 --quiet --out "$T/bad_$n" "$@" \
        >"$T/bad_$n.out" 2>"$T/bad_$n.err"
    local rc=$?
    check "bad $n: nonzero exit, one line naming the problem, no output" \
        "[ $rc -ne 0 ] && [ \$(wc -l < '$T/bad_$n.err') -eq 1 ] && grep -q '$pat' '$T/bad_$n.err' && [ ! -e '$T/bad_$n' ] && [ ! -s '$T/bad_$n.out' ]"
    cat "$T/bad_$n.err"
}
bad hook "not in the model" --cache "$T/deep.h5" "${EVAL[@]}"
bad dmodel "d_model $DM differs from the cache.s d_in 16" --cache "$T/narrow.h5" "${EVAL[@]}"
bad nohook "records no hook_name" --cache "$T/nohook.h5" "${EVAL[@]}"
bad nodata "go together" --cache "$T/acts.h5" --eval-model "$M"
bad ctx "exceeds the model.s context" --cache "$T/acts.h5" "${EVAL[@]}" --eval-context-size 4096
exit $fail
