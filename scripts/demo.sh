#!/usr/bin/env bash
# The main job on the built-in defaults: builds atrous if needed, segments the bundled photo with
# the bundled DeepLabv3 (MobileNetV2, PASCAL VOC) model (out/demo/astronaut_*.png and .json), then
# runs the bundled panoptic demo — a small Panoptic-DeepLab trained on the repository's synthetic
# dataset — on a held-out synthetic image (out/demo_panoptic/: COCO panoptic PNG + JSON, labels,
# overlay). Other images for the semantic model: bash scripts/demo.sh IMAGE...
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/atrous ] || bash scripts/build.sh
model=examples/deeplabv3/deeplabv3_257_mv_gpu.atrous
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(examples/images/astronaut.jpg)
build/atrous info "$model"
echo
build/atrous segment "$model" "${images[@]}" --output-dir out/demo --backend cpu --threads "$(nproc)"
if [ $# -eq 0 ]; then
  echo
  build/atrous segment examples/panoptic/panoptic_demo.atrous examples/panoptic/synth_1000000.png \
    --output-dir out/demo_panoptic --backend cpu --threads "$(nproc)"
fi
