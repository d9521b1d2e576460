// Dense convolution as one GEMM per kernel tap (see dense_conv_taps.h).
#include "cpu/dense_conv_taps.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/kernel_table.h"

namespace atrous {

namespace {

// Columns per task of the tap GEMMs: a multiple of every ISA's GEMM column block.
constexpr int64_t kTapColumns = 192;

// Outputs o in [0, output) whose input o + offset is in [0, input): [*lo, *hi).
void inside_outputs(int64_t output, int64_t offset, int64_t input, int64_t* lo, int64_t* hi) {
  *lo = std::min(output, std::max<int64_t>(0, -offset));
  *hi = std::max(*lo, std::min(output, input - offset));
}

// B of one tap: column p of the rectangle (row-major over its rows × columns) reads input
// channel k at (y0 + p / width + dy, x0 + p % width + dx).
class TapPacker : public GemmPacker {
 public:
  // first_column: the rectangle's column that the GEMM's column 0 stands for.
  TapPacker(const float* x, int64_t height, int64_t width, const TapConvTap& tap,
            int64_t first_column)
      : x_(x), plane_(height * width), width_(width), tap_(tap), first_column_(first_column) {}

  int64_t pack(int64_t k0, int64_t depth, int64_t column0, int64_t count, int64_t tile, float* dst,
               int32_t*) const override {
    column0 += first_column_;
    const int64_t rect_width = tap_.x1 - tap_.x0;
    const int64_t tiles = (count + tile - 1) / tile;
    const int64_t row0 = column0 / rect_width, col0 = column0 % rect_width;
    for (int64_t k = 0; k < depth; ++k) {
      const float* plane =
          x_ + (k0 + k) * plane_ + (tap_.y0 + tap_.dy) * width_ + tap_.x0 + tap_.dx;
      int64_t row = row0, col = col0;
      for (int64_t t = 0; t < tiles; ++t) {
        float* out = dst + (t * depth + k) * tile;
        const int64_t n = std::min(tile, count - t * tile);
        int64_t i = 0;
        while (i < n) {  // runs along one rectangle row
          const int64_t run = std::min(n - i, rect_width - col);
          std::memcpy(out + i, plane + row * width_ + col, size_t(run) * sizeof(float));
          i += run;
          col += run;
          if (col == rect_width) col = 0, ++row;
        }
        std::fill(out + n, out + tile, 0.f);
      }
    }
    return depth;
  }

 private:
  const float* x_;
  int64_t plane_, width_;
  const TapConvTap& tap_;
  int64_t first_column_;
};

}  // namespace

bool tap_conv_applies(const WindowAxis axes[2]) {
  return axes[0].stride == 1 && axes[1].stride == 1 && axes[0].output > 0 && axes[1].output > 0;
}

void tap_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                   int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                   CpuIsa isa, TapConvPlan* plan) {
  plan->set_layer(bias, out_channels, in_channels, axes, activation, isa);
  const WindowAxis& ah = axes[0];
  const WindowAxis& aw = axes[1];
  std::vector<TapConvTap> taps;
  for (int64_t ky = 0; ky < ah.kernel; ++ky)
    for (int64_t kx = 0; kx < aw.kernel; ++kx) {
      TapConvTap tap;
      tap.ky = ky;
      tap.kx = kx;
      tap.dy = ky * ah.dilation - ah.pad_begin;
      tap.dx = kx * aw.dilation - aw.pad_begin;
      inside_outputs(ah.output, tap.dy, ah.input, &tap.y0, &tap.y1);
      inside_outputs(aw.output, tap.dx, aw.input, &tap.x0, &tap.x1);
      if (tap.y0 < tap.y1 && tap.x0 < tap.x1) taps.push_back(tap);
    }
  // A tap covering every output goes first (it writes the output instead of adding to it).
  auto covers = [&](const TapConvTap& t) {
    return t.y0 == 0 && t.y1 == ah.output && t.x0 == 0 && t.x1 == aw.output;
  };
  const auto full = std::find_if(taps.begin(), taps.end(), covers);
  plan->first_covers = full != taps.end();
  if (plan->first_covers) std::rotate(taps.begin(), full, full + 1);
  plan->taps = taps;
  // Every tap but a covering first one sums into its own [M][rectangle] buffer.
  plan->buffer_offset.assign(plan->taps.size(), -1);
  plan->buffer_floats = 0;
  for (size_t i = plan->first_covers ? 1 : 0; i < plan->taps.size(); ++i) {
    const TapConvTap& t = plan->taps[i];
    plan->buffer_offset[i] = plan->buffer_floats;
    plan->buffer_floats += out_channels * t.outputs();
  }
  const int64_t taps_per_kernel = ah.kernel * aw.kernel;
  std::vector<float> slice(size_t(out_channels * in_channels));
  plan->gemm.assign(plan->taps.size(), GemmWeights());
  for (size_t i = 0; i < plan->taps.size(); ++i) {
    const int64_t tap = plan->taps[i].ky * aw.kernel + plan->taps[i].kx;
    for (int64_t m = 0; m < out_channels; ++m)
      for (int64_t c = 0; c < in_channels; ++c)
        slice[size_t(m * in_channels + c)] = weight[(m * in_channels + c) * taps_per_kernel + tap];
    const TapConvTap& t = plan->taps[i];
    gemm_pack_weights(slice.data(), nullptr, out_channels, in_channels, Activation(), isa,
                      &plan->gemm[i], t.outputs());
  }
  plan->name = std::string("tap_gemm+") +
               (plan->gemm.empty() ? cpu_kernel_table(isa).gemm.name : plan->gemm[0].kernels->name);
}

size_t tap_conv_shared_floats(const TapConvPlan& plan) { return size_t(plan.buffer_floats); }

size_t tap_conv_scratch_floats(const TapConvPlan& plan) { return gemm_scratch_floats(plan.isa); }

void tap_conv_run(const TapConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                  float* scratch, int scratch_slots) {
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  const int64_t m_count = plan.outputs, out_w = aw.output, pixels = ah.output * aw.output;
  const int slots = pool.threads();
  const size_t shared = tap_conv_shared_floats(plan), slot_floats = tap_conv_scratch_floats(plan);
  std::vector<float> own;
  if (!scratch || scratch_slots < slots) {
    own.resize(shared + size_t(slots) * slot_floats);
    scratch = own.data();
  }
  float* slot_base = scratch + shared;
  // (1) Every tap's GEMM, as one parallel loop over (tap, block of columns): a covering first
  // tap into the output, the others into their buffers, each from zero.
  std::vector<int64_t> first_task(plan.taps.size() + 1, 0);
  for (size_t i = 0; i < plan.taps.size(); ++i) {
    first_task[i + 1] = first_task[i] + (plan.taps[i].outputs() + kTapColumns - 1) / kTapColumns;
  }
  int64_t work = 0;
  for (const GemmWeights& g : plan.gemm) work += g.rows * g.depth;
  pool.parallel_for_indexed(
      first_task.back(),
      [&](int64_t begin, int64_t end, int slot) {
        float* gemm_scratch = slot_base + size_t(slot) * slot_floats;
        size_t i = 0;
        for (int64_t task = begin; task < end; ++task) {
          while (first_task[i + 1] <= task) ++i;
          const TapConvTap& t = plan.taps[i];
          const int64_t rect = t.outputs();
          const int64_t column0 = (task - first_task[i]) * kTapColumns;
          const TapPacker packer(x, ah.input, aw.input, t, column0);
          const bool direct = plan.buffer_offset[i] < 0;  // the covering first tap
          float* out = direct ? y + column0 : scratch + plan.buffer_offset[i] + column0;
          gemm_run_serial(plan.gemm[i], packer, std::min(kTapColumns, rect - column0), out,
                          direct ? pixels : rect, gemm_scratch);
        }
      },
      work * pixels);
  // (2) Per output channel: the buffers added in tap order (onto zeros when no tap covers
  // every output), then bias and activation.
  const MiscKernels& misc = cpu_kernel_table(plan.isa).misc;
  pool.parallel_for(
      m_count,
      [&](int64_t begin, int64_t end) {
        for (int64_t m = begin; m < end; ++m) {
          float* plane = y + m * pixels;
          if (!plan.first_covers) std::fill(plane, plane + pixels, 0.f);
          for (size_t i = plan.first_covers ? 1 : 0; i < plan.taps.size(); ++i) {
            const TapConvTap& t = plan.taps[i];
            const int64_t rect_w = t.x1 - t.x0, rect = t.outputs();
            const float* in = scratch + plan.buffer_offset[i] + m * rect;
            for (int64_t r = t.y0; r < t.y1; ++r, in += rect_w) {
              float* out = plane + r * out_w + t.x0;
              for (int64_t c = 0; c < rect_w; ++c) out[c] += in[c];
            }
          }
          bias_activation_in_place(misc, plan.activation, plan.bias[size_t(m)], plane, pixels);
        }
      },
      m_count * pixels * int64_t(plan.taps.size()));
}

}  // namespace atrous
