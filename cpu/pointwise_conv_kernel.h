// The ISA-neutral pointwise microkernel, instantiated per architecture in
// pointwise_conv_<isa>.cpp (each compiled with its own -m flags). One tile is
// kPointwiseRows output channels × two SIMD vectors of pixels, accumulated in registers over
// all input channels in order (so every output element sees the same sequence of FMAs,
// whatever the tiling around it). Bias and ReLU/clip are applied in registers; the other
// activations are applied per element after the store with the shared activation_apply.
#pragma once

#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "cpu/pointwise_conv.h"

namespace atrous {

template <class Arch>
void pointwise_tiles(const PointwisePlan& plan, const float* x, int64_t stride_x, float* y,
                     int64_t stride_y, int64_t tile_begin, int64_t tile_end) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  constexpr int rows = kPointwiseRows;
  const int64_t channels = plan.in_channels, filters = plan.out_channels;
  const int64_t panels = (filters + rows - 1) / rows;
  const Activation& act = plan.activation;
  const bool clamp_in_registers = act.kind == ActivationKind::activation_relu ||
                                  act.kind == ActivationKind::activation_clip;
  const float low = act.kind == ActivationKind::activation_relu ? 0.f : act.param0;
  const float high = act.kind == ActivationKind::activation_relu ? INFINITY : act.param1;
  for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
    const int64_t p = tile * 2 * width;
    for (int64_t panel = 0; panel < panels; ++panel) {
      const float* w = plan.packed.data() + panel * channels * rows;
      batch acc0[rows], acc1[rows];
      for (int r = 0; r < rows; ++r) acc0[r] = acc1[r] = batch(0.f);
      const float* xc = x + p;
      for (int64_t c = 0; c < channels; ++c, xc += stride_x, w += rows) {
        const batch x0 = batch::load_unaligned(xc);
        const batch x1 = batch::load_unaligned(xc + width);
        for (int r = 0; r < rows; ++r) {
          const batch wr(w[r]);
          acc0[r] = xsimd::fma(wr, x0, acc0[r]);
          acc1[r] = xsimd::fma(wr, x1, acc1[r]);
        }
      }
      for (int r = 0; r < rows; ++r) {
        const int64_t m = panel * rows + r;
        if (m >= filters) break;
        const batch b(plan.bias[size_t(m)]);
        batch v0 = acc0[r] + b, v1 = acc1[r] + b;
        if (clamp_in_registers) {
          v0 = xsimd::min(xsimd::max(v0, batch(low)), batch(high));
          v1 = xsimd::min(xsimd::max(v1, batch(low)), batch(high));
        }
        float* out = y + m * stride_y + p;
        v0.store_unaligned(out);
        v1.store_unaligned(out + width);
        if (!clamp_in_registers && act.kind != ActivationKind::activation_none)
          for (int64_t i = 0; i < 2 * width; ++i) out[i] = activation_apply(act, out[i]);
      }
    }
  }
}

}  // namespace atrous
