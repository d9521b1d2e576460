// AVX-512F instantiation of the pointwise microkernel (compiled with -mavx512f -mfma).
#if defined(__x86_64__)
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the broadcasts
// (the intrinsics start from an undefined vector on purpose).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "cpu/pointwise_conv_kernel.h"

#include <cstdint>

namespace atrous {

void pointwise_tiles_avx512(const PointwisePlan& plan, const float* x, int64_t stride_x,
                            float* y, int64_t stride_y, int64_t tile_begin, int64_t tile_end) {
  pointwise_tiles<xsimd::avx512f>(plan, x, stride_x, y, stride_y, tile_begin, tile_end);
}

}  // namespace atrous
#endif
