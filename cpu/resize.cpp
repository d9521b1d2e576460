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
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/cpu_kernel.h"
#include "cpu/misc_kernels.h"
#include "cpu/node_check.h"

namespace atrous {

namespace {

enum class ResizeCoordinate { resize_align_corners, resize_half_pixel, resize_pytorch_half_pixel, resize_asymmetric };
enum class ResizeNearest { resize_round_prefer_floor, resize_round_prefer_ceil, resize_floor, resize_ceil };

// The source coordinate of output index x along one axis, as ops/resize.cpp.
double source_coordinate(ResizeCoordinate mode, int64_t x, int64_t in, int64_t out, double ratio) {
  switch (mode) {
    case ResizeCoordinate::resize_align_corners:
      return out == 1 ? 0.0 : double(x) * double(in - 1) / double(out - 1);
    case ResizeCoordinate::resize_half_pixel: return (double(x) + 0.5) * ratio - 0.5;
    case ResizeCoordinate::resize_pytorch_half_pixel:
      return out == 1 ? 0.0 : (double(x) + 0.5) * ratio - 0.5;
    case ResizeCoordinate::resize_asymmetric: return double(x) * ratio;
  }
  return 0.0;
}

int64_t nearest_index(ResizeNearest mode, double coordinate, int64_t in) {
  double rounded = 0.0;
  const bool tie = coordinate - std::floor(coordinate) == 0.5;
  switch (mode) {
    case ResizeNearest::resize_round_prefer_floor:
      rounded = tie ? std::floor(coordinate) : std::round(coordinate);
      break;
    case ResizeNearest::resize_round_prefer_ceil:
      rounded = tie ? std::ceil(coordinate) : std::round(coordinate);
      break;
    case ResizeNearest::resize_floor: rounded = std::floor(coordinate); break;
    case ResizeNearest::resize_ceil: rounded = std::ceil(coordinate); break;
  }
  rounded = std::min(std::max(rounded, 0.0), double(in - 1));
  return int64_t(rounded);
}

// Per output index of one axis: the two source indices and their weights.
struct AxisTaps {
  std::vector<int32_t> first, second;
  std::vector<float> weight0, weight1;
};

void build_taps(bool linear, ResizeCoordinate coordinate, ResizeNearest nearest, int64_t in,
                int64_t out, double ratio, AxisTaps* taps) {
  taps->first.resize(size_t(out));
  taps->second.resize(size_t(out));
  taps->weight0.resize(size_t(out));
  taps->weight1.resize(size_t(out));
  for (int64_t o = 0; o < out; ++o) {
    double c = source_coordinate(coordinate, o, in, out, ratio);
    int64_t first = 0, second = 0;
    double lambda = 0.0;
    if (linear) {
      c = std::min(std::max(c, 0.0), double(in - 1));
      first = int64_t(std::floor(c));
      second = std::min(first + 1, in - 1);
      lambda = c - double(first);
    } else {
      first = second = nearest_index(nearest, c, in);
    }
    taps->first[size_t(o)] = int32_t(first);
    taps->second[size_t(o)] = int32_t(second);
    taps->weight0[size_t(o)] = float(1.0 - lambda);
    taps->weight1[size_t(o)] = float(lambda);
  }
}

class ResizeKernel : public CpuKernel {
 public:
  bool linear = true;
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  AxisTaps rows, columns;
  const MiscKernels* loops = nullptr;

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
      loops->resize_linear_row(row, columns.first.data(), columns.second.data(),
                               columns.weight0.data(), columns.weight1.data(), out, out_w);
    }
  }

  // Upsampling in height: interpolate each needed source row along W once (two cached rows,
  // reused by the consecutive output rows between them), then blend two such rows per output
  // row, a contiguous vector loop with no gathers. A cached row's values depend on the source
  // row only, so the split into tasks does not change any result.
  void run_columns_first(const float* x, float* y, int64_t begin, int64_t end) const {
    std::vector<float> cache[2] = {std::vector<float>(size_t(out_w)), std::vector<float>(size_t(out_w))};
    int64_t keys[2] = {-1, -1};
    // The cache slot holding source row `key` (plane · in_h + row), filled if absent, in a slot
    // other than `keep`.
    auto fetch = [&](int64_t key, int keep) -> int {
      for (int s = 0; s < 2; ++s)
        if (keys[s] == key) return s;
      const int s = keep == 0 ? 1 : 0;
      keys[s] = key;
      loops->resize_linear_row(x + key * in_w, columns.first.data(), columns.second.data(),
                               columns.weight0.data(), columns.weight1.data(), cache[s].data(), out_w);
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

  const char* name() const override { return linear ? "resize_bilinear" : "resize_nearest"; }
};

}  // namespace

CpuKernelPtr cpu_make_resize_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_resize || !cpu_node_shapes_check(graph, node)) return nullptr;
  const AttributeMap& a = node.attributes;
  const Shape& in = graph.tensors[size_t(node.inputs[0])].shape;
  const Shape& out = graph.tensors[size_t(node.outputs[0])].shape;
  if (in[2] > INT32_MAX || in[3] > INT32_MAX) return nullptr;
  // op_infer accepted the attributes, so every name below is one of the listed values.
  const std::string mode = a.get_string("mode", "linear");
  const std::string coordinate_name = a.get_string("coordinate_mode", "half_pixel");
  const std::string nearest_name = a.get_string("nearest_mode", "round_prefer_floor");
  const std::vector<double> scales = a.get_floats("scales", {});
  ResizeCoordinate coordinate = ResizeCoordinate::resize_half_pixel;
  if (coordinate_name == "align_corners") coordinate = ResizeCoordinate::resize_align_corners;
  else if (coordinate_name == "pytorch_half_pixel") coordinate = ResizeCoordinate::resize_pytorch_half_pixel;
  else if (coordinate_name == "asymmetric") coordinate = ResizeCoordinate::resize_asymmetric;
  else if (coordinate_name != "half_pixel") return nullptr;
  ResizeNearest nearest = ResizeNearest::resize_round_prefer_floor;
  if (nearest_name == "round_prefer_ceil") nearest = ResizeNearest::resize_round_prefer_ceil;
  else if (nearest_name == "floor") nearest = ResizeNearest::resize_floor;
  else if (nearest_name == "ceil") nearest = ResizeNearest::resize_ceil;
  else if (nearest_name != "round_prefer_floor") return nullptr;
  if (mode != "linear" && mode != "nearest") return nullptr;
  if (!scales.empty() && scales.size() != 2) return nullptr;

  std::unique_ptr<ResizeKernel> kernel(new ResizeKernel());
  kernel->linear = mode == "linear";
  kernel->planes = in[0] * in[1];
  kernel->in_h = in[2];
  kernel->in_w = in[3];
  kernel->out_h = out[2];
  kernel->out_w = out[3];
  kernel->loops = &misc_kernels(config.isa);
  const double ratio_h = scales.empty() ? double(in[2]) / double(out[2]) : 1.0 / scales[0];
  const double ratio_w = scales.empty() ? double(in[3]) / double(out[3]) : 1.0 / scales[1];
  build_taps(kernel->linear, coordinate, nearest, in[2], out[2], ratio_h, &kernel->rows);
  build_taps(kernel->linear, coordinate, nearest, in[3], out[3], ratio_w, &kernel->columns);
  return kernel;
}

}  // namespace atrous
