#!/usr/bin/env bash
# The GPU checks of issue 4, on a machine with an NVIDIA GPU (the device
# machine: H100 / H200, CUDA 13, PyTorch 2.11 in its python3):
#
#   build     lscc with CUDA (Release, LSCC_CUDA=ON) and its tests, in build-gpu/
#   test      ctest -R cuda --output-on-failure: test_cuda_kernels,
#             test_cuda_kernels_det (kernels against their CPU twins) and
#             test_equiv_cuda (generated CUDA code against PyTorch)
#   memcheck  compute-sanitizer --tool memcheck on a small generated model's
#             NAME_cuda_run (syn_residual, float32, several tiles; forward
#             and backward); GPU_CHECK_INITCHECK=1 adds --tool initcheck
#   quick     bench/gpu_bench.py --quick (resnet18 at 1024 and 2048)
#   bench     bench/gpu_bench.py $GPU_BENCH_ARGS (default: resnet50 at 4096,
#             8192, 16384, tile 4096), within GPU_BENCH_BUDGET seconds
#             (default 900: sizes predicted not to finish are skipped)
#
# usage: scripts/gpu_check.sh [LOGDIR] [STAGE ...]    stages in the order given
#                                                      (default: build test memcheck quick bench)
#        scripts/gpu_check.sh --detach [LOGDIR] [STAGE ...]   the same in the background (setsid),
#                                                      for runs longer than one device command
#        scripts/gpu_check.sh --wait [LOGDIR] [SECONDS]       wait for a detached run (default 540 s);
#                                                      exit 0 done and passed, 1 done and failed,
#                                                      3 still running
# LOGDIR defaults to build-gpu/logs. Everything is teed into LOGDIR/gpu_check.log;
# LOGDIR/summary.txt has one line per stage. When $OUT is set (a device run),
# the log, the summary and LOGDIR.tar.gz (all logs, the bench CSVs) are copied
# into it at the end (foreground) or by --wait.
# Every stage builds what it needs first (incrementally), so a stage can be
# run alone on a fresh machine.
#
# What the device machine lacks, and how it gets it:
#   It has nvcc, cmake/ctest, compute-sanitizer, gcc and PyTorch (python3 is
#   /opt/torch/.venv's, with torch, torchvision, onnx, onnxruntime, numpy),
#   cuDNN as the nvidia-cudnn-cu13 wheel (and maybe in /usr/local/cuda), and
#   no internet. It lacks the Debian development packages lscc's CMake
#   requires: protobuf-c (protoc-c, libprotobuf-c-dev), onnx.proto
#   (libonnx-dev), Check, oneDNN (libdnnl-dev) and OpenBLAS
#   (libopenblas-dev), maybe pkg-config. On a machine with Debian's archive,
#   scripts/gpu_debs.sh downloads them into .debs/ (~22 MB, ignored by git);
#   a device run must then carry it (device tool: carry [".debs"]). Here,
#   when `dpkg -s libprotobuf-c-dev` fails and .debs/ exists, every package
#   not installed is unpacked (dpkg -x) into a staging folder and copied into
#   / WITHOUT replacing any file already there (so nothing of the image is
#   overwritten), then ldconfig; the OpenBLAS links Debian's alternatives
#   would make are added where missing.
#   cuDNN: found in $CUDNN_ROOT, /usr/local/cuda, /usr or the python
#   wheel (then passed to CMake as CUDNN_INCLUDE_DIR / CUDNN_LIB and its lib
#   directory put on LD_LIBRARY_PATH).
#   PyTorch >= 2.9 exports ONNX with the dynamo exporter by default; the
#   test suite's scripts are written for the TorchScript exporter, so a
#   sitecustomize.py (bench/gpu_bench.py's install_torch_compat) defaults
#   torch.onnx.export to dynamo=False and restores onnx.mapping for them.
#   LSCC_ONNX_DYNAMO=1 turns that off.
#
# Environment: GPU_BENCH_ARGS (bench stage arguments), GPU_BENCH_BUDGET,
# GPU_CHECK_CMAKE_ARGS (extra configure arguments), LSCC_EQUIV_ONLY (only the
# test_equiv_cuda cases whose model name contains it), GPU_CHECK_INITCHECK,
# GPU_CHECK_BUILD (build directory, default build-gpu).
#
# With the device tool (one command at most 10 minutes, the machine given
# back 30 s after a command returns and after 30 minutes held, 30 minutes of
# device time per session): here, once, `bash scripts/gpu_debs.sh`; then
#   run(command="bash scripts/gpu_check.sh --detach && bash scripts/gpu_check.sh --wait build-gpu/logs 540",
#       carry=[".debs"], timeout_s=600)
#   run(command="bash scripts/gpu_check.sh --wait build-gpu/logs 540", timeout_s=600)   # again at once,
#       until it exits 0 or 1; each reply brings gpu_check.log, summary.txt and logs.tar.gz back.
# Roughly (estimates, not measured): build 3-5 min, test 5-15 min
# (test_equiv_cuda: 20 cases, each a PyTorch float64 reference on the CPU and
# an nvcc build), memcheck 1-2 min, quick 1-2 min, bench 5-10 min (exports,
# code generation, nvcc builds, making the 16384^2 image for PyTorch; a
# ResNet-50 float32 step itself is about 0.5 TFLOP per megapixel, seconds on
# an H100). If the session's 30 minutes run short, run the stages in two
# sessions (`... --detach build-gpu/logs build test memcheck`, then
# `... --detach build-gpu/logs quick bench`): every stage rebuilds what it
# needs. The bench rows accumulate in LOGDIR/bench/results.csv (--append)
# only while the machine is kept: keep the CSVs that come back.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${GPU_CHECK_BUILD:-$ROOT/build-gpu}
SELF="$ROOT/scripts/gpu_check.sh"

is_stage() { case ${1:-} in build|test|memcheck|quick|bench) return 0 ;; *) return 1 ;; esac; }

# ---- --detach / --wait -----------------------------------------------------
if [ "${1:-}" = --wait ]; then
  LOGDIR=$(realpath -m "${2:-$BUILD/logs}")
  limit=${3:-540}
  t0=$SECONDS
  gone=0
  while [ ! -f "$LOGDIR/DONE" ] && [ $((SECONDS - t0)) -lt "$limit" ]; do
    # the run writes its pid first: gone without DONE means it was killed
    if [ -f "$LOGDIR/PID" ] && ! kill -0 "$(cat "$LOGDIR/PID")" 2>/dev/null; then
      sleep 2
      [ -f "$LOGDIR/DONE" ] || { gone=1; break; }
    fi
    sleep 5
  done
  tail -c 9000 "$LOGDIR/gpu_check.log" 2>/dev/null
  rc=3
  if [ -f "$LOGDIR/DONE" ]; then rc=$(cat "$LOGDIR/DONE"); [ "$rc" = 0 ] || rc=1; fi
  [ $gone = 1 ] && { rc=1; echo "gpu_check: the background run ended without finishing (killed?)"; }
  echo
  [ -f "$LOGDIR/summary.txt" ] && cat "$LOGDIR/summary.txt"
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    tar -C "$(dirname "$LOGDIR")" -czf "$OUT/$(basename "$LOGDIR").tar.gz" "$(basename "$LOGDIR")"
    cp "$LOGDIR/gpu_check.log" "$LOGDIR/summary.txt" "$OUT/" 2>/dev/null
  fi
  case $rc in
    0) echo "gpu_check: done, all stages passed" ;;
    1) echo "gpu_check: done, some stage failed (summary above)" ;;
    3) echo "gpu_check: still running after ${limit} s (scripts/gpu_check.sh --wait again)" ;;
  esac
  exit "$rc"
fi
if [ "${1:-}" = --detach ]; then
  shift
  if [ $# -gt 0 ] && ! is_stage "$1"; then LOGDIR=$(realpath -m "$1"); shift; else LOGDIR=$BUILD/logs; fi
  mkdir -p "$LOGDIR"
  rm -f "$LOGDIR/DONE" "$LOGDIR/PID"
  # OUT belongs to the device command that started it, which returns now
  setsid nohup env -u OUT bash "$SELF" "$LOGDIR" "$@" >"$LOGDIR/detached.out" 2>&1 </dev/null &
  echo "gpu_check: running in the background (pid $!); log $LOGDIR/gpu_check.log;" \
       "scripts/gpu_check.sh --wait $LOGDIR [SECONDS]"
  exit 0
fi

if [ $# -gt 0 ] && ! is_stage "$1"; then LOGDIR=$(realpath -m "$1"); shift; else LOGDIR=$BUILD/logs; fi
STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=(build test memcheck quick bench)
for s in "${STAGES[@]}"; do
  is_stage "$s" || { echo "gpu_check: unknown stage '$s' (build test memcheck quick bench)" >&2; exit 2; }
done
mkdir -p "$LOGDIR"
rm -f "$LOGDIR/DONE"
echo $$ >"$LOGDIR/PID"
LOG=$LOGDIR/gpu_check.log
SUMMARY=$LOGDIR/summary.txt
exec > >(tee -a "$LOG") 2>&1
: >"$SUMMARY"
finish() {
  local rc=$1
  echo "$rc" >"$LOGDIR/DONE"
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    tar -C "$(dirname "$LOGDIR")" -czf "$OUT/$(basename "$LOGDIR").tar.gz" "$(basename "$LOGDIR")" 2>/dev/null
    cp "$LOG" "$SUMMARY" "$OUT/" 2>/dev/null
  fi
}
say() { echo "gpu_check: $*"; }
JOBS=$(nproc 2>/dev/null || echo 4)
PY=$(command -v python3 || echo /usr/bin/python3)
say "$(date -Is) stages: ${STAGES[*]}; log $LOG"

# ---- environment -------------------------------------------------------------
{
  echo "== $(date -Is)"
  uname -a
  grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release 2>/dev/null
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2
  command -v nvcc && nvcc --version | tail -2
  command -v cmake && cmake --version | head -1
  gcc --version 2>&1 | head -1
  echo "python3: $PY"
  "$PY" -c "import torch, torchvision, onnx, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'cudnn', torch.backends.cudnn.version(), 'gpu', torch.cuda.is_available(), '| torchvision', torchvision.__version__,
'| onnx', onnx.__version__, '| numpy', numpy.__version__)" 2>&1 | tail -1
} >"$LOGDIR/env.txt" 2>&1
cat "$LOGDIR/env.txt"

# Debian packages from .debs/ (scripts/gpu_debs.sh), never replacing a file.
# LSCC_DEBS_ROOT: install root (default /; another root is for testing this).
provide_debs() {
  local root=${LSCC_DEBS_ROOT:-/} debs=$ROOT/.debs
  if [ -z "${LSCC_DEBS_FORCE:-}" ] && dpkg -s libprotobuf-c-dev >/dev/null 2>&1; then
    say "Debian development packages: installed"
    return 0
  fi
  if ! ls "$debs"/*.deb >/dev/null 2>&1; then
    say "WARNING: libprotobuf-c-dev is not installed and there is no .debs/: run scripts/gpu_debs.sh where" \
        "Debian's archive is reachable and carry .debs (the build will fail in CMake otherwise)"
    return 0
  fi
  local stage=/tmp/lscc-debs-stage n=0 kept=0 f pkg dir p dst
  rm -rf "$stage"
  mkdir -p "$stage"
  for f in "$debs"/*.deb; do
    pkg=$(basename "$f" | cut -d_ -f1)
    if [ -z "${LSCC_DEBS_FORCE:-}" ] && dpkg -s "$pkg" >/dev/null 2>&1; then continue; fi
    dir=$stage/$pkg
    mkdir -p "$dir"
    if command -v dpkg-deb >/dev/null 2>&1; then
      dpkg-deb -x "$f" "$dir" || { say "cannot unpack $f"; continue; }
    else # no dpkg: the data member of the ar archive
      local member z
      member=$(ar t "$f" | grep '^data\.tar')
      case $member in *.xz) z=-J ;; *.gz) z=-z ;; *.zst) z=--zstd ;; *) z="" ;; esac
      ar p "$f" "$member" | tar -x $z -f - -C "$dir" || { say "cannot unpack $f"; continue; }
    fi
    # libonnx-dev: only the schema (its headers and library links are not needed)
    [ "$pkg" = libonnx-dev ] && find "$dir" \( -type f -o -type l \) ! -path '*/usr/include/onnx/onnx.proto' -delete
    while IFS= read -r p; do
      dst=${root%/}/${p#./}
      if [ -e "$dst" ] || [ -L "$dst" ]; then kept=$((kept + 1)); continue; fi
      mkdir -p "$(dirname "$dst")" && cp -a "$dir/$p" "$dst" && n=$((n + 1))
    done < <(cd "$dir" && find . \( -type f -o -type l \) ! -path './usr/share/doc/*' ! -path './usr/share/man/*')
  done
  # the links Debian's update-alternatives makes for OpenBLAS
  local lib=${root%/}/usr/lib/x86_64-linux-gnu
  for p in libopenblas.so.0 libopenblas.so; do
    if [ -e "$lib/openblas-pthread/$p" ] && [ ! -e "$lib/$p" ] && [ ! -L "$lib/$p" ]; then
      ln -s "openblas-pthread/$p" "$lib/$p"
    fi
  done
  if [ "$root" = / ]; then
    # a non-Debian ld.so would not look in the multiarch directory
    grep -qsx '/usr/lib/x86_64-linux-gnu' /etc/ld.so.conf /etc/ld.so.conf.d/*.conf ||
      echo /usr/lib/x86_64-linux-gnu >/etc/ld.so.conf.d/lscc-debs.conf
    ldconfig
  fi
  say "Debian packages from .debs/: $n files copied into $root, $kept already there (kept)"
}
provide_debs
export PKG_CONFIG_PATH=/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}

# cuDNN: CMake looks in /usr/local/cuda and $CUDNN_ROOT; else the python wheel
CMAKE_EXTRA=()
find_cudnn() {
  local d sp inc="" lib=""
  pick() { # pick INCLUDE_DIR LIB_DIR...: cudnn.h there and libcudnn.so (or .so.N) in one of the lib dirs
    local i=$1 l
    shift
    [ -f "$i/cudnn.h" ] || return 1
    for l in "$@"; do
      if [ -e "$l/libcudnn.so" ]; then inc=$i lib=$l/libcudnn.so; return 0; fi
      lib=$(find "$l" -maxdepth 1 -name 'libcudnn.so.[0-9]*' 2>/dev/null | sort | head -1)
      [ -n "$lib" ] && { inc=$i; return 0; }
    done
    return 1
  }
  for d in ${CUDNN_ROOT:-} /usr/local/cuda /usr; do
    pick "$d/include" "$d/lib64" "$d/lib" "$d/lib/x86_64-linux-gnu" && break
  done
  [ -n "$lib" ] || pick /usr/include/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
  if [ -z "$lib" ]; then # the python wheel (nvidia-cudnn-cu13)
    for sp in $("$PY" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
      [ -d "$sp/nvidia" ] || continue
      d=$(find "$sp/nvidia" -maxdepth 4 -name cudnn.h -printf '%h\n' 2>/dev/null | head -1)
      [ -n "$d" ] && pick "$d" "$(dirname "$d")/lib" "$(dirname "$d")/lib64" && break
    done
  fi
  if [ -z "$lib" ]; then
    say "WARNING: cuDNN not found (cudnn.h + libcudnn.so* in \$CUDNN_ROOT, /usr/local/cuda, /usr or the python wheels)"
    return 1
  fi
  CMAKE_EXTRA+=("-DCUDNN_INCLUDE_DIR=$inc" "-DCUDNN_LIB=$lib")
  LD_LIBRARY_PATH=$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
  say "cuDNN: headers $inc, library $lib ($(dirname "$lib") on LD_LIBRARY_PATH)"
}
find_cudnn
# the toolkit's libraries (libcudart.so, libcublas.so: lscc links them shared)
# for the loader too, in case ld.so.conf does not name them
cuda_lib=$(realpath -m "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")/../lib64")
if [ -d "$cuda_lib" ]; then
  LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}${LD_LIBRARY_PATH:+:}$cuda_lib
  export LD_LIBRARY_PATH
fi
ls "$cuda_lib"/libcublas.so* >/dev/null 2>&1 ||
  say "WARNING: no libcublas.so beside nvcc ($cuda_lib): FindCUDAToolkit will not define CUDA::cublas"
# where the .debs put them (explicit, for a CMake that does not search the
# multiarch directories)
d=/usr/include/x86_64-linux-gnu/openblas-pthread
[ -f "$d/cblas.h" ] && CMAKE_EXTRA+=("-DOPENBLAS_INCLUDE_DIR=$d")
d=/usr/lib/x86_64-linux-gnu
[ -e "$d/libopenblas.so" ] && CMAKE_EXTRA+=("-DOPENBLAS_LIB=$d/libopenblas.so")
[ -e "$d/libdnnl.so" ] && CMAKE_EXTRA+=("-DDNNL_LIB=$d/libdnnl.so")
# shellcheck disable=SC2206
CMAKE_EXTRA+=(${GPU_CHECK_CMAKE_ARGS:-})

# torch / onnx version shims for the test suite's Python (see the top)
SHIM=$BUILD/pyshim
mkdir -p "$SHIM"
cat >"$SHIM/sitecustomize.py" <<EOF
# Written by scripts/gpu_check.sh: bench/gpu_bench.py's install_torch_compat()
# (torch.onnx.export defaults to dynamo=False on torch >= 2.9; onnx.mapping).
import os as _os, sys as _sys
try:
    import importlib.util as _u
    _s = _u.spec_from_file_location("_lscc_gpu_bench_compat", "$ROOT/bench/gpu_bench.py")
    _m = _u.module_from_spec(_s)
    _s.loader.exec_module(_m)
    _m.install_torch_compat()
except Exception as _e:  # never break the interpreter's start
    _sys.stderr.write("sitecustomize (lscc): %s\n" % (_e,))
# then the sitecustomize this one shadows, if any
_here = _os.path.dirname(_os.path.abspath(__file__))
for _d in list(_sys.path):
    _f = _os.path.join(_d or ".", "sitecustomize.py")
    if _d and _os.path.abspath(_d) != _here and _os.path.isfile(_f):
        try:
            exec(compile(open(_f).read(), _f, "exec"), {"__name__": "sitecustomize", "__file__": _f})
        except Exception:
            pass
        break
EOF
export PYTHONPATH=$SHIM${PYTHONPATH:+:$PYTHONPATH}
"$PY" -c "import torch.onnx, inspect; print('gpu_check: torch.onnx.export dynamo default ->',
getattr(torch.onnx.export, '_lscc_legacy', False) and 'False (shim)' or 'as installed')" 2>&1 | tail -1

# ---- stages --------------------------------------------------------------------
FAILED=0
stage() { # stage NAME FUNCTION: runs it, records its status and time
  local name=$1 t0=$SECONDS rc
  say "=== $name ($(date +%T))"
  "$2"
  rc=$?
  printf '%-9s %-6s %5d s\n' "$name" "$([ $rc = 0 ] && echo ok || echo "FAIL($rc)")" $((SECONDS - t0)) | tee -a "$SUMMARY"
  [ $rc = 0 ] || FAILED=1
  return $rc
}

do_build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLSCC_CUDA=ON -DLSCC_TESTS=ON \
        "-DLSCC_PYTHON=$PY" "${CMAKE_EXTRA[@]}" >"$LOGDIR/configure.log" 2>&1 ||
    { tail -40 "$LOGDIR/configure.log"; say "configure failed: $LOGDIR/configure.log"; return 1; }
  grep -E "lscc: CUDA backend" "$LOGDIR/configure.log"
  cmake --build "$BUILD" -j "$JOBS" >>"$LOGDIR/build.log" 2>&1 ||
    { grep -E -B2 -A6 "error|Error" "$LOGDIR/build.log" | tail -60; say "build failed: $LOGDIR/build.log"; return 1; }
  say "built $BUILD (log $LOGDIR/build.log)"
}
built() { [ -x "$BUILD/compiler/lscc" ] && [ -f "$BUILD/runtime/liblscc_rt_cuda.a" ]; }
# every stage: configure again (seconds; the same settings, e.g. LSCC_PYTHON) and build what changed
ensure_build() { do_build >/dev/null || { tail -40 "$LOGDIR/build.log"; return 1; }; }

do_test() {
  ensure_build || return 1
  (cd "$BUILD" && ctest -R cuda --output-on-failure) 2>&1 | tee "$LOGDIR/ctest.log"
  local rc=${PIPESTATUS[0]}
  cp "$BUILD/Testing/Temporary/LastTest.log" "$LOGDIR/ctest_LastTest.log" 2>/dev/null
  # a skip (exit 77) means no GPU was seen: not a pass here
  if grep -q "Not Run\|Skipped\|\*\*\*Skipped" "$LOGDIR/ctest.log"; then
    say "a CUDA test was skipped: no usable GPU? (see $LOGDIR/ctest.log)"
    return 1
  fi
  return "$rc"
}

do_memcheck() {
  ensure_build || return 1
  local san mc=$BUILD/memcheck
  rm -rf "$mc"
  mkdir -p "$mc"
  # syn_residual (Conv, ReLU, residual Add, strided Conv), float32, uint8
  # image 1 x 3 x 200 x 168 at --tile 96: several tiles with clipped edges
  { "$PY" "$ROOT/tests/python/equiv_ref.py" syn_residual "$mc/case" --batch 1 --height 200 --width 168 --seed 7 \
        --input-dtype uint8 &&
    "$BUILD/compiler/lscc" "$mc/case/model.onnx" --tile 96 --precision f32 --name net --target cuda -o "$mc/gen" &&
    cmake -S "$mc/gen" -B "$mc/gen/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$mc/gen/build" -j "$JOBS"; } >"$LOGDIR/memcheck_build.log" 2>&1 ||
    { tail -30 "$LOGDIR/memcheck_build.log"; say "memcheck case build failed"; return 1; }
  grep -E "tile|tiles" "$mc/gen/plan.txt" | head -3
  san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
        2>/dev/null | head -1)
  [ -n "$san" ] || san=$(find /usr/local /opt -name compute-sanitizer -type f -perm -u+x 2>/dev/null | head -1)
  [ -n "$san" ] || { say "compute-sanitizer not found"; return 1; }
  local run=("$mc/gen/build/net_cuda_run" --input "$mc/case/x.npy" --grad-output "$mc/case/g.npy" --out "$mc/out")
  "${run[@]}" >"$LOGDIR/memcheck_plain.log" 2>&1 || { cat "$LOGDIR/memcheck_plain.log"; say "net_cuda_run failed"; return 1; }
  "$san" --version | tail -1
  "$san" --tool memcheck --error-exitcode 99 "${run[@]}" 2>&1 | tee "$LOGDIR/memcheck.log" | tail -5
  local rc=${PIPESTATUS[0]}
  if [ -n "${GPU_CHECK_INITCHECK:-}" ]; then
    "$san" --tool initcheck --error-exitcode 99 "${run[@]}" >"$LOGDIR/initcheck.log" 2>&1
    say "initcheck exit $? (informational; $LOGDIR/initcheck.log): $(grep 'ERROR SUMMARY' "$LOGDIR/initcheck.log")"
  fi
  return "$rc"
}

do_quick() {
  ensure_build || return 1
  "$PY" "$ROOT/bench/gpu_bench.py" --quick --lscc "$BUILD/compiler/lscc" --work "$BUILD/bench_gpu" \
        --models-dir "$BUILD/models" --out "$LOGDIR/bench_quick"
}

do_bench() {
  ensure_build || return 1
  # shellcheck disable=SC2086
  "$PY" "$ROOT/bench/gpu_bench.py" --lscc "$BUILD/compiler/lscc" --work "$BUILD/bench_gpu" \
        --models-dir "$BUILD/models" --out "$LOGDIR/bench" --append --budget "${GPU_BENCH_BUDGET:-900}" \
        ${GPU_BENCH_ARGS:-}
}

for s in "${STAGES[@]}"; do
  stage "$s" "do_$s"
  if [ "$s" = build ] && ! built; then say "no build: the remaining stages need it"; break; fi
done
say "$(date -Is) done; summary:"
cat "$SUMMARY"
finish "$FAILED"
exit "$FAILED"
