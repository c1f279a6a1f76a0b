#!/usr/bin/env bash
# The main job: one training step of ResNet-18 (torchvision, random weights)
# on a synthetic 8192 x 8192 RGB image -- which PyTorch cannot train on this
# 24 GiB machine -- through the C code lscc generates for it.
#   1. export resnet18 to ONNX (dynamic N/H/W) with its BatchNormalization
#      nodes kept (examples/train/export_resnet18.py; lscc folds them, so
#      each convolution gets its own bias, where PyTorch's folding at export
#      would tie the equal ones of a fresh model into one parameter),
#   2. lscc compiles it for 1536-pixel training tiles and prints the plan,
#   3. CMake builds examples/train_resnet18 against the generated code,
#   4. the example streams forward, computes the loss, streams backward
#      (recomputing each tile) and takes an SGD step, printing time and memory.
# Usage: scripts/run.sh [SIZE] [TILE]   (defaults 8192 1536)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
# OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its SSE3
# kernels (3-4x slower convolutions in the plain path): name the AVX2 ones
# when the CPU has AVX2 and the user did not choose.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi
size="${1:-8192}"
tile="${2:-1536}"
build="$root/build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLSCC_TESTS=OFF -DLSCC_CUDA=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
models="$build/models"
mkdir -p "$models"
/usr/bin/python3 "$root/examples/train/export_resnet18.py" "$models/resnet18_main.onnx" 0 1000 >/dev/null
gen="$build/resnet18_gen"
echo "== lscc $models/resnet18_main.onnx --tile $tile --image ${size}x${size} --name resnet18 -o $gen --explain"
"$build/compiler/lscc" "$models/resnet18_main.onnx" --tile "$tile" --image "${size}x${size}" --name resnet18 -o "$gen" \
  --explain
cmake -S "$root/examples/train_resnet18" -B "$build/train_resnet18" -DCMAKE_BUILD_TYPE=Release \
  -DLSCC_GEN_DIR="$gen" >/dev/null
cmake --build "$build/train_resnet18" -j"$(nproc)" >/dev/null
echo
echo "== train_resnet18 --size $size (one training step)"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}" /usr/bin/time -f "== wall %e s, peak memory %M KB" \
  "$build/train_resnet18/train_resnet18" --size "$size"
