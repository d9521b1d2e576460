#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds examples/segment.c against the
# installed tree twice — with CMake's find_package(atrous) and with pkg-config — and runs both
# on a real image with the bundled demo model. Both must print the same classes and write the
# same PNG. Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --build "$build" --target atrous atrous_shared >/dev/null
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/atrous.h"
test -x "$work/prefix/bin/atrous"

# 1. CMake package
cmake -S "$source/examples" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
# 2. pkg-config and a plain C compiler
libdir=$(dirname "$(find "$work/prefix" -name atrous.pc | head -1)")
export PKG_CONFIG_PATH="$libdir"
cc -std=c99 -Wall -Wextra -Werror -o "$work/segment-pc" "$source/examples/segment.c" \
   $(pkg-config --cflags --libs atrous)

image="$source/tests/assets/images/astronaut.png"
model="$source/examples/deeplabv3/deeplabv3_257_mv_gpu.atrous"
runtime_libdir=$(dirname "$(find "$work/prefix" -name 'libatrous.so' | head -1)")
export LD_LIBRARY_PATH="$runtime_libdir"
"$work/cmake-build/segment" "$model" "$image" "$work/a.png" > "$work/a.txt"
"$work/segment-pc" "$model" "$image" "$work/b.png" > "$work/b.txt"
cat "$work/a.txt"
sed -i "s|$work/[ab].png||" "$work/a.txt" "$work/b.txt"
cmp "$work/a.txt" "$work/b.txt"
cmp "$work/a.png" "$work/b.png"
grep -q "class 15 (person)" "$work/a.txt"
# The installed CLI segments the same image to the same label map.
"$work/prefix/bin/atrous" segment "$model" "$image" --output-dir "$work/cli" >/dev/null 2>&1
cmp "$work/a.png" "$work/cli/astronaut_labels.png"
echo "install_and_embed: OK"
