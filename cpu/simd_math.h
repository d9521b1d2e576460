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
inline xsimd::batch<float, xsimd::neon64> simd_divide(const xsimd::batch<float, xsimd::neon64>& a,
                                                      const xsimd::batch<float, xsimd::neon64>& b) {
  return vdivq_f32(a, b);
}
#endif

}  // namespace atrous
