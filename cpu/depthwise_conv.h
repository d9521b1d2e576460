// Depthwise convolution (group == C == M, weights [C, 1, kH, kW]) on NCHW data, any kernel size,
// stride, per-axis dilation and padding, with bias and the fused activation.
//
// Two paths, chosen per conv from its shapes (both compute the same sums, see below):
//
// Banded (output rows narrower than kDepthwiseBandedMaxWidth, where borders are a large part
// of each row): each channel plane is computed in bands of output rows. For a band, the input rows
// it reads are copied once into a zero-padded buffer (the padding written as zeros), split into its
// stride phases: phase (p, q) holds padded rows p, p + sH, … and columns q, q + sW, …, each
// phase row `phase_width` floats. In that layout every tap (ky, kx) of every output (oh, ow)
// of the band reads phase element (oh + ky·dH div sH)·phase_width + ow + kx·dW div sW of phase
// (ky·dH mod sH, kx·dW mod sW): the same flat offset for the whole band. So the band is one
// flat loop over output rows × phase_width positions, a fixed list of (pointer, weight) taps,
// all SIMD with no border cases; the positions past out_w in each row are computed and dropped
// (a few percent for wide planes, more on 7×7 ones, still far cheaper than scalar borders).
// Any stride and any per-axis dilation take this one path; kernel rows that fall into the
// padding for a whole band, and kernel columns that do for every output, are left out.
//
// Row by row (wide planes, where copying would cost more memory traffic than it saves): each
// output row is split once per kernel into a left border, an interior and a right border of
// output columns. In the interior every tap reads inside the input row, so it runs with SIMD
// over output columns straight from the input; the borders run a scalar loop that skips the
// taps in padding, and kernel rows that fall into the padding are skipped for the whole row.
// For stride s > 1 each input row is first split into its s phases in a small per-thread
// cache, so every stride runs the same stride-1 microkernel.
//
// Arithmetic order: every output element starts from 0, adds w·x for its taps in (ky, kx)
// order (FMA on SIMD ISAs, multiply then add on the scalar ISA), adds the bias, then applies
// the activation. A tap in the padding adds w·0 = 0, which changes no sum, so leaving such taps
// out (or not) and where a band starts never change a result, and results are bitwise
// identical for any thread count.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cpu/isa.h"
#include "cpu/simd_activation.h"
#include "cpu/weight_memory.h"
#include "graph/graph.h"
#include "graph/thread_pool.h"
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
// One band of `rows` output rows: position q = r·phase_width + ow gets Σ_t weight[t]·source[t][q]
// + bias, then the activation when it is one of the in-register kinds. When plan.direct, row r
// goes to out + r·out_stride, columns [0, outW) exactly; otherwise (planes narrower than a
// vector) all rows·phase_width positions go to out as one flat run (plus up to a vector of
// slack), and the caller copies the rows out.
using DepthwiseBandFunction = void (*)(const DepthwisePlan& plan, const float* const* source,
                                       const float* weight, int count, int64_t rows, float bias,
                                       float* out, int64_t out_stride);
// kDepthwiseRowBlock consecutive output rows at once, columns [0, columns) of each, for a
// square 3×3 or 5×5 kernel with stride 1 and vertical dilation 1, or with strides 2 and
// dilation 1 (see depthwise_plan): in[i], i < (kDepthwiseRowBlock − 1)·s + kH, is input row
// i of the block (s the stride), where tap (ky, kx = 0) of the first row's column 0 reads for
// the rows it feeds (column c, tap kx read in[i][c·s + kx·dW]); every tap must be valid memory,
// and with stride 2 also the float after the last. kernel is the channel's [kH·kW] weights;
// out[j] is row j's column 0; columns >= the ISA's vector width.
// Each input vector is loaded once for every row it feeds; each output adds its taps in (ky, kx)
// order with FMA from zero, so the sums are those of the row and band functions (a tap in the
// padding adds w·0). Activations as for the band function.
using DepthwiseRowsFunction = void (*)(const DepthwisePlan& plan, const float* const* in,
                                       const float* kernel, int64_t columns, float bias,
                                       float* const* out);

// The channel-lanes path (small planes, see depthwise_plan): one group of `lanes` channels
// (the ISA's vector) interleaved, x zero-padded rows [..][lane_columns][lanes] whose row 0 is
// the padded row of output row 0's first tap (input pixel (ih, iw) at padded (ih + pad_top,
// iw + pad_left) of the whole plane), y [rows·outW][lanes] for output rows [0, rows) counted
// from there (a whole plane, or a band of one); weights [kH·kW][lanes] and bias [lanes] of the
// group. Each output pixel adds all its taps in (ky, kx) order with FMA from zero, a vector of
// channels at a time; a tap in the padding adds w·0, which changes no sum (as on the band path),
// so the sums are those of the per-plane paths. Activations as for the band function.
using DepthwiseLanesFunction = void (*)(const DepthwisePlan& plan, const float* x,
                                        const float* weight, const float* bias, float* y,
                                        int64_t rows);

struct DepthwisePlan {
  int64_t channels = 0;
  WindowAxis axes[2];        // 0 = H, 1 = W, as resolved by ops/conv.cpp
  int64_t band_rows = 1;     // output rows per band (a parallel tile: one band of a plane)
  int64_t phase_width = 0;   // floats per phase row (= ceil(padded width / sW))
  int64_t phase_floats = 0;  // floats per phase plane of a full band, with zeroed slack
  int64_t wide_floats = 0;   // floats of the band's wide output (when not direct)
  bool direct = true;        // outW >= the ISA's vector width: rows written in place
  // The row-by-row path (banded == false).
  bool banded = true;
  int64_t interior_begin = 0;  // output columns [interior_begin, interior_end) have all
  int64_t interior_end = 0;    // kernel columns inside the input row
  int64_t rows_end = 0;  // the several-rows kernel's interior end (stride 2: one float to spare)
  bool rows_padded = false;   // the several-rows kernel reads zero-padded row copies (no strips)
  int64_t rows_per_tile = 1;  // output rows per parallel tile
  int64_t phase_stride = 0;   // floats per phase of a split row (stride > 1)
  std::vector<int64_t> column_offsets;  // [kW] kx·dW − pad_left
  std::vector<int64_t> columns;         // the kernel columns kx that read inside the image
  WeightFloats weights;                 // [C][kH·kW], then 4 zeros
  std::vector<float> bias;              // [C], zeros when the conv has none
  Activation activation;
  CpuIsa isa = CpuIsa::cpu_isa_scalar;
  // The ISA's microkernels and the name of the one this plan's path runs, from its
  // CpuKernelTable.
  DepthwiseBandFunction band = nullptr;
  DepthwiseRowFunction row = nullptr;
  // Set when this geometry takes the several-rows kernel.
  DepthwiseRowsFunction rows = nullptr;
  // Set when small planes take the channel-lanes path: then depthwise_run transposes each
  // group of `lanes` channels in and out and runs it (DepthwiseRowsRunner keeps the planes).
  DepthwiseLanesFunction lanes = nullptr;
  // Transposes a lanes × lanes block (the table's transpose), for whole groups of channels.
  void (*lane_transpose)(const float* src, int64_t src_stride, float* dst,
                         int64_t dst_stride) = nullptr;
  int64_t lane_width = 0;
  int64_t lane_rows = 0, lane_columns = 0;  // the padded rows the lanes path reads at once
  // Output rows per band of the lanes path: the whole plane (one band, lane_rows the padded
  // plane) where its padded plane fits kDepthwiseLanesBandBytes, else bands whose padded rows
  // do (each band's rows transposed straight into them).
  int64_t lane_band_rows = 0;
  WeightFloats lane_weights;     // [ceil(C / lanes)][kH·kW][lanes], zeros past C
  std::vector<float> lane_bias;  // [ceil(C / lanes)][lanes]
  const char* kernel_name = "";
};

// Output rows the several-rows interior computes at once.
constexpr int64_t kDepthwiseRowBlock = 4;

// Input planes of at most this many pixels take the channel-lanes path (depthwise_run only).
constexpr int64_t kDepthwiseLanesMaxPlane = 32 * 32;

// The lanes path's padded rows per band, at most (see DepthwisePlan::lane_band_rows).
// Measured on AMD EPYC (Zen 3, AVX2; bench_depthwise, paired medians of 9 alternated runs,
// bands / the whole padded plane): 72 channels 56×56 5×5 stride 2 (a 115 KiB padded plane)
// 0.80; planes up to 28×28 stay whole.
constexpr int64_t kDepthwiseLanesBandBytes = 64 * 1024;

// Output rows at most this wide take the banded path.
constexpr int64_t kDepthwiseBandedMaxWidth = 160;

// Sets a lanes plan's bands (lane_band_rows, lane_rows) for a padded-row budget: the whole
// plane where its padded plane fits, else bands of as many output rows as fit (at least one).
// depthwise_plan uses kDepthwiseLanesBandBytes; tests re-band with others (the sums do not
// depend on the bands).
void depthwise_lanes_bands(DepthwisePlan* plan, int64_t budget_bytes);

// axes: the conv's resolved window geometry (output sizes >= 1); bias may be null.
void depthwise_plan(const float* weight, const float* bias, int64_t channels,
                    const WindowAxis axes[2], const Activation& activation, CpuIsa isa,
                    DepthwisePlan* plan);

// Where one channel plane's input rows are: row ih (0 <= ih < H) at base + (ih mod ring) ·
// row_stride, or base + ih · row_stride when ring is 0. A ring lets a caller keep only a rolling
// window of rows (the fused blocks of fused_block.h); only the rows the requested outputs read
// are touched.
struct DepthwiseRows {
  const float* base = nullptr;
  int64_t row_stride = 0;
  int64_t ring = 0;
  const float* row(int64_t ih) const { return base + (ring ? ih % ring : ih) * row_stride; }
};

// One thread's workspace for computing rows of single channel planes with the plan's path
// (banded or row by row), with the same arithmetic as depthwise_run.
class DepthwiseRowsRunner {
 public:
  explicit DepthwiseRowsRunner(const DepthwisePlan& plan);
  ~DepthwiseRowsRunner();
  DepthwiseRowsRunner(const DepthwiseRowsRunner&) = delete;
  DepthwiseRowsRunner& operator=(const DepthwiseRowsRunner&) = delete;
  // Output rows [row_begin, row_begin + rows) of `channel` to out, rows outW floats apart.
  void run(const DepthwiseRows& input, int64_t channel, int64_t row_begin, int64_t rows,
           float* out);

 private:
  struct Impl;
  const DepthwisePlan& plan_;
  std::unique_ptr<Impl> impl_;
};

// x: [batch, C, H, W], y: [batch, C, outH, outW].
void depthwise_run(const DepthwisePlan& plan, const float* x, int64_t batch, float* y,
                   ThreadPool& pool);

// The plan of a depthwise conv node (group == C == M, weights [C, 1, kH, kW], constant weights
// and bias, any geometry the reference conv accepts) and its geometry for labels ("3x3_s2");
// false for any other node.
bool depthwise_plan_node(const Graph& graph, size_t node, CpuIsa isa, DepthwisePlan* plan,
                         std::string* label);

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
  const bool in_registers = activation_in_registers(plan.activation.kind);
  for (int64_t ow = begin; ow < end; ++ow) {
    const float sum =
        depthwise_border_sum<kFused>(taps, ow, plan.axes[1].stride, plan.axes[1].input) + bias;
    y[ow] = in_registers ? activation_apply(plan.activation, sum) : sum;
  }
}

// Floats the band functions may read or write past `total` (one vector of the widest ISA).
constexpr int64_t kDepthwiseSlack = 16;

}  // namespace atrous
