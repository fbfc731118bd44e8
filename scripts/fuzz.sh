#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets of tests/fuzz/ (clang, ASan+UBSan, -DSAETOX_FUZZ=ON in
# build-fuzz/), write their seed corpora, and run each target for SECONDS.
#   scripts/fuzz.sh SECONDS [TARGET...]   corpus kept in build-fuzz/fuzz-corpus/<target>/
#   scripts/fuzz.sh --smoke [SECONDS]     a few seconds each from the seeds only (make test)
# Prints one line per target: executions, seconds, corpus size.  Exits 1 when a target
# crashed (the input is in build-fuzz/fuzz-artifacts/), 0 with a SKIP message when clang or
# libFuzzer is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
smoke=0
if [ "${1:-}" = --smoke ]; then smoke=1; shift; SECS=${1:-4}; shift || true
else SECS=${1:-60}; shift || true; fi

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' > "$probe/p.c"
if ! command -v clang >/dev/null; then
  echo "fuzz: SKIP: clang is not installed (scripts/install-deps.sh installs clang and libclang-rt-14-dev)"
  exit 0
fi
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
  echo "fuzz: SKIP: clang cannot link libFuzzer (install libclang-rt-14-dev)"
  exit 0
fi

cmake -S . -B "$B" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAETOX_FUZZ=ON >/dev/null || exit 1
cmake --build "$B" -j "$JOBS" --target fuzz_all >"$B/fuzz-build.log" 2>&1 || { tail -30 "$B/fuzz-build.log"; exit 1; }
rm -rf "$B/fuzz-seeds"
"$B/tests/fuzz/make_seeds" "$B/fuzz-seeds" || exit 1
rm -rf "$B/fuzz-seeds/.work"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$B"/tests/fuzz/fuzz_*; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
fi
mkdir -p "$B/fuzz-artifacts" "$B/fuzz-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
# libhdf5 1.10 itself leaks on some corrupt files (fuzz_cache_reader checks that saetox closes
# every HDF5 id it opened; what remains is inside the library)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
failed=0
printf '%-22s %12s %8s %8s  %s\n' target executions seconds corpus result
for t in "${targets[@]}"; do
  if [ $smoke = 1 ]; then corpus="$B/fuzz-smoke-corpus/$t"; rm -rf "$corpus"; else corpus="$B/fuzz-corpus/$t"; fi
  mkdir -p "$corpus"
  log="$B/fuzz-logs/$t.log"
  touch "$log.start"
  start=$(date +%s.%N)
  # libhdf5 1.10.8 has memory errors of its own on corrupt files (heap overflows in its object
  # header decoding, multi-GB allocations from sizes in its chunk index, found within a few
  # hundred runs): the HDF5 target runs in fork mode, goes on after a crash, and crashes whose
  # first frame past malloc is inside libhdf5 are counted apart.
  extra=()
  [ "$t" = fuzz_cache_reader ] && extra=(-fork=1 -ignore_crashes=1)
  # malloc_limit: any single allocation above 1 GB from these small inputs is a finding
  "$B/tests/fuzz/$t" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -print_final_stats=1 -artifact_prefix="$B/fuzz-artifacts/$t-" "${extra[@]}" "$corpus" "$B/fuzz-seeds/$t" >"$log" 2>&1
  rc=$?
  third=0
  if [ ${#extra[@]} -gt 0 ]; then
    rc=0
    for a in "$B/fuzz-artifacts/$t"-crash-* "$B/fuzz-artifacts/$t"-leak-*; do
      [ -e "$a" ] && [ "$a" -nt "$log.start" ] || continue
      # the first frame outside libFuzzer, the sanitizers and malloc (the run itself fails)
      top=$("$B/tests/fuzz/$t" -malloc_limit_mb=1024 "$a" 2>&1 | grep -E '^ +#[0-9]+ ' |
            grep -vE 'fuzzer::|__asan|__sanitizer|__interceptor|asan_malloc| in (malloc|calloc|realloc|strdup|strndup|memcpy|memmove|memset|strlen|strnlen) ' | head -1)
      if grep -q libhdf5 <<<"$top"; then third=$((third + 1))
      else rc=1; echo "  saetox crash: $a"; fi
    done
  fi
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  # fork mode prints its totals as "#N ... DONE" instead
  [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+: cov|^#[0-9]+\s+DONE' "$log" | grep -oE '[0-9]+' | tail -1)
  ncorp=$(ls "$corpus" | wc -l)
  if [ $rc -eq 0 ]; then res=ok; else res="CRASH (see $log)"; failed=1; fi
  [ $third -gt 0 ] && res="$res; $third crash(es) inside libhdf5 (not saetox)"
  printf '%-22s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "$secs" "$ncorp" "$res"
  if [ $rc -ne 0 ]; then grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5; fi
done
exit $failed
