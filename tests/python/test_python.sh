#!/bin/bash
# test_python.sh — pip-installs python/ (offline) into a scratch folder and runs test_python.py
# with Debian's /usr/bin/python3: the Python API against the model and SAE fixtures and the
# saetox program (see test_python.py).
set -u
T=${SAETOX_TMP:-/tmp}/test_python
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pip_install.sh"
mkdir -p "$T/work"; rm -rf "$T/work"/*
cd "$T" && WORK="$T/work" exec $PY "$here/test_python.py"
