#!/usr/bin/env bash
# The training example end to end (issue 6): ResNet-18 from random weights
# learns to find 16 x 16 checkerboards in RGB TIFF images it cannot see
# scaled down, streamed tile by tile through the C code lscc generates;
# then the saliency map of a held-out image, and the trained model back to
# ONNX, checked against onnxruntime.
#   1. export a 2-class ResNet-18 (random init) to ONNX,
#   2. lscc compiles it for TILE-pixel tiles,
#   3. CMake builds examples/train and examples/saliency against it,
#   4. train writes the TIFF data set, trains (SGD momentum) and saves the weights,
#   5. saliency maps a held-out positive image,
#   6. lscc export writes trained.onnx, and onnxruntime runs it on a random
#      image against the generated code with the trained weights.
# Usage: scripts/train.sh [SIZE] [TILE] [STEPS]   (defaults 1024 1440 250); more
# train options after a --, e.g. scripts/train.sh 4096 1536 50 -- --opt adamw
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi
size="${1:-1024}"
tile="${2:-1440}"
steps="${3:-250}"
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
build="$root/build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLSCC_TESTS=OFF -DLSCC_CUDA=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
work="$build/train_example"
mkdir -p "$work"
/usr/bin/python3 "$root/examples/train/export_resnet18.py" "$work/resnet18_2cls.onnx" 0
gen="$work/gen_t$tile"
echo "== lscc resnet18_2cls.onnx --tile $tile --image ${size}x${size} --name resnet18"
"$build/compiler/lscc" "$work/resnet18_2cls.onnx" --tile "$tile" --image "${size}x${size}" --name resnet18 -o "$gen"
for ex in train saliency; do
  cmake -S "$root/examples/$ex" -B "$work/build_$ex" -DCMAKE_BUILD_TYPE=Release -DLSCC_GEN_DIR="$gen" \
    -Dlscc_DIR="$build" >/dev/null
  cmake --build "$work/build_$ex" -j"$(nproc)" >/dev/null
done
data="$work/data_$size"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
echo
echo "== train --data $data --size $size --steps $steps $*"
"$work/build_train/train" --data "$data" --size "$size" --steps "$steps" --save "$work/trained.weights" "$@"
echo
echo "== saliency of held-out image test_001 (has checkerboards)"
"$work/build_saliency/saliency" --image "$data/test_001.tif" --weights "$work/trained.weights" --class 1 \
  --out "$work/saliency_test_001.tif"
if "$build/compiler/lscc" --help 2>&1 | grep -q "lscc export"; then
  echo
  echo "== lscc export resnet18_2cls.onnx --weights trained.weights -o trained.onnx"
  "$build/compiler/lscc" export "$work/resnet18_2cls.onnx" --weights "$work/trained.weights" -o "$work/trained.onnx"
  echo
  echo "== onnxruntime on trained.onnx vs the generated code with trained.weights (random 512 x 640 image)"
  /usr/bin/python3 - "$work" <<'PY'
import os, subprocess, sys
import numpy as np
import onnxruntime as ort
work = sys.argv[1]
x = np.random.default_rng(7).normal(0, 1, (1, 3, 512, 640)).astype(np.float32)
np.save(os.path.join(work, "check_x.npy"), x)
subprocess.run([os.path.join(work, "build_train", "generated", "resnet18_run"), "--input", os.path.join(work, "check_x.npy"),
                "--weights", os.path.join(work, "trained.weights"), "--out", os.path.join(work, "check_out")], check=True)
ours = np.load(os.path.join(work, "check_out", "output.npy"))
ref = ort.InferenceSession(os.path.join(work, "trained.onnx"), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
err = float(np.abs(ours - ref).max() / np.abs(ref).max())
print(f"logits lscc {ours.ravel()}, onnxruntime {ref.ravel()}: max difference / max |logit| = {err:.2e}")
sys.exit(0 if err <= 1e-5 else 1)
PY
fi
