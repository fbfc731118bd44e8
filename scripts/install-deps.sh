#!/usr/bin/env bash
# Install the Debian packages saetox builds and tests with, when any is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libopenblas-dev libopenblas-openmp-dev libhdf5-dev libarchive-dev libcjson-dev
      libzstd-dev zlib1g-dev libcairo2-dev
      python3-h5py python3-numpy python3-scipy python3-pandas python3-nbformat python3-matplotlib
      jupyter-nbconvert python3-ipykernel python3-nbclient
      python3-pip python3-setuptools    # pip install ./python (tests/python), offline
      libopenmpi-dev openmpi-bin)        # MPI (optional at configure time): tests/mpi run mpirun -np 2
# The HTML dashboard test runs headless Chromium; it is large (~400 MB installed), so only the
# test command asks for it (SAETOX_WITH_CHROMIUM=1, set by `make test`), with valgrind for the
# memcheck tests (label valgrind).
if [ "${SAETOX_WITH_CHROMIUM:-0}" = 1 ]; then PKGS+=(chromium valgrind); fi
# The fuzz targets (tests/fuzz/, `make fuzz`, and their smoke run in `make test`) need clang,
# its libFuzzer/sanitizer runtimes and its OpenMP runtime.
if [ "${SAETOX_WITH_FUZZ:-0}" = 1 ]; then PKGS+=(clang libclang-rt-14-dev libomp-dev); fi
# The PyTorch peers of the benchmarks (bench/*.py, run by the benchmark when torch is there) need
# Debian's torch (large); only on request.
if [ "${SAETOX_WITH_TORCH:-0}" = 1 ]; then PKGS+=(python3-torch); fi
# node + npm run the reference tokenizers in the tests; the machine image may ship its own
# Node.js (with npm inside), which Debian's npm package would conflict with.
command -v node >/dev/null && command -v npm >/dev/null || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
