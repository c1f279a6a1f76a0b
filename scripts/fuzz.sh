#!/usr/bin/env bash
# Fuzzes the front end (loader, shape inference, passes, plan, lowering) with libFuzzer
# under ASan+UBSan for LSCC_FUZZ_SECONDS (default 60), seeded with the
# synthetic test models and the malformed files. A crash leaves its input in
# build-fuzz/crashes/ and fails the run: turn it into a regression test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$p" >/dev/null
done
build="$root/build-fuzz"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSCC_FUZZ=ON -DLSCC_TESTS=OFF -DLSCC_CUDA=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_frontend >/dev/null
corpus="$build/corpus"; mkdir -p "$corpus" "$build/crashes"
models="${LSCC_FUZZ_SEEDS:-$root/build-test/tests/models}"
/usr/bin/python3 "$root/tests/python/export_models.py" "$models" syn_stride3_dil syn_depthwise syn_pads syn_residual \
  syn_concat syn_shuffle syn_flatten_view syn_layernorm syn_se_late syn_layernorm_op17 syn_shuffle_op11 >/dev/null
/usr/bin/python3 "$root/tests/python/make_malformed.py" "$build/malformed" >/dev/null
cp "$models"/syn_*.onnx "$build"/malformed/*.onnx "$corpus"/
export ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
"$build/tests/fuzz/fuzz_frontend" "$corpus" -max_total_time="${LSCC_FUZZ_SECONDS:-60}" -max_len=65536 \
  -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$build/crashes/" -print_final_stats=1 2>&1 | tail -15
echo "fuzz: no crash in ${LSCC_FUZZ_SECONDS:-60} s"
