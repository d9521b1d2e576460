// Row-tile dense convolution driver (see dense_conv_rows.h): weight packing, the padded
// phases, the task split, and the calls to the ISA's microkernel.
#include "cpu/dense_conv_rows.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace atrous {

bool row_conv_available(CpuIsa isa) { return cpu_kernel_table(isa).row_conv.tile != nullptr; }

void row_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                   int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                   CpuIsa isa, RowConvPlan* plan) {
  const RowConvKernels& kernels = cpu_kernel_table(isa).row_conv;
  const WindowAxis& ah = axes[0];
  const WindowAxis& aw = axes[1];
  plan->channels = in_channels;
  plan->out_channels = out_channels;
  plan->axes[0] = ah;
  plan->axes[1] = aw;
  plan->kernels = &kernels;
  plan->misc = &cpu_kernel_table(isa).misc;
  plan->activation = activation;
  const int64_t R = kernels.rows;
  plan->panel_rows = R;
  plan->tile_columns = kernels.tile_columns;
  plan->lanes = cpu_isa_vector_floats(isa);
  // Padded rows: those the outputs read, and at least the input's own past the top padding.
  plan->padded_rows = std::max((ah.output - 1) * ah.stride + (ah.kernel - 1) * ah.dilation + 1,
                               ah.pad_begin + ah.input);
  // Phase columns: the last tile's vectors (past oW) for the rightmost tap, and at least the
  // input's own columns.
  const int64_t tiles = (aw.output + plan->tile_columns - 1) / plan->tile_columns;
  const int64_t reach = tiles * plan->tile_columns + (aw.kernel - 1) * aw.dilation / aw.stride;
  const int64_t input_reach = (aw.pad_begin + aw.input + aw.stride - 1) / aw.stride;
  plan->phase_width = std::max(reach, input_reach);
  plan->tap_offset.resize(size_t(aw.kernel));
  for (int64_t kx = 0; kx < aw.kernel; ++kx) {
    const int64_t offset = kx * aw.dilation;
    plan->tap_offset[size_t(kx)] = (offset % aw.stride) * plan->phase_width + offset / aw.stride;
  }
  const int64_t panels = (out_channels + R - 1) / R;
  const int64_t taps = in_channels * ah.kernel * aw.kernel;
  plan->weights.assign(size_t(panels * taps * R), 0.f);
  for (int64_t m = 0; m < out_channels; ++m)
    for (int64_t t = 0; t < taps; ++t)
      plan->weights[size_t(((m / R) * taps + t) * R + m % R)] = weight[m * taps + t];
  plan->bias.assign(size_t(panels * R), 0.f);
  if (bias) std::memcpy(plan->bias.data(), bias, size_t(out_channels) * sizeof(float));
}

size_t row_conv_shared_floats(const RowConvPlan& plan) {
  return size_t(plan.channels * plan.padded_rows * plan.axes[1].stride * plan.phase_width);
}

void row_conv_run(const RowConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                  float* scratch) {
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  std::vector<float> own;
  if (!scratch) {
    own.resize(row_conv_shared_floats(plan));
    scratch = own.data();
  }
  // The padded phases, one padded row of one channel per index.
  const int64_t s = aw.stride, pw = plan.phase_width;
  const int64_t rows = plan.channels * plan.padded_rows;
  pool.parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t c = r / plan.padded_rows, ih = r % plan.padded_rows - ah.pad_begin;
          float* dst = scratch + r * s * pw;
          if (ih < 0 || ih >= ah.input) {
            std::fill(dst, dst + s * pw, 0.f);
            continue;
          }
          split_row_phases(*plan.misc, x + (c * ah.input + ih) * aw.input, aw.input, aw.pad_begin,
                           s, pw, dst, pw);
        }
      },
      rows * s * pw);
  const int64_t R = plan.panel_rows, T = plan.tile_columns;
  const int64_t width = plan.lanes;
  const int64_t panels = (plan.out_channels + R - 1) / R;
  const int64_t tiles = (aw.output + T - 1) / T;
  const int64_t taps = plan.channels * ah.kernel * aw.kernel;
  const int64_t out_plane = ah.output * aw.output;
  pool.parallel_for(
      ah.output * panels,
      [&](int64_t begin, int64_t end) {
        RowConvTile tile;
        tile.plan = &plan;
        tile.phases = scratch;
        tile.ldy = out_plane;
        for (int64_t task = begin; task < end; ++task) {
          const int64_t oh = task / panels, panel = task % panels;
          tile.weights = plan.weights.data() + panel * taps * R;
          tile.bias = plan.bias.data() + panel * R;
          tile.valid_rows = std::min(R, plan.out_channels - panel * R);
          tile.row0 = oh * ah.stride;
          for (int64_t t = 0; t < tiles; ++t) {
            tile.column0 = t * T;
            tile.columns = std::min(T, aw.output - t * T);
            tile.y = y + panel * R * out_plane + oh * aw.output + t * T;
            const int64_t vectors = (tile.columns + width - 1) / width;
            if (tile.columns < T && vectors <= 2 && plan.kernels->narrow[vectors - 1])
              plan.kernels->narrow[vectors - 1](tile);
            else
              plan.kernels->tile(tile);
          }
        }
      },
      ah.output * aw.output * plan.out_channels * taps);
}

}  // namespace atrous
