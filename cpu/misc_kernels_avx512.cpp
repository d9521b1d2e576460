// AVX-512F instantiation of the misc loops (compiled with -mavx512f -mfma).
#if defined(__x86_64__)
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the broadcasts.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define ATROUS_MISC_KERNELS_SIMD
#include "cpu/misc_kernels_simd.h"

namespace atrous {

const MiscKernels& misc_kernels_avx512() {
  static const MiscKernels table = misc_simd::make_misc_kernels<xsimd::avx512f>();
  return table;
}

}  // namespace atrous
#endif
