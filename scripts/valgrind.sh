#!/usr/bin/env bash
# Generated code under valgrind (memcheck): an uninstrumented build of lscc
# and its runtime, code generated for a residual net with BN, run forward and
# backward on a 2 x 3 x 131 x 97 image with 4 x 3 tiles. Fails on any error.
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
echo "valgrind: generated code ran clean (no memcheck errors, no leaks)"
