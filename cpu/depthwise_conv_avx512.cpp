// AVX-512F instantiation of the depthwise band and row microkernels (compiled with -mavx512f
// -mfma).
#if defined(__x86_64__)
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the broadcasts
// (the intrinsics start from an undefined vector on purpose).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "cpu/depthwise_conv_kernel.h"

namespace atrous {

void depthwise_band_avx512(const DepthwisePlan& plan, const float* const* source,
                           const float* weight, int count, int64_t rows, float bias, float* out,
                           int64_t out_stride) {
  depthwise_band<xsimd::avx512f>(plan, source, weight, count, rows, bias, out, out_stride);
}

void depthwise_row_avx512(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                          float* y) {
  depthwise_row<xsimd::avx512f>(plan, taps, bias, y);
}

}  // namespace atrous
#endif
