// Depthwise convolution: the plan (band geometry, packed weights, the ISA's microkernels from
// its CpuKernelTable), the band loop that fills each band's padded phase buffer and tap table,
// and the factory. The microkernels are in depthwise_conv_kernel.h (SIMD) and
// kernels_scalar.cpp; the design is described in depthwise_conv.h.
#include "cpu/depthwise_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu/aligned_vector.h"
#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "ops/op_functions.h"

namespace atrous {

namespace {

// Floats of padded input one band may hold (all its phases): 32 KiB, about an L1 data cache,
// unless a single output row needs more.
constexpr int64_t kBandFloats = 8192;

// Output columns per parallel tile of the row-by-row path.
constexpr int64_t kTileColumns = 4096;

// ATROUS_DEPTHWISE=row turns the several-rows kernel off for every layer (to compare the two in
// one build); anything else, or unset, leaves the choice to depthwise_plan.
bool one_row_forced() {
  static const bool forced = [] {
    const char* value = std::getenv("ATROUS_DEPTHWISE");
    return value && std::string(value) == "row";
  }();
  return forced;
}

// Padded input rows that `rows` consecutive output rows read.
int64_t band_input_rows(const WindowAxis& ah, int64_t rows) {
  return (rows - 1) * ah.stride + (ah.kernel - 1) * ah.dilation + 1;
}

// Padded rows (or columns) of a whole plane on the channel-lanes path: those the outputs read,
// and at least the input's own past the top (left) padding.
int64_t lanes_padded_extent(const WindowAxis& axis) {
  return std::max(band_input_rows(axis, axis.output), axis.pad_begin + axis.input);
}

// Rows of one phase plane for a band of `rows` output rows.
int64_t band_phase_rows(const WindowAxis& ah, int64_t rows) {
  return (band_input_rows(ah, rows) + ah.stride - 1) / ah.stride;
}

}  // namespace

void depthwise_plan(const float* weight, const float* bias, int64_t channels,
                    const WindowAxis axes[2], const Activation& activation, CpuIsa isa,
                    DepthwisePlan* plan) {
  plan->channels = channels;
  plan->axes[0] = axes[0];
  plan->axes[1] = axes[1];
  const WindowAxis& ah = axes[0];
  const WindowAxis& aw = axes[1];
  const int64_t taps = ah.kernel * aw.kernel;
  // Four floats of slack past the last channel: the NEON several-rows kernels load a kernel
  // row as vectors of four (DepthwiseWeights in depthwise_conv_kernel.h).
  plan->weights.assign(size_t(channels * taps + 4), 0.f);
  std::copy(weight, weight + channels * taps, plan->weights.begin());
  plan->bias.assign(size_t(channels), 0.f);
  if (bias) std::memcpy(plan->bias.data(), bias, size_t(channels) * sizeof(float));
  // Padded columns read by a row of outputs, and the phase row that holds a stride's share.
  const int64_t padded_width = (aw.output - 1) * aw.stride + (aw.kernel - 1) * aw.dilation + 1;
  plan->phase_width = (padded_width + aw.stride - 1) / aw.stride;
  // Kernel columns that read inside the image for some output column (columns ow·sW − padL +
  // kx·dW, ow in [0, outW), rising with ow); the others would add only w·0.
  plan->columns.clear();
  for (int64_t kx = 0; kx < aw.kernel; ++kx) {
    const int64_t first = kx * aw.dilation - aw.pad_begin;
    const int64_t last = first + (aw.output - 1) * aw.stride;
    if (last >= 0 && first < aw.input) plan->columns.push_back(kx);
  }
  // The band: as many output rows as keep all phases within kBandFloats (at least one row).
  const int64_t phases = ah.stride * aw.stride;
  int64_t rows = ah.output;
  while (rows > 1 && phases * band_phase_rows(ah, rows) * plan->phase_width > kBandFloats)
    rows = std::max<int64_t>(
        1, std::min(rows - 1,
                    rows * kBandFloats / (phases * band_phase_rows(ah, rows) * plan->phase_width)));
  plan->band_rows = rows;
  // One phase row of slack past the band's rows: the positions past outW of the last output row
  // (and the last vector past the end) read up to a row further, always zeros.
  plan->phase_floats = (band_phase_rows(ah, rows) + 1) * plan->phase_width + 2 * kDepthwiseSlack;
  plan->wide_floats = rows * plan->phase_width + kDepthwiseSlack;
  plan->direct = aw.output >= cpu_isa_vector_floats(isa);
  plan->banded = aw.output <= kDepthwiseBandedMaxWidth;
  plan->column_offsets.resize(size_t(aw.kernel));
  for (int64_t kx = 0; kx < aw.kernel; ++kx)
    plan->column_offsets[size_t(kx)] = kx * aw.dilation - aw.pad_begin;
  // Interior: ow·s − pad_left >= 0 and ow·s − pad_left + (kW − 1)·dW <= W − 1.
  const int64_t begin = (aw.pad_begin + aw.stride - 1) / aw.stride;
  const int64_t last_numerator = aw.input - 1 + aw.pad_begin - (aw.kernel - 1) * aw.dilation;
  const int64_t end = last_numerator < 0 ? 0 : last_numerator / aw.stride + 1;
  plan->interior_begin = std::min(begin, aw.output);
  plan->interior_end = std::max(plan->interior_begin, std::min(end, aw.output));
  plan->rows_end = plan->interior_end;
  if (aw.stride == 2) {
    // The stride-2 rows kernel reads one float past an output's last tap: that float must lie
    // in the row too, ow·2 − pad_left + (kW − 1)·dW + 1 <= W − 1.
    const int64_t spare = last_numerator - 1;
    const int64_t spare_end = spare < 0 ? 0 : spare / aw.stride + 1;
    plan->rows_end = std::max(plan->interior_begin, std::min(plan->interior_end, spare_end));
  }
  plan->rows_per_tile = std::max<int64_t>(
      1, std::min(axes[0].output, kTileColumns / std::max<int64_t>(aw.output, 1)));
  plan->phase_stride = (aw.input + aw.stride - 1) / aw.stride;
  plan->activation = activation;
  plan->isa = isa;
  const DepthwiseKernels& kernels = cpu_kernel_table(isa).depthwise;
  plan->band = kernels.band;
  plan->row = kernels.row;
  plan->kernel_name = plan->banded ? kernels.band_name : kernels.row_name;
  // The several-rows kernel: the geometries of most depthwise layers of the target models.
  // Row-by-row path: the interior of blocks of rows; banded path: whole rows of bands that
  // write in place and use every kernel column.
  // Stride 2 (dilation 1) runs on the row-by-row path whatever the width: its kernel reads
  // the input rows themselves, where the banded path would split every row into phases first.
  // Planes the channel-lanes path takes (below) stay there: on AVX2, 96 channels 28×28 5×5
  // stride 2 ran 0.038–0.041 ms on lanes against 0.072–0.078 here, 240 channels 3×3 0.071–0.076
  // against 0.095–0.103 (bench_depthwise, CPU time).
  const int64_t lanes = cpu_isa_vector_floats(isa);
  const int64_t lane_rows = lanes_padded_extent(ah), lane_columns = lanes_padded_extent(aw);
  const bool square_s2 = ah.kernel == aw.kernel && (ah.kernel == 3 || ah.kernel == 5) &&
                         ah.stride == 2 && aw.stride == 2 && ah.dilation == 1 && aw.dilation == 1;
  const int64_t max_plane = square_s2
                                ? std::max(kDepthwiseLanesMaxPlane, kernels.lanes_max_plane_s2)
                                : kDepthwiseLanesMaxPlane;
  const bool lanes_fit = !one_row_forced() && kernels.lanes && ah.input * aw.input <= max_plane &&
                         channels >= lanes && lane_rows * lane_columns <= 4 * max_plane;
  const bool square = ah.kernel == aw.kernel && (ah.kernel == 3 || ah.kernel == 5);
  const bool stride_1 = ah.stride == 1 && aw.stride == 1 && ah.dilation == 1;
  const bool stride_2 =
      ah.stride == 2 && aw.stride == 2 && ah.dilation == 1 && aw.dilation == 1 && !lanes_fit;
  // Narrow stride-2 planes read zero-padded copies of their rows (RowWorkspace): the border
  // strips of a wide plane would cost as much as the plane.
  plan->rows_padded = stride_2 && aw.output <= kDepthwiseBandedMaxWidth;
  const bool fits = plan->rows_padded ? aw.output >= lanes
                    : plan->banded && !stride_2
                        ? plan->direct && int64_t(plan->columns.size()) == aw.kernel
                        : plan->rows_end - plan->interior_begin >= lanes;
  plan->rows = nullptr;
  const bool lanes_first = lanes_fit && aw.output <= kernels.lanes_first_width;
  if (!one_row_forced() && !lanes_first && kernels.rows && square && (stride_1 || stride_2) &&
      fits && ah.output >= kDepthwiseRowBlock) {
    plan->rows = kernels.rows;
    plan->kernel_name = stride_2 ? kernels.rows_s2_name : kernels.rows_name;
    if (stride_2) plan->banded = false;
    if (!plan->banded) {
      // Tiles of whole row blocks, several of them, so few rows of a tile run one at a time.
      constexpr int64_t R = kDepthwiseRowBlock;
      plan->rows_per_tile = std::max(4 * R, (plan->rows_per_tile + R - 1) / R * R);
    }
  }
  // Small planes the several-rows kernel does not take: channels in the lanes (a group of
  // vector-width channels transposed in and out), where a plane's per-channel setup (padded
  // band, tap list) costs more than its sums. Measured on AVX-512 (bench_depthwise, CPU time):
  // 7×7 5×5 0.064 against 0.127 ms (band), 14×14 5×5 0.080 against 0.099; the several-rows
  // kernel stays faster where it applies (28×28 5×5 stride 1) on AVX-512, not on AVX2, whose
  // table sends planes up to 32 wide here first (DepthwiseKernels::lanes_first_width).
  plan->lanes = nullptr;
  plan->lane_weights.clear();
  plan->lane_bias.clear();
  if (!plan->rows && lanes_fit) {
    plan->lanes = kernels.lanes;
    plan->lane_transpose = kernels.transpose;
    plan->lane_width = lanes;
    plan->lane_columns = lane_columns;
    depthwise_lanes_bands(plan, kDepthwiseLanesBandBytes);
    plan->kernel_name = kernels.lanes_name;
    const int64_t groups = (channels + lanes - 1) / lanes;
    plan->lane_weights.assign(size_t(groups * taps * lanes), 0.f);
    plan->lane_bias.assign(size_t(groups * lanes), 0.f);
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t g = c / lanes, lane = c % lanes;
      for (int64_t t = 0; t < taps; ++t)
        plan->lane_weights[size_t((g * taps + t) * lanes + lane)] =
            plan->weights[size_t(c * taps + t)];
      plan->lane_bias[size_t(g * lanes + lane)] = plan->bias[size_t(c)];
    }
  }
}

void depthwise_lanes_bands(DepthwisePlan* plan, int64_t budget_bytes) {
  const WindowAxis& ah = plan->axes[0];
  // The whole padded plane (run_lanes_tile copies every input row into it).
  plan->lane_rows = lanes_padded_extent(ah);
  plan->lane_band_rows = ah.output;
  const int64_t row_bytes = plan->lane_columns * plan->lane_width * int64_t(sizeof(float));
  if (plan->lane_rows * row_bytes <= budget_bytes) return;
  // Bands: the padded rows of as many output rows as fit the budget, at least one.
  const int64_t halo = band_input_rows(ah, 1);
  const int64_t fit = budget_bytes / row_bytes;
  plan->lane_band_rows = std::max<int64_t>(1, std::min(ah.output, (fit - halo) / ah.stride + 1));
  plan->lane_rows = band_input_rows(ah, plan->lane_band_rows);
}

namespace {

// Per-thread state of the tile loop: the tap table of the current row and, for stride > 1, a
// cache of kH input rows split into their phases (consecutive output rows share input rows).
class RowWorkspace {
 public:
  explicit RowWorkspace(const DepthwisePlan& plan)
      : plan_(plan), misc_(cpu_kernel_table(plan.isa).misc) {
    const size_t taps = size_t(plan.axes[0].kernel * plan.axes[1].kernel);
    weight_.resize(taps);
    row_.resize(taps);
    offset_.resize(taps);
    interior_.resize(taps);
    needed_.resize(size_t(plan.axes[0].kernel));
    if (plan.rows) {
      // A row of zeros readable at columns [−padL, W + padR + a vector), and the strip rows.
      const WindowAxis& aw = plan.axes[1];
      const int64_t margin = aw.pad_begin + aw.kernel * aw.dilation + kDepthwiseSlack;
      zeros_.assign(size_t(aw.input + 2 * margin), 0.f);
      zero_row_ = zeros_.data() + margin;
      // Strips at least a vector wide (the kernel's minimum) and as wide as the borders; the
      // columns their outputs read, and with stride 2 the float the kernel reads past them.
      strip_columns_ =
          std::min(aw.output, std::max<int64_t>({cpu_isa_vector_floats(plan.isa),
                                                 plan.interior_begin, aw.output - plan.rows_end}));
      strip_width_ = (strip_columns_ - 1) * aw.stride + (aw.kernel - 1) * aw.dilation + 1 +
                     (aw.stride > 1 ? 1 : 0);
      strip_.resize(size_t(block_input_rows() * strip_width_));
      if (plan.rows_padded) {
        // Zero-padded copies of the input rows, each output column's taps and the float the
        // stride-2 kernel reads past them: (outW − 1)·sW + kW + 1 columns from input column
        // −padL. Slots by ih mod kPaddedSlots (a block's rows never share one); the padding
        // columns are never written after this.
        padded_width_ = (aw.output - 1) * aw.stride + (aw.kernel - 1) * aw.dilation + 2;
        padded_.assign(size_t((kPaddedSlots + 1) * padded_width_), 0.f);
        padded_row_.assign(size_t(kPaddedSlots), -1);
      }
    }
    if (split_rows()) {
      slot_row_.assign(size_t(plan.axes[0].kernel), -1);
      phases_.resize(size_t(plan.axes[0].kernel * plan.axes[1].stride * plan.phase_stride));
    }
  }

  void run_tile(const float* x, float* y, int64_t tile) {
    const WindowAxis& ah = plan_.axes[0];
    const WindowAxis& aw = plan_.axes[1];
    const int64_t blocks = (ah.output + plan_.rows_per_tile - 1) / plan_.rows_per_tile;
    const int64_t plane_index = tile / blocks, block = tile % blocks;
    const int64_t row_begin = block * plan_.rows_per_tile;
    const int64_t row_end = std::min(ah.output, row_begin + plan_.rows_per_tile);
    DepthwiseRows input;
    input.base = x + plane_index * ah.input * aw.input;
    input.row_stride = aw.input;
    run_rows(input, plane_index % plan_.channels, row_begin, row_end - row_begin,
             y + plane_index * ah.output * aw.output + row_begin * aw.output);
  }

  // Output rows [row_begin, row_begin + rows) of one channel to out (rows outW apart).
  void run_rows(const DepthwiseRows& input, int64_t channel, int64_t row_begin, int64_t rows,
                float* out) {
    const DepthwisePlan& plan = plan_;
    const WindowAxis& ah = plan.axes[0];
    const WindowAxis& aw = plan.axes[1];
    const float* kernel = plan.weights.data() + channel * ah.kernel * aw.kernel;
    std::fill(slot_row_.begin(), slot_row_.end(), int64_t(-1));
    std::fill(padded_row_.begin(), padded_row_.end(), int64_t(-1));
    const int64_t row_end = row_begin + rows;
    const float bias = plan.bias[size_t(channel)];
    for (int64_t oh = row_begin; oh < row_end;) {
      // kDepthwiseRowBlock rows at once: the several-rows kernel on the interior, and on a
      // vector-wide strip at each side copied with its padding zeros; kernel rows in the
      // padding read a row of zeros. A tap in the padding adds w·0 (see depthwise_conv.h).
      constexpr int64_t R = kDepthwiseRowBlock;
      if (plan.rows && plan.rows_padded && oh + R <= row_end) {
        // Narrow planes: whole rows from their zero-padded copies, no strips.
        const float* in[kMaxBlockInputRows];
        float* rows_out[R];
        for (int64_t i = 0; i < block_input_rows(); ++i)
          in[i] = padded_input_row(input, oh * ah.stride - ah.pad_begin + i);
        for (int64_t j = 0; j < R; ++j) rows_out[j] = out + (oh + j - row_begin) * aw.output;
        plan.rows(plan, in, kernel, aw.output, bias, rows_out);
        finish_rows(rows_out);
        oh += R;
        continue;
      }
      if (plan.rows && oh + R <= row_end) {
        const int64_t kernel_rows = block_input_rows(), sw = aw.stride;
        const float* rows_in[kMaxBlockInputRows];
        for (int64_t i = 0; i < kernel_rows; ++i) {
          const int64_t ih = oh * ah.stride - ah.pad_begin + i;
          rows_in[i] = ih >= 0 && ih < ah.input ? input.row(ih) : zero_row_;
        }
        const float* in[kMaxBlockInputRows];
        float* rows_out[R];
        float* at[R];
        for (int64_t j = 0; j < R; ++j) rows_out[j] = out + (oh + j - row_begin) * aw.output;
        const int64_t begin = plan.interior_begin, end = plan.rows_end;
        for (int64_t i = 0; i < kernel_rows; ++i)
          in[i] = rows_in[i] + begin * sw + plan.column_offsets[0];
        for (int64_t j = 0; j < R; ++j) at[j] = rows_out[j] + begin;
        plan.rows(plan, in, kernel, end - begin, bias, at);
        // The strips: output columns [0, strip) and [outW − strip, outW), which hold the borders.
        const int64_t strip = strip_columns_;
        const int64_t strip_starts[2] = {0, aw.output - strip};
        const bool needed[2] = {begin > 0, end < aw.output};
        for (int side = 0; side < 2; ++side) {
          if (!needed[side]) continue;
          // Strip column t is input column first + t: inside the row for t in [lo, hi).
          const int64_t first = strip_starts[side] * sw + plan.column_offsets[0];
          const int64_t lo = std::min(strip_width_, std::max<int64_t>(0, -first));
          const int64_t hi = std::max(lo, std::min(strip_width_, aw.input - first));
          for (int64_t i = 0; i < kernel_rows; ++i) {
            float* dst = strip_.data() + i * strip_width_;
            std::fill(dst, dst + lo, 0.f);
            std::memcpy(dst + lo, rows_in[i] + first + lo, size_t(hi - lo) * sizeof(float));
            std::fill(dst + hi, dst + strip_width_, 0.f);
            in[i] = dst;
          }
          for (int64_t j = 0; j < R; ++j) at[j] = rows_out[j] + strip_starts[side];
          plan.rows(plan, in, kernel, strip, bias, at);
        }
        finish_rows(rows_out);
        oh += R;
        continue;
      }
      plan.row(plan, row_taps(input, kernel, oh), bias, out + (oh - row_begin) * aw.output);
      ++oh;
    }
  }

 private:
  // The activations the several-rows kernel does not apply in registers, on a block's rows.
  void finish_rows(float* const* rows_out) const {
    if (activation_in_registers(plan_.activation.kind)) return;
    for (int64_t j = 0; j < kDepthwiseRowBlock; ++j)
      for (int64_t ow = 0; ow < plan_.axes[1].output; ++ow)
        rows_out[j][ow] = activation_apply(plan_.activation, rows_out[j][ow]);
  }

  // Input rows of a block of kDepthwiseRowBlock output rows (the several-rows kernel's in[]).
  static constexpr int64_t kMaxBlockInputRows = (kDepthwiseRowBlock - 1) * 2 + 5;
  static constexpr int64_t kPaddedSlots = 16;
  static_assert(kPaddedSlots >= kMaxBlockInputRows, "a block's rows need distinct slots");
  int64_t block_input_rows() const {
    return (kDepthwiseRowBlock - 1) * plan_.axes[0].stride + plan_.axes[0].kernel;
  }

  // Input row ih (any integer) as a zero-padded copy, made once per run_rows call.
  const float* padded_input_row(const DepthwiseRows& input, int64_t ih) {
    if (ih < 0 || ih >= plan_.axes[0].input)  // the last slot stays zeros
      return padded_.data() + kPaddedSlots * padded_width_;
    float* dst = padded_.data() + (ih % kPaddedSlots) * padded_width_;
    if (padded_row_[size_t(ih % kPaddedSlots)] != ih) {
      padded_row_[size_t(ih % kPaddedSlots)] = ih;
      const WindowAxis& aw = plan_.axes[1];
      const int64_t count = std::min(aw.input, padded_width_ - aw.pad_begin);
      if (count > 0) std::memcpy(dst + aw.pad_begin, input.row(ih), size_t(count) * sizeof(float));
    }
    return dst;
  }

  // The tap table of output row oh: its kernel rows inside the input (the others read only
  // padding and are skipped), for stride > 1 from the split-row cache.
  DepthwiseTaps row_taps(const DepthwiseRows& input, const float* kernel, int64_t oh) {
    const DepthwisePlan& plan = plan_;
    const WindowAxis& ah = plan.axes[0];
    const WindowAxis& aw = plan.axes[1];
    const int64_t stride = aw.stride;
    int needed = 0;
    for (int64_t ky = 0; ky < ah.kernel; ++ky) {
      const int64_t ih = oh * ah.stride - ah.pad_begin + ky * ah.dilation;
      if (ih >= 0 && ih < ah.input) needed_[size_t(needed++)] = ih;
    }
    int count = 0;
    for (int64_t ky = 0; ky < ah.kernel; ++ky) {
      const int64_t ih = oh * ah.stride - ah.pad_begin + ky * ah.dilation;
      if (ih < 0 || ih >= ah.input) continue;
      const float* row = input.row(ih);
      const float* phases = split_rows() ? split_row(row, ih, needed) : row;
      for (int64_t kx = 0; kx < aw.kernel; ++kx, ++count) {
        const int64_t offset = plan.column_offsets[size_t(kx)];
        weight_[size_t(count)] = kernel[ky * aw.kernel + kx];
        row_[size_t(count)] = row;
        offset_[size_t(count)] = offset;
        // Input column of the first interior output: inside the row by construction of the
        // interior (when there is one; otherwise the pointer is never read).
        const int64_t column = plan.interior_begin * stride + offset;
        if (plan.interior_end == plan.interior_begin)
          interior_[size_t(count)] = row;
        else
          interior_[size_t(count)] =
              stride == 1 ? row + column
                          : phases + (column % stride) * plan.phase_stride + column / stride;
      }
    }
    DepthwiseTaps taps;
    taps.count = count;
    taps.weight = weight_.data();
    taps.row = row_.data();
    taps.offset = offset_.data();
    taps.interior = interior_.data();
    return taps;
  }

  bool split_rows() const {
    return plan_.axes[1].stride > 1 && plan_.interior_end > plan_.interior_begin;
  }

  // The phases of input row `ih` ([stride][phase_stride] floats), from the cache or split now
  // into a slot that holds none of the `needed` rows of the current output row.
  const float* split_row(const float* row, int64_t ih, int needed) {
    const int64_t stride = plan_.axes[1].stride, width = plan_.axes[1].input;
    const int64_t slot_floats = stride * plan_.phase_stride;
    const size_t slots = slot_row_.size();
    for (size_t s = 0; s < slots; ++s)
      if (slot_row_[s] == ih) return phases_.data() + int64_t(s) * slot_floats;
    size_t free_slot = 0;
    for (size_t s = 0; s < slots; ++s) {
      bool in_use = false;
      for (int j = 0; j < needed; ++j) in_use = in_use || slot_row_[s] == needed_[size_t(j)];
      if (!in_use) {
        free_slot = s;
        break;
      }
    }
    slot_row_[free_slot] = ih;
    float* out = phases_.data() + int64_t(free_slot) * slot_floats;
    split_row_phases(misc_, row, width, 0, stride, plan_.phase_stride, out, plan_.phase_stride);
    return out;
  }

  const DepthwisePlan& plan_;
  const MiscKernels& misc_;
  std::vector<float> weight_;
  std::vector<const float*> row_;
  std::vector<int64_t> offset_;
  std::vector<const float*> interior_;
  std::vector<int64_t> needed_;
  AlignedFloats zeros_, strip_;  // the several-rows path's zero row and side strips
  const float* zero_row_ = nullptr;
  int64_t strip_columns_ = 0, strip_width_ = 0;
  AlignedFloats padded_;             // [kPaddedSlots + 1][padded_width_], the last all zeros
  std::vector<int64_t> padded_row_;  // the input row each slot holds, −1 for none
  int64_t padded_width_ = 0;
  std::vector<int64_t> slot_row_;
  AlignedFloats phases_;
};

// Per-thread state of the band loop: the band's padded phase planes, its wide output and the
// tap table.
class DepthwiseWorkspace {
 public:
  explicit DepthwiseWorkspace(const DepthwisePlan& plan)
      : plan_(plan),
        misc_(cpu_kernel_table(plan.isa).misc),
        phases_(size_t(plan.axes[0].stride * plan.axes[1].stride * plan.phase_floats), 0.f),
        wide_(plan.direct ? 0 : size_t(plan.wide_floats), 0.f) {
    const size_t taps = size_t(plan.axes[0].kernel * plan.axes[1].kernel);
    source_.resize(taps);
    weight_.resize(taps);
  }

  void run_tile(const float* x, float* y, int64_t tile) {
    const WindowAxis& ah = plan_.axes[0];
    const WindowAxis& aw = plan_.axes[1];
    const int64_t bands = (ah.output + plan_.band_rows - 1) / plan_.band_rows;
    const int64_t plane_index = tile / bands;
    const int64_t row_begin = (tile % bands) * plan_.band_rows;
    DepthwiseRows input;
    input.base = x + plane_index * ah.input * aw.input;
    input.row_stride = aw.input;
    run_band(input, plane_index % plan_.channels, row_begin,
             std::min(plan_.band_rows, ah.output - row_begin),
             y + plane_index * ah.output * aw.output + row_begin * aw.output);
  }

  // Output rows [row_begin, row_begin + rows) of one channel to out (rows outW apart);
  // rows <= plan.band_rows.
  void run_band(const DepthwiseRows& input, int64_t channel, int64_t row_begin, int64_t rows,
                float* out) {
    const DepthwisePlan& plan = plan_;
    const WindowAxis& ah = plan.axes[0];
    const WindowAxis& aw = plan.axes[1];
    const int64_t sh = ah.stride, sw = aw.stride, width = plan.phase_width;

    // Padded rows [0, phase rows · sH) of the band; padded row j is input row ih0 + j.
    const int64_t phase_rows = band_phase_rows(ah, rows);
    const int64_t ih0 = row_begin * sh - ah.pad_begin;
    // Padded row j goes to phase j mod sH, row j div sH (counted, not divided: this loop runs
    // once per input row).
    for (int64_t j = 0, phase = 0, phase_row_index = 0; j < phase_rows * sh; ++j) {
      float* phase_row = phases_.data() + phase * sw * plan.phase_floats + phase_row_index * width;
      if (++phase == sh) {
        phase = 0;
        ++phase_row_index;
      }
      const int64_t ih = ih0 + j;
      if (ih < 0 || ih >= ah.input) {
        for (int64_t p = 0; p < sw; ++p)
          std::fill(phase_row + p * plan.phase_floats, phase_row + p * plan.phase_floats + width,
                    0.f);
        continue;
      }
      fill_row(input.row(ih), phase_row);
    }

    // The taps that read inside the image for some row of the band, in (ky, kx) order.
    const float* kernel = plan.weights.data() + channel * ah.kernel * aw.kernel;
    int count = 0;
    for (int64_t ky = 0; ky < ah.kernel; ++ky) {
      const int64_t first = ih0 + ky * ah.dilation;
      const int64_t last = first + (rows - 1) * sh;
      if (last < 0 || first >= ah.input) continue;
      const int64_t a = ky * ah.dilation;
      for (int64_t kx : plan.columns) {
        const int64_t b = kx * aw.dilation;
        source_[size_t(count)] = phases_.data() + ((a % sh) * sw + b % sw) * plan.phase_floats +
                                 (a / sh) * width + b / sw;
        weight_[size_t(count)] = kernel[ky * aw.kernel + kx];
        ++count;
      }
    }
    const float bias = plan.bias[size_t(channel)];
    const bool in_registers = activation_in_registers(plan.activation.kind);
    if (plan.direct) {
      // With every tap in the list (count = kH·kW), blocks of kDepthwiseRowBlock rows take the
      // several-rows kernel (stride 1: padded row r0 + i is where tap ky = i of row r0 reads);
      // the band function computes the rows left over, its taps moved down by the rows done.
      int64_t done = 0;
      if (plan.rows && count == ah.kernel * aw.kernel) {
        constexpr int64_t R = kDepthwiseRowBlock;
        const float* in[R + 4];  // kernel rows <= 5
        float* rows_out[R];
        for (; done + R <= rows; done += R) {
          for (int64_t i = 0; i < R + ah.kernel - 1; ++i)
            in[i] = phases_.data() + (done + i) * width;
          for (int64_t j = 0; j < R; ++j) rows_out[j] = out + (done + j) * aw.output;
          plan.rows(plan, in, kernel, aw.output, bias, rows_out);
        }
        for (int t = 0; t < count && done < rows; ++t) source_[size_t(t)] += done * width;
      }
      if (done < rows)
        plan.band(plan, source_.data(), weight_.data(), count, rows - done, bias,
                  out + done * aw.output, aw.output);
      if (!in_registers)
        for (int64_t i = 0; i < rows * aw.output; ++i)
          out[i] = activation_apply(plan.activation, out[i]);
      return;
    }
    plan.band(plan, source_.data(), weight_.data(), count, rows, bias, wide_.data(), width);
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = wide_.data() + r * width;
      float* dst = out + r * aw.output;
      if (in_registers)
        std::memcpy(dst, src, size_t(aw.output) * sizeof(float));
      else
        for (int64_t ow = 0; ow < aw.output; ++ow)
          dst[ow] = activation_apply(plan.activation, src[ow]);
    }
  }

 private:
  // Input row `row` as padded columns c = iw + padL, phase c mod sW at c div sW; zeros outside
  // the input. Only the columns inside the input are written: phases_ starts as zeros, and a
  // phase row's other columns are the same for every input row and only ever get zeros (rows
  // outside the image are zeroed whole). On narrow planes the per-row refill of those few
  // zeros cost more than the copy: 72 channels 56×56 3×3 0.165 → 0.130 ms, 16 channels
  // 112×112 3×3 0.114 → 0.103 (bench_depthwise, AVX2, fastest of 11 alternated runs).
  void fill_row(const float* row, float* phase_row) const {
    const WindowAxis& aw = plan_.axes[1];
    split_row_phases(misc_, row, aw.input, aw.pad_begin, aw.stride, plan_.phase_width, phase_row,
                     plan_.phase_floats, false);
  }

  const DepthwisePlan& plan_;
  const MiscKernels& misc_;
  AlignedFloats phases_;
  AlignedFloats wide_;
  std::vector<const float*> source_;
  std::vector<float> weight_;
};

}  // namespace

struct DepthwiseRowsRunner::Impl {
  explicit Impl(const DepthwisePlan& plan) {
    if (plan.banded)
      band.reset(new DepthwiseWorkspace(plan));
    else
      row.reset(new RowWorkspace(plan));
  }
  std::unique_ptr<DepthwiseWorkspace> band;
  std::unique_ptr<RowWorkspace> row;
};

DepthwiseRowsRunner::DepthwiseRowsRunner(const DepthwisePlan& plan)
    : plan_(plan), impl_(new Impl(plan)) {}

DepthwiseRowsRunner::~DepthwiseRowsRunner() = default;

void DepthwiseRowsRunner::run(const DepthwiseRows& input, int64_t channel, int64_t row_begin,
                              int64_t rows, float* out) {
  if (impl_->row) {
    impl_->row->run_rows(input, channel, row_begin, rows, out);
    return;
  }
  for (int64_t r = 0; r < rows; r += plan_.band_rows)
    impl_->band->run_band(input, channel, row_begin + r, std::min(plan_.band_rows, rows - r),
                          out + r * plan_.axes[1].output);
}

namespace {

// The lanes outputs `out` ([pixels][lanes]) transposed back into `count` channel rows of y
// (`plane` floats apart; whole groups through the block transpose), then the activations not
// applied in registers.
void store_lanes(const DepthwisePlan& plan, const float* out, int64_t pixels, int64_t count,
                 bool whole, float* y, int64_t plane) {
  const int64_t lanes = plan.lane_width;
  int64_t p = 0;
  if (whole)
    for (; p + lanes <= pixels; p += lanes)
      plan.lane_transpose(out + p * lanes, lanes, y + p, plane);
  for (int64_t c = 0; c < count; ++c)
    for (int64_t q = p; q < pixels; ++q) y[c * plane + q] = out[q * lanes + c];
  if (!activation_in_registers(plan.activation.kind))
    for (int64_t c = 0; c < count; ++c)
      for (int64_t q = 0; q < pixels; ++q)
        y[c * plane + q] = activation_apply(plan.activation, y[c * plane + q]);
}

// One tile of the channel-lanes path: output rows [oh0, oh0 + lane_band_rows) of one group of
// lane_width channels of one image (the whole plane where lane_band_rows is outH, else one band
// of it). The input goes into the padded rows `padded`, row 0 the padded row of the tile's
// first tap (pad columns, and on a whole plane the pad rows, are never written: zeros from the
// buffer's creation): a whole plane transposed over its flattened pixels into `out` (as
// scratch) and copied row by row, a band's rows transposed straight into place (rows in the
// padding zero-filled). A whole group moves lanes pixels at a time through the ISA's block
// transpose; the last pixels, and a last group with fewer channels than lanes (zeros in the
// other lanes), one float at a time. Then computed into `out` and transposed back (channels
// past C dropped).
void run_lanes_tile(const DepthwisePlan& plan, const float* x, float* y, int64_t tile,
                    float* padded, float* out) {
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  const int64_t lanes = plan.lane_width, taps = ah.kernel * aw.kernel;
  const int64_t groups = (plan.channels + lanes - 1) / lanes;
  const int64_t bands = (ah.output + plan.lane_band_rows - 1) / plan.lane_band_rows;
  const int64_t image = tile / (groups * bands), group = tile / bands % groups;
  const int64_t band = tile % bands;
  const int64_t c0 = group * lanes, count = std::min(lanes, plan.channels - c0);
  const int64_t in_plane = ah.input * aw.input, out_plane = ah.output * aw.output;
  const float* xb = x + (image * plan.channels + c0) * in_plane;
  float* yb = y + (image * plan.channels + c0) * out_plane;
  const int64_t oh0 = band * plan.lane_band_rows;
  const int64_t rows = std::min(plan.lane_band_rows, ah.output - oh0);
  const bool whole = count == lanes && plan.lane_transpose;
  if (bands == 1) {
    float* in = out;  // [in_plane][lanes], before `out` holds the outputs
    int64_t p = 0;
    if (whole)
      for (; p + lanes <= in_plane; p += lanes)
        plan.lane_transpose(xb + p, in_plane, in + p * lanes, lanes);
    if (count < lanes) std::fill(in, in + in_plane * lanes, 0.f);
    for (int64_t c = 0; c < count; ++c)
      for (int64_t q = p; q < in_plane; ++q) in[q * lanes + c] = xb[c * in_plane + q];
    for (int64_t ih = 0; ih < ah.input; ++ih)
      std::memcpy(padded + ((ih + ah.pad_begin) * plan.lane_columns + aw.pad_begin) * lanes,
                  in + ih * aw.input * lanes, size_t(aw.input * lanes) * sizeof(float));
  } else {
    const int64_t row_floats = plan.lane_columns * lanes;
    for (int64_t r = 0; r < band_input_rows(ah, rows); ++r) {
      const int64_t ih = oh0 * ah.stride + r - ah.pad_begin;
      float* dst = padded + r * row_floats;
      if (ih < 0 || ih >= ah.input) {
        std::fill(dst, dst + row_floats, 0.f);
        continue;
      }
      float* at = dst + aw.pad_begin * lanes;
      const float* src = xb + ih * aw.input;
      int64_t p = 0;
      if (whole)
        for (; p + lanes <= aw.input; p += lanes)
          plan.lane_transpose(src + p, in_plane, at + p * lanes, lanes);
      for (; p < aw.input; ++p)
        for (int64_t c = 0; c < lanes; ++c)
          at[p * lanes + c] = c < count ? src[c * in_plane + p] : 0.f;
    }
  }
  plan.lanes(plan, padded, plan.lane_weights.data() + group * taps * lanes,
             plan.lane_bias.data() + group * lanes, out, rows);
  store_lanes(plan, out, rows * aw.output, count, whole, yb + oh0 * aw.output, out_plane);
}

}  // namespace

void depthwise_run(const DepthwisePlan& plan, const float* x, int64_t batch, float* y,
                   ThreadPool& pool) {
  // Multiply-adds: the pool keeps a layer this small on the calling thread.
  const int64_t work = batch * plan.channels * plan.axes[0].output * plan.axes[1].output *
                       plan.axes[0].kernel * plan.axes[1].kernel;
  if (plan.lanes) {
    const int64_t lanes = plan.lane_width;
    const int64_t groups = (plan.channels + lanes - 1) / lanes;
    const int64_t bands = (plan.axes[0].output + plan.lane_band_rows - 1) / plan.lane_band_rows;
    // The padded rows, then the outputs, which on a whole plane first hold the transposed input.
    const size_t padded_floats = size_t(plan.lane_rows * plan.lane_columns * lanes);
    const size_t out_floats = bands > 1 ? size_t(plan.lane_band_rows * plan.axes[1].output * lanes)
                                        : size_t(std::max(plan.axes[0].output * plan.axes[1].output,
                                                          plan.axes[0].input * plan.axes[1].input) *
                                                 lanes);
    pool.parallel_for(
        batch * groups * bands,
        [&](int64_t begin, int64_t end) {
          // Each pixel's channels are one vector: on whole lines, none straddles two.
          AlignedFloats buffer(padded_floats + out_floats);
          for (int64_t tile = begin; tile < end; ++tile)
            run_lanes_tile(plan, x, y, tile, buffer.data(), buffer.data() + padded_floats);
        },
        work);
    return;
  }
  if (!plan.banded) {
    const int64_t blocks = (plan.axes[0].output + plan.rows_per_tile - 1) / plan.rows_per_tile;
    pool.parallel_for(
        batch * plan.channels * blocks,
        [&](int64_t begin, int64_t end) {
          RowWorkspace workspace(plan);
          for (int64_t tile = begin; tile < end; ++tile) workspace.run_tile(x, y, tile);
        },
        work);
    return;
  }
  const int64_t bands = (plan.axes[0].output + plan.band_rows - 1) / plan.band_rows;
  const int64_t tiles = batch * plan.channels * bands;
  // The workspace (a band's padded input, at most a few tens of KiB) is made once per pool
  // chunk (a few µs of work or more, see graph/thread_pool.h).
  pool.parallel_for(
      tiles,
      [&](int64_t begin, int64_t end) {
        DepthwiseWorkspace workspace(plan);
        for (int64_t tile = begin; tile < end; ++tile) workspace.run_tile(x, y, tile);
      },
      work);
}

namespace {

class DepthwiseKernel : public CpuKernel {
 public:
  DepthwisePlan plan;
  Shape input_shape, output_shape;
  std::string label;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    if (inputs.empty() || !inputs[0] || outputs.empty() || !outputs[0] ||
        inputs[0]->dtype != DType::dtype_f32 || outputs[0]->dtype != DType::dtype_f32 ||
        inputs[0]->shape != input_shape || outputs[0]->shape != output_shape)
      return Status::error(
          "depthwise conv kernel: tensors do not match the shapes it was made for (" +
          shape_to_string(input_shape) + " -> " + shape_to_string(output_shape) + ")");
    depthwise_run(plan, inputs[0]->f32(), input_shape[0], outputs[0]->f32(), pool);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
};

// A constant f32 tensor of exactly `shape`.
bool is_constant_f32(const GraphTensor& tensor, const Shape& shape) {
  return tensor.is_constant && tensor.data && tensor.dtype == DType::dtype_f32 &&
         tensor.shape == shape;
}

}  // namespace

bool depthwise_plan_node(const Graph& graph, size_t index, CpuIsa isa, DepthwisePlan* plan,
                         std::string* label) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_conv || node.inputs.size() < 2 || node.inputs.size() > 3 ||
      node.outputs.size() != 1)
    return false;
  const GraphTensor& x = graph.tensors[size_t(node.inputs[0])];
  const GraphTensor& w = graph.tensors[size_t(node.inputs[1])];
  const GraphTensor& y = graph.tensors[size_t(node.outputs[0])];
  if (x.dtype != DType::dtype_f32 || x.shape.size() != 4 || w.shape.size() != 4) return false;
  const int64_t channels = x.shape[1];
  if (channels < 1 || !is_constant_f32(w, {channels, 1, w.shape[2], w.shape[3]})) return false;
  const bool has_bias = node.inputs.size() > 2 && node.inputs[2] != kAbsentInput;
  if (has_bias && !is_constant_f32(graph.tensors[size_t(node.inputs[2])], {channels})) return false;
  AttributeReader reader("conv", node.attributes);
  if (reader.get_int("group", 1) != channels || !reader.status().ok()) return false;

  // The reference's own shape rule validates every attribute; then the same window resolution.
  TensorDesc x_desc{x.dtype, x.shape}, w_desc{w.dtype, w.shape},
      b_desc{DType::dtype_f32, {channels}};
  std::vector<const TensorDesc*> descs = {&x_desc, &w_desc};
  if (has_bias) descs.push_back(&b_desc);
  std::vector<TensorDesc> inferred;
  if (!conv_infer(node.attributes, descs, &inferred).ok() || inferred.size() != 1 ||
      inferred[0].shape != y.shape || y.dtype != DType::dtype_f32)
    return false;
  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel[2] = {w.shape[2], w.shape[3]};
  WindowAxis axes[2];
  Activation activation;
  if (!resolve_window_2d(&reader, input, kernel, WindowOptions(), axes).ok() ||
      !activation_from_conv_attributes(node.attributes, &activation).ok())
    return false;

  const float* bias =
      has_bias ? static_cast<const float*>(graph.tensors[size_t(node.inputs[2])].data) : nullptr;
  depthwise_plan(static_cast<const float*>(w.data), bias, channels, axes, activation, isa, plan);
  *label = std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]);
  if (axes[0].stride != 1 || axes[1].stride != 1)
    *label += "_s" + std::to_string(axes[0].stride) +
              (axes[0].stride == axes[1].stride ? "" : "x" + std::to_string(axes[1].stride));
  if (axes[0].dilation != 1 || axes[1].dilation != 1)
    *label += "_d" + std::to_string(axes[0].dilation) +
              (axes[0].dilation == axes[1].dilation ? "" : "x" + std::to_string(axes[1].dilation));
  return true;
}

// Handles conv nodes with group == C == M (weights [C, 1, kH, kW]), constant weights and bias,
// any geometry the reference conv accepts; nullptr for anything else.
CpuKernelPtr cpu_make_depthwise_kernel(const Graph& graph, size_t index,
                                       const CpuKernelConfig& config) {
  std::unique_ptr<DepthwiseKernel> made(new DepthwiseKernel());
  std::string geometry;
  if (!depthwise_plan_node(graph, index, config.isa, &made->plan, &geometry)) return nullptr;
  const Node& node = graph.nodes[index];
  made->input_shape = graph.tensors[size_t(node.inputs[0])].shape;
  made->output_shape = graph.tensors[size_t(node.outputs[0])].shape;
  made->label = "depthwise_" + geometry + "/" + made->plan.kernel_name;
  return made;
}

}  // namespace atrous
