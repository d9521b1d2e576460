// The operator registry: for each op of docs/OPS.md, its name, arity, shape rule, multiply-add
// count and scalar reference implementation (the oracle every optimized kernel is tested against).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/attributes.h"
#include "graph/op_type.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

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
  OpType type;  // its name: op_type_name(type)
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
