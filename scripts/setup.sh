#!/usr/bin/env bash
# Installs what lscc needs to build and test, when it is missing (Debian 12).
set -euo pipefail
pkgs=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libonnx-dev check
      libdnnl-dev libopenblas0-pthread libopenblas-dev valgrind python3-torch python3-torchvision python3-onnx
      python3-numpy time libtiff-dev)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "lscc setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# onnxruntime (the reference for `lscc export`) comes from PyPI, for Debian's
# Python; --no-deps keeps Debian's NumPy, which torch 1.13 is built against.
if ! /usr/bin/python3 -c "import onnxruntime" 2>/dev/null; then
  echo "lscc setup: installing onnxruntime from PyPI"
  $sudo /usr/bin/python3 -m pip install -q --break-system-packages --no-deps onnxruntime==1.19.2
fi
