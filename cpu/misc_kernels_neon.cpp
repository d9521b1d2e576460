// NEON (aarch64) instantiation of the misc loops.
#if defined(__aarch64__)
#define ATROUS_MISC_KERNELS_SIMD
#include "cpu/misc_kernels_simd.h"

namespace atrous {

const MiscKernels& misc_kernels_neon() {
  static const MiscKernels table = misc_simd::make_misc_kernels<xsimd::neon64>();
  return table;
}

}  // namespace atrous
#endif
