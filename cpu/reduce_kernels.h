// Per-ISA reductions in SIMD registers (compiled in that ISA's kernels_<isa>.cpp).
//  * plane_mean_<isa>: MiscKernels::plane_mean, the 16 lane sums of double kept in registers
//    (two AVX-512 vectors, four AVX2 ones, eight NEON ones), so every ISA adds the same floats
//    in the same order as the scalar loop (misc_kernels.cpp) and the means are bitwise equal.
#pragma once

#include <cstdint>

#include "cpu/misc_kernels_simd.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace atrous {

#if defined(__AVX512F__)
inline float plane_mean_avx512(const float* x, int64_t count) {
  __m512d low = _mm512_setzero_pd(), high = _mm512_setzero_pd();
  const int64_t body = count - count % 16;
  for (int64_t i = 0; i < body; i += 16) {
    low = _mm512_add_pd(low, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
    high = _mm512_add_pd(high, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
  }
  alignas(64) double lanes[16];
  _mm512_store_pd(lanes, low);
  _mm512_store_pd(lanes + 8, high);
  return misc_scalar::plane_mean_finish(lanes, x, body, count);
}
#endif

#if defined(__AVX2__)
inline float plane_mean_avx2(const float* x, int64_t count) {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                    _mm256_setzero_pd()};
  const int64_t body = count - count % 16;
  for (int64_t i = 0; i < body; i += 16)
    for (int q = 0; q < 4; ++q)
      acc[q] = _mm256_add_pd(acc[q], _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * q)));
  alignas(32) double lanes[16];
  for (int q = 0; q < 4; ++q) _mm256_store_pd(lanes + 4 * q, acc[q]);
  return misc_scalar::plane_mean_finish(lanes, x, body, count);
}
#endif

#if defined(__aarch64__)
inline float plane_mean_neon(const float* x, int64_t count) {
  float64x2_t acc[8];
  for (int q = 0; q < 8; ++q) acc[q] = vdupq_n_f64(0.0);
  const int64_t body = count - count % 16;
  for (int64_t i = 0; i < body; i += 16)
    for (int q = 0; q < 8; ++q) acc[q] = vaddq_f64(acc[q], vcvt_f64_f32(vld1_f32(x + i + 2 * q)));
  double lanes[16];
  for (int q = 0; q < 8; ++q) vst1q_f64(lanes + 2 * q, acc[q]);
  return misc_scalar::plane_mean_finish(lanes, x, body, count);
}
#endif

}  // namespace atrous
