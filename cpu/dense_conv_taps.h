// Dense convolution at stride 1 as one GEMM per kernel tap ("tap GEMMs"), for layers where most
// outputs read few taps inside the image (DeepLabV3's ASPP at rates 12–36 on a 32×64 map).
//
// Tap (ky, kx) reads input (oy + ky·dh − pad_h, ox + kx·dw − pad_w) for output (oy, ox): inside
// the image exactly on a rectangle of outputs. Over that rectangle the tap is a 1×1
// convolution of a shifted window of the input: Y[:, rect] += W[:, :, ky, kx] · X[:, rect
// shifted], a GEMM of M × C × |rect| on the shared GEMM (cpu/gemm.h), its B gathered by rows
// of the window. So every in-image tap is computed once and no padded one at all, at the
// GEMM's efficiency, where the direct path's register tiles (cpu/dense_conv_direct.h) spend
// their loop overhead on outputs with one to four taps.
//
// A run: every tap's GEMM in one parallel loop over (tap, block of its columns), each from
// zero: a tap whose rectangle covers every output (the centre tap of a same-size layer) into
// the output, the others into their own [M][rectangle] buffers; then per output channel the
// buffers added into the output in (ky, kx) order (onto zeros when no tap covers every
// output), then bias and activation. Each output is thus a sum over its taps, in a fixed
// order, of FMA chains over the input channels: not the direct path's chain over (c, ky, kx),
// so not bitwise its result (tested against the reference with the same bound). Tasks split
// only columns: 1, 2 and 3 threads are bitwise identical.
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

struct TapConvTap {
  int64_t ky = 0, kx = 0;
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;  // the outputs whose tap is inside the image
  int64_t dy = 0, dx = 0;                  // input offset: (oy + dy, ox + dx)
  int64_t outputs() const { return (y1 - y0) * (x1 - x0); }  // the rectangle's size
};

struct TapConvPlan : DenseConvLayer {
  std::vector<TapConvTap> taps;   // in run order; empty rectangles left out
  std::vector<GemmWeights> gemm;  // per tap: W[:, :, ky, kx] as [M, C], no bias or activation
  bool first_covers = false;      // taps[0] covers every output and writes it
  // Where each other tap's [M][rectangle] sums go in the shared scratch (−1: the output).
  std::vector<int64_t> buffer_offset;
  int64_t buffer_floats = 0;
};

// Stride 1 in both axes (any kernel, dilation and padding).
bool tap_conv_applies(const WindowAxis axes[2]);

// weight: [M, C, kH, kW] row-major; bias: M floats or nullptr.
void tap_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                   int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                   CpuIsa isa, TapConvPlan* plan);

size_t tap_conv_shared_floats(const TapConvPlan& plan);
size_t tap_conv_scratch_floats(const TapConvPlan& plan);

// x: [C, H, W], y: [M, oH, oW] for one image; scratch: tap_conv_shared_floats + scratch_slots ·
// tap_conv_scratch_floats floats (or null: the run allocates).
void tap_conv_run(const TapConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                  float* scratch, int scratch_slots);

}  // namespace atrous
