// Dense 3×3 convolution at stride 1, any dilation and padding, by Winograd's minimal filtering
// F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016):
// each 2×2 block of outputs from a 4×4 block of inputs with 16 multiplications per input and
// output channel instead of 36, through the transforms U = G·g·Gᵀ (weights, once per
// session), V = Bᵀ·d·B (input tiles) and Y = Aᵀ·M·A (output tiles), with the interpolation
// points 0, 1, −1, ∞ (the transforms' coefficients are 0, ±1 and ½, exact in binary).
//
// Dilation: a 3×3 kernel at dilation (dh, dw) is, on each of the dh·dw phase subgrids of the
// output (rows py + dh·i, columns px + dw·j), an undilated 3×3 over the input subgrid (rows
// py − pad_h + dh·i', columns px − pad_w + dw·j'), zeros outside the image. Tiles of 2×2
// outputs are laid over every phase's subgrid; a subgrid of odd size has a last tile half
// outside it, whose extra outputs are never stored. Tiles are numbered phase by phase, tile row
// by tile row: N tiles in all.
//
// A run: (1) the input transform, per input channel, into V = [16][C][N] (element ξ = 4·i + k
// of the transformed tile); (2) 16 GEMMs, M_ξ[M][N] = U_ξ[M][C] · V_ξ[C][N], on the shared GEMM
// (cpu/gemm.h; B packed from V_ξ as for a 1×1 convolution); (3) the output transform per
// output channel, + bias, into the output's phase positions, then the activation over the
// plane.
//
// Numerics: not the direct path's FMA chain. Each output is Σ over ξ of transformed weights
// times transformed inputs, the weight transform computed in double and rounded once; the
// error is a few ulps of the sums of |w|·|x| (tested against the reference with a bound of that
// form). Every value depends only on the shapes, never on the threads: 1, 2 and 3 threads are
// bitwise identical. The transforms run the same additions in the same order on every ISA.
//
// The rule (dense_conv_prefers_winograd in dense_conv.h) takes this path where its 16
// products per tile are fewer than the direct path's in-image taps by a measured margin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cpu/dense_conv_layer.h"
#include "cpu/gemm.h"
#include "cpu/isa.h"
#include "graph/thread_pool.h"
#include "ops/activation.h"
#include "ops/op_helpers.h"

namespace atrous {

constexpr int kWinogradPoints = 16;  // (2 + 3 − 1)² transformed elements per tile

// One phase subgrid of the output and its tiles.
struct WinogradPhase {
  int64_t py = 0, px = 0;              // the phase: output rows py + dh·i, columns px + dw·j
  int64_t out_rows = 0, out_cols = 0;  // the subgrid's outputs (i < out_rows, j < out_cols)
  int64_t tile_rows = 0, tile_cols = 0;
  int64_t first = 0;  // the number of its first tile (tile (r, t) is first + r·tile_cols + t)
};

struct WinogradConvPlan : DenseConvLayer {
  int64_t tiles = 0;  // N
  std::vector<WinogradPhase> phases;
  GemmWeights gemm[kWinogradPoints];  // U_ξ as [M, C], no bias, no activation
  // Input rows are split into 2·dw column phases of split_width floats; column x of a row
  // goes to float column_slot[x] of its split.
  int64_t split_width = 0;
  std::vector<int32_t> column_slot;
  int64_t gather_floats = 0;  // per thread: the split rows of the largest output row phase
};

// Whether the path applies: a 3×3 kernel at stride 1 in both axes.
bool winograd_conv_applies(const WindowAxis axes[2]);

// Tiles over all phase subgrids (16 products per input and output channel each; the direct
// path's products are axes[0].taps_inside() · axes[1].taps_inside()).
int64_t winograd_tile_count(const WindowAxis axes[2]);

// weight: [M, C, 3, 3] row-major; bias: M floats or nullptr. winograd_conv_applies(axes).
void winograd_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                        int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                        CpuIsa isa, WinogradConvPlan* plan);

// Floats of scratch all threads share (V and the 16 products), and per thread.
// winograd_shared_floats gives the first for a layer not planned yet (the rule's cap).
size_t winograd_shared_floats(int64_t channels, int64_t outputs, int64_t tiles);
size_t winograd_conv_shared_floats(const WinogradConvPlan& plan);
size_t winograd_conv_scratch_floats(const WinogradConvPlan& plan);

// x: [C, H, W], y: [M, oH, oW] for one image; scratch: winograd_conv_shared_floats +
// scratch_slots · winograd_conv_scratch_floats floats (or null: the run allocates).
void winograd_conv_run(const WinogradConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                       float* scratch, int scratch_slots);

}  // namespace atrous
