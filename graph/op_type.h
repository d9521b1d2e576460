// The op enum of the IR and the op names used in `.atrous` files and docs/OPS.md. What each op
// means (arity, shape rule, reference implementation) lives above, in ops/ops.h.
#pragma once

#include <cstdint>
#include <string>

namespace atrous {

enum class OpType : uint8_t {
  op_conv,
  op_batch_norm,
  op_relu,
  op_clip,
  op_hard_swish,
  op_hard_sigmoid,
  op_sigmoid,
  op_tanh,
  op_add,
  op_sub,
  op_mul,
  op_div,
  op_concat,
  op_reshape,
  op_flatten,
  op_transpose,
  op_pad,
  op_slice,
  op_depth_to_space,
  op_space_to_depth,
  op_global_average_pool,
  op_reduce_mean,
  op_average_pool,
  op_max_pool,
  op_softmax,
  op_argmax,
  op_resize,
  op_gemm,
  op_matmul,
  op_conv_transpose,
  op_count,  // number of ops, not an op
};

// The name in files and docs/OPS.md, e.g. "conv"; "unknown" for a value outside the enum.
const char* op_type_name(OpType type);
// False when `name` is not an op of docs/OPS.md.
bool op_type_from_name(const std::string& name, OpType* type);

}  // namespace atrous
