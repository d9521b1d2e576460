// Depthwise convolution (group == C == M, weights [C, 1, kH, kW]) on NCHW data, any kernel size,
// stride, per-axis dilation and padding, with bias and the fused activation.
//
// Each output row of a channel plane is split once per kernel (the shapes are static) into a
// left border, an interior and a right border of output columns: in the interior every tap of
// every kernel column reads inside the input row, so the interior runs with SIMD over output
// columns and no bounds checks; the borders run a scalar loop that skips the taps in padding.
// Kernel rows that fall into the padding are skipped for the whole output row, so atrous
// (dilated) kernels cost only their in-bounds taps and have no slow path.
//
// For stride 1 a tap of the interior is an unaligned load at column offset kx·dilation. For
// stride s > 1 each input row is first split into its s phases (columns p, p+s, p+2s, ...) in a
// small per-thread cache; a tap then reads consecutive floats of one phase, so every stride runs
// the same stride-1 microkernel.
//
// Arithmetic order: every output element starts from 0, adds its in-bounds taps in (ky, kx)
// order (FMA on SIMD ISAs, multiply then add on the scalar ISA), adds the bias, then applies
// the activation. Borders and interior use the same sequence, and a skipped tap would have
// added w·0 = 0 exactly, so the results do not depend on where a border falls.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#include "ops/activation.h"
#include "ops/op_helpers.h"

namespace atrous {

// The in-bounds taps of one output row, in (ky, kx) order: `count` is a multiple of kW.
struct DepthwiseTaps {
  int count = 0;
  const float* weight = nullptr;           // [count]
  const float* const* row = nullptr;       // [count] the input row of the tap
  const int64_t* offset = nullptr;         // [count] input column of output 0: kx·dW − pad_left
  const float* const* interior = nullptr;  // [count] input of the first interior column; a
                                           // column i further reads interior[t][i]
};

struct DepthwisePlan;
using DepthwiseRowFunction = void (*)(const DepthwisePlan& plan, const DepthwiseTaps& taps,
                                      float bias, float* y);

struct DepthwisePlan {
  int64_t channels = 0;
  WindowAxis axes[2];            // 0 = H, 1 = W, as resolved by ops/conv.cpp
  int64_t interior_begin = 0;    // output columns [interior_begin, interior_end) have all
  int64_t interior_end = 0;      // kernel columns inside the input row
  int64_t rows_per_tile = 1;     // output rows per parallel tile
  int64_t phase_stride = 0;      // floats per phase of a split row (stride > 1)
  std::vector<float> weights;    // [C][kH·kW]
  std::vector<float> bias;       // [C], zeros when the conv has none
  std::vector<int64_t> column_offsets;  // [kW] kx·dW − pad_left
  Activation activation;
  CpuIsa isa = CpuIsa::cpu_isa_scalar;
  DepthwiseRowFunction row = nullptr;
};

// axes: the conv's resolved window geometry (output sizes >= 1); bias may be null.
void depthwise_plan(const float* weight, const float* bias, int64_t channels,
                    const WindowAxis axes[2], const Activation& activation, CpuIsa isa,
                    DepthwisePlan* plan);

// x: [batch, C, H, W], y: [batch, C, outH, outW].
void depthwise_run(const DepthwisePlan& plan, const float* x, int64_t batch, float* y,
                   ThreadPool& pool);

// True for the activations the row functions apply in registers (bitwise equal to
// activation_apply on the same float); the others are applied per element after the row.
inline bool depthwise_activation_in_registers(ActivationKind kind) {
  return kind == ActivationKind::activation_none || kind == ActivationKind::activation_relu ||
         kind == ActivationKind::activation_clip || kind == ActivationKind::activation_hard_swish;
}

// The sum of output column `ow` from its in-bounds taps, for the borders. kFused: accumulate
// with FMA (the SIMD ISAs, matching their interior), else multiply then add (the scalar ISA).
template <bool kFused>
inline float depthwise_border_sum(const DepthwiseTaps& taps, int64_t ow, int64_t stride,
                                  int64_t in_w) {
  float acc = 0.f;
  for (int t = 0; t < taps.count; ++t) {
    const int64_t col = ow * stride + taps.offset[t];
    if (col < 0 || col >= in_w) continue;
    if (kFused) {
      acc = std::fma(taps.weight[t], taps.row[t][col], acc);
    } else {
      const float product = taps.weight[t] * taps.row[t][col];
      acc = acc + product;
    }
  }
  return acc;
}

// The border columns [begin, end) of one output row: sum + bias, and the activation when it is
// one of the in-register kinds (the others are applied by the caller over the whole row).
template <bool kFused>
inline void depthwise_border_columns(const DepthwisePlan& plan, const DepthwiseTaps& taps,
                                     float bias, float* y, int64_t begin, int64_t end) {
  const bool in_registers = depthwise_activation_in_registers(plan.activation.kind);
  for (int64_t ow = begin; ow < end; ++ow) {
    const float sum =
        depthwise_border_sum<kFused>(taps, ow, plan.axes[1].stride, plan.axes[1].input) + bias;
    y[ow] = in_registers ? activation_apply(plan.activation, sum) : sum;
  }
}

void depthwise_row_scalar(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                          float* y);
void depthwise_row_avx2(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                        float* y);
void depthwise_row_avx512(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                          float* y);
void depthwise_row_neon(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                        float* y);

}  // namespace atrous
