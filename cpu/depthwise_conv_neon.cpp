// NEON (aarch64) instantiation of the depthwise row microkernel.
#if defined(__aarch64__)
#include "cpu/depthwise_conv_kernel.h"

namespace atrous {

void depthwise_row_neon(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                        float* y) {
  depthwise_row<xsimd::neon64>(plan, taps, bias, y);
}

}  // namespace atrous
#endif
