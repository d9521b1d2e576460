// Row-tile dense convolution: the dense conv family's third path (cpu/dense_conv.h chooses it),
// for layers with few input channels (the 3-channel stems), where the implicit GEMM spends
// most of its time packing im2col rows of 27 or 147 taps, and the direct path's tile of
// output channels (32 on AVX-512) is half empty with 16 filters.
//
// Lanes are output columns: a register tile holds R output channels × V vectors of
// consecutive output columns of one output row. The input is first copied once per run into
// zero-padded column phases: padded row j (input row j − pad_top) of channel c, phase q holds
// padded columns q, q + sW, q + 2·sW, … (input column i·sW + q − pad_left at index i). Then
// tap (c, ky, kx) of output columns ow0 … ow0 + V·lanes − 1 reads V consecutive vectors of
// phase (kx·dW) mod sW of padded row oh·sH + ky·dH, from index ow0 + (kx·dW) div sW: every
// tap is whole vector loads, V loads and R broadcasts for R·V FMAs, with no packing and no
// border case (a tap in the padding reads zeros).
//
// Arithmetic: every output element is the FMA chain over (c, ky, kx) in the weight's
// row-major order from zero, then + bias, then the activation: the implicit GEMM's chain (its
// left-out padding rows and this path's zero reads both add nothing: a chain that starts at
// +0 never holds −0, so adding w·0 changes no bit), so the two paths are bitwise equal.
// Tasks are (output row, panel of R channels); the thread count changes no chain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/isa.h"
#include "cpu/kernel_table.h"
#include "cpu/weight_memory.h"
#include "graph/thread_pool.h"
#include "ops/activation.h"
#include "ops/op_helpers.h"

namespace atrous {

struct RowConvPlan {
  int64_t channels = 0, out_channels = 0;
  WindowAxis axes[2];
  int64_t panel_rows = 0;           // R, output channels per panel (the ISA's tile)
  int64_t tile_columns = 0;         // V·lanes output columns per tile
  int64_t lanes = 0;                // floats per vector
  int64_t padded_rows = 0;          // padded input rows held per channel
  int64_t phase_width = 0;          // floats per phase row
  WeightFloats weights;             // [panels][C][kH][kW][R], zeros past M
  std::vector<float> bias;          // [panels·R], zeros past M (and when there is none)
  std::vector<int64_t> tap_offset;  // [kW]: ((kx·dW) mod sW)·phase_width + (kx·dW) div sW
  Activation activation;
  const RowConvKernels* kernels = nullptr;
  const MiscKernels* misc = nullptr;  // the ISA's gather_even splits stride-2 rows
};

// One tile: the argument of the per-ISA microkernel (CpuKernelTable::row_conv).
struct RowConvTile {
  const RowConvPlan* plan = nullptr;
  const float* phases = nullptr;   // the padded phases of channel 0
  const float* weights = nullptr;  // the panel's [C][kH][kW][R]
  const float* bias = nullptr;     // the panel's [R]
  int64_t row0 = 0;                // padded row of tap ky = 0 (oh·sH)
  int64_t column0 = 0;             // first output column
  int64_t columns = 0;             // output columns of the tile that exist (≤ tile_columns)
  int64_t valid_rows = 0;          // output channels of the panel that exist (≤ R)
  float* y = nullptr;              // output channel m0, row oh, column column0
  int64_t ldy = 0;                 // floats between output channels
};

// Whether `isa` has the path (every SIMD ISA; the scalar table has none).
bool row_conv_available(CpuIsa isa);

// weight: [M, C, kH, kW] row-major; bias: M floats or nullptr.
void row_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                   int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                   CpuIsa isa, RowConvPlan* plan);

// Floats of the padded phases one run needs (C · padded_rows · sW · phase_width).
size_t row_conv_shared_floats(const RowConvPlan& plan);

// x: [C, H, W], y: [M, oH, oW] for one image; scratch: row_conv_shared_floats floats, or null
// (the run allocates).
void row_conv_run(const RowConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                  float* scratch);

}  // namespace atrous
