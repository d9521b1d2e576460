// resize (bilinear and nearest, NCHW float32) with the source indices and weights of every
// output row and column computed once at creation, in double exactly as ops/resize.cpp does
// (coordinate modes align_corners, half_pixel, pytorch_half_pixel, asymmetric; the `scales`
// form; nearest's four rounding modes), then rounded to float.
//
// Bilinear runs per output row, vectorized along the row. When the height shrinks or stays,
// the two source rows are blended into a row buffer (t = w0·r0 + w1·r1, skipped when w1 = 0,
// where it would give r0 exactly), then the output row gathers t at its column indices
// (y = w0·t[i0] + w1·t[i1]). When the height grows (the decoder's and the heads' 4×
// upsampling), each source row is interpolated along W once and kept while the output rows
// between it and the next need it, and each output row is a gather-free blend of two of them.
// The reference interpolates along H then W in double and rounds once; in float with fused
// multiply-adds each interpolation, in either order, adds at most a few units of rounding
// relative to the largest |input| (the test bounds the difference by 8 float epsilons of it).
// Nearest copies t = the source row through the column indices: exact.
// Output rows (over all planes) are split across threads; each row is one task's alone.
#include "ops/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "cpu/node_check.h"

namespace atrous {

namespace {

// Per output index of one axis: the two source indices and their weights, in the kernels'
// types, from the op's own coordinate maps (ops/resize.h).
struct AxisTaps {
  std::vector<int32_t> first, second;
  std::vector<float> weight0, weight1;
};

void build_taps(const std::vector<ResizeTap>& source, AxisTaps* taps) {
  const size_t out = source.size();
  taps->first.resize(out);
  taps->second.resize(out);
  taps->weight0.resize(out);
  taps->weight1.resize(out);
  for (size_t o = 0; o < out; ++o) {
    taps->first[o] = int32_t(source[o].first);
    taps->second[o] = int32_t(source[o].second);
    taps->weight0[o] = float(1.0 - source[o].lambda);
    taps->weight1[o] = float(source[o].lambda);
  }
}

class ResizeKernel : public CpuKernel {
 public:
  bool linear = true;
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  AxisTaps rows, columns;
  const MiscKernels* loops = nullptr;
  std::string label;  // resize_{bilinear,nearest}_<the loops' name>

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    const float* x = inputs[0]->f32();
    float* y = outputs[0]->f32();
    pool.parallel_for(planes * out_h, [&](int64_t begin, int64_t end) {
      if (linear && out_h > in_h)
        run_columns_first(x, y, begin, end);
      else
        run_rows_first(x, y, begin, end);
    });
    return Status::success();
  }

  // Blend the two source rows, then gather along the row (downsampling or same height, and
  // nearest).
  void run_rows_first(const float* x, float* y, int64_t begin, int64_t end) const {
    std::vector<float> blended(linear ? size_t(in_w) : 0);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t plane = task / out_h, oh = task % out_h;
      const float* source = x + plane * in_h * in_w;
      float* out = y + (plane * out_h + oh) * out_w;
      const float* r0 = source + int64_t(rows.first[size_t(oh)]) * in_w;
      if (!linear) {
        loops->resize_nearest_row(r0, columns.first.data(), out, out_w);
        continue;
      }
      const float* row = r0;
      if (rows.weight1[size_t(oh)] != 0.0f) {
        const float* r1 = source + int64_t(rows.second[size_t(oh)]) * in_w;
        loops->resize_blend_rows(r0, r1, rows.weight0[size_t(oh)], rows.weight1[size_t(oh)],
                                 blended.data(), in_w);
        row = blended.data();
      }
      loops->resize_linear_row(row, in_w, columns.first.data(), columns.second.data(),
                               columns.weight0.data(), columns.weight1.data(), out, out_w);
    }
  }

  // Upsampling in height: interpolate each needed source row along W once (two cached rows,
  // reused by the consecutive output rows between them), then blend two such rows per output
  // row, a contiguous vector loop with no gathers. A cached row's values depend on the source
  // row only, so the split into tasks does not change any result.
  void run_columns_first(const float* x, float* y, int64_t begin, int64_t end) const {
    std::vector<float> cache[2] = {std::vector<float>(size_t(out_w)),
                                   std::vector<float>(size_t(out_w))};
    int64_t keys[2] = {-1, -1};
    // The cache slot holding source row `key` (plane · in_h + row), filled if absent, in a slot
    // other than `keep`.
    auto fetch = [&](int64_t key, int keep) -> int {
      for (int s = 0; s < 2; ++s)
        if (keys[s] == key) return s;
      const int s = keep == 0 ? 1 : 0;
      keys[s] = key;
      loops->resize_linear_row(x + key * in_w, in_w, columns.first.data(), columns.second.data(),
                               columns.weight0.data(), columns.weight1.data(), cache[s].data(),
                               out_w);
      return s;
    };
    for (int64_t task = begin; task < end; ++task) {
      const int64_t plane = task / out_h, oh = task % out_h;
      float* out = y + (plane * out_h + oh) * out_w;
      const int64_t key0 = plane * in_h + rows.first[size_t(oh)];
      const int64_t key1 = plane * in_h + rows.second[size_t(oh)];
      const int s0 = fetch(key0, keys[0] == key1 ? 0 : (keys[1] == key1 ? 1 : -1));
      if (rows.weight1[size_t(oh)] == 0.0f) {
        std::memcpy(out, cache[s0].data(), size_t(out_w) * sizeof(float));
        continue;
      }
      const int s1 = fetch(key1, s0);
      loops->resize_blend_rows(cache[s0].data(), cache[s1].data(), rows.weight0[size_t(oh)],
                               rows.weight1[size_t(oh)], out, out_w);
    }
  }

  const char* name() const override { return label.c_str(); }
};

}  // namespace

CpuKernelPtr cpu_make_resize_kernel(const Graph& graph, size_t index,
                                    const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_resize || !cpu_node_shapes_check(graph, node)) return nullptr;
  const GraphTensor& x = graph.tensors[size_t(node.inputs[0])];
  const Shape& in = x.shape;
  const Shape& out = graph.tensors[size_t(node.outputs[0])].shape;
  if (in[2] > INT32_MAX || in[3] > INT32_MAX) return nullptr;
  ResizeTaps taps;
  if (!resize_taps(node.attributes, TensorDesc{x.dtype, x.shape}, &taps).ok()) return nullptr;

  std::unique_ptr<ResizeKernel> kernel(new ResizeKernel());
  kernel->linear = taps.linear;
  kernel->planes = in[0] * in[1];
  kernel->in_h = in[2];
  kernel->in_w = in[3];
  kernel->out_h = out[2];
  kernel->out_w = out[3];
  kernel->loops = &cpu_kernel_table(config.isa).misc;
  kernel->label =
      std::string(taps.linear ? "resize_bilinear_" : "resize_nearest_") + kernel->loops->name;
  build_taps(taps.axis[0], &kernel->rows);
  build_taps(taps.axis[1], &kernel->columns);
  return kernel;
}

}  // namespace atrous
