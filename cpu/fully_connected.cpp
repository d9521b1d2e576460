// Fully connected layers: gemm nodes (ONNX Gemm, alpha·A'·B' + beta·C) whose B is a constant,
// as classifier heads are (the torchvision MobileNetV3 heads: [1, 960] × [1280, 960]' + bias).
//
// B' is stored once as [N, K] rows (B itself when trans_b, else its transpose), so each output
// y[m, n] is the dot product of row m of A with row n, computed by the dot_rows loop of
// misc_kernels.h in float; then alpha and beta·C are applied in float. The reference sums in
// double: the kernel matches it within float rounding (tested to a relative 1e-5 of Σ|a·b|).
// Work is split over blocks of output columns; each element's arithmetic does not depend on
// the split, so results are bitwise identical for any thread count.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "cpu/node_check.h"
#include "cpu/weight_memory.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

// Output columns per parallel task: 64 rows of B' (a quarter MiB at K = 1024) amortize a task's
// start, and a 1000-class head still splits into 16 tasks.
constexpr int64_t kColumnsPerTask = 64;

class FullyConnectedKernel : public CpuKernel {
 public:
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;
  float alpha = 1.f, beta = 1.f;
  WeightFloats rows;     // B' as [N, K]
  std::vector<float> c;  // C as given; element (m, n) at m·c_stride_m + n·c_stride_n
  int64_t c_stride_m = 0, c_stride_n = 0;
  bool has_c = false;
  Shape a_shape, y_shape;
  const MiscKernels* loops = nullptr;
  std::string label;  // fully_connected_<the loops' name>

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void* scratch, ThreadPool& pool) override {
    if (inputs.empty() || !inputs[0] || outputs.empty() || !outputs[0] ||
        inputs[0]->dtype != DType::dtype_f32 || inputs[0]->shape != a_shape ||
        outputs[0]->dtype != DType::dtype_f32 || outputs[0]->shape != y_shape)
      return Status::error(
          "fully connected kernel: tensors do not match the shapes it was made for (" +
          shape_to_string(a_shape) + " -> " + shape_to_string(y_shape) + ")");
    const float* a = inputs[0]->f32();
    float* y = outputs[0]->f32();
    // A row of A' contiguous: A itself, or a transposed copy in scratch.
    float* a_rows = static_cast<float*>(scratch);
    if (trans_a) {
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j) a_rows[i * k + j] = a[j * m + i];
      a = a_rows;
    }
    const int64_t tasks_per_row = (n + kColumnsPerTask - 1) / kColumnsPerTask;
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t row = task / tasks_per_row;
        const int64_t n0 = (task % tasks_per_row) * kColumnsPerTask;
        const int64_t count = std::min(kColumnsPerTask, n - n0);
        float* out = y + row * n + n0;
        loops->dot_rows(a + row * k, this->rows.data() + n0 * k, k, out, count);
        for (int64_t j = 0; j < count; ++j) {
          float value = alpha == 1.f ? out[j] : alpha * out[j];
          if (has_c) value += beta * c[size_t(row * c_stride_m + (n0 + j) * c_stride_n)];
          out[j] = value;
        }
      }
    };
    const int64_t tasks = m * tasks_per_row;
    if (pool.worth_splitting(m * n * k))
      pool.parallel_for(tasks, work);
    else
      work(0, tasks);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
  size_t scratch_bytes() const override { return trans_a ? size_t(m * k) * sizeof(float) : 0; }
};

}  // namespace

CpuKernelPtr cpu_make_fully_connected_kernel(const Graph& graph, size_t index,
                                             const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_gemm || node.inputs.size() < 2 || node.inputs.size() > 3 ||
      node.outputs.size() != 1)
    return nullptr;
  const bool has_c = node.inputs.size() == 3 && node.inputs[2] != kAbsentInput;
  // The shape rule on the present inputs (an absent C is simply not passed).
  Node checked = node;
  if (!has_c) checked.inputs.resize(2);
  if (!cpu_node_shapes_check(graph, checked)) return nullptr;
  const GraphTensor& a = graph.tensors[size_t(node.inputs[0])];
  const GraphTensor& b = graph.tensors[size_t(node.inputs[1])];
  if (a.dtype != DType::dtype_f32 || !b.is_constant || !b.data || b.dtype != DType::dtype_f32)
    return nullptr;
  const GraphTensor* c = has_c ? &graph.tensors[size_t(node.inputs[2])] : nullptr;
  if (c && (!c->is_constant || !c->data || c->dtype != DType::dtype_f32)) return nullptr;
  AttributeReader reader("gemm", node.attributes);
  const bool trans_a = reader.get_int("trans_a", 0) != 0;
  const bool trans_b = reader.get_int("trans_b", 0) != 0;
  const double alpha = reader.get_float("alpha", 1.0);
  const double beta = reader.get_float("beta", 1.0);
  if (!reader.status().ok()) return nullptr;

  std::unique_ptr<FullyConnectedKernel> kernel(new FullyConnectedKernel());
  kernel->trans_a = trans_a;
  kernel->m = trans_a ? a.shape[1] : a.shape[0];
  kernel->k = trans_a ? a.shape[0] : a.shape[1];
  kernel->n = trans_b ? b.shape[0] : b.shape[1];
  kernel->alpha = float(alpha);
  kernel->beta = float(beta);
  const int64_t n = kernel->n, k = kernel->k;
  const float* weights = static_cast<const float*>(b.data);
  kernel->rows.resize(size_t(n * k));
  if (trans_b)
    std::memcpy(kernel->rows.data(), weights, size_t(n * k) * sizeof(float));
  else
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < n; ++j) kernel->rows[size_t(j * k + i)] = weights[i * n + j];
  if (c) {
    // C broadcasts to [M, N] (the shape rule checked it): rank 0, [N], [1, N], [M, 1], [M, N].
    const Shape& shape = c->shape;
    const int64_t cm = shape.size() == 2 ? shape[0] : 1;
    const int64_t cn = shape.empty() ? 1 : shape.back();
    kernel->c_stride_m = cm == 1 ? 0 : cn;
    kernel->c_stride_n = cn == 1 ? 0 : 1;
    kernel->c.assign(static_cast<const float*>(c->data),
                     static_cast<const float*>(c->data) + cm * cn);
    kernel->has_c = true;
  }
  kernel->a_shape = a.shape;
  kernel->y_shape = graph.tensors[size_t(node.outputs[0])].shape;
  kernel->loops = &cpu_kernel_table(config.isa).misc;
  kernel->label = std::string("fully_connected_") + kernel->loops->name;
  return kernel;
}

}  // namespace atrous
