// NEON (aarch64) instantiation of the pointwise microkernel.
#if defined(__aarch64__)
#include "cpu/pointwise_conv_kernel.h"

#include <cstdint>

namespace atrous {

void pointwise_tiles_neon(const PointwisePlan& plan, const float* x, int64_t stride_x, float* y,
                          int64_t stride_y, int64_t tile_begin, int64_t tile_end) {
  pointwise_tiles<xsimd::neon64>(plan, x, stride_x, y, stride_y, tile_begin, tile_end);
}

}  // namespace atrous
#endif
