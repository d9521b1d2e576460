// Pointwise (1×1, stride 1, unpadded, one group) convolution on NCHW data as a GEMM:
// Y[m, p] = act(Σ_c W[m, c] · X[c, p] + b[m]) over the H·W pixels p of each image.
// Weights are packed once per session into panels of kPointwiseRows output channels,
// [M/rows][C][rows], so the microkernel broadcasts consecutive floats.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#include "ops/activation.h"

namespace atrous {

constexpr int kPointwiseRows = 6;

struct PointwisePlan {
  int64_t out_channels = 0;
  int64_t in_channels = 0;
  std::vector<float> packed;  // ceil(M/rows) · C · rows, zero padded
  std::vector<float> bias;    // M (zeros when the conv has none)
  Activation activation;
  CpuIsa isa = CpuIsa::cpu_isa_scalar;
};

void pointwise_plan(const float* weight, const float* bias, int64_t out_channels,
                    int64_t in_channels, const Activation& activation, CpuIsa isa,
                    PointwisePlan* plan);

// x: [C, pixels], y: [M, pixels] for one image.
void pointwise_run(const PointwisePlan& plan, const float* x, int64_t pixels, float* y,
                   ThreadPool& pool);

// Per-ISA column-tile kernels: tiles [tile_begin, tile_end) of `columns` pixels each; the last
// partial tile, if any, is handled by the caller through a padded copy.
void pointwise_tiles_scalar(const PointwisePlan& plan, const float* x, int64_t stride_x,
                            float* y, int64_t stride_y, int64_t columns, int64_t tile_begin,
                            int64_t tile_end);
void pointwise_tiles_avx2(const PointwisePlan& plan, const float* x, int64_t stride_x, float* y,
                          int64_t stride_y, int64_t tile_begin, int64_t tile_end);
void pointwise_tiles_avx512(const PointwisePlan& plan, const float* x, int64_t stride_x,
                            float* y, int64_t stride_y, int64_t tile_begin, int64_t tile_end);
void pointwise_tiles_neon(const PointwisePlan& plan, const float* x, int64_t stride_x, float* y,
                          int64_t stride_y, int64_t tile_begin, int64_t tile_end);
// Pixels per column tile of each ISA's kernel.
int64_t pointwise_tile_columns(CpuIsa isa);

}  // namespace atrous
