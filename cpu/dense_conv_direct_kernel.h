// The ISA-neutral microkernel of the direct dense convolution (cpu/dense_conv_direct.h),
// instantiated per architecture in kernels_<isa>.cpp (each compiled with its own -m flags).
// A tile is P output pixels × V vectors of output channels, P·V accumulators in registers
// for the whole K block; per input channel and valid tap: V weight loads, P broadcasts, P·V
// FMAs (input × weight + sum, the GEMM path's products). The channel loop is outside the tap
// loop so that each element's chain runs over (c, tap) in the weight's row-major order.
// Narrower tiles (a segment's last) get their own instantiation, so P is always a constant.
#pragma once

#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "cpu/dense_conv_direct.h"
#include "cpu/simd_math.h"

namespace atrous {

// A tile is R output rows × P pixels (R·P ≤ the kernel's tile_pixels): narrow segments (the
// image borders at small rates) stack rows to keep enough accumulators. Step is the input
// distance between consecutive pixels: 1 (stride 1 in NCHW, the ASPP) as a constant so that the
// broadcasts address with immediate offsets, or 0 for tile.pixel_step. Ahead > 0: each step
// also prefetches the input Ahead floats past its first pixel in every row of the tile (the
// line the next tiles of the row read; see kernels_avx2.cpp for the measurement).
template <class Arch, int R, int P, int V, int Step, int Ahead>
void direct_conv_tile_fixed(const DirectConvTile& tile) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  constexpr int64_t block = V * width;
  batch acc[R][P][V];
  for (int r = 0; r < R; ++r) {
    float* sums = tile.acc + r * tile.acc_row_stride;
    for (int p = 0; p < P; ++p)
      for (int v = 0; v < V; ++v)
        acc[r][p][v] =
            tile.first ? batch(0.f) : batch::load_unaligned(sums + p * block + v * width);
  }
  const float* x = tile.x;
  const float* w = tile.weights;
  const int64_t step = Step ? Step : tile.pixel_step;
  const int64_t row_step = tile.row_step;
  const int64_t taps = tile.taps;
  for (int64_t c = 0; c < tile.channels;
       ++c, x += tile.input_channel_stride, w += tile.weight_channel_stride) {
    for (int64_t k = 0; k < taps; ++k) {
      const float* wk = w + tile.weight_offsets[k];
      const float* xk = x + tile.input_offsets[k];
      if constexpr (Ahead > 0)
        for (int r = 0; r < R; ++r) __builtin_prefetch(xk + r * row_step + Ahead, 0, 3);
      batch weight[V];
      for (int v = 0; v < V; ++v) weight[v] = batch::load_unaligned(wk + v * width);
      for (int r = 0; r < R; ++r)
        for (int p = 0; p < P; ++p) {
          const batch input(xk[r * row_step + p * step]);
          for (int v = 0; v < V; ++v) acc[r][p][v] = simd_fma(input, weight[v], acc[r][p][v]);
        }
    }
  }
  for (int r = 0; r < R; ++r) {
    float* sums = tile.acc + r * tile.acc_row_stride;
    for (int p = 0; p < P; ++p)
      for (int v = 0; v < V; ++v) acc[r][p][v].store_unaligned(sums + p * block + v * width);
  }
}

// Dispatches a tile of tile.pixels ≤ P pixels to its instantiation. Pixel steps of 1 (NCHW
// input, stride 1) and Packed (the interleaved input copy at stride 1, when Packed > 0) are
// constants of their instantiations; any other step is read from the tile.
template <class Arch, int R, int P, int V, int Ahead, int Packed>
struct DirectConvDispatch {
  static void run(const DirectConvTile& tile) {
    if (tile.pixels != P)
      DirectConvDispatch<Arch, R, P - 1, V, Ahead, Packed>::run(tile);
    else if (tile.pixel_step == 1)
      direct_conv_tile_fixed<Arch, R, P, V, 1, Ahead>(tile);
    else if (Packed > 0 && tile.pixel_step == Packed)
      direct_conv_tile_fixed<Arch, R, P, V, Packed, Ahead>(tile);
    else
      direct_conv_tile_fixed<Arch, R, P, V, 0, Ahead>(tile);
  }
};

template <class Arch, int R, int V, int Ahead, int Packed>
struct DirectConvDispatch<Arch, R, 0, V, Ahead, Packed> {
  static void run(const DirectConvTile&) {}
};

// tile.rows is 1, 2 or 4 and tile.pixels ≤ P / tile.rows (the driver's guarantee).
template <class Arch, int P, int V, int Ahead = 0, int Packed = 0>
void direct_conv_tile(const DirectConvTile& tile) {
  switch (tile.rows) {
    case 1:
      DirectConvDispatch<Arch, 1, P, V, Ahead, Packed>::run(tile);
      break;
    case 2:
      DirectConvDispatch<Arch, 2, P / 2, V, Ahead, Packed>::run(tile);
      break;
    default:
      DirectConvDispatch<Arch, 4, P / 4, V, Ahead, Packed>::run(tile);
      break;
  }
}

// The tile on the interleaved input copy (DirectConvPlan::interleave): pixels kDirectInterleave
// floats apart at stride 1, no software prefetch (a tile's rows are contiguous there).
template <class Arch, int P, int V>
void direct_conv_tile_packed(const DirectConvTile& tile) {
  direct_conv_tile<Arch, P, V, 0, int(kDirectInterleave)>(tile);
}

}  // namespace atrous
