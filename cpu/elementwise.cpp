// Element-wise kernels: add/sub/mul/div on float32 and the standalone activations.
//
// Binary ops handle the broadcasts of these models: equal shapes; and one operand equal to the
// output against one that is constant along the output's trailing axes and repeats along its
// leading ones — a scalar or [1] ([] against anything), [N,C,1,1] (squeeze-excite scaling),
// [1,C,1,1] (per-channel), in either operand order. The output is then `outer` rows of `inner`
// contiguous floats, and the small operand's value for row o is element o mod `period`.
// Other broadcasts run on the reference.
//
// relu, clip, hard_swish run the vector loops of misc_kernels.h; hard_sigmoid, sigmoid and tanh
// run activation_apply_all per chunk, the reference's own loop, so all are bitwise equal to
// the reference (hard_sigmoid's a·x + b must round as the reference's build rounds it, which
// only the same compiled code guarantees). Work is split into fixed chunks of the flat output;
// each element depends on its inputs only, so any split gives the same bits, and an output
// that is input 0 is read before it is written at each index (in place is safe).
#include <cstdint>
#include <cstring>
#include <string>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "cpu/node_check.h"
#include "ops/activation.h"

namespace atrous {

namespace {

constexpr int64_t kChunk = 16384;  // floats per parallel task

// How one operand of a binary op reads: the whole output shape, or one value per row.
struct OperandLayout {
  bool full = false;
  int64_t period = 1;
};

// Rows: the output seen as [outer, inner] where the operand is constant along `inner`
// (the trailing output axes where the operand has size 1) and equal to the output on the
// axes just before, size 1 before those. False for other broadcasts.
bool layout_rows(const Shape& operand, const Shape& output, OperandLayout* layout, int64_t* inner) {
  const size_t rank = output.size();
  Shape padded(rank - std::min(rank, operand.size()), 1);
  padded.insert(padded.end(), operand.begin(), operand.end());
  if (padded.size() != rank) return false;
  if (shape_numel(padded) == shape_numel(output)) {
    layout->full = true;
    *inner = 0;
    return true;
  }
  size_t split = rank;  // axes [split, rank) have operand size 1
  while (split > 0 && padded[split - 1] == 1) --split;
  size_t start = split;  // axes [start, split) equal the output
  while (start > 0 && padded[start - 1] == output[start - 1]) --start;
  for (size_t d = 0; d < start; ++d)
    if (padded[d] != 1) return false;
  layout->full = false;
  layout->period = 1;
  for (size_t d = start; d < split; ++d) layout->period *= output[d];
  *inner = 1;
  for (size_t d = split; d < rank; ++d) *inner *= output[d];
  return true;
}

class BinaryKernel : public CpuKernel {
 public:
  BinaryOp op = BinaryOp::binary_op_add;
  const MiscKernels* loops = nullptr;
  int64_t total = 0;
  // Broadcast form: one operand full, the other (index `small`) one value per row.
  bool broadcast = false;
  std::string label;  // binary[_broadcast_rows]_<the loops' name>
  int small = 1;
  int64_t inner = 1, period = 1;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    const float* a = inputs[0]->f32();
    const float* b = inputs[1]->f32();
    float* y = outputs[0]->f32();
    const int64_t chunks = (total + kChunk - 1) / kChunk;
    if (!broadcast) {
      pool.parallel_for(
          chunks,
          [&](int64_t begin, int64_t end) {
            const int64_t first = begin * kChunk, last = std::min(total, end * kChunk);
            loops->binary(op, a + first, b + first, y + first, last - first);
          },
          3 * total);
      return Status::success();
    }
    const float* full = small == 1 ? a : b;
    const float* values = small == 1 ? b : a;
    pool.parallel_for(
        chunks,
        [&](int64_t begin, int64_t end) {
          int64_t i = begin * kChunk;
          const int64_t last = std::min(total, end * kChunk);
          while (i < last) {
            const int64_t row = i / inner;
            const int64_t stop = std::min(last, (row + 1) * inner);
            loops->binary_scalar(op, full + i, values[row % period], small == 0, y + i, stop - i);
            i = stop;
          }
        },
        2 * total);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
  bool supports_in_place() const override { return true; }
};

class ActivationKernel : public CpuKernel {
 public:
  Activation activation;
  bool vector_loop = false;
  SimdActivation simd = SimdActivation::simd_activation_relu;
  const MiscKernels* loops = nullptr;
  int64_t total = 0;
  std::string label;  // the activation, with the loops' name when it has a vector loop

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    const float* x = inputs[0]->f32();
    float* y = outputs[0]->f32();
    const int64_t chunks = (total + kChunk - 1) / kChunk;
    pool.parallel_for(
        chunks,
        [&](int64_t begin, int64_t end) {
          const int64_t first = begin * kChunk, count = std::min(total, end * kChunk) - first;
          if (vector_loop) {
            loops->activation(simd, activation.param0, activation.param1, x + first, y + first,
                              count);
            return;
          }
          if (y != x) std::memcpy(y + first, x + first, size_t(count) * sizeof(float));
          activation_apply_all(activation, y + first, count);
        },
        2 * total);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
  bool supports_in_place() const override { return true; }
};

bool binary_op_of(OpType type, BinaryOp* op) {
  switch (type) {
    case OpType::op_add:
      *op = BinaryOp::binary_op_add;
      return true;
    case OpType::op_sub:
      *op = BinaryOp::binary_op_sub;
      return true;
    case OpType::op_mul:
      *op = BinaryOp::binary_op_mul;
      return true;
    case OpType::op_div:
      *op = BinaryOp::binary_op_div;
      return true;
    default:
      return false;
  }
}

}  // namespace

CpuKernelPtr cpu_make_elementwise_kernel(const Graph& graph, size_t index,
                                         const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  BinaryOp op = BinaryOp::binary_op_add;
  const bool binary = binary_op_of(node.op, &op);
  Activation activation;
  if (!binary && !activation_from_op(node.op, node.attributes, &activation).ok()) return nullptr;
  if (!cpu_node_shapes_check(graph, node)) return nullptr;
  const Shape& output = graph.tensors[size_t(node.outputs[0])].shape;
  const int64_t total = shape_numel(output);
  if (!binary) {
    std::unique_ptr<ActivationKernel> kernel(new ActivationKernel());
    kernel->activation = activation;
    kernel->loops = &cpu_kernel_table(config.isa).misc;
    kernel->total = total;
    kernel->vector_loop = true;
    switch (activation.kind) {
      case ActivationKind::activation_relu:
        kernel->simd = SimdActivation::simd_activation_relu;
        break;
      case ActivationKind::activation_clip:
        kernel->simd = SimdActivation::simd_activation_clip;
        break;
      case ActivationKind::activation_hard_swish:
        kernel->simd = SimdActivation::simd_activation_hard_swish;
        break;
      default:
        kernel->vector_loop = false;
    }
    kernel->label = activation_kind_name(activation.kind);
    if (kernel->vector_loop) kernel->label += std::string("_") + kernel->loops->name;
    return kernel;
  }
  std::unique_ptr<BinaryKernel> kernel(new BinaryKernel());
  kernel->op = op;
  kernel->loops = &cpu_kernel_table(config.isa).misc;
  kernel->total = total;
  kernel->label = std::string("binary_") + kernel->loops->name;
  if (output.empty()) return kernel;  // a scalar: both operands are full
  OperandLayout layouts[2];
  int64_t inners[2] = {0, 0};
  for (int i = 0; i < 2; ++i)
    if (!layout_rows(graph.tensors[size_t(node.inputs[size_t(i)])].shape, output, &layouts[i],
                     &inners[i]))
      return nullptr;
  if (layouts[0].full && layouts[1].full) return kernel;
  if (!layouts[0].full && !layouts[1].full) return nullptr;
  kernel->broadcast = true;
  kernel->label = std::string("binary_broadcast_rows_") + kernel->loops->name;
  kernel->small = layouts[0].full ? 1 : 0;
  kernel->inner = inners[kernel->small];
  kernel->period = layouts[kernel->small].period;
  if (kernel->inner < 1) return nullptr;
  return kernel;
}

}  // namespace atrous
