// The panoptic merger loops for neon (compiled with aarch64 NEON, and -ffp-contract=off).
// Part of the neon CpuKernelTable (kernels_neon.cpp), in a file of its own because the other
// families there must keep the default floating-point contraction.
#if defined(__aarch64__)
#define ATROUS_PANOPTIC_KERNELS_SIMD
#include "cpu/panoptic_kernels_simd.h"

namespace atrous {

const PanopticKernels& panoptic_kernels_neon() {
  static const PanopticKernels table = panoptic_simd::make_panoptic_kernels<xsimd::neon64>();
  return table;
}

}  // namespace atrous
#endif
