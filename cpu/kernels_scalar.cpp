// The scalar kernel table (no ISA flags): the scalar GEMM and depthwise microkernels, the misc
// loops of misc_kernels.cpp (also the SIMD loops' tails) and the panoptic loops of
// panoptic_kernels.cpp (compiled with -ffp-contract=off). On x86-64 this table runs on any CPU;
// it is also the reference the SIMD tables are tested against.
#include <algorithm>
#include <cstdint>

#include "cpu/dense_conv_direct.h"
#include "cpu/depthwise_conv.h"
#include "cpu/gemm.h"
#include "cpu/kernel_table.h"
#include "cpu/misc_kernels_simd.h"

namespace atrous {
namespace {

constexpr int64_t kScalarTile = 8;  // GEMM columns per tile
constexpr int kScalarRows = 6;      // GEMM output channels per panel

void gemm_block_scalar(const GemmBlock& block) {
  const GemmWeights& weights = *block.weights;
  const int64_t tile = kScalarTile;
  const int rows = kScalarRows;
  const int64_t tiles = (block.columns + tile - 1) / tile;
  float acc[kScalarRows * kScalarTile];
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t column = t * tile;
    const int64_t valid_columns = std::min(tile, block.columns - column);
    for (int64_t panel = block.panel_begin; panel < block.panel_end; ++panel) {
      const int64_t m0 = panel * rows;
      const int valid_rows = int(std::min<int64_t>(rows, weights.rows - m0));
      float* y = block.y + m0 * block.ldy + column;
      std::fill(acc, acc + rows * tile, 0.f);
      if (!block.first)
        for (int r = 0; r < valid_rows; ++r)
          for (int64_t i = 0; i < valid_columns; ++i) acc[r * tile + i] = y[r * block.ldy + i];
      const float* a = weights.packed.data() + (panel * weights.depth + block.k0) * rows;
      const bool in_place = t < block.in_place_tiles;
      const float* b = in_place ? block.in_place + t * tile
                                : block.b + (t - block.in_place_tiles) * block.depth * tile;
      const int64_t ldb = in_place ? block.ldb : tile;
      for (int64_t k = 0; k < block.packed_rows; ++k, b += ldb) {
        const float* ak = a + (block.kept ? int64_t(block.kept[k]) : k) * rows;
        for (int r = 0; r < rows; ++r)
          for (int64_t i = 0; i < tile; ++i) acc[r * tile + i] += ak[r] * b[i];
      }
      for (int r = 0; r < valid_rows; ++r)
        for (int64_t i = 0; i < valid_columns; ++i) {
          float v = acc[r * tile + i];
          if (block.last)
            v = activation_apply(weights.activation, v + weights.bias[size_t(m0 + r)]);
          y[r * block.ldy + i] = v;
        }
    }
  }
}

constexpr int64_t kScalarDirectPixels = 4, kScalarDirectBlock = 4;

// The direct conv's tile without SIMD: the same loops as dense_conv_direct_kernel.h, the
// products added as the scalar GEMM adds them.
void direct_conv_tile_scalar(const DirectConvTile& tile) {
  constexpr int64_t block = kScalarDirectBlock;
  float acc[kScalarDirectPixels * block];
  for (int64_t r = 0; r < tile.rows; ++r) {
    const int64_t pixels = tile.pixels;
    float* sums = tile.acc + r * tile.acc_row_stride;
    for (int64_t i = 0; i < pixels * block; ++i) acc[i] = tile.first ? 0.f : sums[i];
    const float* x = tile.x + r * tile.row_step;
    const float* w = tile.weights;
    for (int64_t c = 0; c < tile.channels;
         ++c, x += tile.input_channel_stride, w += tile.weight_channel_stride) {
      for (int64_t k = 0; k < tile.taps; ++k) {
        const float* wk = w + tile.weight_offsets[k];
        const float* xk = x + tile.input_offsets[k];
        for (int64_t p = 0; p < pixels; ++p) {
          const float input = xk[p * tile.pixel_step];
          for (int64_t m = 0; m < block; ++m) acc[p * block + m] += input * wk[m];
        }
      }
    }
    std::copy(acc, acc + pixels * block, sums);
  }
}

// dst[i] = Σ_t weight[t]·source[t][offset + i] + bias for i in [0, columns), the products added
// in tap order (the scalar ISA's sequence), then the activation when it is an in-register kind.
void scalar_tap_sums(const DepthwisePlan& plan, const float* weight, const float* const* source,
                     int count, int64_t offset, int64_t columns, float bias, float* dst) {
  const bool in_registers = activation_in_registers(plan.activation.kind);
  std::fill(dst, dst + columns, 0.f);
  for (int t = 0; t < count; ++t) {
    const float w = weight[t];
    const float* src = source[t] + offset;
    for (int64_t i = 0; i < columns; ++i) {
      const float product = w * src[i];
      dst[i] = dst[i] + product;
    }
  }
  for (int64_t i = 0; i < columns; ++i) {
    const float sum = dst[i] + bias;
    dst[i] = in_registers ? activation_apply(plan.activation, sum) : sum;
  }
}

void depthwise_row_scalar(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                          float* y) {
  const int64_t out_w = plan.axes[1].output;
  const int64_t begin = plan.interior_begin, end = plan.interior_end;
  const bool in_registers = activation_in_registers(plan.activation.kind);
  depthwise_border_columns<false>(plan, taps, bias, y, 0, begin);
  // The interior accumulates in the output row, tap by tap (a loop compilers vectorize).
  float* out = y + begin;
  scalar_tap_sums(plan, taps.weight, taps.interior, taps.count, 0, end - begin, bias, out);
  depthwise_border_columns<false>(plan, taps, bias, y, end, out_w);
  if (!in_registers)
    for (int64_t ow = 0; ow < out_w; ++ow) y[ow] = activation_apply(plan.activation, y[ow]);
}

// Always direct (a vector of one float): row by row, each tap's products added over the row.
void depthwise_band_scalar(const DepthwisePlan& plan, const float* const* source,
                           const float* weight, int count, int64_t rows, float bias, float* out,
                           int64_t out_stride) {
  const int64_t out_w = plan.axes[1].output;
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = out + r * out_stride;
    scalar_tap_sums(plan, weight, source, count, r * plan.phase_width, out_w, bias, dst);
  }
}

}  // namespace

const CpuKernelTable& cpu_kernel_table_scalar() {
  static const CpuKernelTable table = [] {
    CpuKernelTable t;
    t.isa = CpuIsa::cpu_isa_scalar;
    t.gemm = {gemm_block_scalar, nullptr, kScalarTile, kScalarRows, "gemm_f32_6x8_scalar", "",
              nullptr,           0,       ""};
    t.direct_conv = {direct_conv_tile_scalar, kScalarDirectPixels, kScalarDirectBlock,
                     "conv_direct_f32_4x4_scalar", direct_conv_tile_scalar};
    t.row_conv = {nullptr, 0, 0, "", {nullptr, nullptr}};
    t.depthwise = {
        depthwise_band_scalar,        depthwise_row_scalar,        nullptr, nullptr, nullptr,
        "dwconv_f32_band_1x1_scalar", "dwconv_f32_row_1x1_scalar", "",      "",      ""};
    t.misc = {misc_scalar::binary,
              misc_scalar::binary_scalar,
              misc_scalar::activation,
              misc_scalar::resize_linear_row,
              misc_scalar::resize_blend_rows,
              misc_scalar::resize_nearest_row,
              misc_scalar::softmax_channels,
              misc_scalar::argmax_channels,
              misc_scalar::dot_rows,
              misc_scalar::gather_even,
              misc_scalar::plane_mean,
              misc_scalar::winograd_input,
              misc_scalar::winograd_output,
              "f32_x1_scalar"};
    t.panoptic = panoptic_kernels_scalar();
    return t;
  }();
  return table;
}

}  // namespace atrous
