// The standalone activation ops (relu, clip, hard_swish, hard_sigmoid, sigmoid, tanh):
// element-wise over a float32 tensor of any shape, through the same activation_apply that the
// fused conv activation uses (ops/activation.h).
#include <cstdint>

#include "ops/activation.h"
#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

Status activation_op_infer(OpType type, const AttributeMap& attributes,
                           const std::vector<const TensorDesc*>& inputs,
                           std::vector<TensorDesc>* outputs) {
  Activation activation;
  ATROUS_RETURN_IF_ERROR(activation_from_op(type, attributes, &activation));
  ATROUS_RETURN_IF_ERROR(check_dtype(op_type_name(type), "input X", *inputs[0], DType::dtype_f32));
  outputs->push_back(*inputs[0]);
  return Status::success();
}

Status activation_op_reference(OpType type, const AttributeMap& attributes,
                               const std::vector<const TensorView*>& inputs,
                               const std::vector<TensorView*>& outputs) {
  Activation activation;
  ATROUS_RETURN_IF_ERROR(activation_from_op(type, attributes, &activation));
  const float* x = inputs[0]->f32();
  float* y = outputs[0]->f32();
  const int64_t count = inputs[0]->numel();
  for (int64_t i = 0; i < count; ++i) y[i] = x[i];
  activation_apply_all(activation, y, count);
  return Status::success();
}

}  // namespace

#define ATROUS_DEFINE_ACTIVATION_OP(NAME)                                           \
  Status NAME##_infer(const AttributeMap& attributes,                               \
                      const std::vector<const TensorDesc*>& inputs,                 \
                      std::vector<TensorDesc>* outputs) {                           \
    return activation_op_infer(OpType::op_##NAME, attributes, inputs, outputs);     \
  }                                                                                 \
  Status NAME##_reference(const AttributeMap& attributes,                           \
                          const std::vector<const TensorView*>& inputs,             \
                          const std::vector<TensorView*>& outputs) {                \
    return activation_op_reference(OpType::op_##NAME, attributes, inputs, outputs); \
  }

ATROUS_DEFINE_ACTIVATION_OP(relu)
ATROUS_DEFINE_ACTIVATION_OP(clip)
ATROUS_DEFINE_ACTIVATION_OP(hard_swish)
ATROUS_DEFINE_ACTIVATION_OP(hard_sigmoid)
ATROUS_DEFINE_ACTIVATION_OP(sigmoid)
ATROUS_DEFINE_ACTIVATION_OP(tanh)

#undef ATROUS_DEFINE_ACTIVATION_OP

}  // namespace atrous
