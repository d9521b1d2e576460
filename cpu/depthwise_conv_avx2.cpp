// AVX2 + FMA instantiation of the depthwise band and row microkernels (compiled with -mavx2 -mfma).
#if defined(__x86_64__)
#include "cpu/depthwise_conv_kernel.h"

namespace atrous {

void depthwise_band_avx2(const DepthwisePlan& plan, const float* const* source, const float* weight,
                         int count, int64_t rows, float bias, float* out, int64_t out_stride) {
  depthwise_band<xsimd::fma3<xsimd::avx2>>(plan, source, weight, count, rows, bias, out,
                                           out_stride);
}

void depthwise_row_avx2(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                        float* y) {
  depthwise_row<xsimd::fma3<xsimd::avx2>>(plan, taps, bias, y);
}

}  // namespace atrous
#endif
