// The table of all ops (in OpType order) and the checked entry points of ops/ops.h.
#include <cstdint>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"
#include "ops/ops.h"

namespace atrous {

namespace {

#define ATROUS_OP(NAME, MIN, MAX) \
  { OpType::op_##NAME, MIN, MAX, 1, NAME##_infer, NAME##_reference, nullptr }
#define ATROUS_OP_COUNTED(NAME, MIN, MAX) \
  { OpType::op_##NAME, MIN, MAX, 1, NAME##_infer, NAME##_reference, NAME##_multiply_adds }

constexpr OpDefinition kDefinitions[] = {
    ATROUS_OP_COUNTED(conv, 2, 3),
    ATROUS_OP(batch_norm, 5, 5),
    ATROUS_OP(relu, 1, 1),
    ATROUS_OP(clip, 1, 1),
    ATROUS_OP(hard_swish, 1, 1),
    ATROUS_OP(hard_sigmoid, 1, 1),
    ATROUS_OP(sigmoid, 1, 1),
    ATROUS_OP(tanh, 1, 1),
    ATROUS_OP(add, 2, 2),
    ATROUS_OP(sub, 2, 2),
    ATROUS_OP(mul, 2, 2),
    ATROUS_OP(div, 2, 2),
    ATROUS_OP(concat, 1, -1),
    ATROUS_OP(reshape, 1, 1),
    ATROUS_OP(flatten, 1, 1),
    ATROUS_OP(transpose, 1, 1),
    ATROUS_OP(pad, 1, 1),
    ATROUS_OP(slice, 1, 1),
    ATROUS_OP(depth_to_space, 1, 1),
    ATROUS_OP(space_to_depth, 1, 1),
    ATROUS_OP(global_average_pool, 1, 1),
    ATROUS_OP(reduce_mean, 1, 1),
    ATROUS_OP(average_pool, 1, 1),
    ATROUS_OP(max_pool, 1, 1),
    ATROUS_OP(softmax, 1, 1),
    ATROUS_OP(argmax, 1, 1),
    ATROUS_OP(resize, 1, 1),
    ATROUS_OP_COUNTED(gemm, 2, 3),
    ATROUS_OP_COUNTED(matmul, 2, 2),
    ATROUS_OP_COUNTED(conv_transpose, 2, 3),
    ATROUS_OP(leaky_relu, 1, 1),
    ATROUS_OP(elu, 1, 1),
    ATROUS_OP(selu, 1, 1),
    ATROUS_OP(gelu, 1, 1),
    ATROUS_OP(erf, 1, 1),
    ATROUS_OP(sqrt, 1, 1),
    ATROUS_OP(exp, 1, 1),
    ATROUS_OP(log, 1, 1),
    ATROUS_OP(abs, 1, 1),
    ATROUS_OP(neg, 1, 1),
    ATROUS_OP(reciprocal, 1, 1),
    ATROUS_OP(pow, 2, 2),
    ATROUS_OP(min, 2, 2),
    ATROUS_OP(max, 2, 2),
    ATROUS_OP(prelu, 2, 2),
    ATROUS_OP(expand, 1, 1),
    ATROUS_OP(reduce_max, 1, 1),
    ATROUS_OP(reduce_min, 1, 1),
    ATROUS_OP(reduce_sum, 1, 1),
    ATROUS_OP(reduce_prod, 1, 1),
    ATROUS_OP(reduce_l2, 1, 1),
    ATROUS_OP(normalize, 1, 1),
    ATROUS_OP(equal, 2, 2),
    ATROUS_OP(less, 2, 2),
    ATROUS_OP(greater, 2, 2),
    ATROUS_OP(where, 3, 3),
    ATROUS_OP(cast, 1, 1),
    ATROUS_OP(softplus, 1, 1),
    ATROUS_OP(softsign, 1, 1),
    ATROUS_OP(mish, 1, 1),
    ATROUS_OP(celu, 1, 1),
    ATROUS_OP(thresholded_relu, 1, 1),
    ATROUS_OP(less_or_equal, 2, 2),
    ATROUS_OP(greater_or_equal, 2, 2),
    ATROUS_OP(logical_not, 1, 1),
    ATROUS_OP(logical_and, 2, 2),
    ATROUS_OP(logical_or, 2, 2),
    ATROUS_OP(logical_xor, 2, 2),
};

#undef ATROUS_OP
#undef ATROUS_OP_COUNTED

static_assert(sizeof(kDefinitions) / sizeof(kDefinitions[0]) == size_t(OpType::op_count),
              "one definition per OpType");

constexpr bool table_is_in_enum_order() {
  for (size_t i = 0; i < size_t(OpType::op_count); ++i)
    if (size_t(kDefinitions[i].type) != i) return false;
  return true;
}
static_assert(table_is_in_enum_order(), "kDefinitions must follow the OpType order");

// Returned for a value outside the enum (a corrupted OpType): every entry point rejects it.
constexpr OpDefinition kUnknown = {OpType::op_count, 0, 0, 0, nullptr, nullptr, nullptr};

// Arity: the count within [min, max] and the required inputs present. Optional inputs (index
// >= min_inputs) may be absent (nullptr).
template <typename T>
Status check_arity(const OpDefinition& definition, const std::vector<const T*>& inputs) {
  if (!definition.infer) return Status::error("unknown op type");
  int64_t count = int64_t(inputs.size());
  if (count < definition.min_inputs ||
      (definition.max_inputs >= 0 && count > definition.max_inputs)) {
    std::string expected = std::to_string(definition.min_inputs);
    if (definition.max_inputs != definition.min_inputs)
      expected +=
          definition.max_inputs < 0 ? " or more" : " to " + std::to_string(definition.max_inputs);
    return op_error(op_type_name(definition.type),
                    "expects " + expected + " inputs, got " + std::to_string(count));
  }
  size_t required = definition.max_inputs < 0 ? inputs.size() : size_t(definition.min_inputs);
  for (size_t i = 0; i < required; ++i)
    if (!inputs[i])
      return op_error(op_type_name(definition.type), "input " + std::to_string(i) + " is absent");
  return Status::success();
}

Status check_input_desc(const char* op, size_t index, const TensorDesc& desc) {
  int64_t count = 0;
  if (!dtype_is_valid(uint8_t(desc.dtype)))
    return op_error(op, "input " + std::to_string(index) + " has an invalid dtype");
  if (desc.shape.size() > size_t(kMaxRank) || !shape_element_count(desc.shape, &count))
    return op_error(op, "input " + std::to_string(index) + " has an invalid shape " +
                            shape_to_string(desc.shape));
  return Status::success();
}

}  // namespace

const OpDefinition& op_definition(OpType type) {
  if (size_t(type) >= size_t(OpType::op_count)) return kUnknown;
  return kDefinitions[size_t(type)];
}

Status op_infer(OpType type, const AttributeMap& attributes,
                const std::vector<const TensorDesc*>& inputs, std::vector<TensorDesc>* outputs) {
  const OpDefinition& definition = op_definition(type);
  ATROUS_RETURN_IF_ERROR(check_arity(definition, inputs));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i])
      ATROUS_RETURN_IF_ERROR(check_input_desc(op_type_name(definition.type), i, *inputs[i]));
  outputs->clear();
  ATROUS_RETURN_IF_ERROR(definition.infer(attributes, inputs, outputs));
  if (outputs->size() != size_t(definition.num_outputs))
    return op_error(op_type_name(definition.type), "shape rule produced a wrong number of outputs");
  for (const TensorDesc& output : *outputs)
    ATROUS_RETURN_IF_ERROR(check_output_shape(op_type_name(definition.type), output.shape));
  return Status::success();
}

Status op_run_reference(OpType type, const AttributeMap& attributes,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  const OpDefinition& definition = op_definition(type);
  ATROUS_RETURN_IF_ERROR(check_arity(definition, inputs));
  // Re-run the shape rule on the views: the reference code may then rely on every attribute
  // and shape being valid and on the outputs having exactly the inferred descs.
  ViewDescs input_descs(inputs);
  std::vector<TensorDesc> expected;
  ATROUS_RETURN_IF_ERROR(op_infer(type, attributes, input_descs.pointers(), &expected));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i] && !inputs[i]->data && inputs[i]->numel() > 0)
      return op_error(op_type_name(definition.type), "input " + std::to_string(i) + " has no data");
  if (outputs.size() != expected.size())
    return op_error(op_type_name(definition.type), "expects " + std::to_string(expected.size()) +
                                                       " outputs, got " +
                                                       std::to_string(outputs.size()));
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorView* output = outputs[i];
    if (!output || output->dtype != expected[i].dtype || output->shape != expected[i].shape)
      return op_error(op_type_name(definition.type), "output " + std::to_string(i) + " must be " +
                                                         dtype_name(expected[i].dtype) + " " +
                                                         shape_to_string(expected[i].shape));
    if (!output->data && output->numel() > 0)
      return op_error(op_type_name(definition.type),
                      "output " + std::to_string(i) + " has no data");
  }
  // Nothing to write: the implementations may then assume a non-empty output, and an empty
  // tensor with huge other dims never sizes a per-axis table or an outer loop.
  bool all_empty = true;
  for (const TensorView* output : outputs) all_empty &= output->numel() == 0;
  if (all_empty) return Status::success();
  return definition.run_reference(attributes, inputs, outputs);
}

int64_t op_multiply_adds(OpType type, const AttributeMap& attributes,
                         const std::vector<const TensorDesc*>& inputs,
                         const std::vector<TensorDesc>& outputs) {
  const OpDefinition& definition = op_definition(type);
  if (!definition.multiply_adds) return 0;
  if (!check_arity(definition, inputs).ok() || outputs.size() != size_t(definition.num_outputs))
    return 0;
  return definition.multiply_adds(attributes, inputs, outputs);
}

}  // namespace atrous
