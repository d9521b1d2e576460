#!/usr/bin/env bash
# The whole test suite: formatting (clang-format-14, .clang-format), the layering check (no
# include points up), Release build, lint (clang-tidy-14, .clang-tidy), unit tests (CTest), the
# same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, the [threads] tests under
# ThreadSanitizer, the converter and
# conformance tests (pytest, against the built `atrous`), the aarch64 cross-build with the NEON
# kernel tests under qemu, and five minutes of libFuzzer over six targets (docs/FUZZING.md).
# Usage: scripts/test.sh [--quick]   (--quick skips the sanitizer, ARM and fuzz stages)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)
start=$(date +%s)
stage() { echo; echo "=== $* ($(( $(date +%s) - start ))s)"; }

stage "format (clang-format-14 against .clang-format, every tracked C/C++/CUDA file)"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z '*.c' '*.cc' '*.cpp' '*.h' '*.hpp' '*.cu' '*.cuh' |
    xargs -0 clang-format-14 --dry-run --Werror
else  # a source tree without git metadata
  find . -path './build*' -prune -o -path './.venv' -prune -o -type f \
    \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.cu' \
    -o -name '*.cuh' \) -print0 | xargs -0 clang-format-14 --dry-run --Werror
fi

stage "layering: no include points up (DESIGN.md)"
python3 scripts/check_layers.py

stage "build (Release)"
bash scripts/build.sh

stage "lint (clang-tidy-14 with .clang-tidy over the library sources)"
# The library's translation units from build/compile_commands.json (not tests, tools, benches).
run-clang-tidy-14 -p build -j"$jobs" -quiet \
  '/(graph|ops|cpu|runtime|models|eval|api)/[^/]*\.cpp$' > build/clang-tidy.log 2>&1 ||
  { grep -E 'warning:|error:' -A3 build/clang-tidy.log; echo "clang-tidy found problems"; exit 1; }

stage "unit tests (Release)"
ctest --test-dir build --output-on-failure -j"$jobs"

stage "converter and conformance tests (pytest, one worker per core: pytest-xdist)"
# Most of these tests run one converter or `atrous` process at a time, so one worker per core
# cuts the stage from 13.5 min (one worker, beside other work on a 2-core machine) to 3 min;
# each test has its own tmp_path.
ATROUS_BIN="$PWD/build/atrous" .venv/bin/python -m pytest -q -n "$jobs" tests/python

if [ "$quick" = 0 ]; then
  stage "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATROUS_SANITIZE=ON -DATROUS_CUDA=OFF -DATROUS_INSTALL_TEST=OFF >/dev/null
  # Every executable CTest runs: the unit tests, the CLI (its help and docs tests), the
  # allocation-failure tests of the C API and the CUDA tests (which report skipped here).
  cmake --build build-asan -j"$jobs" --target atrous_tests atrous atrous_oom_tests atrous_cuda_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"

  stage "threading tests ([threads]: thread pool, C API sessions sharing a model, merger, eval) under ThreadSanitizer"
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATROUS_TSAN=ON -DATROUS_CUDA=OFF -DATROUS_INSTALL_TEST=OFF >/dev/null
  cmake --build build-tsan -j"$jobs" --target atrous_tests
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/atrous_tests "[threads]"

  stage "ARM: cross-build (g++-aarch64-linux-gnu) and the NEON kernel tests under qemu-aarch64"
  cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
    -DATROUS_CUDA=OFF -DATROUS_INSTALL_TEST=OFF >/dev/null
  cmake --build build-arm -j"$jobs" --target atrous_tests
  qemu-aarch64 -L /usr/aarch64-linux-gnu build-arm/atrous_tests "[cpu]"
  # The llvm-mca table of bench/RESULTS.md must still be producible: it fails when a kernel's
  # inner loop can no longer be found in the NEON assembly.
  bench/arm_mca.sh >/dev/null

  # Six libFuzzer targets, 300 s in all (docs/FUZZING.md): most time to the widest inputs (the
  # loader, stb's eight image formats) and the slowest target (eval's JSONs); the PNG decoder
  # runs over 100,000 inputs a second and needs the least. Any finding (crash, sanitizer report, leak, a 10 s input or
  # 2 GB of memory) makes the target exit non-zero, which fails this script.
  stage "fuzzing (libFuzzer, ASan + non-recoverable UBSan): 300 s over six targets"
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DATROUS_FUZZ=ON -DATROUS_BUILD_TESTS=OFF -DATROUS_CUDA=OFF >/dev/null
  fuzz_targets="loader:90 image:70 eval_json:50 params:35 npy:30 png:25"
  cmake --build build-fuzz -j"$jobs" --target $(for t in $fuzz_targets; do echo "fuzz_${t%%:*}"; done)
  fuzz_dir=$(mktemp -d)
  for entry in $fuzz_targets; do
    target=${entry%%:*} seconds=${entry##*:}
    mkdir -p "$fuzz_dir/$target/corpus" "$fuzz_dir/$target/artifacts"
    cp fuzz/corpus_"$target"/* "$fuzz_dir/$target/corpus/"
    if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      build-fuzz/fuzz_"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$fuzz_dir/$target/artifacts/" \
      "$fuzz_dir/$target/corpus" >"$fuzz_dir/$target/log" 2>&1; then
      tail -60 "$fuzz_dir/$target/log"
      echo "fuzz_$target found a problem; the input is in $fuzz_dir/$target/artifacts/"
      exit 1
    fi
    echo "fuzz_$target: $(sed -n 's/^stat::number_of_executed_units: *//p' "$fuzz_dir/$target/log")" \
      "executions in ${seconds} s, no findings"
  done
  rm -rf "$fuzz_dir"
fi
stage "all tests passed"
