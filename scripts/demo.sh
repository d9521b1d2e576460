#!/usr/bin/env bash
# The main job on the built-in default: builds atrous if needed and segments the bundled photo
# with the bundled DeepLabv3 (MobileNetV2, PASCAL VOC) model. Writes out/demo/astronaut_*.png
# and out/demo/astronaut.json. Other images: bash scripts/demo.sh IMAGE...
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/atrous ] || bash scripts/build.sh
model=examples/deeplabv3/deeplabv3_257_mv_gpu.atrous
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(examples/images/astronaut.jpg)
build/atrous info "$model"
echo
build/atrous segment "$model" "${images[@]}" --output-dir out/demo
