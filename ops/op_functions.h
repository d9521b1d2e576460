// The per-op entry points that the registry table (ops/registry.cpp) points to, internal to
// ops/. For an op `name`: name_infer (the shape rule, which validates everything) and
// name_reference (the scalar oracle) are defined in the file of its family:
//   conv.cpp            conv
//   batch_norm.cpp      batch_norm
//   activation_ops.cpp  relu, clip, hard_swish, hard_sigmoid, sigmoid, tanh
//   elementwise.cpp     add, sub, mul, div
//   shape_ops.cpp       concat, reshape, flatten, transpose
//   pad_slice.cpp       pad, slice
//   space_depth.cpp     depth_to_space, space_to_depth
//   pool.cpp            global_average_pool, average_pool, max_pool
//   reduce.cpp          reduce_mean, softmax, argmax
//   resize.cpp          resize
//   matmul.cpp          gemm, matmul
//   conv_transpose.cpp  conv_transpose
//   unary_math.cpp      leaky_relu, elu, selu, gelu, erf, sqrt, exp, log, abs, neg, reciprocal,
//                       softplus, softsign, mish, celu, thresholded_relu
//   elementwise.cpp     (also) pow, min, max, prelu
//   expand.cpp          expand
//   reduce.cpp          (also) reduce_max, reduce_min, reduce_sum, reduce_prod, reduce_l2
//   normalize.cpp       normalize
//   compare_where.cpp   equal, less, greater, less_or_equal, greater_or_equal, where, cast,
//                       logical_not, logical_and, logical_or, logical_xor
#pragma once

#include <cstdint>
#include <vector>

#include "ops/ops.h"

namespace atrous {

#define ATROUS_DECLARE_OP(NAME)                                         \
  Status NAME##_infer(const AttributeMap& attributes,                   \
                      const std::vector<const TensorDesc*>& inputs,     \
                      std::vector<TensorDesc>* outputs);                \
  Status NAME##_reference(const AttributeMap& attributes,               \
                          const std::vector<const TensorView*>& inputs, \
                          const std::vector<TensorView*>& outputs);

ATROUS_DECLARE_OP(conv)
ATROUS_DECLARE_OP(batch_norm)
ATROUS_DECLARE_OP(relu)
ATROUS_DECLARE_OP(clip)
ATROUS_DECLARE_OP(hard_swish)
ATROUS_DECLARE_OP(hard_sigmoid)
ATROUS_DECLARE_OP(sigmoid)
ATROUS_DECLARE_OP(tanh)
ATROUS_DECLARE_OP(add)
ATROUS_DECLARE_OP(sub)
ATROUS_DECLARE_OP(mul)
ATROUS_DECLARE_OP(div)
ATROUS_DECLARE_OP(concat)
ATROUS_DECLARE_OP(reshape)
ATROUS_DECLARE_OP(flatten)
ATROUS_DECLARE_OP(transpose)
ATROUS_DECLARE_OP(pad)
ATROUS_DECLARE_OP(slice)
ATROUS_DECLARE_OP(depth_to_space)
ATROUS_DECLARE_OP(space_to_depth)
ATROUS_DECLARE_OP(global_average_pool)
ATROUS_DECLARE_OP(reduce_mean)
ATROUS_DECLARE_OP(average_pool)
ATROUS_DECLARE_OP(max_pool)
ATROUS_DECLARE_OP(softmax)
ATROUS_DECLARE_OP(argmax)
ATROUS_DECLARE_OP(resize)
ATROUS_DECLARE_OP(gemm)
ATROUS_DECLARE_OP(matmul)
ATROUS_DECLARE_OP(conv_transpose)
ATROUS_DECLARE_OP(leaky_relu)
ATROUS_DECLARE_OP(elu)
ATROUS_DECLARE_OP(selu)
ATROUS_DECLARE_OP(gelu)
ATROUS_DECLARE_OP(erf)
ATROUS_DECLARE_OP(sqrt)
ATROUS_DECLARE_OP(exp)
ATROUS_DECLARE_OP(log)
ATROUS_DECLARE_OP(abs)
ATROUS_DECLARE_OP(neg)
ATROUS_DECLARE_OP(reciprocal)
ATROUS_DECLARE_OP(pow)
ATROUS_DECLARE_OP(min)
ATROUS_DECLARE_OP(max)
ATROUS_DECLARE_OP(prelu)
ATROUS_DECLARE_OP(expand)
ATROUS_DECLARE_OP(reduce_max)
ATROUS_DECLARE_OP(reduce_min)
ATROUS_DECLARE_OP(reduce_sum)
ATROUS_DECLARE_OP(reduce_prod)
ATROUS_DECLARE_OP(reduce_l2)
ATROUS_DECLARE_OP(normalize)
ATROUS_DECLARE_OP(equal)
ATROUS_DECLARE_OP(less)
ATROUS_DECLARE_OP(greater)
ATROUS_DECLARE_OP(where)
ATROUS_DECLARE_OP(cast)
ATROUS_DECLARE_OP(softplus)
ATROUS_DECLARE_OP(softsign)
ATROUS_DECLARE_OP(mish)
ATROUS_DECLARE_OP(celu)
ATROUS_DECLARE_OP(thresholded_relu)
ATROUS_DECLARE_OP(less_or_equal)
ATROUS_DECLARE_OP(greater_or_equal)
ATROUS_DECLARE_OP(logical_not)
ATROUS_DECLARE_OP(logical_and)
ATROUS_DECLARE_OP(logical_or)
ATROUS_DECLARE_OP(logical_xor)

#undef ATROUS_DECLARE_OP

int64_t conv_multiply_adds(const AttributeMap& attributes,
                           const std::vector<const TensorDesc*>& inputs,
                           const std::vector<TensorDesc>& outputs);
int64_t gemm_multiply_adds(const AttributeMap& attributes,
                           const std::vector<const TensorDesc*>& inputs,
                           const std::vector<TensorDesc>& outputs);
int64_t matmul_multiply_adds(const AttributeMap& attributes,
                             const std::vector<const TensorDesc*>& inputs,
                             const std::vector<TensorDesc>& outputs);
int64_t conv_transpose_multiply_adds(const AttributeMap& attributes,
                                     const std::vector<const TensorDesc*>& inputs,
                                     const std::vector<TensorDesc>& outputs);

}  // namespace atrous
