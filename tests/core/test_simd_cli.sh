#!/bin/bash
# test_simd_cli.sh — `saetox --version` and SAETOX_SIMD: the version lines, every path the CPU
# runs can be forced, an unknown or unsupported path is one clear line and exit 2 (the
# unsupported case under valgrind, whose CPUID hides AVX-512).
set -u
BIN=$SAETOX_BIN
T=${SAETOX_TMP:-/tmp}/simd_cli
rm -rf "$T"; mkdir -p "$T"
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails+1)); fi; }

env -u SAETOX_SIMD "$BIN" --version > "$T/v" 2>"$T/err"
check "--version exits 0" "[ \$? -eq 0 ] && [ ! -s $T/err ]"
cat "$T/v"
check "version line" "head -1 $T/v | grep -Eq '^saetox [0-9]+\.[0-9]+\.[0-9]+( \(git [0-9a-f]+(-dirty)?\))?$'"
check "simd line" "grep -Eq '^simd: (generic|avx2|avx512|native) \(runs here: [a-z0-9 ]+\) built: ' $T/v"
check "openblas line: config, core, threads" "grep -Eq '^openblas: .+; core [A-Za-z0-9]+.*; [0-9]+ threads$' $T/v"
check "hdf5 and libarchive versions" "grep -Eq '^hdf5: [0-9]+\.[0-9]+\.[0-9]+$' $T/v && grep -Eq '^libarchive: libarchive [0-9]' $T/v"
runs=$(sed -n 's/^simd: .*(runs here: \([^)]*\)).*/\1/p' "$T/v")
best=$(sed -n 's/^simd: \([a-z0-9]*\) .*/\1/p' "$T/v")
check "the best path runs by default" "[ \"\${runs##* }\" = '$best' ]"
for p in $runs; do
  out=$(SAETOX_SIMD=$p "$BIN" --version | sed -n 2p)
  check "SAETOX_SIMD=$p is used" "[[ '$out' == 'simd: $p '* ]] && [[ '$out' == *'chosen by SAETOX_SIMD' ]]"
done
SAETOX_SIMD=sse9 "$BIN" --version > "$T/out" 2>"$T/err"; rc=$?
check "unknown path: exit 2, one line, nothing on stdout" "[ $rc -eq 2 ] && [ \$(wc -l < $T/err) -eq 1 ] && grep -q 'SAETOX_SIMD=sse9: unknown path' $T/err && [ ! -s $T/out ]"
SAETOX_SIMD=sse9 "$BIN" tokenize --help > /dev/null 2>"$T/err"; rc=$?
check "unknown path stops every command" "[ $rc -eq 2 ] && grep -q 'unknown path' $T/err"
if command -v valgrind >/dev/null && [[ " $runs " == *" avx512 "* ]] && [ -z "${SAETOX_SANITIZED:-}" ]; then
  SAETOX_SIMD=avx512 OMP_WAIT_POLICY=PASSIVE valgrind -q "$BIN" --version > "$T/out" 2>"$T/err"; rc=$?
  check "avx512 on a CPU without it (valgrind): exit 2, clear line" "[ $rc -eq 2 ] && grep -q 'does not support avx512' $T/err"
  OMP_WAIT_POLICY=PASSIVE valgrind -q "$BIN" --version > "$T/out" 2>"$T/err"
  check "under valgrind the best path is avx2 or generic" "grep -Eq '^simd: (avx2|generic) ' $T/out"
else
  echo "skip: unsupported-path check (needs valgrind, an AVX-512 CPU and a build without sanitizers)"
fi
echo "$fails failed"
[ $fails -eq 0 ]
