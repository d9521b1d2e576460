// The op enum of the IR and the op names used in `.atrous` files and docs/OPS.md. What each op
// means (arity, shape rule, reference implementation) lives above, in ops/ops.h.
#pragma once

#include <cstdint>
#include <string>

// Every op of the IR, one line each: the line gives both the enum value `op_NAME` and the name
// "NAME" that `.atrous` files store and docs/OPS.md lists (files store names, so the order here
// is free; ops/registry.cpp lists the definitions in the same order).
#define ATROUS_OP_LIST(X) \
  X(conv)                 \
  X(batch_norm)           \
  X(relu)                 \
  X(clip)                 \
  X(hard_swish)           \
  X(hard_sigmoid)         \
  X(sigmoid)              \
  X(tanh)                 \
  X(add)                  \
  X(sub)                  \
  X(mul)                  \
  X(div)                  \
  X(concat)               \
  X(reshape)              \
  X(flatten)              \
  X(transpose)            \
  X(pad)                  \
  X(slice)                \
  X(depth_to_space)       \
  X(space_to_depth)       \
  X(global_average_pool)  \
  X(reduce_mean)          \
  X(average_pool)         \
  X(max_pool)             \
  X(softmax)              \
  X(argmax)               \
  X(resize)               \
  X(gemm)                 \
  X(matmul)               \
  X(conv_transpose)       \
  X(leaky_relu)           \
  X(elu)                  \
  X(selu)                 \
  X(gelu)                 \
  X(erf)                  \
  X(sqrt)                 \
  X(exp)                  \
  X(log)                  \
  X(abs)                  \
  X(neg)                  \
  X(reciprocal)           \
  X(pow)                  \
  X(min)                  \
  X(max)                  \
  X(prelu)                \
  X(expand)               \
  X(reduce_max)           \
  X(reduce_min)           \
  X(reduce_sum)           \
  X(reduce_prod)          \
  X(reduce_l2)            \
  X(normalize)            \
  X(equal)                \
  X(less)                 \
  X(greater)              \
  X(where)                \
  X(cast)                 \
  X(softplus)             \
  X(softsign)             \
  X(mish)                 \
  X(celu)                 \
  X(thresholded_relu)     \
  X(less_or_equal)        \
  X(greater_or_equal)     \
  X(logical_not)          \
  X(logical_and)          \
  X(logical_or)           \
  X(logical_xor)

namespace atrous {

enum class OpType : uint8_t {
#define ATROUS_OP_ENUM(name) op_##name,
  ATROUS_OP_LIST(ATROUS_OP_ENUM)
#undef ATROUS_OP_ENUM
      op_count,  // number of ops, not an op
};

// The name in files and docs/OPS.md, e.g. "conv"; "unknown" for a value outside the enum.
const char* op_type_name(OpType type);
// False when `name` is not an op of docs/OPS.md.
bool op_type_from_name(const std::string& name, OpType* type);

}  // namespace atrous
