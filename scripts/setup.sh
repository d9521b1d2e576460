#!/usr/bin/env bash
# Installs what atrous needs on a fresh Debian machine (run as root, or with sudo available):
# the C++ toolchain and libraries from Debian, and a Python virtual environment (.venv) for the
# converter and the tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
packages=(cmake g++ make clang libclang-rt-14-dev catch2 libxsimd-dev libstb-dev libdeflate-dev nlohmann-json3-dev libcli11-dev libspng-dev libturbojpeg0-dev
          clang-format-14 clang-tidy-14
          python3 python3-venv python3-pip python3-numpy python3-pil python3-torch python3-torchvision
          pkg-config g++-aarch64-linux-gnu qemu-user llvm-14)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's python3 carries torch/torchvision; the venv sees them and adds the pip-only packages.
# numpy stays below 2 because Debian's torch is built against numpy 1.x.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "numpy<2" onnx onnxruntime pytest pytest-xdist ai-edge-litert tflite pyquaternion && .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps cityscapesscripts==2.3.0 panopticapi-lite==0.2.0  # eval tests: official metric code only (their plotting/download deps would lift numpy and Pillow)
# timm for the model corpus (bench/model_corpus.py, tests/python/test_model_corpus.py); torch and
# numpy stay Debian's (timm 1.0.x runs on torch 1.13).
.venv/bin/python -m pip install -q --disable-pip-version-check "numpy<2" timm==1.0.31
.venv/bin/python -m pip install -q --disable-pip-version-check -e weights_converter
echo "setup: done"
