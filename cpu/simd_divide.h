// IEEE float division on every SIMD ISA. xsimd 8's NEON float division is a refined reciprocal
// estimate, which is not correctly rounded (so not bitwise the scalar x / y that the borders and
// the reference compute), so aarch64 uses the division instruction directly.
#pragma once

#include <xsimd/xsimd.hpp>

namespace atrous {

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
