#!/usr/bin/env bash
# Downloads, on a machine with Debian 12's package archive (this project's
# development machines), the .deb files that scripts/gpu_check.sh unpacks on
# the GPU device machine, which has CUDA, cmake and PyTorch but none of the
# Debian packages lscc builds against (and no internet):
#
#   protobuf-c-compiler libprotoc32 libprotobuf32   protoc-c (schemas/: the ONNX reader)
#   libprotobuf-c-dev libprotobuf-c1                protobuf-c (the compiler's ONNX loader)
#   libonnx-dev                                     only its onnx.proto (schemas/CMakeLists.txt)
#   check libsubunit-dev libsubunit0                the test suite (Check)
#   libdnnl-dev libdnnl2 ocl-icd-libopencl1         oneDNN 2.x (kernels/: required by CMake;
#                                                   libdnnl.so.2 needs libOpenCL.so.1)
#   libopenblas-pthread-dev libopenblas0-pthread    OpenBLAS (kernels/cpu: required by CMake)
#   libgfortran5 libquadmath0 libgomp1              OpenBLAS's and oneDNN's runtime needs
#   pkg-config pkgconf pkgconf-bin libpkgconf3      CMake's FindPkgConfig
#
# usage: scripts/gpu_debs.sh [DIR]      (default: .debs in the repository root)
#
# DIR is ignored by git (/.debs/ in .gitignore), so a device run must name it
# in `carry` (device tool: carry [".debs"]). About 22 MB in all.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:-$ROOT/.debs}
PKGS=(protobuf-c-compiler libprotoc32 libprotobuf32 libprotobuf-c-dev libprotobuf-c1 libonnx-dev
      check libsubunit-dev libsubunit0 libdnnl-dev libdnnl2 ocl-icd-libopencl1
      libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0 libgomp1
      pkg-config pkgconf pkgconf-bin libpkgconf3)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# amd64 packages whatever this machine is (the device machine is x86-64)
opts=()
if [ "$(dpkg --print-architecture 2>/dev/null)" != amd64 ]; then
  lists=/tmp/lscc-amd64-lists
  mkdir -p "$lists/partial"
  opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  $sudo apt-get "${opts[@]}" update -qq
elif ! apt-cache show "${PKGS[@]}" >/dev/null 2>&1; then
  $sudo apt-get update -qq
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp" # apt's _apt user downloads into it
(cd "$tmp" && apt-get "${opts[@]}" download "${PKGS[@]}" 2>&1 | grep -v "^Get:\|unsandboxed" || true)
got=$(ls "$tmp"/*.deb 2>/dev/null | wc -l)
if [ "$got" -ne "${#PKGS[@]}" ]; then
  echo "gpu_debs: downloaded $got of ${#PKGS[@]} packages:" >&2
  ls "$tmp" >&2
  exit 1
fi
mkdir -p "$DEST"
rm -f "$DEST"/*.deb
mv "$tmp"/*.deb "$DEST"/
(cd "$DEST" && sha256sum ./*.deb > SHA256SUMS)
du -ch "$DEST"/*.deb | tail -1 | sed "s|total|in $DEST (${#PKGS[@]} packages)|"
