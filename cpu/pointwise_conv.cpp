#include "cpu/pointwise_conv.h"

#include <cstdint>
#include <cstring>

#include "cpu/cpu_kernel.h"

namespace atrous {

void pointwise_plan(const float* weight, const float* bias, int64_t out_channels,
                    int64_t in_channels, const Activation& activation, CpuIsa isa,
                    PointwisePlan* plan) {
  const int rows = kPointwiseRows;
  const int64_t panels = (out_channels + rows - 1) / rows;
  plan->out_channels = out_channels;
  plan->in_channels = in_channels;
  plan->activation = activation;
  plan->isa = isa;
  plan->packed.assign(size_t(panels * in_channels * rows), 0.f);
  for (int64_t m = 0; m < out_channels; ++m)
    for (int64_t c = 0; c < in_channels; ++c)
      plan->packed[size_t(((m / rows) * in_channels + c) * rows + m % rows)] =
          weight[m * in_channels + c];
  plan->bias.assign(size_t(out_channels), 0.f);
  if (bias) std::memcpy(plan->bias.data(), bias, size_t(out_channels) * sizeof(float));
}

int64_t pointwise_tile_columns(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::cpu_isa_avx512: return 32;
    case CpuIsa::cpu_isa_avx2: return 16;
    case CpuIsa::cpu_isa_neon: return 8;
    case CpuIsa::cpu_isa_scalar: return 8;
  }
  return 8;
}

void pointwise_tiles_scalar(const PointwisePlan& plan, const float* x, int64_t stride_x,
                            float* y, int64_t stride_y, int64_t columns, int64_t tile_begin,
                            int64_t tile_end) {
  const int rows = kPointwiseRows;
  const int64_t panels = (plan.out_channels + rows - 1) / rows;
  std::vector<float> acc(size_t(rows * columns));
  for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
    const int64_t p = tile * columns;
    for (int64_t panel = 0; panel < panels; ++panel) {
      std::fill(acc.begin(), acc.end(), 0.f);
      const float* w = plan.packed.data() + panel * plan.in_channels * rows;
      for (int64_t c = 0; c < plan.in_channels; ++c, w += rows)
        for (int r = 0; r < rows; ++r)
          for (int64_t i = 0; i < columns; ++i)
            acc[size_t(r * columns + i)] += w[r] * x[c * stride_x + p + i];
      for (int r = 0; r < rows; ++r) {
        const int64_t m = panel * rows + r;
        if (m >= plan.out_channels) break;
        for (int64_t i = 0; i < columns; ++i)
          y[m * stride_y + p + i] =
              activation_apply(plan.activation, acc[size_t(r * columns + i)] + plan.bias[size_t(m)]);
      }
    }
  }
}

namespace {

void run_tiles(const PointwisePlan& plan, const float* x, int64_t stride_x, float* y,
               int64_t stride_y, int64_t begin, int64_t end) {
  switch (plan.isa) {
#if defined(__x86_64__)
    case CpuIsa::cpu_isa_avx512:
      pointwise_tiles_avx512(plan, x, stride_x, y, stride_y, begin, end);
      return;
    case CpuIsa::cpu_isa_avx2:
      pointwise_tiles_avx2(plan, x, stride_x, y, stride_y, begin, end);
      return;
#endif
#if defined(__aarch64__)
    case CpuIsa::cpu_isa_neon:
      pointwise_tiles_neon(plan, x, stride_x, y, stride_y, begin, end);
      return;
#endif
    default:
      pointwise_tiles_scalar(plan, x, stride_x, y, stride_y, pointwise_tile_columns(plan.isa),
                             begin, end);
  }
}

}  // namespace

void pointwise_run(const PointwisePlan& plan, const float* x, int64_t pixels, float* y,
                   ThreadPool& pool) {
  const int64_t columns = pointwise_tile_columns(plan.isa);
  const int64_t full = pixels / columns, tail = pixels % columns;
  pool.parallel_for(full, [&](int64_t begin, int64_t end) {
    run_tiles(plan, x, pixels, y, pixels, begin, end);
  });
  if (tail == 0) return;
  // The last partial tile goes through zero-padded copies, so the kernel never reads or
  // writes past the tensors; each element still sees the same arithmetic.
  const int64_t start = full * columns;
  std::vector<float> x_tail(size_t(plan.in_channels * columns), 0.f);
  std::vector<float> y_tail(size_t(plan.out_channels * columns));
  for (int64_t c = 0; c < plan.in_channels; ++c)
    std::memcpy(&x_tail[size_t(c * columns)], x + c * pixels + start, size_t(tail) * sizeof(float));
  run_tiles(plan, x_tail.data(), columns, y_tail.data(), columns, 0, 1);
  for (int64_t m = 0; m < plan.out_channels; ++m)
    std::memcpy(y + m * pixels + start, &y_tail[size_t(m * columns)], size_t(tail) * sizeof(float));
}

namespace {

// A conv that is a plain GEMM: 1×1 kernel, stride 1, no padding, one group, constant weights.
bool is_pointwise(const Graph& graph, const Node& node) {
  if (node.op != OpType::op_conv || node.inputs.size() < 2) return false;
  const GraphTensor& weight = graph.tensors[size_t(node.inputs[1])];
  if (!weight.is_constant || weight.dtype != DType::dtype_f32 || weight.shape.size() != 4 ||
      weight.shape[2] != 1 || weight.shape[3] != 1)
    return false;
  if (node.inputs.size() > 2 && node.inputs[2] != kAbsentInput &&
      !graph.tensors[size_t(node.inputs[2])].is_constant)
    return false;
  const AttributeMap& a = node.attributes;
  if (a.get_int("group", 1) != 1 || a.get_ints("strides", {1, 1}) != std::vector<int64_t>{1, 1})
    return false;
  std::string auto_pad = a.get_string("auto_pad", "explicit");
  return auto_pad != "explicit" || a.get_ints("pads", {0, 0, 0, 0}) == std::vector<int64_t>{0, 0, 0, 0};
}

class PointwiseKernel : public CpuKernel {
 public:
  PointwisePlan plan;
  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    // NCHW: each image is a [C, H·W] by [M, H·W] product.
    const TensorView& x = *inputs[0];
    TensorView& y = *outputs[0];
    const int64_t pixels = x.shape[2] * x.shape[3];
    for (int64_t b = 0; b < x.shape[0]; ++b)
      pointwise_run(plan, x.f32() + b * x.shape[1] * pixels, pixels,
                    y.f32() + b * y.shape[1] * pixels, pool);
    return Status::success();
  }
  const char* name() const override { return "pointwise"; }
};

}  // namespace

CpuKernelPtr cpu_make_pointwise_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (!is_pointwise(graph, node)) return nullptr;
  Activation activation;
  if (!activation_from_conv_attributes(node.attributes, &activation).ok()) return nullptr;
  const GraphTensor& weight = graph.tensors[size_t(node.inputs[1])];
  const float* bias = node.inputs.size() > 2 && node.inputs[2] != kAbsentInput
                          ? static_cast<const float*>(graph.tensors[size_t(node.inputs[2])].data)
                          : nullptr;
  std::unique_ptr<PointwiseKernel> kernel(new PointwiseKernel());
  pointwise_plan(static_cast<const float*>(weight.data), bias, weight.shape[0], weight.shape[1],
                 activation, config.isa, &kernel->plan);
  return kernel;
}

}  // namespace atrous
