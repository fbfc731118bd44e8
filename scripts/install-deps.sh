#!/usr/bin/env bash
# Install the Debian packages saetox builds and tests with, when any is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libopenblas-dev libhdf5-dev libarchive-dev libcjson-dev
      libzstd-dev zlib1g-dev libcairo2-dev python3-h5py python3-numpy python3-pandas python3-nbformat)
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
