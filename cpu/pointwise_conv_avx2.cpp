// AVX2 + FMA instantiation of the pointwise microkernel (compiled with -mavx2 -mfma).
#if defined(__x86_64__)
#include "cpu/pointwise_conv_kernel.h"

#include <cstdint>

namespace atrous {

void pointwise_tiles_avx2(const PointwisePlan& plan, const float* x, int64_t stride_x, float* y,
                          int64_t stride_y, int64_t tile_begin, int64_t tile_end) {
  pointwise_tiles<xsimd::fma3<xsimd::avx2>>(plan, x, stride_x, y, stride_y, tile_begin, tile_end);
}

}  // namespace atrous
#endif
