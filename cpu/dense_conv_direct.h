// Direct dense convolution: the dense conv family's second path (cpu/dense_conv.h chooses it
// per layer), for k×k convolutions whose taps fall into the padding for part of each row, as
// the ASPP's dilated 3×3 at 33×65 with rates 6–18.
//
// Lanes are output channels: a register tile holds P output pixels (consecutive in one
// output row) × `block` output channels (V SIMD vectors); for each input channel and each tap
// the V weight vectors are loaded once and each pixel's input is broadcast (one scalar per
// pixel), P·V FMAs. Weights are packed once as [channel block][C][tap][block], zero padded
// past M, with only the taps that read inside the image for some output pixel.
//
// Exact per-pixel skipping of padding: each output row is split into x-segments on which the
// set of kernel columns that read inside the image is constant (its borders are where a
// column's reads enter or leave the image: at most 2·kW + 1 segments, computed once), and the
// kernel rows that read inside the image are found per output row. A segment runs full
// P-pixel tiles, then one narrower tile, over exactly the taps valid for all its pixels; a
// segment narrower than P/2 stacks 2 or 4 rows in a tile (rows with the same valid kernel rows)
// so that the tile still holds enough independent accumulators.
//
// K blocking: the input channels are split into blocks whose weight slice stays in L1; the
// partial sums of a task's rows cross K blocks in a per-thread scratch of [pixel][block]
// (exact: stored and reloaded floats). After the last K block the scratch is transposed into
// the output with bias and activation (the output and input are addressed by channel, row and
// pixel strides, so the same code serves NCHW, NHWC or blocked layouts).
//
// Interleaved input: layers with stride-1 rows and at least kDirectInterleave input channels
// first copy the input (in parallel, into scratch the threads share) to [K block][H][W][16]:
// K blocks of 16 channels, a pixel's 16 channels side by side. On an NCHW input a tile's
// broadcasts read one line per channel and tap, lines a whole plane apart (8 KiB at 32×64, so
// every channel of a tap falls into the same L1 set); on the copy they read a few contiguous
// lines. Measured on AMD EPYC (Zen 3, AVX2, docs/CPU.md, "The tenth session"), the copy
// included: 960→256 3×3 at 32×64 rate 12 −8 to −18 %, 256→256 3×3 at 32×64 −12 to +5 %, at
// 33×65 rates 3 to 12 −16 % to level; strided layers were not faster, so they read in place.
//
// Determinism and equality with the implicit GEMM: every output element is the FMA chain over
// (c, ky, kx) in row-major weight order, over the taps inside the image only — the chain the
// GEMM path computes (its zero rows add exact zeros) — then + bias, then the activation. Tasks
// are (channel block, band of output rows); the thread count never changes a chain.
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

// Input channels per block of the interleaved input copy ([K block][H][W][channel], see
// DirectConvPlan::interleave).
constexpr int64_t kDirectInterleave = 16;

// Element strides of an activation tensor for one image.
struct ConvStrides {
  int64_t channel = 0, row = 0, pixel = 0;
};

// A run of output columns [begin, end) of every row on which the same kernel columns read
// inside the image.
struct DirectConvSegment {
  int64_t begin = 0, end = 0;
  std::vector<int32_t> columns;  // kx of the valid kernel columns, ascending
};

struct DirectConvPlan {
  int64_t out_channels = 0, in_channels = 0;
  WindowAxis axes[2];       // 0 = H, 1 = W
  int64_t block = 0;        // output channels per register tile (the microkernel's)
  int64_t blocks = 0;       // ceil(M / block)
  int64_t depth_block = 0;  // input channels per K block
  // Whether the run first copies the input to [K block][H][W][depth_block] (depth_block =
  // kDirectInterleave) and the tiles read that copy: a tile's input is then a few contiguous
  // lines instead of one line per channel and tap.
  bool interleave = false;
  int64_t group_blocks = 0;       // channel blocks per task
  int64_t band_rows = 0;          // output rows per task
  std::vector<int32_t> tap_slot;  // per tap ky·kW + kx: its slot in packed, −1 if never inside
  int64_t packed_taps = 0;        // taps some output pixel reads inside the image
  WeightFloats packed;            // [blocks][C][packed_taps (at least 1)][block]
  std::vector<float> bias;        // blocks · block (zeros past M, or when there is none)
  std::vector<DirectConvSegment> segments;
  Activation activation;
  CpuIsa isa = CpuIsa::cpu_isa_scalar;
  const DirectConvKernels* kernels = nullptr;
};

// weight: [M, C, kH, kW] row-major; bias: M floats or nullptr.
void direct_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                      int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                      CpuIsa isa, DirectConvPlan* plan);

// Floats of scratch one thread needs (its task's partial sums and tap lists).
size_t direct_conv_scratch_floats(const DirectConvPlan& plan);

// Floats of scratch all threads share (the interleaved input copy; 0 without one).
size_t direct_conv_shared_floats(const DirectConvPlan& plan);

// One image: x and y addressed through their strides. shared: direct_conv_shared_floats
// floats; scratch: scratch_slots · direct_conv_scratch_floats floats; when either is null (or
// scratch has fewer slots than the run uses), the run allocates its own.
void direct_conv_run(const DirectConvPlan& plan, const float* x, const ConvStrides& x_strides,
                     float* y, const ConvStrides& y_strides, ThreadPool& pool, float* shared,
                     float* scratch, int scratch_slots);

// One tile: the argument of the per-ISA microkernels (CpuKernelTable::direct_conv).
struct DirectConvTile {
  const float* x = nullptr;  // the input at the K block's first channel and the tile's 1st pixel
  const float* weights = nullptr;  // packed weights of the channel block at its first channel
  const int64_t* input_offsets = nullptr;   // per valid tap, from x
  const int64_t* weight_offsets = nullptr;  // per valid tap, from weights
  int64_t taps = 0;
  int64_t channels = 0;  // input channels in the K block
  int64_t input_channel_stride = 0;
  int64_t weight_channel_stride = 0;  // kH·kW·block
  int64_t pixel_step = 0;             // input elements between consecutive output pixels
  int64_t row_step = 0;               // input elements between the tile's output rows
  float* acc = nullptr;               // partial sums, [rows][pixels][block]
  int64_t acc_row_stride = 0;         // floats between the tile's rows in acc
  int64_t rows = 1;                   // 1, 2 or 4
  int64_t pixels = 0;                 // per row, 1 to tile_pixels / rows
  bool first = false;                 // start from zero instead of acc
};

}  // namespace atrous
