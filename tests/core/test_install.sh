#!/bin/bash
# test_install.sh — libsaetox as an outside project sees it: `cmake --install` into a fresh
# prefix, then
#   - the shared library exports only sx_/SX_ names, has the versioned SONAME and no
#     constructor of its own (libgcc's CPU-model probe is the one allowed);
#   - examples/steer_generate.c, copied out of the tree, builds with
#     `pkg-config --cflags --libs saetox` and runs (model from <prefix>/share/saetox, an SAE
#     written here), and a C++ file and a CMake project (find_package) build against it;
#   - the installed program finds its data through the prefix even after the prefix moves.
set -eu
# an ASan-built libsaetox.so cannot be loaded by a program without the ASan runtime first
[ -z "${SAETOX_SANITIZED:-}" ] || { echo "SKIP: sanitizer build (the Release suite runs this test)"; exit 77; }
B=$(dirname "$SAETOX_BIN")
SRC=$SAETOX_SOURCE
T=$SAETOX_TMP/install
rm -rf "$T"; mkdir -p "$T"
cmake --install "$B" --prefix "$T/p" >"$T/install.log"
P=$T/p
lib=$(find "$P" -name 'libsaetox.so.*.*.*' | head -1)
[ -n "$lib" ] || { echo "FAIL: no libsaetox.so.X.Y.Z under $P"; exit 1; }
LIBDIR=$(dirname "$lib")
for f in include/saetox/saetox.h include/saetox/version.h include/saetox/sx_defs.h bin/saetox \
         share/saetox/models/embedded/config.json share/saetox/models/embedded/model.safetensors \
         share/saetox/datasets/demo/prompts.txt share/saetox/steering/weights/toxicity-scorer.bin; do
  [ -e "$P/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
for f in libsaetox.a libsaetox.so pkgconfig/saetox.pc cmake/saetox/saetoxConfig.cmake; do
  [ -e "$LIBDIR/$f" ] || { echo "FAIL: $LIBDIR/$f not installed"; exit 1; }
done
# no third-party header reaches the public ones
if grep -n '#include <\(cjson\|hdf5\|archive\|cairo\|cblas\|omp\)' "$P"/include/saetox/*.h; then
  echo "FAIL: a public header includes a third-party header"; exit 1
fi

# exports
nm -D --defined-only "$lib" | awk '{print $3}' >"$T/exports"
n=$(wc -l <"$T/exports")
bad=$(grep -cv '^\(sx_\|SX_\)' "$T/exports" || true)
[ "$n" -ge 100 ] || { echo "FAIL: only $n exported symbols"; exit 1; }
[ "$bad" -eq 0 ] || { echo "FAIL: $bad exported symbols without the sx_ prefix:"; grep -v '^\(sx_\|SX_\)' "$T/exports" | head; exit 1; }
grep -qx sx_model_load "$T/exports" && ! grep -q '^sx_.*_avx512$' "$T/exports" ||
  { echo "FAIL: the export list is wrong (sx_model_load missing or per-ISA kernels exported)"; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
ver=$("$P/bin/saetox" --version | sed -n '1s/^saetox \([0-9.]*\).*/\1/p')
[ "$soname" = "libsaetox.so.${ver%.*}" ] || { echo "FAIL: SONAME '$soname' for version $ver"; exit 1; }
# constructors: every .init_array entry must be frame_dummy or libgcc's __cpu_indicator_init
mapfile -t ctors < <(objdump -s -j .init_array "$lib" | awk '/^ [0-9a-f]+ /{for(i=2;i<=5;i+=2) if (length($(i+1)) == 8 && length($i) == 8) print $i $(i+1)}' |
                      sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)/\8\7\6\5\4\3\2\1/' | sed 's/^0*//')
for a in "${ctors[@]}"; do
  name=$(nm "$lib" | awk -v a="$a" '{x=$1; sub(/^0*/, "", x); if (x == a) print $3}' | head -1)
  case "$name" in frame_dummy|__cpu_indicator_init) ;; *) echo "FAIL: constructor '$name' ($a) in libsaetox"; exit 1;; esac
done
echo "ok: $n exports, all sx_; SONAME $soname; constructors: ${#ctors[@]} (frame_dummy, libgcc)"

# an outside program, built with pkg-config
mkdir -p "$T/outside"
cp "$SRC/examples/steer_generate.c" "$T/outside/"
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
flags=$(pkg-config --cflags --libs saetox)
case "$flags" in *"$P"*) ;; *) echo "FAIL: pkg-config flags do not point into the prefix: $flags"; exit 1;; esac
(cd "$T/outside" && cc -std=c11 -Wall -Wextra -Werror steer_generate.c $flags -Wl,-rpath,"$LIBDIR" -o steer_generate)
ldd "$T/outside/steer_generate" | grep -q "$LIBDIR/libsaetox.so" || { echo "FAIL: the example does not load the installed libsaetox"; ldd "$T/outside/steer_generate"; exit 1; }
if command -v c++ >/dev/null; then
  printf '#include <saetox/saetox.h>\n#include <cstdio>\nint main() { sx_err e{}; std::printf("%%s %%s\\n", sx_version(), sx_code_name(e.code)); return sx_init(&e); }\n' >"$T/outside/cxx.cc"
  (cd "$T/outside" && c++ -std=c++11 -Wall -Werror cxx.cc $flags -Wl,-rpath,"$LIBDIR" -o cxx && ./cxx | grep -q "^$ver SX_OK$") ||
    { echo "FAIL: a C++ program does not build or run against the headers"; exit 1; }
  echo "ok: C++ program built and ran"
fi
# a CMake project with find_package(saetox)
mkdir -p "$T/cmk"
# the running version's MAJOR.MINOR: the package config accepts only that minor (0.x ABI)
cat >"$T/cmk/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(use_saetox C)
find_package(saetox ${ver%.*} REQUIRED)
add_executable(v v.c)
target_link_libraries(v PRIVATE saetox::saetox)
CM
printf '#include <saetox/saetox.h>\n#include <stdio.h>\nint main(void) { puts(sx_version()); return 0; }\n' >"$T/cmk/v.c"
cmake -S "$T/cmk" -B "$T/cmk/b" -DCMAKE_PREFIX_PATH="$P" >/dev/null && cmake --build "$T/cmk/b" >/dev/null
[ "$(LD_LIBRARY_PATH=$LIBDIR "$T/cmk/b/v")" = "$ver" ] || { echo "FAIL: the find_package(saetox) project"; exit 1; }
echo "ok: find_package(saetox) project built and ran"

# run the example: the embedded model, a random TopK SAE at its layer-1 residual
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || { echo "SKIP: the run needs Debian's python3-numpy"; exit 77; }
M=$P/share/saetox/models/embedded
$PY - "$M" "$T/sae" "$SRC/tests" <<'PYEOF'
import json, sys
sys.path.insert(0, sys.argv[3])
import numpy as np, st_np
cfg = json.load(open(sys.argv[1] + "/config.json"))
d = cfg.get("n_embd", cfg.get("d_model", cfg.get("hidden_size")))
r = np.random.default_rng(3)
W_dec = r.standard_normal((64, d)).astype(np.float32)
W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
st_np.write_saelens(sys.argv[2], "topk", W_dec.T.copy(), np.zeros(64, np.float32), W_dec,
                    np.zeros(d, np.float32), "blocks.1.hook_resid_post", k=8)
PYEOF
"$T/outside/steer_generate" "$M" "$T/sae" 3,5 steer 40 "You are such a" >"$T/run.out"
cat "$T/run.out"
grep -q '^libsaetox '"$ver" "$T/run.out" && grep -q '^unsteered  toxicity [01]\.[0-9]*  |' "$T/run.out" &&
  grep -q '^steer      toxicity [01]\.[0-9]*  |' "$T/run.out" || { echo "FAIL: the example's output"; exit 1; }
# strong steering along random directions changes the continuation
[ "$(sed -n 's/^unsteered .*|//p' "$T/run.out")" != "$(sed -n 's/^steer .*|//p' "$T/run.out")" ] ||
  { echo "FAIL: steering at alpha 40 left the continuation unchanged"; exit 1; }
# an error comes back as code + message
if "$T/outside/steer_generate" "$T/nope" "$T/sae" 1 2>"$T/err.out"; then echo "FAIL: a missing model folder succeeded"; exit 1; fi
grep -q "$T/nope" "$T/err.out" || { echo "FAIL: the error does not name the folder"; cat "$T/err.out"; exit 1; }

# the installed program finds share/saetox through its prefix, also after the prefix moves
mv "$P" "$T/moved"
d=$(env -u SAETOX_HOME "$T/moved/bin/saetox" --version | sed -n 's/^data: //p')
[ "$d" = "$(realpath "$T/moved/share/saetox")" ] || { echo "FAIL: the moved install reports data '$d'"; exit 1; }
echo "ok: the moved install finds $d"
rm -rf "$T"
