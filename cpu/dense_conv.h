// Dense (one group) convolution that is not a plain pointwise GEMM — k×k kernels, strides,
// padding, per-axis dilation — as an implicit GEMM (cpu/gemm.h): A is the weight reshaped to
// [M, C·kH·kW]; B, the patch matrix, is never materialized whole: for each column block of
// output pixels the packer gathers its (C·kH·kW) × block patches (im2col for that block only,
// zeros where a tap falls into the padding) straight into the GEMM's packed tiles.
#pragma once

#include <cstdint>

#include "cpu/gemm.h"
#include "ops/op_helpers.h"

namespace atrous {

struct DenseConvPlan {
  GemmWeights gemm;  // [M, C·kH·kW]
  int64_t channels = 0;
  WindowAxis axes[2];  // 0 = H, 1 = W, as ops/conv.cpp resolves them
};

// weight: [M, C, kH, kW] row-major; bias: M floats or nullptr.
void dense_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                     int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                     CpuIsa isa, DenseConvPlan* plan);

// x: [C, H, W], y: [M, oH, oW] for one image; scratch as for gemm_run.
void dense_conv_run(const DenseConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                    float* scratch, int scratch_slots);

}  // namespace atrous
