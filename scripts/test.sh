#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds with warnings as errors
# under AddressSanitizer + UndefinedBehaviorSanitizer, runs every CTest test,
# runs generated code under valgrind (scripts/valgrind.sh), then fuzzes the
# front end for 60 s (scripts/fuzz.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
# OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its SSE3
# kernels (3-4x slower convolutions in the plain path): name the AVX2 ones
# when the CPU has AVX2 and the user did not choose.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi
build="${LSCC_TEST_BUILD:-$root/build-test}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSCC_WERROR=ON -DLSCC_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@" 2>&1 | tee ctest.log
# generated code under valgrind, in an uninstrumented build (LSCC_VALGRIND=0 skips it)
if [ "${LSCC_VALGRIND:-1}" != 0 ]; then
  bash "$root/scripts/valgrind.sh"
fi
# and a bounded fuzzing run of the front end (LSCC_FUZZ_SECONDS=0 skips it)
if [ "${LSCC_FUZZ_SECONDS:-60}" != 0 ]; then
  LSCC_FUZZ_SEEDS="$build/tests/models" bash "$root/scripts/fuzz.sh"
fi
# the CTest summary again, last
sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\)/\1 \2/p' ctest.log |
  { read -r failed total; echo "tests: $((total - failed)) passed, $failed failed"; }
