// AVX2 + FMA instantiation of the depthwise row microkernel (compiled with -mavx2 -mfma).
#if defined(__x86_64__)
#include "cpu/depthwise_conv_kernel.h"

namespace atrous {

void depthwise_row_avx2(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                        float* y) {
  depthwise_row<xsimd::fma3<xsimd::avx2>>(plan, taps, bias, y);
}

}  // namespace atrous
#endif
