// Element-wise float32 math ops without a fused-activation form: leaky_relu, elu, selu, gelu,
// erf, sqrt, exp, log, abs, neg, reciprocal, softplus, softsign, mish, celu, thresholded_relu
// (docs/OPS.md "Element-wise unary").
//
// Each output element is the double-precision value of the formula rounded to float once, so the
// oracle is at least as exact as a float implementation (ONNX Runtime's vectorized exp/erf differ
// from it by a few ulps). abs and neg are exact sign operations; sqrt and reciprocal of a float
// computed in double and rounded once equal the correctly rounded float results.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

struct UnaryParams {
  double alpha = 0.0;
  double gamma = 0.0;
  bool tanh_approximation = false;
};

// ONNX's Selu defaults (the values of Klambauer et al. rounded to float).
constexpr double kSeluAlpha = 1.67326319217681884765625;
constexpr double kSeluGamma = 1.05070102214813232421875;

Status check_finite(const char* op, const char* name, double value) {
  if (!std::isfinite(value)) return op_error(op, std::string(name) + " must be finite");
  return Status::success();
}

Status unary_resolve(OpType type, const AttributeMap& attributes, const TensorDesc& x,
                     UnaryParams* params) {
  const char* op = op_type_name(type);
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", x, DType::dtype_f32));
  AttributeReader reader(op, attributes);
  switch (type) {
    case OpType::op_leaky_relu:
      params->alpha = reader.get_float("alpha", 0.01);
      break;
    case OpType::op_elu:
      params->alpha = reader.get_float("alpha", 1.0);
      break;
    case OpType::op_selu:
      params->alpha = reader.get_float("alpha", kSeluAlpha);
      params->gamma = reader.get_float("gamma", kSeluGamma);
      break;
    case OpType::op_celu:
      params->alpha = reader.get_float("alpha", 1.0);
      ATROUS_RETURN_IF_ERROR(reader.status());
      if (params->alpha == 0.0) return op_error(op, "alpha must not be 0");
      break;
    case OpType::op_thresholded_relu:
      params->alpha = reader.get_float("alpha", 1.0);
      break;
    case OpType::op_gelu: {
      std::string approximate = reader.get_string("approximate", "none");
      ATROUS_RETURN_IF_ERROR(reader.status());
      if (approximate != "none" && approximate != "tanh")
        return op_error(op, "approximate must be 'none' or 'tanh', got '" + approximate + "'");
      params->tanh_approximation = approximate == "tanh";
      break;
    }
    default:
      break;
  }
  ATROUS_RETURN_IF_ERROR(reader.status());
  ATROUS_RETURN_IF_ERROR(check_finite(op, "alpha", params->alpha));
  return check_finite(op, "gamma", params->gamma);
}

// ln(1 + eˣ) without overflow for large x.
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

double unary_value(OpType type, const UnaryParams& params, double x) {
  switch (type) {
    case OpType::op_leaky_relu:
      return x < 0 ? params.alpha * x : x;
    case OpType::op_elu:
      return x < 0 ? params.alpha * std::expm1(x) : x;
    case OpType::op_selu:
      return x > 0 ? params.gamma * x : params.gamma * (params.alpha * std::exp(x) - params.alpha);
    case OpType::op_gelu:
      if (params.tanh_approximation) {
        const double k = std::sqrt(2.0 / 3.14159265358979323846);
        return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
      }
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case OpType::op_erf:
      return std::erf(x);
    case OpType::op_sqrt:
      return std::sqrt(x);
    case OpType::op_exp:
      return std::exp(x);
    case OpType::op_log:
      return std::log(x);
    case OpType::op_abs:
      return std::fabs(x);
    case OpType::op_neg:
      return -x;
    case OpType::op_reciprocal:
      return 1.0 / x;
    case OpType::op_softplus:
      return softplus(x);
    case OpType::op_softsign:
      return x / (1.0 + std::fabs(x));
    case OpType::op_mish:
      return x * std::tanh(softplus(x));
    case OpType::op_celu:
      return std::max(0.0, x) + std::min(0.0, params.alpha * std::expm1(x / params.alpha));
    case OpType::op_thresholded_relu:
      return x > params.alpha ? x : 0.0;
    default:
      return x;
  }
}

Status unary_infer(OpType type, const AttributeMap& attributes,
                   const std::vector<const TensorDesc*>& inputs, std::vector<TensorDesc>* outputs) {
  UnaryParams params;
  ATROUS_RETURN_IF_ERROR(unary_resolve(type, attributes, *inputs[0], &params));
  outputs->push_back(*inputs[0]);
  return Status::success();
}

Status unary_reference(OpType type, const AttributeMap& attributes,
                       const std::vector<const TensorView*>& inputs,
                       const std::vector<TensorView*>& outputs) {
  UnaryParams params;
  ATROUS_RETURN_IF_ERROR(
      unary_resolve(type, attributes, TensorDesc{inputs[0]->dtype, inputs[0]->shape}, &params));
  const float* x = inputs[0]->f32();
  float* y = outputs[0]->f32();
  const int64_t count = inputs[0]->numel();
  for (int64_t i = 0; i < count; ++i) y[i] = float(unary_value(type, params, double(x[i])));
  return Status::success();
}

}  // namespace

#define ATROUS_DEFINE_UNARY_OP(NAME)                                        \
  Status NAME##_infer(const AttributeMap& attributes,                       \
                      const std::vector<const TensorDesc*>& inputs,         \
                      std::vector<TensorDesc>* outputs) {                   \
    return unary_infer(OpType::op_##NAME, attributes, inputs, outputs);     \
  }                                                                         \
  Status NAME##_reference(const AttributeMap& attributes,                   \
                          const std::vector<const TensorView*>& inputs,     \
                          const std::vector<TensorView*>& outputs) {        \
    return unary_reference(OpType::op_##NAME, attributes, inputs, outputs); \
  }

ATROUS_DEFINE_UNARY_OP(leaky_relu)
ATROUS_DEFINE_UNARY_OP(elu)
ATROUS_DEFINE_UNARY_OP(selu)
ATROUS_DEFINE_UNARY_OP(gelu)
ATROUS_DEFINE_UNARY_OP(erf)
ATROUS_DEFINE_UNARY_OP(sqrt)
ATROUS_DEFINE_UNARY_OP(exp)
ATROUS_DEFINE_UNARY_OP(log)
ATROUS_DEFINE_UNARY_OP(abs)
ATROUS_DEFINE_UNARY_OP(neg)
ATROUS_DEFINE_UNARY_OP(reciprocal)
ATROUS_DEFINE_UNARY_OP(softplus)
ATROUS_DEFINE_UNARY_OP(softsign)
ATROUS_DEFINE_UNARY_OP(mish)
ATROUS_DEFINE_UNARY_OP(celu)
ATROUS_DEFINE_UNARY_OP(thresholded_relu)

#undef ATROUS_DEFINE_UNARY_OP

}  // namespace atrous
