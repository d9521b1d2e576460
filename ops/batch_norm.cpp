// batch_norm (inference form): y = (x − mean) / sqrt(var + epsilon) · scale + bias per channel
// of an [N, C, ...] tensor, evaluated in double and rounded once to float.
#include <cmath>
#include <cstdint>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

constexpr const char* kOp = "batch_norm";

Status batch_norm_resolve(const AttributeMap& attributes,
                          const std::vector<const TensorDesc*>& inputs, double* epsilon) {
  static const char* const kNames[5] = {"input X", "scale", "bias", "mean", "var"};
  const TensorDesc& x = *inputs[0];
  for (size_t i = 0; i < 5; ++i)
    ATROUS_RETURN_IF_ERROR(check_dtype(kOp, kNames[i], *inputs[i], DType::dtype_f32));
  if (x.shape.size() < 2)
    return op_error(
        kOp, "input X must have rank >= 2 ([N, C, ...]), got shape " + shape_to_string(x.shape));
  for (size_t i = 1; i < 5; ++i)
    if (inputs[i]->shape != Shape{x.shape[1]})
      return op_error(kOp, std::string(kNames[i]) + " must have shape [" +
                               std::to_string(x.shape[1]) + "], got " +
                               shape_to_string(inputs[i]->shape));
  AttributeReader reader(kOp, attributes);
  *epsilon = reader.get_float("epsilon", 1e-5);
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (!(*epsilon >= 0.0) || !std::isfinite(*epsilon))
    return op_error(kOp, "epsilon must be finite and >= 0");
  return Status::success();
}

}  // namespace

Status batch_norm_infer(const AttributeMap& attributes,
                        const std::vector<const TensorDesc*>& inputs,
                        std::vector<TensorDesc>* outputs) {
  double epsilon = 0.0;
  ATROUS_RETURN_IF_ERROR(batch_norm_resolve(attributes, inputs, &epsilon));
  outputs->push_back(*inputs[0]);
  return Status::success();
}

Status batch_norm_reference(const AttributeMap& attributes,
                            const std::vector<const TensorView*>& inputs,
                            const std::vector<TensorView*>& outputs) {
  ViewDescs descs(inputs);
  double epsilon = 0.0;
  ATROUS_RETURN_IF_ERROR(batch_norm_resolve(attributes, descs.pointers(), &epsilon));
  const Shape& shape = inputs[0]->shape;
  const int64_t channels = shape[1];
  int64_t inner = 1;
  for (size_t i = 2; i < shape.size(); ++i) inner *= shape[i];
  const float* x = inputs[0]->f32();
  const float* scale = inputs[1]->f32();
  const float* bias = inputs[2]->f32();
  const float* mean = inputs[3]->f32();
  const float* var = inputs[4]->f32();
  float* y = outputs[0]->f32();
  for (int64_t n = 0; n < shape[0]; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      const double deviation = std::sqrt(double(var[c]) + epsilon);
      const int64_t base = (n * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        double normalized = (double(x[base + i]) - double(mean[c])) / deviation;
        y[base + i] = float(normalized * double(scale[c]) + double(bias[c]));
      }
    }
  }
  return Status::success();
}

}  // namespace atrous
