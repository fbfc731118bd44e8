#!/bin/bash
# test_models_badinputs.sh — broken model folders and bad arguments given to the saetox
# binary: each must give exactly one clear line on stderr, a nonzero exit, no crash, and no
# output file.
set -u
B="${SAETOX_BIN:?}"
S="${SAETOX_SHARED:-}"
SRC="$S/fixtures/gpt2-tiny"
if [ ! -d "$SRC" ]; then echo "SKIP: ../shared/fixtures not found"; exit 77; fi
PY=/usr/bin/python3
ED="$(dirname "$0")/st_edit.py"
T="${SAETOX_TMP:-/tmp}/models_badinputs"
rm -rf "$T"; mkdir -p "$T"
fail=0

expect_err() { # NAME PATTERN CMD...
    local name="$1" pat="$2"; shift 2
    rm -f "$T/out.safetensors"
    "$@" >"$T/stdout" 2>"$T/stderr"
    local rc=$? lines
    lines=$(wc -l <"$T/stderr")
    if [ $rc -eq 0 ] || [ $rc -ge 124 ] || [ "$lines" -ne 1 ] || ! grep -qi -- "$pat" "$T/stderr" ||
        [ -e "$T/out.safetensors" ]; then
        echo "FAIL $name: rc=$rc, $lines stderr lines, want /$pat/:"; cat "$T/stderr"; fail=1
    else
        echo "ok   $name: $(cat "$T/stderr")"
    fi
}

broken() { # MODE -> folder with config.json and a broken model.safetensors
    mkdir -p "$T/$1"; cp "$SRC/config.json" "$T/$1/"
    $PY "$ED" "$1" "$SRC/model.safetensors" "$T/$1/model.safetensors" || { echo "st_edit $1 failed"; exit 1; }
}

IDS=464,3290,318
dump() { "$B" model-dump --model "$1" --ids "${2-$IDS}" --out "$T/out.safetensors"; }

for mode in trunc4 trunc_data hdr_beyond offs_range overlap dtype_i32; do broken $mode; done
expect_err "truncated (4 bytes)" "truncated" dump "$T/trunc4"
expect_err "truncated data" "out of range" dump "$T/trunc_data"
expect_err "header length beyond file" "header length" dump "$T/hdr_beyond"
expect_err "offsets out of range" "out of range" dump "$T/offs_range"
expect_err "overlapping offsets" "overlap" dump "$T/overlap"
expect_err "dtype vs config" "dtype I32" dump "$T/dtype_i32"

mkdir -p "$T/shape"; ln -sf "$SRC/model.safetensors" "$T/shape/model.safetensors"
sed 's/"n_embd": 64/"n_embd": 32/' "$SRC/config.json" >"$T/shape/config.json"
expect_err "shape vs config" "shape" dump "$T/shape"
mkdir -p "$T/layers"; ln -sf "$SRC/model.safetensors" "$T/layers/model.safetensors"
sed 's/"n_layer": 2/"n_layer": 1/' "$SRC/config.json" >"$T/layers/config.json"
expect_err "more layers than config" "layer 1" dump "$T/layers"
mkdir -p "$T/mtype"; ln -sf "$SRC/model.safetensors" "$T/mtype/model.safetensors"
sed 's/"model_type": "gpt2"/"model_type": "llama"/' "$SRC/config.json" >"$T/mtype/config.json"
expect_err "unknown model_type" "unknown model_type 'llama'" dump "$T/mtype"
mkdir -p "$T/badjson"; ln -sf "$SRC/model.safetensors" "$T/badjson/model.safetensors"
echo '{"model_type": "gpt2", ' >"$T/badjson/config.json"
expect_err "config not JSON" "config.json" dump "$T/badjson"
mkdir -p "$T/noweights"; cp "$SRC/config.json" "$T/noweights/"
expect_err "no weights" "no model.safetensors" dump "$T/noweights"
expect_err "missing folder" "no such model folder" dump "$T/does-not-exist"

expect_err "token id >= vocab (dump)" "out of range" dump "$SRC" 464,50257,318
expect_err "negative token id (dump)" "out of range" dump "$SRC" 464,-1
expect_err "empty --ids (dump)" "no token ids" dump "$SRC" ""
expect_err "bad --ids (dump)" "integers" dump "$SRC" "1,x"
expect_err "sequence longer than n_ctx" "context" dump "$SRC" "$(seq -s, 1 129)"
expect_err "token id >= vocab (generate)" "out of range" "$B" generate --model "$SRC" --ids 1,99999
expect_err "empty --ids (generate)" "no token ids" "$B" generate --model "$SRC" --ids ""
expect_err "missing tokenizer files" "tokenizer" "$B" generate --model "$SRC" --prompt "hello"
expect_err "both --prompt and --ids" "exactly one" "$B" generate --model "$SRC" --prompt hi --ids 1
expect_err "bad --top-p" "top-p" "$B" generate --model "$SRC" --ids 1 --top-p 0
expect_err "generate on broken file" "overlap" "$B" generate --model "$T/overlap" --ids 1,2

# the good case still works and writes its file
"$B" model-dump --model "$SRC" --ids $IDS --out "$T/good.safetensors" || { echo "FAIL good dump"; fail=1; }
[ -s "$T/good.safetensors" ] || { echo "FAIL good dump wrote nothing"; fail=1; }
exit $fail
