#!/bin/bash
# simd_run.sh PATH CMD...: run a test with SAETOX_SIMD=PATH (generic|avx2|avx512), or skip
# (exit 77) when this CPU cannot run that path.  `saetox --version` says which paths it can.
set -u
isa=$1; shift
paths=$(env -u SAETOX_SIMD "$SAETOX_BIN" --version 2>/dev/null | sed -n 's/^simd: .*(runs here: \([^)]*\)).*/\1/p')
case " $paths " in
  *" $isa "*) ;;
  *) echo "SKIP: this CPU cannot run the $isa kernels (it runs: ${paths:-?})"; exit 77 ;;
esac
export SAETOX_SIMD=$isa
# its own scratch folder: the plain test may run at the same time (ctest -j)
export SAETOX_TMP="${SAETOX_TMP:-/tmp}/simd_$isa"
mkdir -p "$SAETOX_TMP"
exec "$@"
