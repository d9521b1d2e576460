#!/usr/bin/env bash
# The main job on the built-in default: builds atrous if needed, shows what the bundled demo
# model holds, runs it on the bundled input, and checks the result against PyTorch's output.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/atrous ] || bash scripts/build.sh
model=examples/demo/tiny_deeplab.atrous
build/atrous info "$model"
echo
build/atrous run "$model" --input image=examples/demo/input.npy --output-dir out/demo
echo
.venv/bin/python - <<'PY'
import numpy as np
got = np.load("out/demo/logits.npy")
want = np.load("examples/demo/expected_logits.npy")
rel = np.linalg.norm(got - want) / np.linalg.norm(want)
labels = got.argmax(axis=1)[0]
classes, counts = np.unique(labels, return_counts=True)
print(f"logits {got.shape}, relative L2 error vs PyTorch: {rel:.2e}")
print("argmax label map: " + ", ".join(f"class_{c}: {n / labels.size:.1%}" for c, n in zip(classes, counts)))
PY
