#!/bin/bash
# test_portable_objects.sh — the portable build keeps AVX out of everything but the per-ISA
# kernel objects: no object of the library modules or the program outside the *_avx2 /
# *_avx512 object libraries may contain a VEX/EVEX-encoded instruction (AT&T mnemonics
# starting with "v": vmovups, vfmadd231ps, ...; ymm/zmm registers), which would SIGILL on a
# CPU without AVX.  Skipped in a -DSAETOX_NATIVE=ON build and where objdump is absent.
set -u
B=$(dirname "$SAETOX_BIN")
command -v objdump >/dev/null || { echo "SKIP: objdump not found"; exit 77; }
"$SAETOX_BIN" --version | grep -q '^simd: native ' && { echo "SKIP: -DSAETOX_NATIVE=ON build"; exit 77; }
[ "$(uname -m)" = x86_64 ] || { echo "SKIP: not x86-64"; exit 77; }
mapfile -t objs < <(find "$B/CMakeFiles" -name '*.o' \( -path '*/sx_*.dir/*' -o -path '*/saetox.dir/*' \) |
                    grep -Ev '/sx_[a-z]+_(avx2|avx512)\.dir/' | sort)
mapfile -t isa < <(find "$B/CMakeFiles" -name '*.o' -path '*/sx_*_avx512.dir/*' | sort)
echo "checking ${#objs[@]} portable objects (${#isa[@]} avx512 kernel objects beside them)"
[ ${#objs[@]} -ge 50 ] && [ ${#isa[@]} -ge 5 ] || { echo "FAIL: expected the build's objects under $B/CMakeFiles"; exit 1; }
bad=0
for o in "${objs[@]}"; do
  hits=$(objdump -d --no-show-raw-insn "$o" | grep -Ec '^ +[0-9a-f]+:[[:space:]]+v[a-z0-9]+ |%[yz]mm')
  if [ "$hits" -gt 0 ]; then echo "FAIL: $o has $hits AVX instructions"; bad=1; fi
done
# the check can fail: the avx512 fused encoder (intrinsics, so at any -O level) holds such instructions
enc=$(find "$B/CMakeFiles" -name 'encode_fused.c.o' -path '*/sx_train_avx512.dir/*' | head -1)
hits=$( [ -n "$enc" ] && objdump -d --no-show-raw-insn "$enc" | grep -Ec '%zmm')
[ "${hits:-0}" -gt 0 ] || { echo "FAIL: no zmm instruction found in ${enc:-the avx512 encode_fused.c.o}: the check is blind"; bad=1; }
[ $bad -eq 0 ] && echo "ok: no AVX outside the per-ISA kernels"
exit $bad
