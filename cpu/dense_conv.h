// Dense (one group) convolution that is not a plain pointwise GEMM — k×k kernels, strides,
// padding, per-axis dilation — as an implicit GEMM (cpu/gemm.h): A is the weight reshaped to
// [M, C·kH·kW]; B, the patch matrix, is never materialized whole: for each column block of
// output pixels the packer gathers its (C·kH·kW) × block patches (im2col for that block only,
// zeros where a tap falls into the padding) straight into the GEMM's packed tiles; or as a
// direct convolution (cpu/dense_conv_direct.h) that skips every padded tap per output pixel;
// or, for few input channels (the stems), as row tiles over zero-padded column phases
// (cpu/dense_conv_rows.h); or, for 3×3 kernels at stride 1, by Winograd F(2×2, 3×3)
// (cpu/dense_conv_winograd.h); or, at stride 1 with few taps inside the image, as one GEMM per
// kernel tap (cpu/dense_conv_taps.h). dense_conv_plan chooses the path per layer
// (dense_conv_prefers_rows, then _winograd, then _taps, then _direct, from measurements
// recorded in docs/CPU.md). The GEMM, direct and row paths give the same FMA chain per output
// element; Winograd sums transformed products and the tap GEMMs one chain per tap instead
// (within a bound of the same form, tested against the reference).
#pragma once

#include <cstdint>

#include "cpu/cpu_kernel.h"
#include "cpu/dense_conv_direct.h"
#include "cpu/dense_conv_rows.h"
#include "cpu/dense_conv_taps.h"
#include "cpu/dense_conv_winograd.h"
#include "cpu/gemm.h"
#include "ops/op_helpers.h"

namespace atrous {

enum class DenseConvPath {
  dense_conv_path_auto,
  dense_conv_path_gemm,
  dense_conv_path_direct,
  dense_conv_path_rows,      // cpu/dense_conv_rows.h; the GEMM where the ISA has no row tile
  dense_conv_path_winograd,  // cpu/dense_conv_winograd.h; the rule's choice where it does not apply
  dense_conv_path_taps,      // cpu/dense_conv_taps.h; likewise
};

struct DenseConvPlan {
  bool direct = false;
  DirectConvPlan direct_plan;  // when direct
  bool rows = false;
  RowConvPlan rows_plan;  // when rows
  bool winograd = false;
  WinogradConvPlan winograd_plan;  // when winograd
  bool taps = false;
  TapConvPlan taps_plan;  // when taps
  GemmWeights gemm;       // [M, C·kH·kW], on the implicit-GEMM path
  int64_t channels = 0;
  WindowAxis axes[2];  // 0 = H, 1 = W, as ops/conv.cpp resolves them
  // GEMM path with a horizontal stride s > 1: the input split once per run into its column
  // phases ([C][H][s][ceil(W / s)]), so the packer copies contiguous runs instead of gathering
  // every s-th float (the 3→16 stride-2 stem spent 70 % of its time gathering).
  int64_t phase_width = 0;  // ceil(W / s), 0 when not split
};

// The per-layer rules of dense_conv_path_auto: the row tiles for few input channels (where
// the ISA has them), else the direct path for enough output channels, else the GEMM.
bool dense_conv_prefers_rows(int64_t in_channels);
bool dense_conv_prefers_direct(int64_t out_channels, CpuIsa isa);
// Winograd F(2×2, 3×3) for 3×3 stride-1 layers with enough channels on both sides where its
// 16 products per tile undercut the direct path's in-image taps by the measured margin.
bool dense_conv_prefers_winograd(int64_t out_channels, int64_t in_channels,
                                 const WindowAxis axes[2]);
bool dense_conv_prefers_taps(int64_t out_channels, int64_t in_channels, const WindowAxis axes[2]);

// weight: [M, C, kH, kW] row-major; bias: M floats or nullptr. `path` forces one path (tests,
// benchmarks) or lets the rule choose.
void dense_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                     int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                     CpuIsa isa, DenseConvPlan* plan,
                     DenseConvPath path = DenseConvPath::dense_conv_path_auto);

// Floats of scratch one thread needs.
size_t dense_conv_scratch_floats(const DenseConvPlan& plan);
// Floats of scratch one run needs besides the threads' (the phase-split input).
size_t dense_conv_shared_floats(const DenseConvPlan& plan);

// The microkernel's name (for labels).
const char* dense_conv_kernel_name(const DenseConvPlan& plan);

// x: [C, H, W], y: [M, oH, oW] for one image; scratch: dense_conv_shared_floats +
// scratch_slots · dense_conv_scratch_floats floats (or null: the run allocates).
void dense_conv_run(const DenseConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                    float* scratch, int scratch_slots);

// cpu_make_dense_conv_kernel with the path forced (tests compare both paths on every shape).
CpuKernelPtr dense_conv_make_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config,
                                    DenseConvPath path);

}  // namespace atrous
