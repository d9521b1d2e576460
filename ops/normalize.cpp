// normalize: y = (x − mean) / sqrt(var + epsilon), with mean and the population variance taken
// over all axes from `axis` to the end, separately for each index of the leading axes. It is the
// shared core of ONNX LayerNormalization, InstanceNormalization and GroupNormalization: the
// converter adds their per-channel scale and bias as `mul` and `add` (docs/OPS.md).
//
// Mean and variance are computed in double in two passes (no cancellation from E[x²] − E[x]²)
// and each output is rounded to float once.
#include <cmath>
#include <cstdint>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

struct NormalizePlan {
  int64_t groups = 1;  // product of the leading dims
  int64_t size = 1;    // elements normalized together
  double epsilon = 1e-5;
};

Status normalize_resolve(const AttributeMap& attributes, const TensorDesc& x, NormalizePlan* plan) {
  const char* op = "normalize";
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", x, DType::dtype_f32));
  if (x.shape.empty()) return op_error(op, "input X must have rank >= 1");
  AttributeReader reader(op, attributes);
  const int64_t raw_axis = reader.require_int("axis");
  plan->epsilon = reader.get_float("epsilon", 1e-5);
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (!std::isfinite(plan->epsilon) || plan->epsilon < 0)
    return op_error(op, "epsilon must be finite and >= 0");
  int64_t axis = 0;
  ATROUS_RETURN_IF_ERROR(
      normalize_axis(op, "axis", raw_axis, int64_t(x.shape.size()), false, &axis));
  plan->groups = 1;
  plan->size = 1;
  for (size_t d = 0; d < x.shape.size(); ++d)
    (int64_t(d) < axis ? plan->groups : plan->size) *= x.shape[d];
  return Status::success();
}

}  // namespace

Status normalize_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                       std::vector<TensorDesc>* outputs) {
  NormalizePlan plan;
  ATROUS_RETURN_IF_ERROR(normalize_resolve(attributes, *inputs[0], &plan));
  outputs->push_back(*inputs[0]);
  return Status::success();
}

Status normalize_reference(const AttributeMap& attributes,
                           const std::vector<const TensorView*>& inputs,
                           const std::vector<TensorView*>& outputs) {
  NormalizePlan plan;
  ATROUS_RETURN_IF_ERROR(
      normalize_resolve(attributes, TensorDesc{inputs[0]->dtype, inputs[0]->shape}, &plan));
  for (int64_t g = 0; g < plan.groups; ++g) {
    const float* x = inputs[0]->f32() + g * plan.size;
    float* y = outputs[0]->f32() + g * plan.size;
    double sum = 0.0;
    for (int64_t i = 0; i < plan.size; ++i) sum += double(x[i]);
    const double mean = sum / double(plan.size);
    double squares = 0.0;
    for (int64_t i = 0; i < plan.size; ++i)
      squares += (double(x[i]) - mean) * (double(x[i]) - mean);
    const double scale = 1.0 / std::sqrt(squares / double(plan.size) + plan.epsilon);
    for (int64_t i = 0; i < plan.size; ++i) y[i] = float((double(x[i]) - mean) * scale);
  }
  return Status::success();
}

}  // namespace atrous
