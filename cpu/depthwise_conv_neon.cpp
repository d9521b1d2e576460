// NEON (aarch64) instantiation of the depthwise band and row microkernels.
#if defined(__aarch64__)
#include "cpu/depthwise_conv_kernel.h"

namespace atrous {

void depthwise_band_neon(const DepthwisePlan& plan, const float* const* source, const float* weight,
                         int count, int64_t rows, float bias, float* out, int64_t out_stride) {
  depthwise_band<xsimd::neon64>(plan, source, weight, count, rows, bias, out, out_stride);
}

void depthwise_row_neon(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                        float* y) {
  depthwise_row<xsimd::neon64>(plan, taps, bias, y);
}

}  // namespace atrous
#endif
