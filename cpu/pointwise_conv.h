// Pointwise (1×1, stride 1, unpadded, one group) convolution on NCHW data as a GEMM
// (cpu/gemm.h): Y[m, p] = act(Σ_c W[m, c] · X[c, p] + b[m]) over the H·W pixels p of each
// image. The packer copies rows of X into the column tiles, so X needs no layout change; small
// inputs are read in place instead (whole tiles; a partial last tile is still packed).
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/isa.h"
#include "cpu/weight_memory.h"
#include "graph/graph.h"
#include "graph/thread_pool.h"
#include "ops/activation.h"

namespace atrous {

// Copies rows of X (row k at x + k · channel_stride, columns from 0) into the packed column
// tiles.
class PointwisePacker : public GemmPacker {
 public:
  PointwisePacker(const float* x, int64_t channel_stride, bool in_place = false)
      : x_(x), channel_stride_(channel_stride), in_place_(in_place) {}
  int64_t pack(int64_t k0, int64_t depth, int64_t column0, int64_t count, int64_t tile, float* dst,
               int32_t* kept) const override;
  bool in_place(int64_t k0, int64_t column0, const float** b, int64_t* ldb) const override {
    if (!in_place_) return false;
    *b = x_ + k0 * channel_stride_ + column0;
    *ldb = channel_stride_;
    return true;
  }

 private:
  const float* x_;
  int64_t channel_stride_;
  bool in_place_;
};

// Whether pointwise_run reads the whole column tiles of an image of `pixels` pixels and
// `depth` input channels in place rather than packing them (docs/CPU.md, "Pointwise B in
// place"): inputs of at most 1 MiB, which stay in L2, with a row pitch that does not map every
// row to one L1 set.
bool pointwise_reads_in_place(int64_t pixels, int64_t depth);

struct PointwisePlan {
  GemmWeights gemm;  // [M, C] weights, bias, activation, ISA
  // For one-pixel images (pointwise_plan_single_pixel): the weights as GemvBlock packs them.
  WeightFloats gemv_packed;
  std::vector<float> gemv_bias;
  // For images of few pixels (pointwise_plan_pixel_tiles): the weights as the pixel tiles of
  // cpu/gemm.h read them, [panels][K][channels], and the bias [panels · channels].
  WeightFloats pixel_packed;
  std::vector<float> pixel_bias;
};

// pixels: the image's pixels (0: unknown), for the GEMM's choice of tile (gemm_pack_weights).
void pointwise_plan(const float* weight, const float* bias, int64_t out_channels,
                    int64_t in_channels, const Activation& activation, CpuIsa isa,
                    PointwisePlan* plan, int64_t pixels = 0);

// Adds the one-pixel packing to a plan, where the ISA has a GEMV kernel: then pointwise_run
// computes a one-pixel image as a matrix-vector product (a 1×1 on a squeeze-excitation's
// pooled vector would otherwise fill a whole GEMM tile per pixel), with the GEMM's arithmetic.
void pointwise_plan_single_pixel(PointwisePlan* plan);

// Adds the pixel-tile packing to a plan for images of `pixels` pixels where the ISA has pixel
// tiles and they waste clearly less of their FMAs on padding than the column tiles (a 49-pixel
// image: 49 of 64 columns; 7-pixel tiles: all 49); then pointwise_run takes them, with the
// GEMM's arithmetic. Returns whether it did.
bool pointwise_plan_pixel_tiles(PointwisePlan* plan, int64_t pixels);
// The packing itself, whatever the image: false (and no packing) where the ISA has no pixel
// tiles.
bool pointwise_pack_pixel_tiles(PointwisePlan* plan);

// x: [C, pixels], y: [M, pixels] for one image. scratch: scratch_slots ·
// gemm_scratch_floats(isa) floats, or null (then the run allocates its own). x_pitch: floats
// between two channels of x where it is not `pixels` (a copy whose channel rows start on whole
// cache lines; the column tiles only, not the pixel tiles or the one-pixel product).
void pointwise_run(const PointwisePlan& plan, const float* x, int64_t pixels, float* y,
                   ThreadPool& pool, float* scratch = nullptr, int scratch_slots = 0,
                   int64_t x_pitch = 0);

// A conv node this family handles: 1×1 kernel, stride 1, no padding, one group, constant f32
// weights and bias.
bool is_pointwise_conv(const Graph& graph, const Node& node);

}  // namespace atrous
