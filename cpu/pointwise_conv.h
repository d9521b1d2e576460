// Pointwise (1×1, stride 1, unpadded, one group) convolution on NCHW data as a GEMM
// (cpu/gemm.h): Y[m, p] = act(Σ_c W[m, c] · X[c, p] + b[m]) over the H·W pixels p of each
// image. The packer copies rows of X into the column tiles, so X needs no layout change.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/isa.h"
#include "graph/graph.h"
#include "graph/thread_pool.h"
#include "ops/activation.h"

namespace atrous {

// Copies rows of X (row k at x + k · channel_stride, columns from 0) into the packed column
// tiles.
class PointwisePacker : public GemmPacker {
 public:
  PointwisePacker(const float* x, int64_t channel_stride)
      : x_(x), channel_stride_(channel_stride) {}
  int64_t pack(int64_t k0, int64_t depth, int64_t column0, int64_t count, int64_t tile, float* dst,
               int32_t* kept) const override;

 private:
  const float* x_;
  int64_t channel_stride_;
};

struct PointwisePlan {
  GemmWeights gemm;  // [M, C] weights, bias, activation, ISA
  // For one-pixel images (pointwise_plan_single_pixel): the weights as GemvBlock packs them.
  std::vector<float> gemv_packed;
  std::vector<float> gemv_bias;
};

void pointwise_plan(const float* weight, const float* bias, int64_t out_channels,
                    int64_t in_channels, const Activation& activation, CpuIsa isa,
                    PointwisePlan* plan);

// Adds the one-pixel packing to a plan, where the ISA has a GEMV kernel: then pointwise_run
// computes a one-pixel image as a matrix-vector product (a 1×1 on a squeeze-excitation's
// pooled vector would otherwise fill a whole GEMM tile per pixel), with the GEMM's arithmetic.
void pointwise_plan_single_pixel(PointwisePlan* plan);

// x: [C, pixels], y: [M, pixels] for one image. scratch: scratch_slots ·
// gemm_scratch_floats(isa) floats, or null (then the run allocates its own).
void pointwise_run(const PointwisePlan& plan, const float* x, int64_t pixels, float* y,
                   ThreadPool& pool, float* scratch = nullptr, int scratch_slots = 0);

// A conv node this family handles: 1×1 kernel, stride 1, no padding, one group, constant f32
// weights and bias.
bool is_pointwise_conv(const Graph& graph, const Node& node);

// Whether a pointwise conv is left to the dense family's direct convolution (output channels
// in the lanes, each weight vector loaded once per tile of pixels): expansions (M ≥ 2·C) on
// small planes, where the GEMM re-reads its weight panels for only a few column tiles.
// Measured (bench_dense_conv, AVX-512, 1 thread, weights in cache): 160→960 @7×7 0.120
// against 0.188 ms, 112→672 @14×14 0.224–0.229 against 0.296–0.299; the GEMM stays faster on
// projections (960→160 @7×7 0.136–0.140 against 0.143–0.153) and on larger planes (40→240
// @28×28 0.121 against 0.26). Inside MobileNetV3-Large, where these layers' weights come from
// L3, the gain is smaller: its 9 such layers 1.70 against 1.74 ms per run (docs/CPU.md).
bool pointwise_prefers_direct(int64_t out_channels, int64_t in_channels, int64_t pixels,
                              CpuIsa isa);

}  // namespace atrous
