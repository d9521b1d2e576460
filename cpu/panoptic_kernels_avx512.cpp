// The panoptic merger loops for avx512 (compiled with -mavx512f -mfma, and -ffp-contract=off).
// Part of the avx512 CpuKernelTable (kernels_avx512.cpp), in a file of its own because the other
// families there must keep the default floating-point contraction.
#if defined(__x86_64__)
#define ATROUS_PANOPTIC_KERNELS_SIMD
#include "cpu/panoptic_kernels_simd.h"

namespace atrous {

const PanopticKernels& panoptic_kernels_avx512() {
  static const PanopticKernels table = panoptic_simd::make_panoptic_kernels<xsimd::avx512f>();
  return table;
}

}  // namespace atrous
#endif
