// The ISA-neutral GEMM microkernel, instantiated per architecture in kernels_<isa>.cpp (each
// compiled with its own -m flags). A tile is R output channels × V SIMD vectors of columns
// (GemmKernels::rows and tile_columns: 8 × 3 on AVX-512, 6 × 2 on AVX2 and NEON, and AVX2's
// wide tile 4 × 3, CpuKernelTable::gemm_wide); its
// accumulators live in registers across the whole K block. Each panel of weights (R × K block
// floats, in L1) meets every column tile of the block (from L2) before the next panel, and the
// output lines of the next tile are prefetched for writing while a tile runs.
// Edges: panels are zero padded (rows past M are computed, neither loaded nor stored); a
// partial last column tile is packed with zeros and goes through a stack copy on load and store.
// Bias and the activations of cpu/simd_activation.h (ReLU, clip, hard-swish) are applied in
// registers; the others per element after the store with the shared activation_apply.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "cpu/gemm.h"
#include "cpu/simd_activation.h"
#include "cpu/simd_math.h"

namespace atrous {

// One K step of a tile's first N vectors: acc[r][v] += a[r]·x[v] for the R weights a of the
// step, each weight broadcast. On NEON the six weights of a 6-row panel are loaded as a vector
// and a half and used by lane (`fmla v.4s, v.4s, v.s[i]`): 2 loads instead of 6 per step
// (llvm-mca, Cortex-A55 model: the single load unit was the bound). The same fused
// multiply-adds either way.
template <class Arch, int R, int N>
inline void gemm_step(const float* a, const xsimd::batch<float, Arch> (&x)[N],
                      xsimd::batch<float, Arch> (&acc)[R][N]) {
#if defined(__aarch64__)
  if constexpr (std::is_same<Arch, xsimd::neon64>::value && R == 6) {
    const float32x4_t w03 = vld1q_f32(a);
    const float32x2_t w45 = vld1_f32(a + 4);
    for (int v = 0; v < N; ++v) {
      acc[0][v] = vfmaq_laneq_f32(acc[0][v], x[v], w03, 0);
      acc[1][v] = vfmaq_laneq_f32(acc[1][v], x[v], w03, 1);
      acc[2][v] = vfmaq_laneq_f32(acc[2][v], x[v], w03, 2);
      acc[3][v] = vfmaq_laneq_f32(acc[3][v], x[v], w03, 3);
      acc[4][v] = vfmaq_lane_f32(acc[4][v], x[v], w45, 0);
      acc[5][v] = vfmaq_lane_f32(acc[5][v], x[v], w45, 1);
    }
    return;
  }
#endif
  for (int r = 0; r < R; ++r) {
    const xsimd::batch<float, Arch> w(a[r]);
    for (int v = 0; v < N; ++v) acc[r][v] = simd_fma(w, x[v], acc[r][v]);
  }
}

// One tile of R rows × the first N vectors of its columns over the block's K: accumulators from
// zero (first block) or from out, the K loop, then bias and the in-register activation (last
// block), stored to out (rows ld floats apart).
template <class Arch, int R, int N, ActivationKind Kind>
inline void gemm_tile(const GemmBlock& block, const float* a, const float* b, int64_t ldb,
                      const float* bias, int valid_rows, float* out, int64_t ld) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  // The row loops are unrolled explicitly: left to GCC 12, the epilogue's loop over one-vector
  // rows stayed rolled, the accumulators became an array in memory and every K step stored them
  // (NEON, llvm-mca: 12–13 instead of 6–7 cycles per step).
  // Rows past valid_rows (a panel's zero padding) are computed and neither loaded nor stored:
  // out holds valid_rows rows.
  batch acc[R][N];
  if (block.first) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < N; ++v) acc[r][v] = batch(0.f);
  } else {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < N; ++v)
        acc[r][v] = r < valid_rows ? batch::load_unaligned(out + r * ld + v * width) : batch(0.f);
  }
  batch x[N];
  // The K loops unrolled four times: on AVX2 (Zen 3) the rolled loop reached 75–80 % of the FMA
  // peak with the tile's data in L1, unrolled 81–91 %; whole GEMMs +6–9 points (docs/CPU.md).
  if (!block.kept) {
#pragma GCC unroll 4
    for (int64_t k = 0; k < block.depth; ++k, a += R, b += ldb) {
      for (int v = 0; v < N; ++v) x[v] = batch::load_unaligned(b + v * width);
      gemm_step<Arch, R, N>(a, x, acc);
    }
  } else {
#pragma GCC unroll 4
    for (int64_t k = 0; k < block.packed_rows; ++k, b += ldb) {
      for (int v = 0; v < N; ++v) x[v] = batch::load_unaligned(b + v * width);
      gemm_step<Arch, R, N>(a + int64_t(block.kept[k]) * R, x, acc);
    }
  }
  const RegisterActivation<Arch> finish(block.weights->activation);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if (r >= valid_rows) break;
    const batch bias_r(block.last ? bias[r] : 0.f);
    for (int v = 0; v < N; ++v) {
      batch value = acc[r][v];
      if (block.last) value = finish.template apply<Kind>(value + bias_r);
      value.store_unaligned(out + r * ld + v * width);
    }
  }
}

// Kind: the activation applied in registers (see gemm_block below), fixed per instantiation
// so that the epilogue holds no switch: with one, GCC kept the NEON accumulators on the stack
// through the whole K loop (llvm-mca: 24 instead of 12 cycles per K step on the A57 model).
// R rows × V vectors per tile (GemmKernels::rows, tile_columns = V · lanes). A last tile with
// fewer valid columns computes only the vectors that hold some (196 = 4·48 + 4 columns computes
// 4·48 + 16).
template <class Arch, int R, int V, ActivationKind Kind>
void gemm_block_with(const GemmBlock& block) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  constexpr int64_t tile = V * width;
  static_assert(R <= kGemmMaxRows && tile <= kGemmMaxTile, "the edge buffer holds the tile");
  static_assert(V >= 2, "tiles of one, two or V vectors below");
  const GemmWeights& weights = *block.weights;
  const Activation& act = weights.activation;
  const bool per_element = !activation_in_registers(act.kind);
  const int64_t tiles = (block.columns + tile - 1) / tile;
  alignas(64) float edge[R * tile];
  for (int64_t panel = block.panel_begin; panel < block.panel_end; ++panel) {
    const int64_t m0 = panel * R;
    const int valid_rows = int(std::min<int64_t>(R, weights.rows - m0));
    for (int64_t t = 0; t < tiles; ++t) {
      const bool in_place = t < block.in_place_tiles;
      const float* b = in_place ? block.in_place + t * tile
                                : block.b + (t - block.in_place_tiles) * block.depth * tile;
      const int64_t ldb = in_place ? block.ldb : tile;
      const int64_t column = t * tile;
      const int64_t valid_columns = std::min(tile, block.columns - column);
      const int live = int((valid_columns + width - 1) / width);
      // The output lines of the panel's next tile, fetched for writing while this tile runs:
      // the tile's stores then find their lines (measured, bench_pointwise: 40→240 at 129×257
      // 12.2 → 5.5 ms, 288→256 at 257×513 149 → 128 ms).
      if (t + 1 < tiles) {
        const float* next = block.y + m0 * block.ldy + column + tile;
        for (int r = 0; r < valid_rows; ++r)
          for (int64_t i = 0; i < tile; i += 16) __builtin_prefetch(next + r * block.ldy + i, 1, 3);
      }
      // Whole column tiles are stored in place, partial panels included (gemm_tile stores
      // only their valid rows): with 16 or 64 output channels (6-row panels on AVX2), a
      // third or an eleventh of the tiles went through the stack copy.
      const bool full = valid_columns == tile;
      float* y = block.y + m0 * block.ldy + column;
      // Output rows as the kernel sees them: the tensor itself, or the stack copy at an edge.
      float* out = full ? y : edge;
      const int64_t ld = full ? block.ldy : tile;
      if (!full && !block.first) {
        std::memset(edge, 0, sizeof(edge));
        for (int r = 0; r < valid_rows; ++r)
          std::memcpy(edge + r * tile, y + r * block.ldy, size_t(valid_columns) * sizeof(float));
      }
      const float* a = weights.packed.data() + (panel * weights.depth + block.k0) * R;
      const float* bias = weights.bias.data() + m0;
      if (live >= V)
        gemm_tile<Arch, R, V, Kind>(block, a, b, ldb, bias, valid_rows, out, ld);
      else if (live == 2)
        gemm_tile<Arch, R, 2, Kind>(block, a, b, ldb, bias, valid_rows, out, ld);
      else
        gemm_tile<Arch, R, 1, Kind>(block, a, b, ldb, bias, valid_rows, out, ld);
      if (block.last && per_element)
        for (int r = 0; r < valid_rows; ++r)
          for (int64_t i = 0; i < valid_columns; ++i)
            out[r * ld + i] = activation_apply(act, out[r * ld + i]);
      if (!full)
        for (int r = 0; r < valid_rows; ++r)
          std::memcpy(y + r * block.ldy, edge + r * tile, size_t(valid_columns) * sizeof(float));
    }
  }
}

template <class Arch, int R, int V>
void gemm_block(const GemmBlock& block) {
  switch (block.weights->activation.kind) {
    case ActivationKind::activation_relu:
    case ActivationKind::activation_clip:
      return gemm_block_with<Arch, R, V, ActivationKind::activation_clip>(block);
    case ActivationKind::activation_hard_swish:
      return gemm_block_with<Arch, R, V, ActivationKind::activation_hard_swish>(block);
    default:  // none, or applied per element after the store
      return gemm_block_with<Arch, R, V, ActivationKind::activation_none>(block);
  }
}

// A pixel tile (cpu/gemm.h): kGemmPixelTile pixels × V vectors of output channels. Pixels past
// the valid ones repeat the last valid pixel (computed, never stored), so every broadcast reads
// inside the row.
template <class Arch, int V, ActivationKind Kind>
void gemm_pixels_with(const PixelGemmBlock& g) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  constexpr int P = int(kGemmPixelTile);
  int64_t column[P];
  for (int p = 0; p < P; ++p) column[p] = std::min<int64_t>(p, g.pixels - 1);
  batch acc[P][V];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) acc[p][v] = batch(0.f);
  const float* w = g.packed;
  const float* x = g.x;
  for (int64_t k = 0; k < g.depth; ++k, w += V * width, x += g.ldx) {
    batch wk[V];
    for (int v = 0; v < V; ++v) wk[v] = batch::load_unaligned(w + v * width);
    for (int p = 0; p < P; ++p) {
      const batch xp(x[column[p]]);
      for (int v = 0; v < V; ++v) acc[p][v] = simd_fma(xp, wk[v], acc[p][v]);
    }
  }
  const Activation& act = *g.activation;
  const RegisterActivation<Arch> finish(act);
  alignas(64) float tile[P * V * width];
  for (int v = 0; v < V; ++v) {
    const batch bias = batch::load_unaligned(g.bias + v * width);
    for (int p = 0; p < P; ++p)
      finish.template apply<Kind>(acc[p][v] + bias).store_aligned(tile + p * V * width + v * width);
  }
  const bool per_element = !activation_in_registers(act.kind);
  for (int64_t c = 0; c < g.channels; ++c) {
    float* y = g.y + c * g.ldy;
    for (int64_t p = 0; p < g.pixels; ++p) {
      const float value = tile[p * V * width + c];
      y[p] = per_element ? activation_apply(act, value) : value;
    }
  }
}

template <class Arch, int V>
void gemm_pixels(const PixelGemmBlock& g) {
  switch (g.activation->kind) {
    case ActivationKind::activation_relu:
    case ActivationKind::activation_clip:
      return gemm_pixels_with<Arch, V, ActivationKind::activation_clip>(g);
    case ActivationKind::activation_hard_swish:
      return gemm_pixels_with<Arch, V, ActivationKind::activation_hard_swish>(g);
    default:  // none, or applied per element on the store
      return gemm_pixels_with<Arch, V, ActivationKind::activation_none>(g);
  }
}

template <class Arch, int B>
inline void gemv_blocks(const GemvBlock& g, int64_t block) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const Activation& act = *g.activation;
  batch acc[B];
  for (int j = 0; j < B; ++j) acc[j] = batch(0.f);
  const float* w = g.packed + block * g.depth * width;
  for (int64_t k = 0; k < g.depth; ++k) {
    const batch x(g.x[k]);
    for (int j = 0; j < B; ++j)
      acc[j] = simd_fma(batch::load_unaligned(w + (j * g.depth + k) * width), x, acc[j]);
  }
  const RegisterActivation<Arch> finish(act);
  alignas(64) float out[B * width];
  for (int j = 0; j < B; ++j)
    finish(acc[j] + batch::load_unaligned(g.bias + (block + j) * width))
        .store_aligned(out + j * width);
  const int64_t m0 = block * width;
  const int64_t count = std::min<int64_t>(B * width, g.rows - m0);
  const bool per_element = !activation_in_registers(act.kind);
  for (int64_t i = 0; i < count; ++i)
    g.y[m0 + i] = per_element ? activation_apply(act, out[i]) : out[i];
}

template <class Arch>
void gemv_block(const GemvBlock& g) {
  int64_t block = g.block_begin;
  for (; block + 4 <= g.block_end; block += 4) gemv_blocks<Arch, 4>(g, block);
  for (; block < g.block_end; ++block) gemv_blocks<Arch, 1>(g, block);
}

}  // namespace atrous
