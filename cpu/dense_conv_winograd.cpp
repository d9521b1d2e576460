// Winograd F(2×2, 3×3) for dense 3×3 convolutions at stride 1 (see dense_conv_winograd.h).
#include "cpu/dense_conv_winograd.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/kernel_table.h"
#include "cpu/pointwise_conv.h"

namespace atrous {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The distance between the 16 planes of V ([C][N] each) and of the products ([M][N]): the
// plane rounded up to 4 KiB, plus one cache line, so that the 16 stores of one tile (one per
// plane) fall into 16 different L1 sets; plane distances that are multiples of 2 KiB would put
// them all into two (a 32 KiB 8-way L1 repeats its sets every 4 KiB). A precaution from the
// cache geometry, not measured on its own.
int64_t plane_stride(int64_t floats) { return ceil_div(floats, 1024) * 1024 + 16; }

// Floats past the end of every row the transforms read or write (misc_kernels.h: they run
// whole vectors of up to 16 floats).
constexpr int64_t kSlack = 16;

// Tiles per task of the products: a multiple of every ISA's GEMM column block (4 tiles of 16 or
// 48 columns), so only a product's last task has a partial block.
constexpr int64_t kWinogradGemmColumns = 192;

// Tiles along one axis: Σ over its phases of ceil(subgrid outputs / 2).
int64_t axis_tiles(const WindowAxis& axis) {
  int64_t tiles = 0;
  for (int64_t p = 0; p < std::min(axis.dilation, axis.output); ++p)
    tiles += ceil_div(ceil_div(axis.output - p, axis.dilation), 2);
  return tiles;
}

// U = G·g·Gᵀ for one 3×3 kernel g, in double, rounded once.
void transform_weight(const float* g, float u[kWinogradPoints]) {
  const double gmat[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  double t[4][3];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += gmat[i][k] * double(g[k * 3 + j]);
      t[i][j] = s;
    }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += t[i][k] * gmat[j][k];
      u[i * 4 + j] = float(s);
    }
}

}  // namespace

bool winograd_conv_applies(const WindowAxis axes[2]) {
  return axes[0].kernel == 3 && axes[1].kernel == 3 && axes[0].stride == 1 && axes[1].stride == 1 &&
         axes[0].output > 0 && axes[1].output > 0;
}

int64_t winograd_tile_count(const WindowAxis axes[2]) {
  return axis_tiles(axes[0]) * axis_tiles(axes[1]);
}

void winograd_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                        int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                        CpuIsa isa, WinogradConvPlan* plan) {
  plan->set_layer(bias, out_channels, in_channels, axes, activation, isa);
  const WindowAxis& ah = axes[0];
  const WindowAxis& aw = axes[1];
  plan->phases.clear();
  int64_t first = 0;
  for (int64_t py = 0; py < std::min(ah.dilation, ah.output); ++py)
    for (int64_t px = 0; px < std::min(aw.dilation, aw.output); ++px) {
      WinogradPhase phase;
      phase.py = py;
      phase.px = px;
      phase.out_rows = ceil_div(ah.output - py, ah.dilation);
      phase.out_cols = ceil_div(aw.output - px, aw.dilation);
      phase.tile_rows = ceil_div(phase.out_rows, 2);
      phase.tile_cols = ceil_div(phase.out_cols, 2);
      phase.first = first;
      first += phase.tile_rows * phase.tile_cols;
      plan->phases.push_back(phase);
    }
  plan->tiles = first;
  // Each input row split once into its 2·dw column phases (index i of phase q: column
  // 2·dw·i + q − pad_w), split_width floats each: phase px holds the even columns of the
  // subgrid of output phase px, phase px + dw its odd ones.
  int64_t tallest = 0, widest = 0;  // tile rows and tile columns of the largest phases
  for (const WinogradPhase& phase : plan->phases) {
    tallest = std::max(tallest, phase.tile_rows);
    widest = std::max(widest, phase.tile_cols);
  }
  const int64_t split = 2 * aw.dilation;
  const int64_t split_width = std::max(ceil_div(aw.input + aw.pad_begin, split), widest + 1);
  plan->split_width = split_width;
  plan->column_slot.assign(size_t(aw.input), 0);
  for (int64_t col = 0; col < aw.input; ++col) {
    const int64_t shifted = col + aw.pad_begin;  // ≥ 0: pads are never negative
    plan->column_slot[size_t(col)] = int32_t((shifted % split) * split_width + shifted / split);
  }
  // Per thread: the split input rows of the tallest phase, or the output transform's four rows
  // of the widest tile row.
  plan->gather_floats =
      std::max((2 * tallest + 2) * split * split_width + 2 * kSlack, 4 * (widest + kSlack));

  const int64_t m_count = out_channels, c_count = in_channels;
  std::vector<float> u(size_t(kWinogradPoints * m_count * c_count));
  const size_t plane = size_t(m_count * c_count);
  for (int64_t m = 0; m < m_count; ++m)
    for (int64_t c = 0; c < c_count; ++c) {
      float t[kWinogradPoints];
      transform_weight(weight + (m * c_count + c) * 9, t);
      for (int x = 0; x < kWinogradPoints; ++x)
        u[size_t(x) * plane + size_t(m * c_count + c)] = t[x];
    }
  for (int x = 0; x < kWinogradPoints; ++x)
    gemm_pack_weights(u.data() + size_t(x) * plane, nullptr, m_count, c_count, Activation(), isa,
                      &plan->gemm[x], plan->tiles);
  plan->name = std::string("winograd_f2x2_3x3+") + plan->gemm[0].kernels->name;
}

size_t winograd_shared_floats(int64_t channels, int64_t outputs, int64_t tiles) {
  const int64_t pitch = tiles + kSlack;
  return size_t(kWinogradPoints * (plane_stride(channels * pitch) + plane_stride(outputs * pitch)) +
                kSlack);
}

size_t winograd_conv_shared_floats(const WinogradConvPlan& plan) {
  return winograd_shared_floats(plan.channels, plan.outputs, plan.tiles);
}

size_t winograd_conv_scratch_floats(const WinogradConvPlan& plan) {
  return std::max(gemm_scratch_floats(plan.isa), size_t(plan.gather_floats));
}

void winograd_conv_run(const WinogradConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                       float* scratch, int scratch_slots) {
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  // Rows of V and of the products are n floats apart (the tiles and the transforms' slack).
  const int64_t c_count = plan.channels, m_count = plan.outputs, tiles = plan.tiles;
  const int64_t n = tiles + kSlack;
  const int slots = pool.threads();
  const size_t slot_floats = winograd_conv_scratch_floats(plan);
  const size_t shared = winograd_conv_shared_floats(plan);
  std::vector<float> own;
  if (!scratch || scratch_slots < slots) {
    own.resize(shared + size_t(slots) * slot_floats);
    scratch = own.data();
  }
  float* v = scratch;  // [16][C][N], planes v_stride apart
  const int64_t v_stride = plane_stride(c_count * n), p_stride = plane_stride(m_count * n);
  float* products = v + kWinogradPoints * v_stride;  // [16][M][N]
  float* slot_base = scratch + shared;
  const MiscKernels& misc = cpu_kernel_table(plan.isa).misc;
  const int64_t height = ah.input, width = aw.input;

  // (1) The input transform, one input channel per unit of work.
  pool.parallel_for_indexed(
      c_count,
      [&](int64_t begin, int64_t end, int slot) {
        float* gather = slot_base + size_t(slot) * slot_floats;
        const int64_t split = 2 * aw.dilation, width_split = plan.split_width;
        const int64_t row_floats = split * width_split;  // one input row's phases
        const int32_t* slots_of = plan.column_slot.data();
        for (int64_t c = begin; c < end; ++c) {
          const float* plane = x + c * height * width;
          // Phases of one output row phase py share their input rows: split them once.
          for (size_t p = 0; p < plan.phases.size();) {
            const int64_t py = plan.phases[p].py;
            const int64_t rows = 2 * plan.phases[p].tile_rows + 2;
            for (int64_t r = 0; r < rows; ++r) {
              float* dst = gather + r * row_floats;
              std::fill(dst, dst + row_floats, 0.f);
              const int64_t ih = py - ah.pad_begin + r * ah.dilation;
              if (ih < 0 || ih >= height) continue;
              const float* row = plane + ih * width;
              for (int64_t col = 0; col < width; ++col) dst[slots_of[col]] = row[col];
            }
            for (; p < plan.phases.size() && plan.phases[p].py == py; ++p) {
              const WinogradPhase& phase = plan.phases[p];
              const float* even = gather + phase.px * width_split;
              const float* odd = even + aw.dilation * width_split;
              for (int64_t tr = 0; tr < phase.tile_rows; ++tr)
                misc.winograd_input(even + 2 * tr * row_floats, odd + 2 * tr * row_floats,
                                    row_floats, phase.tile_cols,
                                    v + c * n + phase.first + tr * phase.tile_cols, v_stride);
            }
          }
        }
      },
      c_count * n * kWinogradPoints * 4);

  // (2) The 16 products, as one parallel loop over (ξ, block of tiles): with a few hundred tiles
  // one product has only a few column blocks, too few to share evenly between the threads
  // (gemm_run per ξ scaled 1.6× from 1 to 2 threads at 630 tiles).
  const int64_t block = kWinogradGemmColumns;
  const int64_t blocks = (tiles + block - 1) / block;
  pool.parallel_for_indexed(
      kWinogradPoints * blocks,
      [&](int64_t begin, int64_t end, int slot) {
        float* gemm_scratch = slot_base + size_t(slot) * slot_floats;
        for (int64_t task = begin; task < end; ++task) {
          const int64_t x_index = task / blocks, column0 = (task % blocks) * block;
          PointwisePacker packer(v + x_index * v_stride + column0, n);
          gemm_run_serial(plan.gemm[x_index], packer, std::min(block, tiles - column0),
                          products + x_index * p_stride + column0, n, gemm_scratch);
        }
      },
      kWinogradPoints * m_count * c_count * tiles);

  // (3) The output transform, bias and activation, one output channel per unit of work.
  const int64_t out_h = ah.output, out_w = aw.output;
  pool.parallel_for_indexed(
      m_count,
      [&](int64_t begin, int64_t end, int slot) {
        float* rows4 = slot_base + size_t(slot) * slot_floats;
        for (int64_t m = begin; m < end; ++m) {
          float* out = y + m * out_h * out_w;
          const float b = plan.bias[size_t(m)];
          for (const WinogradPhase& phase : plan.phases) {
            const int64_t tc = phase.tile_cols;
            for (int64_t tr = 0; tr < phase.tile_rows; ++tr) {
              misc.winograd_output(products + m * n + phase.first + tr * tc, p_stride, tc, rows4,
                                   tc + kSlack);
              for (int64_t a = 0; a < 2; ++a) {
                const int64_t i = 2 * tr + a;
                if (i >= phase.out_rows) break;
                float* row = out + (phase.py + i * ah.dilation) * out_w + phase.px;
                for (int64_t bcol = 0; bcol < 2; ++bcol) {
                  const float* src = rows4 + (2 * a + bcol) * (tc + kSlack);
                  const int64_t count = (phase.out_cols - bcol + 1) / 2;  // j = 2t + bcol
                  float* dst = row + bcol * aw.dilation;
                  const int64_t step = 2 * aw.dilation;
                  for (int64_t t = 0; t < count; ++t) dst[t * step] = src[t] + b;
                }
              }
            }
          }
          bias_activation_in_place(misc, plan.activation, 0.f, out, out_h * out_w);
        }
      },
      m_count * n * kWinogradPoints * 4);
}

}  // namespace atrous
