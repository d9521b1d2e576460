// The direct dense convolution's plan (weight packing, x-segments, K and row blocking) and its
// driver (tasks, tap lists per row and segment, the final transposed store); see
// dense_conv_direct.h. The microkernels are in dense_conv_direct_kernel.h and
// kernels_scalar.cpp.
#include "cpu/dense_conv_direct.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace atrous {

namespace {

// The weight slice of one K block (one channel block), kept in L1 with the input rows the
// tiles of a row read: 14 input channels of a 3×3 at 32 output channels. Measured on the ASPP
// (960→256 3×3 rate 6 at 33×65, AVX-512): 8 KiB 134, 16 KiB 149, 32 KiB 139, 192 KiB 122,
// whole (1 MiB) 118 GFLOP/s; smaller slices reload the partial sums too often.
constexpr int64_t kDirectSliceBytes = 16 * 1024;
// Partial sums of one task (1 MiB, in L2 beside the K block's input). Measured on the ASPP at
// 65×129 (rate 12): 256 KiB 125, 512 KiB 141, 1 MiB 147 GFLOP/s (at 33×65 all ≈ 150); with one
// channel block per task (no groups) 127.
constexpr int64_t kDirectTaskFloats = 256 * 1024;
// Multiply-adds below which a conv runs on one thread (as the GEMM's threshold).
constexpr int64_t kDirectParallelMinWork = int64_t(1) << 18;

// ceil(n / d) for d > 0, 0 for n ≤ 0.
int64_t ceil_div_positive(int64_t n, int64_t d) { return n <= 0 ? 0 : (n + d - 1) / d; }

// Output positions [lo, hi) whose tap k of `axis` reads inside the input.
void valid_outputs(const WindowAxis& axis, int64_t k, int64_t* lo, int64_t* hi) {
  const int64_t offset = k * axis.dilation - axis.pad_begin;
  *lo = std::min(axis.output, ceil_div_positive(-offset, axis.stride));
  *hi = std::min(axis.output, ceil_div_positive(axis.input - offset, axis.stride));
}

}  // namespace

void direct_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                      int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                      CpuIsa isa, DirectConvPlan* plan) {
  const DirectConvKernels& kernels = cpu_kernel_table(isa).direct_conv;
  plan->out_channels = out_channels;
  plan->in_channels = in_channels;
  plan->axes[0] = axes[0];
  plan->axes[1] = axes[1];
  plan->activation = activation;
  plan->isa = isa;
  plan->kernels = &kernels;
  const int64_t taps = axes[0].kernel * axes[1].kernel;
  const int64_t block = kernels.block;
  plan->block = block;
  plan->blocks = (out_channels + block - 1) / block;
  // Only the taps some output pixel reads inside the image are packed (at DeepLabV3's rate 36
  // on a 32×64 map, the middle kernel row: a third of the weights, and no gaps between the
  // lines a channel's tiles load).
  plan->tap_slot.assign(size_t(taps), -1);
  plan->packed_taps = 0;
  for (int64_t ky = 0; ky < axes[0].kernel; ++ky)
    for (int64_t kx = 0; kx < axes[1].kernel; ++kx) {
      int64_t lo_y, hi_y, lo_x, hi_x;
      valid_outputs(axes[0], ky, &lo_y, &hi_y);
      valid_outputs(axes[1], kx, &lo_x, &hi_x);
      if (lo_y < hi_y && lo_x < hi_x)
        plan->tap_slot[size_t(ky * axes[1].kernel + kx)] = int32_t(plan->packed_taps++);
    }
  const int64_t packed_taps = std::max<int64_t>(1, plan->packed_taps);
  plan->packed.assign(size_t(plan->blocks * in_channels * packed_taps * block), 0.f);
  for (int64_t m = 0; m < out_channels; ++m)
    for (int64_t c = 0; c < in_channels; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t slot = plan->tap_slot[size_t(t)];
        if (slot < 0) continue;
        plan->packed[size_t(((m / block * in_channels + c) * packed_taps + slot) * block +
                            m % block)] = weight[(m * in_channels + c) * taps + t];
      }
  plan->bias.assign(size_t(plan->blocks * block), 0.f);
  if (bias) std::copy(bias, bias + out_channels, plan->bias.begin());
  // The interleaved input copy (see DirectConvPlan::interleave), for stride-1 rows and at least
  // one whole block of input channels: K blocks of its 16 channels. Otherwise K blocks of equal
  // size (so none is too short to pay for reloading its partial sums) whose weight slice is
  // kDirectSliceBytes.
  plan->interleave =
      kernels.packed != nullptr && in_channels >= kDirectInterleave && axes[1].stride == 1;
  if (plan->interleave) {
    plan->depth_block = kDirectInterleave;
  } else {
    const int64_t slice_channels =
        std::max<int64_t>(1, kDirectSliceBytes / (packed_taps * block * int64_t(sizeof(float))));
    const int64_t depth_blocks = (in_channels + slice_channels - 1) / slice_channels;
    plan->depth_block = (in_channels + depth_blocks - 1) / depth_blocks;
  }
  // Tasks: groups of channel blocks × bands of output rows, with at most kDirectTaskFloats
  // partial sums. As many channel blocks per group as fit with bands of 16 rows (each input
  // K block is then read once per group, not once per channel block), groups of equal size,
  // then bands of equal height.
  const int64_t row_floats = std::max<int64_t>(1, axes[1].output * block);
  const int64_t wanted_rows = std::min<int64_t>(axes[0].output, 16);
  const int64_t fit = std::max<int64_t>(1, kDirectTaskFloats / (row_floats * wanted_rows));
  const int64_t groups = (plan->blocks + fit - 1) / fit;
  plan->group_blocks = (plan->blocks + groups - 1) / groups;
  const int64_t max_rows =
      std::max<int64_t>(1, kDirectTaskFloats / (row_floats * plan->group_blocks));
  const int64_t bands = std::max<int64_t>(1, (axes[0].output + max_rows - 1) / max_rows);
  plan->band_rows = std::max<int64_t>(1, (axes[0].output + bands - 1) / bands);
  // x-segments: borders where a kernel column's reads enter or leave the image.
  const WindowAxis& ax = axes[1];
  std::vector<int64_t> borders = {0, ax.output};
  for (int64_t kx = 0; kx < ax.kernel; ++kx) {
    int64_t lo, hi;
    valid_outputs(ax, kx, &lo, &hi);
    borders.push_back(lo);
    borders.push_back(hi);
  }
  std::sort(borders.begin(), borders.end());
  borders.erase(std::unique(borders.begin(), borders.end()), borders.end());
  plan->segments.clear();
  for (size_t i = 0; i + 1 < borders.size(); ++i) {
    DirectConvSegment segment;
    segment.begin = borders[i];
    segment.end = borders[i + 1];
    for (int64_t kx = 0; kx < ax.kernel; ++kx) {
      int64_t lo, hi;
      valid_outputs(ax, kx, &lo, &hi);
      if (lo <= segment.begin && segment.end <= hi) segment.columns.push_back(int32_t(kx));
    }
    plan->segments.push_back(std::move(segment));
  }
}

size_t direct_conv_shared_floats(const DirectConvPlan& plan) {
  if (!plan.interleave) return 0;
  const int64_t blocks = (plan.in_channels + plan.depth_block - 1) / plan.depth_block;
  return size_t((blocks * plan.depth_block * plan.axes[0].input * plan.axes[1].input + 15) / 16 *
                16);
}

size_t direct_conv_scratch_floats(const DirectConvPlan& plan) {
  const int64_t taps = plan.axes[0].kernel * plan.axes[1].kernel;
  // Partial sums, then two int64 tap lists, rounded to 64 bytes.
  const int64_t floats =
      plan.group_blocks * plan.band_rows * plan.axes[1].output * plan.block + 4 * taps;
  return size_t((floats + 15) / 16 * 16);
}

void direct_conv_run(const DirectConvPlan& plan, const float* x_in, const ConvStrides& x_strides,
                     float* y, const ConvStrides& ys, ThreadPool& pool, float* shared,
                     float* scratch, int scratch_slots) {
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  if (plan.out_channels <= 0 || ah.output <= 0 || aw.output <= 0) return;
  const int64_t taps = ah.kernel * aw.kernel;
  const int64_t block = plan.block;
  const int64_t out_w = aw.output;
  const int64_t bands = (ah.output + plan.band_rows - 1) / plan.band_rows;
  const int64_t tasks = (plan.blocks + plan.group_blocks - 1) / plan.group_blocks * bands;
  const int64_t work = plan.out_channels * plan.in_channels * taps * ah.output * out_w;
  const bool parallel = pool.threads() > 1 && work >= kDirectParallelMinWork;
  // The input as the tiles read it: in place, or the interleaved copy
  // [K block][H][W][depth_block] (a K block's channels at stride 1 within a pixel).
  const float* x = x_in;
  ConvStrides xs = x_strides;
  int64_t block_stride = plan.depth_block * xs.channel;  // between K blocks
  std::vector<float> own_shared;
  if (plan.interleave) {
    if (!shared) {
      own_shared.resize(direct_conv_shared_floats(plan));
      shared = own_shared.data();
    }
    const int64_t cb = plan.depth_block, height = ah.input, width = aw.input;
    const int64_t k_blocks = (plan.in_channels + cb - 1) / cb;
    auto pack_rows = [&](int64_t begin, int64_t end) {
      for (int64_t index = begin; index < end; ++index) {
        const int64_t kb = index / height, row = index % height;
        const int64_t channels = std::min(cb, plan.in_channels - kb * cb);
        float* dst = shared + (kb * height + row) * width * cb;
        for (int64_t c = 0; c < channels; ++c) {
          const float* src = x_in + (kb * cb + c) * x_strides.channel + row * x_strides.row;
          for (int64_t ix = 0; ix < width; ++ix) dst[ix * cb + c] = src[ix * x_strides.pixel];
        }
      }
    };
    if (parallel)
      pool.parallel_for(k_blocks * height, pack_rows, k_blocks * height * width * cb);
    else
      pack_rows(0, k_blocks * height);
    x = shared;
    xs = ConvStrides{1, width * cb, cb};
    block_stride = height * width * cb;
  }
  // One scratch slot per pool thread: tasks are claimed in chunks by whichever thread is free
  // (parallel_for_indexed), so a descheduled worker holds back only the chunk it runs.
  const int slots = parallel ? pool.threads() : 1;
  const size_t slot_floats = direct_conv_scratch_floats(plan);
  std::vector<float> own;
  if (!scratch || scratch_slots < slots) {
    own.resize(size_t(slots) * slot_floats);
    scratch = own.data();
  }
  const DirectConvKernels& kernels = *plan.kernels;
  void (*const run_tile)(const DirectConvTile&) = plan.interleave ? kernels.packed : kernels.tile;
  const int64_t tile_pixels = kernels.tile_pixels;
  const int64_t weight_channel_stride = std::max<int64_t>(1, plan.packed_taps) * block;
  const int64_t pixel_step = aw.stride * xs.pixel;
  // Output rows a dilation apart share input rows (stride 1): D phases of rows.
  const int64_t row_phases = ah.stride == 1 ? ah.dilation : 1;
  // Between the rows a tile stacks (D output rows apart).
  const int64_t row_step = row_phases * ah.stride * xs.row;
  // Bit ky: kernel row ky reads inside the image for output row oh (kernels up to 64 rows; a
  // taller one compares equal only to itself, so its rows are never stacked).
  auto row_mask = [&](int64_t oh) {
    if (ah.kernel > 64) return uint64_t(oh);
    uint64_t mask = 0;
    for (int64_t ky = 0; ky < ah.kernel; ++ky) {
      const int64_t ih = oh * ah.stride + ky * ah.dilation - ah.pad_begin;
      if (ih >= 0 && ih < ah.input) mask |= uint64_t(1) << ky;
    }
    return mask;
  };

  // The activation over n partial sums in place (their bias is added before).
  const MiscKernels& misc = cpu_kernel_table(plan.isa).misc;
  auto finish = [&](float* sums, int64_t n) {
    bias_activation_in_place(misc, plan.activation, 0.f, sums, n);
  };
  const int64_t band_floats = plan.band_rows * out_w * block;
  auto run_task = [&](int64_t task, float* group_acc) {
    const int64_t group = task / bands, band = task % bands;
    const int64_t cb0 = group * plan.group_blocks;
    const int64_t cb1 = std::min(plan.blocks, cb0 + plan.group_blocks);
    const int64_t r0 = band * plan.band_rows, r1 = std::min(ah.output, r0 + plan.band_rows);
    int64_t* input_offsets =
        reinterpret_cast<int64_t*>(group_acc + plan.group_blocks * band_floats);
    int64_t* weight_offsets = input_offsets + taps;
    DirectConvTile tile;
    tile.input_offsets = input_offsets;
    tile.weight_offsets = weight_offsets;
    tile.input_channel_stride = xs.channel;
    tile.weight_channel_stride = weight_channel_stride;
    tile.pixel_step = pixel_step;
    tile.row_step = row_step;
    tile.acc_row_stride = row_phases * out_w * block;
    for (int64_t c0 = 0; c0 < plan.in_channels; c0 += plan.depth_block) {
      tile.channels = std::min(plan.depth_block, plan.in_channels - c0);
      tile.first = c0 == 0;
      const float* x_block = x + c0 / plan.depth_block * block_stride;
      // The group's channel blocks meet the K block's input while it is in L2.
      for (int64_t cb = cb0; cb < cb1; ++cb) {
        float* acc = group_acc + (cb - cb0) * band_floats;
        tile.weights = plan.packed.data() + (cb * plan.in_channels + c0) * weight_channel_stride;
        // Rows in dilation-phase order (r0, r0 + D, …, then r0 + 1, …): consecutive rows of a
        // phase share all but one of their input rows, which then come from L1, not L2.
        for (int64_t phase = 0; phase < row_phases; ++phase)
          for (int64_t oh = r0 + phase; oh < r1;) {
            // Rows oh, oh + D, … (group_rows of them) read the same kernel rows in the image.
            int64_t group_rows = 1;
            while (oh + group_rows * row_phases < r1 &&
                   row_mask(oh + group_rows * row_phases) == row_mask(oh))
              ++group_rows;
            for (const DirectConvSegment& segment : plan.segments) {
              int64_t n = 0;
              for (int64_t ky = 0; ky < ah.kernel; ++ky) {
                const int64_t ih = oh * ah.stride + ky * ah.dilation - ah.pad_begin;
                if (ih < 0 || ih >= ah.input) continue;
                for (int32_t kx : segment.columns) {
                  const int64_t iw = segment.begin * aw.stride + kx * aw.dilation - aw.pad_begin;
                  input_offsets[n] = ih * xs.row + iw * xs.pixel;
                  weight_offsets[n] = plan.tap_slot[size_t(ky * aw.kernel + kx)] * block;
                  ++n;
                }
              }
              tile.taps = n;
              const int64_t width = segment.end - segment.begin;
              const int64_t stack = 4 * width <= tile_pixels ? 4 : 2 * width <= tile_pixels ? 2 : 1;
              for (int64_t j = 0; j < group_rows;) {
                int64_t rows = stack;
                while (rows > group_rows - j) rows /= 2;
                const int64_t row_pixels = tile_pixels / rows;
                const int64_t row = oh + j * row_phases;
                tile.rows = rows;
                for (int64_t ox = segment.begin; ox < segment.end; ox += row_pixels) {
                  tile.pixels = std::min(row_pixels, segment.end - ox);
                  tile.x = x_block + j * row_step + (ox - segment.begin) * pixel_step;
                  tile.acc = acc + ((row - r0) * out_w + ox) * block;
                  run_tile(tile);
                }
                j += rows;
              }
            }
            oh += group_rows * row_phases;
          }
      }
    }
    for (int64_t cb = cb0; cb < cb1; ++cb) {
      float* acc = group_acc + (cb - cb0) * band_floats;
      // Bias and activation on the partial sums (contiguous rows of [pixel][block]), then the
      // transposed copy into the output, 16 pixels at a time so that their sums stay in L1.
      const float* bias = plan.bias.data() + cb * block;
      for (int64_t oh = r0; oh < r1; ++oh) {
        float* sums = acc + (oh - r0) * out_w * block;
        for (int64_t ox = 0; ox < out_w; ++ox)
          for (int64_t lane = 0; lane < block; ++lane) sums[ox * block + lane] += bias[lane];
        finish(sums, out_w * block);
      }
      const int64_t channels = std::min(block, plan.out_channels - cb * block);
      constexpr int64_t kChunk = 16;
      for (int64_t oh = r0; oh < r1; ++oh) {
        const float* sums = acc + (oh - r0) * out_w * block;
        for (int64_t ox0 = 0; ox0 < out_w; ox0 += kChunk) {
          const int64_t ox1 = std::min(out_w, ox0 + kChunk);
          for (int64_t lane = 0; lane < channels; ++lane) {
            float* y_row = y + (cb * block + lane) * ys.channel + oh * ys.row;
            if (ys.pixel == 1) {
              for (int64_t ox = ox0; ox < ox1; ++ox) y_row[ox] = sums[ox * block + lane];
            } else {
              for (int64_t ox = ox0; ox < ox1; ++ox) y_row[ox * ys.pixel] = sums[ox * block + lane];
            }
          }
        }
      }
    }
  };
  if (!parallel) {
    for (int64_t task = 0; task < tasks; ++task) run_task(task, scratch);
    return;
  }
  // A task's sums depend only on the task, never on the slot or thread that runs it.
  pool.parallel_for_indexed(
      tasks,
      [&](int64_t begin, int64_t end, int index) {
        float* acc = scratch + size_t(index) * slot_floats;
        for (int64_t task = begin; task < end; ++task) run_task(task, acc);
      },
      work);
}

}  // namespace atrous
