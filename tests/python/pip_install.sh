# pip_install.sh — sourced by the Python tests: checks /usr/bin/python3 with numpy and pip (exit 77
# with a SKIP line otherwise), copies python/ to a scratch folder (pip builds in the tree it is
# given) and installs it with `pip install --no-build-isolation --no-index --no-deps --target`
# (offline, Debian's setuptools), then exports PYTHONPATH and SAETOX_LIBRARY.
# Needs T (a scratch folder), SAETOX_SOURCE and SAETOX_LIBRARY (the build's libsaetox.so).
PY=/usr/bin/python3
if [ "${SAETOX_SANITIZED:-0}" = 1 ]; then
  echo "SKIP: an ASan build's libsaetox cannot be loaded by an uninstrumented python3 (tests/python/test_capi covers the C side)"
  exit 77
fi
if ! [ -x $PY ]; then echo "SKIP: $PY not found"; exit 77; fi
if ! $PY -c 'import numpy' 2>/dev/null; then echo "SKIP: $PY has no numpy (Debian python3-numpy)"; exit 77; fi
if ! $PY -c 'import setuptools' 2>/dev/null || ! $PY -m pip --version >/dev/null 2>&1; then
  echo "SKIP: $PY has no pip / setuptools (Debian python3-pip, python3-setuptools)"; exit 77
fi
: "${SAETOX_LIBRARY:?}" "${SAETOX_SOURCE:?}" "${T:?}"
[ -f "$SAETOX_LIBRARY" ] || { echo "FAIL: SAETOX_LIBRARY=$SAETOX_LIBRARY does not exist"; exit 1; }
rm -rf "$T/pkg-src" "$T/site"; mkdir -p "$T"
cp -r "$SAETOX_SOURCE/python" "$T/pkg-src"
rm -rf "$T/pkg-src/build" "$T/pkg-src"/*.egg-info
if ! $PY -m pip install --no-build-isolation --no-index --no-deps --disable-pip-version-check -q \
     --target "$T/site" "$T/pkg-src" >"$T/pip.log" 2>&1; then
  echo "FAIL: pip install ./python:"; cat "$T/pip.log"; exit 1
fi
[ -f "$T/site/saetox/__init__.py" ] || { echo "FAIL: pip installed no saetox package"; cat "$T/pip.log"; exit 1; }
export PYTHONPATH="$T/site" SAETOX_LIBRARY
