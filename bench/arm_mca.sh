#!/bin/sh
# Cycles per inner-loop iteration of the NEON gemm, depthwise, direct-conv and fused-block kernels
# on LLVM's Cortex-A76 and Cortex-A55 models, against the FMA-bound ideal. Needs
# g++-aarch64-linux-gnu and llvm-14 (Debian). See bench/arm_mca.py and bench/RESULTS.md.
set -e
cd "$(dirname "$0")/.."
exec python3 bench/arm_mca.py "$@"
