// The ISA-neutral GEMM microkernel, instantiated per architecture in kernels_<isa>.cpp (each
// compiled with its own -m flags). A tile is kGemmRows output channels × two SIMD vectors of
// columns; its accumulators live in registers across the whole K block. Each packed column
// tile is used by every panel of the block before the next tile, so it stays in L1.
// Edges: panels are zero padded (rows past M are computed and dropped); a partial last column
// tile is packed with zeros and goes through a stack copy on load and store. Bias and the
// activations of cpu/simd_activation.h (ReLU, clip, hard-swish) are applied in registers;
// the others per element after the store with the shared activation_apply.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "cpu/gemm.h"
#include "cpu/simd_activation.h"
#include "cpu/simd_math.h"

namespace atrous {

// One K step of a tile: acc0[r] += a[r]·x0 and acc1[r] += a[r]·x1 for the kGemmRows weights a of
// the step, each weight broadcast. On NEON the six weights are loaded as a vector and a half and
// used by lane (`fmla v.4s, v.4s, v.s[i]`): 2 loads instead of 6 per step (llvm-mca, Cortex-A55
// model: the single load unit was the bound). The same fused multiply-adds either way.
template <class Arch>
inline void gemm_step(const float* a, const xsimd::batch<float, Arch>& x0,
                      const xsimd::batch<float, Arch>& x1, xsimd::batch<float, Arch>* acc0,
                      xsimd::batch<float, Arch>* acc1) {
  for (int r = 0; r < kGemmRows; ++r) {
    const xsimd::batch<float, Arch> w(a[r]);
    acc0[r] = simd_fma(w, x0, acc0[r]);
    acc1[r] = simd_fma(w, x1, acc1[r]);
  }
}
// The step of a tile's first vector only (a last tile of at most one vector of valid columns):
// the same FMAs as gemm_step's acc0 chain.
template <class Arch>
inline void gemm_step_one(const float* a, const xsimd::batch<float, Arch>& x0,
                          xsimd::batch<float, Arch>* acc0) {
  for (int r = 0; r < kGemmRows; ++r)
    acc0[r] = simd_fma(xsimd::batch<float, Arch>(a[r]), x0, acc0[r]);
}
#if defined(__aarch64__)
static_assert(kGemmRows == 6, "the NEON steps below hold six weights");
template <>
inline void gemm_step_one<xsimd::neon64>(const float* a,
                                         const xsimd::batch<float, xsimd::neon64>& x0,
                                         xsimd::batch<float, xsimd::neon64>* acc0) {
  const float32x4_t w03 = vld1q_f32(a);
  const float32x2_t w45 = vld1_f32(a + 4);
  acc0[0] = vfmaq_laneq_f32(acc0[0], x0, w03, 0);
  acc0[1] = vfmaq_laneq_f32(acc0[1], x0, w03, 1);
  acc0[2] = vfmaq_laneq_f32(acc0[2], x0, w03, 2);
  acc0[3] = vfmaq_laneq_f32(acc0[3], x0, w03, 3);
  acc0[4] = vfmaq_lane_f32(acc0[4], x0, w45, 0);
  acc0[5] = vfmaq_lane_f32(acc0[5], x0, w45, 1);
}
template <>
inline void gemm_step<xsimd::neon64>(const float* a, const xsimd::batch<float, xsimd::neon64>& x0,
                                     const xsimd::batch<float, xsimd::neon64>& x1,
                                     xsimd::batch<float, xsimd::neon64>* acc0,
                                     xsimd::batch<float, xsimd::neon64>* acc1) {
  gemm_step_one<xsimd::neon64>(a, x0, acc0);
  gemm_step_one<xsimd::neon64>(a, x1, acc1);
}
#endif

// Kind: the activation applied in registers (see gemm_block below), fixed per instantiation
// so that the epilogue holds no switch: with one, GCC kept the NEON accumulators on the stack
// through the whole K loop (llvm-mca: 24 instead of 12 cycles per K step on the A57 model).
template <class Arch, ActivationKind Kind>
void gemm_block_with(const GemmBlock& block) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  constexpr int64_t tile = 2 * width;
  constexpr int rows = kGemmRows;
  const GemmWeights& weights = *block.weights;
  const Activation& act = weights.activation;
  const RegisterActivation<Arch> finish(act);
  const bool per_element = !activation_in_registers(act.kind);
  const int64_t depth = block.depth;
  const int64_t tiles = (block.columns + tile - 1) / tile;
  alignas(64) float edge[rows * tile];
  for (int64_t t = 0; t < tiles; ++t) {
    const bool in_place = t < block.in_place_tiles;
    const float* b =
        in_place ? block.in_place + t * tile : block.b + (t - block.in_place_tiles) * depth * tile;
    const int64_t ldb = in_place ? block.ldb : tile;
    const int64_t column = t * tile;
    const int64_t valid_columns = std::min(tile, block.columns - column);
    const bool one_vector = valid_columns <= width;
    for (int64_t panel = block.panel_begin; panel < block.panel_end; ++panel) {
      const int64_t m0 = panel * rows;
      const int valid_rows = int(std::min<int64_t>(rows, weights.rows - m0));
      const bool full = valid_columns == tile && valid_rows == rows;
      float* y = block.y + m0 * block.ldy + column;
      // Output rows as the kernel sees them: the tensor itself, or the stack copy at an edge.
      float* out = full ? y : edge;
      const int64_t ld = full ? block.ldy : tile;
      batch acc0[rows], acc1[rows];
      if (block.first) {
        for (int r = 0; r < rows; ++r) acc0[r] = acc1[r] = batch(0.f);
      } else {
        if (!full) {
          std::memset(edge, 0, sizeof(edge));
          for (int r = 0; r < valid_rows; ++r)
            std::memcpy(edge + r * tile, y + r * block.ldy, size_t(valid_columns) * sizeof(float));
        }
        for (int r = 0; r < rows; ++r) {
          acc0[r] = batch::load_unaligned(out + r * ld);
          acc1[r] = batch::load_unaligned(out + r * ld + width);
        }
      }
      const float* a = weights.packed.data() + (panel * weights.depth + block.k0) * rows;
      const float* bk = b;
      if (one_vector) {
        // A last tile of at most one vector of valid columns: only that vector is computed (the
        // second holds no output; 196 = 6·32 + 4 columns computed 224, now 208).
        if (!block.kept) {
          for (int64_t k = 0; k < depth; ++k, a += rows, bk += ldb)
            gemm_step_one<Arch>(a, batch::load_unaligned(bk), acc0);
        } else {
          for (int64_t k = 0; k < block.packed_rows; ++k, bk += tile)
            gemm_step_one<Arch>(a + int64_t(block.kept[k]) * rows, batch::load_unaligned(bk), acc0);
        }
      } else if (!block.kept) {
        for (int64_t k = 0; k < depth; ++k, a += rows, bk += ldb)
          gemm_step<Arch>(a, batch::load_unaligned(bk), batch::load_unaligned(bk + width), acc0,
                          acc1);
      } else {
        for (int64_t k = 0; k < block.packed_rows; ++k, bk += tile)
          gemm_step<Arch>(a + int64_t(block.kept[k]) * rows, batch::load_unaligned(bk),
                          batch::load_unaligned(bk + width), acc0, acc1);
      }
      for (int r = 0; r < rows; ++r) {
        batch v0 = acc0[r], v1 = acc1[r];
        if (block.last) {
          const batch bias(r < valid_rows ? weights.bias[size_t(m0 + r)] : 0.f);
          v0 = finish.template apply<Kind>(v0 + bias);
          v1 = finish.template apply<Kind>(v1 + bias);
        }
        v0.store_unaligned(out + r * ld);
        v1.store_unaligned(out + r * ld + width);
      }
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

template <class Arch>
void gemm_block(const GemmBlock& block) {
  switch (block.weights->activation.kind) {
    case ActivationKind::activation_relu:
    case ActivationKind::activation_clip:
      return gemm_block_with<Arch, ActivationKind::activation_clip>(block);
    case ActivationKind::activation_hard_swish:
      return gemm_block_with<Arch, ActivationKind::activation_hard_swish>(block);
    default:  // none, or applied per element after the store
      return gemm_block_with<Arch, ActivationKind::activation_none>(block);
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
