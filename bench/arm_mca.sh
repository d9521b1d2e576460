#!/bin/sh
# Cycles per inner-loop iteration of the NEON gemm, depthwise and direct-conv kernels (the fused blocks run the first two)
# on LLVM's Cortex-A76 and Cortex-A55 models, against the FMA-bound ideal. Needs
# g++-aarch64-linux-gnu and llvm-14 (Debian). See bench/arm_mca.py and bench/RESULTS.md.
set -e
cd "$(dirname "$0")/.."
exec python3 bench/arm_mca.py "$@"
