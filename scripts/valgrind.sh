#!/usr/bin/env bash
# Generated code under valgrind (memcheck): an uninstrumented build of lscc
# and its runtime, code generated for a residual net with BN, run forward and
# backward on a 2 x 3 x 131 x 97 image with 4 x 3 tiles, its results compared
# with PyTorch's (1e-10, float64). Fails on any error or difference.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LSCC_VALGRIND_BUILD:-$root/build-valgrind}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSCC_WERROR=ON -DLSCC_TESTS=OFF -DLSCC_CUDA=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
work="$build/valgrind_case"
rm -rf "$work"
/usr/bin/python3 "$root/tests/python/equiv_ref.py" syn_residual "$work" --batch 2 --height 131 --width 97 --seed 3
"$build/compiler/lscc" "$work/model.onnx" --tile 40 -o "$work/gen" --precision f64 --name net
cmake -S "$work/gen" -B "$work/gen/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror -pedantic" >/dev/null
cmake --build "$work/gen/build" >/dev/null
valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect -q \
  "$work/gen/build/net_run" --input "$work/x.npy" --grad-output "$work/g.npy" --out "$work/out"
# and what it computed under valgrind is PyTorch's result (an equivalence run)
/usr/bin/python3 - "$work" <<'EOF'
import json, sys
import numpy as np
w = sys.argv[1]
def err(a, b):
    a, b = np.load(a), np.load(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
worst = max(err(f"{w}/out/{f}", f"{w}/ref/{f}") for f in ("output.npy", "backbone.npy", "input_grad.npy"))
ref = json.load(open(f"{w}/ref/params.json"))
want = {k for k, v in ref.items() if v["kind"] == "other"}
got = {v["name"]: k for k, v in json.load(open(f"{w}/out/params.json")).items()}
assert want <= set(got), sorted(want - set(got))
for name in want:
    worst = max(worst, err(f"{w}/out/grad/{got[name]}.npy", f"{w}/ref/grad/{name}.npy"))
print(f"valgrind: output, input gradient and {len(want)} parameter gradients vs PyTorch: {worst:.2e}")
sys.exit(0 if worst <= 1e-10 else 1)
EOF
echo "valgrind: generated code ran clean (no memcheck errors, no leaks)"
