#!/bin/bash
# test_cache_cli.sh — `saetox cache` end to end on the gpt2-tiny fixture with the real GPT-2
# tokenizer: h5py sees the documented names/shapes/dtypes/attributes, the cached rows equal
# `saetox model-dump` on the same window, an interrupted job (--stop-after-rows, and real
# kill -9) resumed with --resume gives byte-identical datasets, and bad inputs give one-line
# errors.
set -u
SH="${SAETOX_SHARED:-}"
BIN="${SAETOX_BIN:?}"
PY=/usr/bin/python3
if [ -z "$SH" ] || [ ! -d "$SH/fixtures/gpt2-tiny" ] || [ ! -d "$SH/data/gpt2-tokenizer" ]; then
    echo "SKIP: ../shared (gpt2-tiny fixture, GPT-2 tokenizer) not found"; exit 77
fi
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 has no h5py/numpy"; exit 77
fi
T="${SAETOX_TMP:-/tmp}/ds_cache_cli"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails+1)); fi; }

M="$SH/fixtures/gpt2-tiny"; TOK="$SH/data/gpt2-tokenizer"
A=(--model "$M" --tokenizer "$TOK" --data "jsonl:$SH/data/rtp/toxic.jsonl#prompt.text,csv:$SH/data/davidson/labeled_data.csv#tweet"
   --hook blocks.1.hook_resid_pre --context-size 64 --tokens 12000 --prepend-bos --drop-first 1
   --threads 1 --chunk-rows 128 --batch 4)

# 1. uninterrupted runs
"$BIN" cache "${A[@]}" --out u32.h5 > out32.txt 2> err32.txt
check "cache f32 exit 0" '[ $? -eq 0 ] || { cat err32.txt; false; }'
check "prints a summary" 'grep -q "wrote u32.h5: 12000 rows x 64" out32.txt'
"$BIN" cache "${A[@]}" --out u16.h5 --dtype f16 --compress > /dev/null 2>&1
check "cache f16 exit 0" '[ -f u16.h5 ] && [ ! -e u16.h5.partial ]'

$PY - <<'EOF' > py1.txt 2>&1
import h5py, numpy as np
for name, dt in (("u32.h5", np.float32), ("u16.h5", np.float16)):
    f = h5py.File(name, "r")
    a = f.attrs
    assert a["format"] == "saetox-activations-v1", a["format"]
    assert int(a["d_in"]) == 64 and int(a["context_size"]) == 64 and int(a["complete"]) == 1
    assert a["hook_name"] == "blocks.1.hook_resid_pre" and a["model"] == "gpt2-tiny"
    assert int(a["n_tokens_target"]) == 12000 and int(a["drop_first"]) == 1
    act, tok, doc, pos = f["activations"], f["token_ids"], f["doc_ids"], f["positions"]
    assert act.shape == (12000, 64) and act.dtype == dt, (act.shape, act.dtype)
    assert act.chunks == (128, 64), act.chunks
    assert tok.shape == (12000,) and tok.dtype == np.int32
    assert doc.shape == (12000,) and doc.dtype == np.int64
    assert pos.shape == (12000,) and pos.dtype == np.int32
    p = pos[:]
    assert p.min() == 1 and p.max() == 63 and (p[:63] == np.arange(1, 64)).all()
    x = act[:].astype(np.float32)
    assert np.isfinite(x).all() and np.abs(x).max() > 0
    d = doc[:]
    assert d[0] == 0 and (np.diff(d[d >= 0]) >= 0).all()   # documents in source order
    assert ((tok[:] >= 0) & (tok[:] < 50257)).all()
    if name == "u16.h5":
        assert act.compression == "gzip" and act.shuffle
a = h5py.File("u32.h5")["activations"][:]
b = h5py.File("u16.h5")["activations"][:].astype(np.float32)
assert np.abs(a - b).max() <= 1e-3 * max(1.0, np.abs(a).max()), np.abs(a - b).max()
print("h5py ok")
EOF
check "h5py sees the documented layout" 'grep -q "h5py ok" py1.txt || { cat py1.txt; false; }'

# 2. the cached rows equal model-dump on the first window ([BOS] + 63 tokens)
IDS=$($PY -c "import h5py; t=h5py.File('u32.h5')['token_ids'][:63]; print(','.join(['50256']+[str(int(v)) for v in t]))")
if "$BIN" model-dump --model "$M" --ids "$IDS" --out dump.safetensors --threads 1 > /dev/null 2>dump.err; then
    $PY - <<'EOF' > py2.txt 2>&1
import json, struct, numpy as np, h5py
raw = open("dump.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]; hdr = json.loads(raw[8:8 + n])
e = hdr["blocks.0.hook_resid_post"]; s, t = e["data_offsets"]
ref = np.frombuffer(raw[8 + n + s: 8 + n + t], dtype=np.float32).reshape(e["shape"])
got = h5py.File("u32.h5")["activations"][:63]
err = np.abs(ref[1:] - got).max()
assert err < 1e-4 * max(1.0, np.abs(ref).max()), err
print("dump ok", err)
EOF
    check "activations == model-dump resid_post 0 (= resid_pre 1)" 'grep -q "dump ok" py2.txt || { cat py2.txt; false; }'
else
    echo "note: model-dump unavailable ($(head -c 200 dump.err)); skipping the cross-check"
fi

# 3. interrupt (crash-like stop) and resume: byte-identical datasets
"$BIN" cache "${A[@]}" --out r16.h5 --dtype f16 --compress --stop-after-rows 5000 > /dev/null 2>stop.txt
check "stop-after-rows exits 3 leaving r16.h5.partial" '[ $? -eq 3 ] && [ -f r16.h5.partial ] && [ ! -e r16.h5 ]'
"$BIN" cache "${A[@]}" --out r16.h5 --dtype f16 --compress --resume > /dev/null 2>resume.txt
check "resume exit 0" '[ $? -eq 0 ] && [ -f r16.h5 ] && [ ! -e r16.h5.partial ]'
check "resume started after row 0" 'grep -Eq "resumed at row [1-9][0-9]* of 12000" resume.txt'
same() { $PY -c "
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
ok = sorted(a) == sorted(b) and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and
     a[k][:].tobytes() == b[k][:].tobytes() for k in a)
print('same' if ok else 'DIFFERENT')" "$1" "$2"; }
check "resumed f16 == uninterrupted" '[ "$(same u16.h5 r16.h5)" = same ]'

# real kill -9 at random moments, then resume (a file damaged mid-flush is detected by its
# checksum and redone, so the result is always identical)
B=(--model "$M" --tokenizer "$TOK" --data "text:$SH/data/text/tinyshakespeare.txt" --hook blocks.0.hook_resid_post
   --context-size 128 --tokens 60000 --threads 1 --chunk-rows 256 --batch 4)
"$BIN" cache "${B[@]}" --out ku.h5 > /dev/null 2>&1
for s in 0.3 0.6 0.9; do
    "$BIN" cache "${B[@]}" --out k.h5 --resume > /dev/null 2>&1 & P=$!
    sleep $s; kill -9 $P 2>/dev/null; wait $P 2>/dev/null
done
"$BIN" cache "${B[@]}" --out k.h5 --resume > /dev/null 2>kill.txt
check "resume after kill -9" '[ $? -eq 0 ] || { cat kill.txt; false; }'
check "killed+resumed f32 == uninterrupted" '[ "$(same ku.h5 k.h5)" = same ]'

# a partial file with damaged committed rows is detected by rows_hash and redone
"$BIN" cache "${B[@]}" --out dm.h5 --stop-after-rows 20000 > /dev/null 2>&1
$PY -c "
import os; n = os.path.getsize('dm.h5.partial'); f = open('dm.h5.partial', 'r+b'); f.seek(n // 2); f.write(b'\xff' * 4096)"
"$BIN" cache "${B[@]}" --out dm.h5 --resume > /dev/null 2>dm.txt
check "damaged partial: noted and redone" '[ $? -eq 0 ] && grep -q "damaged" dm.txt'
check "damaged+resumed == uninterrupted" '[ "$(same ku.h5 dm.h5)" = same ]'

# 4. bad inputs: one line naming the problem, exit 1 (2 for usage), no output file
err1() { local rc; "$BIN" cache "$@" > /dev/null 2> e.txt; rc=$?; [ "$(wc -l < e.txt)" -eq 1 ] && echo $rc; }
check "unknown source kind" '[ "$(err1 --model $M --tokenizer $TOK --data parquet:x --hook blocks.0.hook_resid_post --context-size 8 --tokens 10 --out bad.h5)" = 1 ] && grep -q "unknown source kind" e.txt'
check "missing data file" '[ "$(err1 --model $M --tokenizer $TOK --data jsonl:/nonexistent.jsonl --hook blocks.0.hook_resid_post --context-size 8 --tokens 10 --out bad.h5)" = 1 ] && grep -q "/nonexistent.jsonl" e.txt'
check "bad hook" '[ "$(err1 --model $M --tokenizer $TOK --data text:$SH/data/text/tinyshakespeare.txt --hook blocks.9.hook_resid_post --context-size 8 --tokens 10 --out bad.h5)" = 1 ]'
check "context too long" '[ "$(err1 --model $M --tokenizer $TOK --data text:$SH/data/text/tinyshakespeare.txt --hook blocks.0.hook_resid_post --context-size 4096 --tokens 10 --out bad.h5)" = 1 ] && grep -q "context" e.txt'
check "bad dtype is a usage error" '[ "$(err1 --model $M --data text:x --hook blocks.0.hook_resid_post --context-size 8 --tokens 10 --out bad.h5 --dtype f64)" = 2 ]'
printf '{"text":"a fine line"}\n{"text": broken\n' > bad.jsonl
check "invalid JSON line names file:line" '[ "$(err1 --model $M --tokenizer $TOK --data jsonl:bad.jsonl --hook blocks.0.hook_resid_post --context-size 4 --tokens 2 --out bad.h5)" = 1 ] && grep -q "bad.jsonl:2: invalid JSON" e.txt'
"$BIN" cache --model $M --tokenizer $TOK --data jsonl:bad.jsonl --hook blocks.0.hook_resid_post --context-size 2 --tokens 2 --out skip.h5 --skip-bad > /dev/null 2> e.txt
check "--skip-bad skips and reports file:line" '[ -f skip.h5 ] && grep -q "skipped 1 bad records (first: bad.jsonl:2: invalid JSON" e.txt'
check "no bad.h5 or bad.h5.partial left behind" '[ ! -e bad.h5 ] && [ ! -e bad.h5.partial ]'
"$BIN" cache "${A[@]}" --out r16.h5 --stop-after-rows 2000 > /dev/null 2>&1
check "resume with other settings is refused" '[ "$(err1 "${A[@]}" --out r16.h5 --dtype f16 --resume)" = 1 ] && grep -q "cannot resume: dtype" e.txt'

echo "$fails failed"
[ $fails -eq 0 ]
