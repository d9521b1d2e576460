// Pooling kernels (NCHW float32): global_average_pool, reduce_mean over the spatial
// axes (2 and 3, either keepdims), and average_pool with any window, stride, pads,
// count_include_pad and ceil_mode (the geometry comes from the reference's resolve_window_2d).
// max_pool (without dilation) reads each window in the reference's order, row by row, with its
// rule (a greater value or a NaN replaces the best), so it is bitwise equal to the reference.
//
// Sums are in double, as the reference, but in another order: the global mean keeps four
// interleaved partial sums; average_pool sums each output row's window rows into per-column
// sums once, then each output sums its window's columns (separable, so LR-ASPP's 49×97 windows
// at stride 16×20 cost a column pass, not kH·kW reads per output). Reordering a double sum of
// millions of floats changes it by far less than a float's rounding step, so a result equals the
// reference or is one float rounding step from it. Output rows (all planes) are split across
// threads; each output is one task's alone.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "cpu/node_check.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

// The mean of each plane through the ISA's plane_mean (double sums in 16 lanes, the same on
// every ISA).
class GlobalMeanKernel : public CpuKernel {
 public:
  int64_t planes = 0, area = 0;
  const MiscKernels* loops = nullptr;
  const char* label = "global_average_pool";

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    const float* x = inputs[0]->f32();
    float* y = outputs[0]->f32();
    pool.parallel_for(
        planes,
        [&](int64_t begin, int64_t end) {
          for (int64_t p = begin; p < end; ++p) y[p] = loops->plane_mean(x + p * area, area);
        },
        planes * area);
    return Status::success();
  }
  const char* name() const override { return label; }
};

// The input range [first, last) of one window along an axis and its divisor's extent.
struct WindowSpan {
  int64_t first = 0, last = 0, count = 0;
};

std::vector<WindowSpan> window_spans(const WindowAxis& axis, bool count_include_pad) {
  std::vector<WindowSpan> spans(size_t(axis.output));
  for (int64_t o = 0; o < axis.output; ++o) {
    const int64_t start = o * axis.stride - axis.pad_begin;
    WindowSpan& span = spans[size_t(o)];
    span.first = std::max<int64_t>(start, 0);
    span.last = std::max(span.first, std::min(start + axis.kernel, axis.input));
    span.count = count_include_pad
                     ? std::min(start + axis.kernel, axis.input + axis.pad_end) - start
                     : span.last - span.first;
  }
  return spans;
}

class AveragePoolKernel : public CpuKernel {
 public:
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  std::vector<WindowSpan> rows, columns;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    const float* x = inputs[0]->f32();
    float* y = outputs[0]->f32();
    pool.parallel_for(planes * out_h, [&](int64_t begin, int64_t end) {
      std::vector<double> column_sums(static_cast<size_t>(in_w));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t plane = task / out_h, oh = task % out_h;
        const WindowSpan& rs = rows[size_t(oh)];
        std::fill(column_sums.begin(), column_sums.end(), 0.0);
        for (int64_t h = rs.first; h < rs.last; ++h) {
          const float* row = x + (plane * in_h + h) * in_w;
          for (int64_t c = 0; c < in_w; ++c) column_sums[size_t(c)] += double(row[c]);
        }
        float* out = y + (plane * out_h + oh) * out_w;
        for (int64_t ow = 0; ow < out_w; ++ow) {
          const WindowSpan& cs = columns[size_t(ow)];
          double sum = 0.0;
          for (int64_t c = cs.first; c < cs.last; ++c) sum += column_sums[size_t(c)];
          out[ow] = float(sum / double(rs.count * cs.count));
        }
      }
    });
    return Status::success();
  }
  const char* name() const override { return "average_pool"; }
};

class MaxPoolKernel : public CpuKernel {
 public:
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  std::vector<WindowSpan> rows, columns;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    const float* x = inputs[0]->f32();
    float* y = outputs[0]->f32();
    pool.parallel_for(planes * out_h, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t plane = task / out_h, oh = task % out_h;
        const WindowSpan& rs = rows[size_t(oh)];
        float* out = y + (plane * out_h + oh) * out_w;
        for (int64_t ow = 0; ow < out_w; ++ow) {
          const WindowSpan& cs = columns[size_t(ow)];
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t h = rs.first; h < rs.last; ++h) {
            const float* row = x + (plane * in_h + h) * in_w;
            for (int64_t c = cs.first; c < cs.last; ++c)
              if (row[c] > best || std::isnan(row[c])) best = row[c];
          }
          out[ow] = best;
        }
      }
    });
    return Status::success();
  }
  const char* name() const override { return "max_pool"; }
};

// reduce_mean whose reduced axes are exactly H and W of a rank-4 input.
bool is_spatial_mean(const Graph& graph, const Node& node) {
  const Shape& shape = graph.tensors[size_t(node.inputs[0])].shape;
  if (shape.size() != 4) return false;
  std::vector<int64_t> axes = node.attributes.get_ints("axes", {});
  for (int64_t& axis : axes)
    if (axis < 0) axis += 4;
  std::sort(axes.begin(), axes.end());
  return axes == std::vector<int64_t>{2, 3};
}

template <class Kernel>
void fill_geometry(const Shape& in, const WindowAxis axes[2], bool count_include_pad,
                   Kernel* kernel) {
  kernel->planes = in[0] * in[1];
  kernel->in_h = in[2];
  kernel->in_w = in[3];
  kernel->out_h = axes[0].output;
  kernel->out_w = axes[1].output;
  kernel->rows = window_spans(axes[0], count_include_pad);
  kernel->columns = window_spans(axes[1], count_include_pad);
}

}  // namespace

CpuKernelPtr cpu_make_pool_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_global_average_pool && node.op != OpType::op_reduce_mean &&
      node.op != OpType::op_average_pool && node.op != OpType::op_max_pool)
    return nullptr;
  if (!cpu_node_shapes_check(graph, node)) return nullptr;
  const Shape& in = graph.tensors[size_t(node.inputs[0])].shape;
  if (in.size() != 4) return nullptr;
  const bool is_max = node.op == OpType::op_max_pool;
  if (node.op != OpType::op_average_pool && !is_max) {
    if (node.op == OpType::op_reduce_mean && !is_spatial_mean(graph, node)) return nullptr;
    std::unique_ptr<GlobalMeanKernel> kernel(new GlobalMeanKernel());
    kernel->planes = in[0] * in[1];
    kernel->area = in[2] * in[3];
    kernel->loops = &cpu_kernel_table(config.isa).misc;
    if (node.op == OpType::op_reduce_mean) kernel->label = "reduce_mean_spatial";
    return kernel;
  }
  // The window geometry exactly as ops/pool.cpp resolves it (op_infer accepted it).
  const char* op = is_max ? "max_pool" : "average_pool";
  AttributeReader reader(op, node.attributes);
  const std::vector<int64_t> kernel_shape = reader.require_ints("kernel_shape");
  const bool count_include_pad = !is_max && reader.get_int("count_include_pad", 0) != 0;
  if (!reader.status().ok() || kernel_shape.size() != 2) return nullptr;
  const int64_t input[2] = {in[2], in[3]};
  const int64_t kernel_size[2] = {kernel_shape[0], kernel_shape[1]};
  WindowOptions options;
  options.dilations = is_max;
  options.ceil_mode = true;
  WindowAxis axes[2];
  if (!resolve_window_2d(&reader, input, kernel_size, options, axes).ok()) return nullptr;
  if (axes[0].dilation != 1 || axes[1].dilation != 1) return nullptr;
  std::unique_ptr<AveragePoolKernel> average;
  std::unique_ptr<MaxPoolKernel> max;
  if (is_max) {
    max.reset(new MaxPoolKernel());
    fill_geometry(in, axes, false, max.get());
    return max;
  }
  average.reset(new AveragePoolKernel());
  fill_geometry(in, axes, count_include_pad, average.get());
  return average;
}

}  // namespace atrous
