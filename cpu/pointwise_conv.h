// Pointwise (1×1, stride 1, unpadded, one group) convolution on NCHW data as a GEMM
// (cpu/gemm.h): Y[m, p] = act(Σ_c W[m, c] · X[c, p] + b[m]) over the H·W pixels p of each
// image. The packer copies rows of X into the column tiles, so X needs no layout change.
#pragma once

#include <cstdint>

#include "cpu/gemm.h"
#include "cpu/isa.h"
#include "graph/thread_pool.h"
#include "ops/activation.h"

namespace atrous {

struct PointwisePlan {
  GemmWeights gemm;  // [M, C] weights, bias, activation, ISA
};

void pointwise_plan(const float* weight, const float* bias, int64_t out_channels,
                    int64_t in_channels, const Activation& activation, CpuIsa isa,
                    PointwisePlan* plan);

// x: [C, pixels], y: [M, pixels] for one image. scratch: scratch_slots ·
// gemm_scratch_floats(isa) floats, or null (then the run allocates its own).
void pointwise_run(const PointwisePlan& plan, const float* x, int64_t pixels, float* y,
                   ThreadPool& pool, float* scratch = nullptr, int scratch_slots = 0);

}  // namespace atrous
