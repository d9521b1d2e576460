#!/usr/bin/env bash
# Builds atrous (Release) into build/. Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
# compile_commands.json is for clang-tidy (scripts/test.sh, .clang-tidy).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"
