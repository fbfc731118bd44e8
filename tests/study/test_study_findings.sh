#!/bin/bash
# The findings of `saetox study --recompute` against tests/study/ref_findings.py (numpy, scipy).
PY=/usr/bin/python3
$PY -c "import numpy, scipy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 with numpy and scipy not found"; exit 77; }
exec $PY "$(dirname "$0")/test_study_findings.py"
