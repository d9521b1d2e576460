#!/usr/bin/env bash
# The CUDA backend on a GPU machine, in one go (under 8 minutes on one H100):
#   1. configures and builds a clean Release tree with CUDA ON (in a temporary directory);
#      without Catch2 the unit tests are left out and the stand-alone check below stands in;
#   2. runs the CUDA tests (`atrous_cuda_tests`, when built) and `bench_cuda --check`;
#   3. benchmarks the per-op kernels against this device's roofline (`bench_cuda --ops`);
#   4. with a Panoptic-DeepLab MNV3-L model at 1025x2049 (PANOPTIC_MODEL, default
#      shared/panoptic_mnv3l_1025x2049.atrous; when absent and python3 has torch + onnx, one is
#      exported with random weights by models/pytorch/export_panoptic.py), the end-to-end FPS of
#      the network, of network + CPU merger and of network (outputs left on the device) + GPU
#      merger, after a check that the GPU merger equals the CPU merger on the model's outputs
#      (`bench_cuda --model FILE --merge`).
# Everything is printed and written to $OUT/gpu_check.txt (OUT defaults to /tmp/atrous_gpu_check_out).
# Needs cmake, g++, nvcc and the xsimd and stb headers (no network: nothing is downloaded);
# XSIMD_INCLUDE_DIR may point at a copy of xsimd's include directory.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-/tmp/atrous_gpu_check_out}"
mkdir -p "$OUT"
REPORT="$OUT/gpu_check.txt"
: > "$REPORT"
log() { echo "$@" | tee -a "$REPORT"; }
run_logged() {  # command..., output appended to the report; returns its status
  "$@" 2>&1 | tee -a "$REPORT"
  return "${PIPESTATUS[0]}"
}
START=$(date +%s)
JOBS=$(nproc 2>/dev/null || echo 4)
BUILD="$(mktemp -d /tmp/atrous_gpu_check.XXXXXX)"
trap 'rm -rf "$BUILD"' EXIT
STATUS=0

log "== atrous gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
run_logged nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || log "nvidia-smi failed"
NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
[ -x "$NVCC" ] && log "nvcc: $("$NVCC" --version | tail -1)" || { log "no nvcc: cannot build the CUDA backend"; exit 1; }

# ---- what the build needs -------------------------------------------------------------------
EXTRA=()
if [ -n "${XSIMD_INCLUDE_DIR:-}" ]; then
  EXTRA+=("-DXSIMD_INCLUDE_DIR=$XSIMD_INCLUDE_DIR")
elif [ -f "$ROOT/shared/third_party/xsimd/include/xsimd/xsimd.hpp" ]; then
  EXTRA+=("-DXSIMD_INCLUDE_DIR=$ROOT/shared/third_party/xsimd/include")
fi
for header in xsimd/xsimd.hpp stb/stb_image.h catch2/catch.hpp; do
  if echo "#include <$header>" | g++ -std=c++17 -fsyntax-only -x c++ - ${XSIMD_INCLUDE_DIR:+-I"$XSIMD_INCLUDE_DIR"} 2>/dev/null; then
    log "header $header: present"
  else
    log "header $header: MISSING"
  fi
done

# ---- 1. clean configure + build --------------------------------------------------------------
TESTS=ON
configure() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DATROUS_CUDA=ON -DATROUS_INSTALL_TEST=OFF \
    -DCMAKE_CUDA_COMPILER="$NVCC" -DATROUS_BUILD_TESTS="$TESTS" ${EXTRA[@]+"${EXTRA[@]}"} > "$OUT/configure.log" 2>&1
}
if ! configure; then
  log "configure with tests failed (Catch2 missing?); retrying with -DATROUS_BUILD_TESTS=OFF"
  rm -rf "$BUILD"/* && TESTS=OFF
  configure || { log "configure failed:"; tail -20 "$OUT/configure.log" | tee -a "$REPORT"; exit 1; }
fi
TARGETS=(atrous bench_cuda)
[ "$TESTS" = ON ] && TARGETS+=(atrous_tests atrous_cuda_tests)
if ! cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]}" -- -k > "$OUT/build.log" 2>&1; then
  log "build failed:"; grep -E "error|Error" "$OUT/build.log" | head -30 | tee -a "$REPORT"; exit 1
fi
log "built ${TARGETS[*]} in $(( $(date +%s) - START )) s"
run_logged "$BUILD/atrous" version

# ---- 2. correctness ---------------------------------------------------------------------------
if [ "$TESTS" = ON ]; then
  # Exit 77 (a test found no device) counts as a failure here: this script runs on a GPU.
  log "== atrous_cuda_tests"
  run_logged timeout 120 "$BUILD/atrous_cuda_tests" || STATUS=1
fi
log "== bench_cuda --check (CUDA vs reference, relative L2 <= 1e-5)"
run_logged timeout 60 "$BUILD/bench_cuda" --check || STATUS=1

# ---- 3. per-op roofline ----------------------------------------------------------------------
log "== bench_cuda --ops"
run_logged timeout 60 "$BUILD/bench_cuda" --ops || STATUS=1

# ---- 4. end to end ---------------------------------------------------------------------------
MODEL="${PANOPTIC_MODEL:-$ROOT/shared/panoptic_mnv3l_1025x2049.atrous}"
if [ ! -f "$MODEL" ] && [ "${GPU_CHECK_EXPORT:-0}" = 1 ] && python3 -c "import torch, onnx" 2>/dev/null; then
  log "== no model at $MODEL: exporting one (random weights) with models/pytorch/export_panoptic.py"
  if PYTHONPATH="$ROOT/weights_converter${PYTHONPATH:+:$PYTHONPATH}" timeout 240 python3 \
      "$ROOT/models/pytorch/export_panoptic.py" --config mnv3l_os32 --size 1025x2049 \
      --out "$BUILD/model" --atrous "$BUILD/atrous" > "$OUT/export.log" 2>&1; then
    MODEL="$BUILD/model/mnv3l_os32.atrous"
  else
    log "export failed (see export.log)"
  fi
fi
if [ ! -f "$MODEL" ]; then
  # The C++ builder makes the same graph (random weights) without a file.
  MODEL="arch:panoptic-deeplab-mnv3l-os32:1025x2049"
fi
log "== end to end (network, + CPU merger, + GPU merger): $MODEL"
run_logged timeout 60 "$BUILD/bench_cuda" --model "$MODEL" --runs 20 --merge || STATUS=1
log "== atrous bench --backend cuda (session path, includes host<->device copies)"
run_logged timeout 45 "$BUILD/atrous" bench --arch panoptic-deeplab-mnv3l-os32 --size 1025x2049 \
  --backend cuda --runs 10 --warmup 2 || STATUS=1
log "== done in $(( $(date +%s) - START )) s, status $STATUS"
exit $STATUS
