#include "graph/op_type.h"

#include <cstddef>

namespace atrous {
namespace {

// In OpType order.
constexpr const char* kOpNames[] = {
    "conv",
    "batch_norm",
    "relu",
    "clip",
    "hard_swish",
    "hard_sigmoid",
    "sigmoid",
    "tanh",
    "add",
    "sub",
    "mul",
    "div",
    "concat",
    "reshape",
    "flatten",
    "transpose",
    "pad",
    "slice",
    "depth_to_space",
    "space_to_depth",
    "global_average_pool",
    "reduce_mean",
    "average_pool",
    "max_pool",
    "softmax",
    "argmax",
    "resize",
    "gemm",
    "matmul",
    "conv_transpose",
};

static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == size_t(OpType::op_count),
              "one name per OpType");

}  // namespace

const char* op_type_name(OpType type) {
  if (size_t(type) >= size_t(OpType::op_count)) return "unknown";
  return kOpNames[size_t(type)];
}

bool op_type_from_name(const std::string& name, OpType* type) {
  for (size_t i = 0; i < size_t(OpType::op_count); ++i) {
    if (name == kOpNames[i]) {
      *type = OpType(i);
      return true;
    }
  }
  return false;
}

}  // namespace atrous
