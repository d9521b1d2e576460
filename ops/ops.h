// The operator registry: for each op of docs/OPS.md, its name, arity, shape rule, multiply-add
// count and scalar reference implementation (the oracle every optimized kernel is tested against).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/attributes.h"
#include "graph/status.h"
#include "graph/tensor.h"

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

// Inputs are given as pointers; an absent optional input is nullptr.
using InferFunction = Status (*)(const AttributeMap& attributes,
                                 const std::vector<const TensorDesc*>& inputs,
                                 std::vector<TensorDesc>* outputs);
using ReferenceFunction = Status (*)(const AttributeMap& attributes,
                                     const std::vector<const TensorView*>& inputs,
                                     const std::vector<TensorView*>& outputs);
using MultiplyAddsFunction = int64_t (*)(const AttributeMap& attributes,
                                         const std::vector<const TensorDesc*>& inputs,
                                         const std::vector<TensorDesc>& outputs);

struct OpDefinition {
  OpType type;
  const char* name;  // the name in files and docs/OPS.md, e.g. "conv"
  int min_inputs;
  int max_inputs;  // -1: variadic (concat)
  int num_outputs;
  // Validates attribute types and values and input dtypes/shapes, and computes output descs.
  // Never asserts: every bad attribute or shape is an error (files are untrusted).
  InferFunction infer;
  // Computes outputs (already allocated by the caller with the inferred descs).
  ReferenceFunction run_reference;
  MultiplyAddsFunction multiply_adds;  // nullptr: the op counts 0
};

const OpDefinition& op_definition(OpType type);
const char* op_type_name(OpType type);
// False when `name` is not an op of docs/OPS.md.
bool op_type_from_name(const std::string& name, OpType* type);

// Convenience: infer output descs with arity checks (inputs.size() within [min,max], required
// inputs non-null) and then the op's own rule.
Status op_infer(OpType type, const AttributeMap& attributes,
                const std::vector<const TensorDesc*>& inputs, std::vector<TensorDesc>* outputs);
// Convenience: check arity, then run the reference implementation.
Status op_run_reference(OpType type, const AttributeMap& attributes,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs);
int64_t op_multiply_adds(OpType type, const AttributeMap& attributes,
                         const std::vector<const TensorDesc*>& inputs,
                         const std::vector<TensorDesc>& outputs);

}  // namespace atrous
