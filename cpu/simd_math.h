// Exact SIMD arithmetic on every ISA, where xsimd 8 falls short:
//  * simd_fma: a fused multiply-add. xsimd 8 has no AVX-512F fma: its generic fallback is x·y + z,
//    which is fused only where the compiler contracts it (-ffp-contract=fast at -O3 did; the -O2
//    sanitizer build did not, and the depthwise paths then differed in the last bit). AVX-512F
//    uses the intrinsic; the other ISAs' xsimd fma already is one instruction.
//  * simd_divide: IEEE division. xsimd 8's NEON float division is a refined reciprocal estimate,
//    which is not correctly rounded (so not bitwise the scalar x / y that the borders and the
//    reference compute), so aarch64 uses the division instruction directly.
#pragma once

#include <xsimd/xsimd.hpp>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace atrous {

template <class Arch>
xsimd::batch<float, Arch> simd_fma(const xsimd::batch<float, Arch>& x,
                                   const xsimd::batch<float, Arch>& y,
                                   const xsimd::batch<float, Arch>& z) {
  return xsimd::fma(x, y, z);
}
#if defined(__AVX512F__)
inline xsimd::batch<float, xsimd::avx512f> simd_fma(const xsimd::batch<float, xsimd::avx512f>& x,
                                                    const xsimd::batch<float, xsimd::avx512f>& y,
                                                    const xsimd::batch<float, xsimd::avx512f>& z) {
  return _mm512_fmadd_ps(x, y, z);
}
#endif

template <class Arch>
xsimd::batch<float, Arch> simd_divide(const xsimd::batch<float, Arch>& a,
                                      const xsimd::batch<float, Arch>& b) {
  return a / b;
}
#if defined(__aarch64__)
// acc + x·w[lane] as one by-lane `fmla` (the weight needs no broadcast of its own): the fused
// multiply-add simd_fma computes with w[lane] broadcast. The lane is an immediate of the
// instruction, so it is switched here whatever the optimization level.
inline xsimd::batch<float, xsimd::neon64> simd_fma_lane_neon(
    const xsimd::batch<float, xsimd::neon64>& acc, const xsimd::batch<float, xsimd::neon64>& x,
    float32x4_t w, int lane) {
  switch (lane) {
    case 0:
      return vfmaq_laneq_f32(acc, x, w, 0);
    case 1:
      return vfmaq_laneq_f32(acc, x, w, 1);
    case 2:
      return vfmaq_laneq_f32(acc, x, w, 2);
    default:
      return vfmaq_laneq_f32(acc, x, w, 3);
  }
}

inline xsimd::batch<float, xsimd::neon64> simd_divide(const xsimd::batch<float, xsimd::neon64>& a,
                                                      const xsimd::batch<float, xsimd::neon64>& b) {
  return vdivq_f32(a, b);
}
#endif

}  // namespace atrous
