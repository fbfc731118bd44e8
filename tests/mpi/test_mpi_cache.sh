#!/bin/bash
# test_mpi_cache.sh — `mpirun -np 2 saetox cache` against one process with the same options, on
# the embedded model: h5py reads from F.h5 (a virtual dataset over F.shard-K-of-2.h5, opened
# from another folder) exactly the rows of the one-process cache in all four datasets, and the
# same root attributes; `saetox train` on both gives byte-identical SAEs; an interrupted 2-rank
# run (--stop-after-rows) resumed with --resume gives the same rows; a complete shard is kept by
# --resume; a missing shard is an error for the reader, not zeros; a rank that cannot open its
# shard ends every rank with one line naming it, nothing written.
. "$(dirname "$0")/mpi_common.sh"
SRC=${SAETOX_SOURCE:?}
T=${SAETOX_TMP:-/tmp}/mpi_cache
rm -rf "$T"; mkdir -p "$T/elsewhere"; cd "$T" || exit 1
A0=(--data "text:$SRC/datasets/demo/toxic.txt,text:$SRC/datasets/demo/clean.txt"
   --hook blocks.2.hook_resid_pre --context-size 32 --tokens 3001 --threads 1 --chunk-rows 128 --batch 4 --prepend-bos)
A=(--model "$SRC/models/embedded" "${A0[@]}")
same_rows() { # one-process cache, sharded cache
    (cd "$T/elsewhere" && $PY - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for k in ("activations", "token_ids", "doc_ids", "positions"):
    x, y = a[k][:], b[k][:]
    assert x.shape == y.shape and x.dtype == y.dtype, (k, x.shape, y.shape, x.dtype, y.dtype)
    assert np.array_equal(x, y), k
    assert b[k].is_virtual, k
aa = {k: v for k, v in a.attrs.items() if k != "rows_hash"}
bb = {k: v for k, v in b.attrs.items() if k != "shards"}
assert aa.keys() == bb.keys(), (aa.keys(), bb.keys())
for k in aa: assert np.all(aa[k] == bb[k]), (k, aa[k], bb[k])
assert b.attrs["shards"] == 2 and b.attrs["complete"] == 1
PYEOF
    )
}
"$BIN" cache "${A[@]}" --out one.h5 >/dev/null 2>err-one.txt
check "one process" "[ $? -eq 0 ]"
"${MPI[@]}" "$BIN" cache "${A[@]}" --out two.h5 >out-two.txt 2>err-two.txt
check "2 ranks" "[ $? -eq 0 ] && [ -f two.shard-0-of-2.h5 ] && [ -f two.shard-1-of-2.h5 ] && [ ! -e two.h5.partial ]"
check "2 ranks: one summary line (rank 0)" "[ \$(grep -c wrote out-two.txt) -eq 1 ] && grep -q '3001 rows' out-two.txt"
check "h5py: the same rows, order and attributes (read from another folder)" "same_rows '$T/one.h5' '$T/two.h5'"
B2=(--dtype f16 --compress --shuffle-windows 8 --seed 5 --drop-first 1)
"$BIN" cache "${A[@]}" "${B2[@]}" --out one16.h5 >/dev/null 2>>err-one.txt
"${MPI[@]}" "$BIN" cache "${A[@]}" "${B2[@]}" --out two16.h5 >/dev/null 2>>err-two.txt
check "f16 + gzip + window shuffle + drop-first: the same rows" "same_rows '$T/one16.h5' '$T/two16.h5'"

TR=(--arch topk --widths 256 --k 8 --batch 256 --tokens 2560 --threads 1 --quiet --seed 2)
"$BIN" train --cache one.h5 "${TR[@]}" --out tr-one >/dev/null 2>&1 && "$BIN" train --cache two.h5 "${TR[@]}" --out tr-two >/dev/null 2>&1
check "train on the sharded cache = train on the one-process cache (byte-identical SAE)" \
    "cmp -s tr-one/topk-256/sae_weights.safetensors tr-two/topk-256/sae_weights.safetensors"

# interrupted on both ranks, resumed per shard
"${MPI[@]}" "$BIN" cache "${A[@]}" --out res.h5 --stop-after-rows 1200 >/dev/null 2>err-stop.txt
check "stop-after-rows: nonzero, no res.h5, both shards partial" \
    "[ $? -ne 0 ] && [ ! -e res.h5 ] && [ -f res.shard-0-of-2.h5.partial ] && [ -f res.shard-1-of-2.h5.partial ]"
"${MPI[@]}" "$BIN" cache "${A[@]}" --out res.h5 --resume >/dev/null 2>err-res.txt
check "resume: complete, the same rows" "[ $? -eq 0 ] && same_rows '$T/one.h5' '$T/res.h5'"
# one shard lost: --resume keeps the complete one and redoes the other
rm -f res.h5 res.shard-1-of-2.h5
touch -d '2001-01-01' res.shard-0-of-2.h5
"${MPI[@]}" "$BIN" cache "${A[@]}" --out res.h5 --resume >/dev/null 2>>err-res.txt
check "resume after losing shard 1: shard 0 kept as it was, the same rows" \
    "[ $? -eq 0 ] && [ \$(date -r res.shard-0-of-2.h5 +%Y) = 2001 ] && same_rows '$T/one.h5' '$T/res.h5'"

# a missing shard is an error, not silent zeros
cp two.h5 lost.h5 && mv two.shard-1-of-2.h5 two.shard-1-of-2.h5.away
"$BIN" train --cache lost.h5 "${TR[@]}" --out tr-lost >/dev/null 2>err-lost.txt
check "reader: missing shard named, exit 1" "[ $? -eq 1 ] && grep -q 'two.shard-1-of-2.h5, which is missing' err-lost.txt && [ \$(grep -c . err-lost.txt) -eq 1 ]"
mv two.shard-1-of-2.h5.away two.shard-1-of-2.h5

# a rank that cannot open its shard: one line naming rank 1, every rank nonzero, nothing written
mkdir -p bad.shard-1-of-2.h5.partial
"${MPI[@]}" "$BIN" cache "${A[@]}" --out bad.h5 >/dev/null 2>err-bad.txt
check "unwritable shard on rank 1: nonzero" "[ $? -ne 0 ]"
check "unwritable shard: one line naming rank 1" "one_line err-bad.txt && grep -q 'rank 1 of 2: .*bad.shard-1-of-2.h5.partial: cannot open' err-bad.txt"
check "unwritable shard: nothing written" "[ ! -e bad.h5 ] && [ ! -e bad.h5.partial ] && ! ls bad.shard-0* 2>/dev/null | grep -q ."
# a model that does not load: one line (rank 0), nothing written
"${MPI[@]}" "$BIN" cache "${A0[@]}" --model "$T/nomodel" --out nom.h5 >/dev/null 2>err-nom.txt
check "missing model under mpirun: nonzero, one line" "[ $? -ne 0 ] && one_line err-nom.txt && [ ! -e nom.h5 ] && ! ls nom.shard* 2>/dev/null | grep -q ."
exit $fail
