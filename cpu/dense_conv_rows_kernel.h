// The ISA-neutral microkernel of the row-tile dense convolution (cpu/dense_conv_rows.h),
// instantiated per architecture in kernels_<isa>.cpp (each compiled with its own -m flags):
// R output channels × V vectors of output columns in registers; per tap V loads from the
// padded phase row, R weight broadcasts, R·V FMAs, taps in (c, ky, kx) order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "cpu/dense_conv_rows.h"
#include "cpu/simd_activation.h"
#include "cpu/simd_math.h"

namespace atrous {

// One tap of a tile: V vectors of output columns loaded from p, times the tap's R weights.
template <class Arch, int R, int V>
__attribute__((always_inline)) inline void row_conv_tap(const float* p, const float* w,
                                                        xsimd::batch<float, Arch> (&acc)[R][V]) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  batch x[V];
  for (int v = 0; v < V; ++v) x[v] = batch::load_unaligned(p + v * width);
#if defined(__aarch64__)
  // NEON: the tap's R weights as vectors of four, used by lane (no broadcasts).
  if constexpr (std::is_same<Arch, xsimd::neon64>::value && R % 4 == 0) {
    for (int r0 = 0; r0 < R; r0 += 4) {
      const float32x4_t w4 = vld1q_f32(w + r0);
      for (int r = r0; r < r0 + 4; ++r)
        for (int v = 0; v < V; ++v) acc[r][v] = simd_fma_lane_neon(acc[r][v], x[v], w4, r - r0);
    }
    return;
  }
#endif
  for (int r = 0; r < R; ++r) {
    const batch wr(w[r]);
    for (int v = 0; v < V; ++v) acc[r][v] = simd_fma(wr, x[v], acc[r][v]);
  }
}

// C input channels and K×K taps as constants, the tap loops unrolled (the RGB stems: 3
// channels × 3×3 taps become straight code), or C = 0: the plan's counts in plain loops.
template <class Arch, int R, int V, int C, int K>
void row_conv_tile_fixed(const RowConvTile& tile) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const RowConvPlan& plan = *tile.plan;
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  const int64_t phase_row = aw.stride * plan.phase_width;  // floats per padded row
  const int64_t channel_floats = plan.padded_rows * phase_row;
  batch acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = batch(0.f);
  const float* w = tile.weights;
  const int64_t* tap_offset = plan.tap_offset.data();
  const float* phases = tile.phases + tile.column0;
  if constexpr (C > 0) {
#pragma GCC unroll 4
    for (int64_t c = 0; c < C; ++c)
#pragma GCC unroll 4
      for (int64_t ky = 0; ky < K; ++ky) {
        const float* row = phases + c * channel_floats + (tile.row0 + ky * ah.dilation) * phase_row;
#pragma GCC unroll 4
        for (int64_t kx = 0; kx < K; ++kx, w += R)
          row_conv_tap<Arch, R, V>(row + tap_offset[kx], w, acc);
      }
  } else {
    for (int64_t c = 0; c < plan.channels; ++c)
      for (int64_t ky = 0; ky < ah.kernel; ++ky) {
        const float* row = phases + c * channel_floats + (tile.row0 + ky * ah.dilation) * phase_row;
        for (int64_t kx = 0; kx < aw.kernel; ++kx, w += R)
          row_conv_tap<Arch, R, V>(row + tap_offset[kx], w, acc);
      }
  }
  const RegisterActivation<Arch> finish(plan.activation);
  const bool per_element = !activation_in_registers(plan.activation.kind);
  alignas(64) float edge[V * width];
  for (int r = 0; r < R; ++r) {
    if (r >= tile.valid_rows) break;
    float* y = tile.y + r * tile.ldy;
    const batch bias(tile.bias[r]);
    const bool full = tile.columns == V * width;
    float* out = full ? y : edge;
    for (int v = 0; v < V; ++v) finish(acc[r][v] + bias).store_unaligned(out + v * width);
    if (!full) std::memcpy(y, edge, size_t(tile.columns) * sizeof(float));
    if (per_element)
      for (int64_t i = 0; i < tile.columns; ++i) y[i] = activation_apply(plan.activation, y[i]);
  }
}

template <class Arch, int R, int V>
void row_conv_tile(const RowConvTile& tile) {
  const RowConvPlan& plan = *tile.plan;
  if (plan.channels == 3 && plan.axes[0].kernel == 3 && plan.axes[1].kernel == 3)
    row_conv_tile_fixed<Arch, R, V, 3, 3>(tile);
  else
    row_conv_tile_fixed<Arch, R, V, 0, 0>(tile);
}

}  // namespace atrous
