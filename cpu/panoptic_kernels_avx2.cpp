// The panoptic merger loops for avx2 (compiled with -mavx2 -mfma, and -ffp-contract=off).
// Part of the avx2 CpuKernelTable (kernels_avx2.cpp), in a file of its own because the other
// families there must keep the default floating-point contraction.
#if defined(__x86_64__)
#define ATROUS_PANOPTIC_KERNELS_SIMD
#include "cpu/panoptic_kernels_simd.h"

namespace atrous {

const PanopticKernels& panoptic_kernels_avx2() {
  static const PanopticKernels table =
      panoptic_simd::make_panoptic_kernels<xsimd::fma3<xsimd::avx2>>();
  return table;
}

}  // namespace atrous
#endif
