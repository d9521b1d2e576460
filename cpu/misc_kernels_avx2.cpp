// AVX2 + FMA instantiation of the misc loops (compiled with -mavx2 -mfma).
#if defined(__x86_64__)
#define ATROUS_MISC_KERNELS_SIMD
#include "cpu/misc_kernels_simd.h"

namespace atrous {

const MiscKernels& misc_kernels_avx2() {
  static const MiscKernels table = misc_simd::make_misc_kernels<xsimd::fma3<xsimd::avx2>>();
  return table;
}

}  // namespace atrous
#endif
