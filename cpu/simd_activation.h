// The activations the SIMD kernels apply in registers, in their epilogues (GEMM, GEMV,
// depthwise): bias-added sums go through RegisterActivation before they are stored, so no
// kernel makes a second, scalar pass over its output for them. Each is bitwise equal to
// activation_apply (ops/activation.h) on the same float: the same operations in the same
// order, and the clamps pass the bound first, since std::max(x, b) is (x < b ? b : x) and x86's
// max(a, b) is (a > b ? a : b), so a NaN sum stays NaN as it does in activation_apply (on NEON
// FMAX returns the NaN either way). The other kinds (sigmoid, tanh, hard-sigmoid) are applied by
// the callers per element with activation_apply.
#pragma once

#include <cmath>
#include <xsimd/xsimd.hpp>

#include "cpu/simd_math.h"
#include "ops/activation.h"

namespace atrous {

// True for the kinds RegisterActivation computes (none included).
inline bool activation_in_registers(ActivationKind kind) {
  return kind == ActivationKind::activation_none || kind == ActivationKind::activation_relu ||
         kind == ActivationKind::activation_clip || kind == ActivationKind::activation_hard_swish;
}

template <class Arch>
struct RegisterActivation {
  using batch = xsimd::batch<float, Arch>;
  ActivationKind kind;
  batch low, high;

  explicit RegisterActivation(const Activation& act)
      : kind(act.kind),
        low(act.kind == ActivationKind::activation_relu ? 0.f : act.param0),
        high(act.kind == ActivationKind::activation_relu ? INFINITY : act.param1) {}

  // std::max(x, low) is (x < low ? low : x) and x86's max(a, b) is (a > b ? a : b): the bound
  // first keeps a NaN sum NaN. Hard-swish: x · min(max(x + 3, 0), 6) / 6, the reference's
  // operations in its order (simd_divide without <Arch>: the NEON overload).
  static batch clamp(batch v, batch low, batch high) {
    return xsimd::min(high, xsimd::max(low, v));
  }
  static batch hard_swish(batch v) {
    const batch clamped = xsimd::min(batch(6.f), xsimd::max(batch(0.f), v + batch(3.f)));
    return simd_divide(v * clamped, batch(6.f));
  }

  // v itself for the kinds activation_in_registers does not cover.
  batch operator()(batch v) const {
    switch (kind) {
      case ActivationKind::activation_relu:
      case ActivationKind::activation_clip:
        return clamp(v, low, high);
      case ActivationKind::activation_hard_swish:
        return hard_swish(v);
      default:
        return v;
    }
  }

  // The same with the kind fixed at compile time (activation_none: v), for kernels that pick it
  // once per call outside their loops.
  template <ActivationKind Kind>
  batch apply(batch v) const {
    if (Kind == ActivationKind::activation_relu || Kind == ActivationKind::activation_clip)
      return clamp(v, low, high);
    if (Kind == ActivationKind::activation_hard_swish) return hard_swish(v);
    return v;
  }
};

}  // namespace atrous
