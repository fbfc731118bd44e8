# mpi_common.sh — sourced by the tests/mpi scripts: find mpirun (skip with a message when it is
# absent), the flags this machine needs (root in CI, 2 ranks on fewer cores), a checker.
set -u
BIN=${SAETOX_BIN:?}
PY=/usr/bin/python3
MPIRUN=$(command -v mpirun) || { echo "SKIP: mpirun not found (install openmpi-bin)"; exit 77; }
$PY -c "import h5py, numpy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks h5py"; exit 77; }
# -q: no Open MPI banners (saetox's own line is the error report); --oversubscribe: 2 ranks
# may exceed the cores; as root (CI containers) Open MPI needs --allow-run-as-root.
MPI=("$MPIRUN" -q --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && MPI+=(--allow-run-as-root)
# sanitizer builds: Open MPI's own allocations at exit are not saetox's leaks
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
# one line from saetox on stderr (mpirun -q adds nothing), no other rank's copy
one_line() { [ "$(grep -c . "$1")" -eq 1 ] && grep -q "rank [0-9] of 2" "$1"; }
