#!/bin/bash
# valgrind_run.sh CMD...: run a test under valgrind memcheck; any memory error, or a leak
# that is definitely lost, fails it.  Skipped (exit 77) where valgrind is absent.  valgrind's
# CPUID hides AVX-512, so the portable build runs its avx2 (or generic) kernels there.
set -u
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
export SAETOX_TMP="${SAETOX_TMP:-/tmp}/valgrind"  # the plain test may run at the same time
mkdir -p "$SAETOX_TMP"
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --track-origins=yes "$@"
