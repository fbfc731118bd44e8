#!/bin/bash
# test_python_notebook.sh — python/examples/feature_splitting.ipynb executed headless with
# `jupyter nbconvert --execute` on a tiny demo-like output folder made here by the saetox
# program (cache on the embedded model, two TopK widths, analyze split): the notebook loads
# the SAEs with the Python package, recomputes analysis/pairs.csv and best_matches.csv from
# W_dec and redraws cosine_hist.png.  Skips when nbconvert / ipykernel are absent.
set -u
T=${SAETOX_TMP:-/tmp}/test_python_notebook
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pip_install.sh"
BIN=${SAETOX_BIN:?}
if ! [ -x /usr/bin/jupyter ] || ! /usr/bin/jupyter nbconvert --version >/dev/null 2>&1; then
  echo "SKIP: jupyter nbconvert not found (Debian jupyter-nbconvert)"; exit 77
fi
if ! $PY -c 'import ipykernel, nbformat, matplotlib' 2>/dev/null; then
  echo "SKIP: $PY lacks ipykernel / nbformat / matplotlib (Debian python3-ipykernel, python3-nbformat, python3-matplotlib)"
  exit 77
fi
D="$T/demo-out"; rm -rf "$D"; mkdir -p "$D"
M="$SAETOX_SOURCE/models/embedded"; DATA="$SAETOX_SOURCE/datasets/demo"
HOOK=blocks.2.hook_resid_pre
set -e
"$BIN" cache --model "$M" --data "text:$DATA/toxic.txt,text:$DATA/clean.txt" --hook $HOOK --context-size 32 \
  --tokens 4096 --out "$T/acts.h5" --prepend-bos >"$T/log" 2>&1
"$BIN" train --cache "$T/acts.h5" --arch topk --widths 128,512 --k 8 --batch 256 --tokens 40960 --seed 1 \
  --out "$D" --quiet >>"$T/log" 2>&1
"$BIN" analyze split --sae "$D/topk-128" --sae "$D/topk-512" --threshold 0.5 --out "$D/analysis" >>"$T/log" 2>&1
set +e
npairs=$(($(wc -l <"$D/analysis/pairs.csv") - 1))
echo "tiny demo folder: $npairs pairs at cosine >= 0.5"
[ "$npairs" -gt 0 ] || { echo "FAIL: the tiny run has no pairs (the figure would be empty)"; exit 1; }
# the kernel is Debian's python3 (PATH may start with another python3 without numpy)
cd "$T" && PATH=/usr/bin:$PATH SAETOX_DEMO_OUT="$D" SAETOX_SPLIT_THRESHOLD=0.5 SAETOX_FIG_OUT="$T/cosine_hist.png" \
  timeout 300 /usr/bin/jupyter nbconvert --execute --to notebook --ExecutePreprocessor.timeout=240 \
  --output-dir "$T" --output executed.ipynb "$SAETOX_SOURCE/python/examples/feature_splitting.ipynb" >"$T/nb.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then echo "FAIL: nbconvert --execute exited $rc:"; tail -40 "$T/nb.log"; exit 1; fi
[ -s "$T/cosine_hist.png" ] || { echo "FAIL: the notebook wrote no figure"; exit 1; }
$PY - "$T/executed.ipynb" <<'PYEOF' || exit 1
import json, sys
nb = json.load(open(sys.argv[1]))
outs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
errs = [o for o in outs if o.get("output_type") == "error"]
text = "".join("".join(o.get("text", "")) for o in outs if o.get("output_type") == "stream")
print(text.strip())
if errs or "max |cosine diff|" not in text or "wrote" not in text:
    print("FAIL: notebook outputs incomplete or with errors", errs)
    sys.exit(1)
PYEOF
echo "notebook executed; figure $T/cosine_hist.png"
