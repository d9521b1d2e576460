#include "ops/activation.h"

#include <cfloat>
#include <cstdint>
#include <limits>
#include <vector>

#include "ops/op_helpers.h"

namespace atrous {

namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

struct KindName {
  ActivationKind kind;
  const char* name;
};
constexpr KindName kKindNames[] = {
    {ActivationKind::activation_none, "none"},
    {ActivationKind::activation_relu, "relu"},
    {ActivationKind::activation_clip, "clip"},
    {ActivationKind::activation_hard_swish, "hard_swish"},
    {ActivationKind::activation_hard_sigmoid, "hard_sigmoid"},
    {ActivationKind::activation_sigmoid, "sigmoid"},
    {ActivationKind::activation_tanh, "tanh"},
};

// Attributes are stored as double; values beyond the float range become ±inf (a plain cast
// would be undefined behaviour).
float to_float(double value) {
  if (value > double(FLT_MAX)) return kInfinity;
  if (value < -double(FLT_MAX)) return -kInfinity;
  return float(value);
}

// Fills the params of clip / hard_sigmoid and checks them; `op` names the op in messages.
Status set_params(const char* op, ActivationKind kind, double p0, double p1,
                  Activation* activation) {
  activation->kind = kind;
  activation->param0 = to_float(p0);
  activation->param1 = to_float(p1);
  if (kind == ActivationKind::activation_clip) {
    if (std::isnan(activation->param0) || std::isnan(activation->param1))
      return op_error(op, "clip min and max must not be NaN");
  } else if (kind == ActivationKind::activation_hard_sigmoid) {
    if (!std::isfinite(activation->param0) || !std::isfinite(activation->param1))
      return op_error(op, "hard_sigmoid alpha and beta must be finite");
  }
  return Status::success();
}

}  // namespace

const char* activation_kind_name(ActivationKind kind) {
  for (const KindName& entry : kKindNames)
    if (entry.kind == kind) return entry.name;
  return "unknown";
}

Status activation_from_conv_attributes(const AttributeMap& attributes, Activation* activation) {
  AttributeReader reader("conv", attributes);
  std::string name = reader.get_string("activation", "none");
  std::vector<double> params = reader.get_floats("activation_params", {});
  ATROUS_RETURN_IF_ERROR(reader.status());
  const KindName* found = nullptr;
  for (const KindName& entry : kKindNames)
    if (name == entry.name) found = &entry;
  if (!found)
    return op_error("conv", "unknown activation '" + name +
                                "' (none, relu, clip, hard_swish, hard_sigmoid, sigmoid, tanh)");
  ActivationKind kind = found->kind;
  bool has_params =
      kind == ActivationKind::activation_clip || kind == ActivationKind::activation_hard_sigmoid;
  if (!has_params) {
    if (!params.empty())
      return op_error("conv", std::string("activation ") + found->name +
                                  " takes no activation_params, got " +
                                  std::to_string(params.size()));
    *activation = Activation();
    activation->kind = kind;
    return Status::success();
  }
  if (params.empty()) {
    // The defaults of the standalone op.
    if (kind == ActivationKind::activation_clip)
      params = {-double(kInfinity), double(kInfinity)};
    else
      params = {0.2, 0.5};
  }
  if (params.size() != 2)
    return op_error("conv", std::string("activation ") + found->name +
                                " needs 2 activation_params, got " + std::to_string(params.size()));
  return set_params("conv", kind, params[0], params[1], activation);
}

Status activation_from_op(OpType type, const AttributeMap& attributes, Activation* activation) {
  const char* op = op_type_name(type);
  AttributeReader reader(op, attributes);
  *activation = Activation();
  switch (type) {
    case OpType::op_relu:
      activation->kind = ActivationKind::activation_relu;
      return Status::success();
    case OpType::op_hard_swish:
      activation->kind = ActivationKind::activation_hard_swish;
      return Status::success();
    case OpType::op_sigmoid:
      activation->kind = ActivationKind::activation_sigmoid;
      return Status::success();
    case OpType::op_tanh:
      activation->kind = ActivationKind::activation_tanh;
      return Status::success();
    case OpType::op_clip: {
      double low = reader.get_float("min", -double(kInfinity));
      double high = reader.get_float("max", double(kInfinity));
      ATROUS_RETURN_IF_ERROR(reader.status());
      return set_params(op, ActivationKind::activation_clip, low, high, activation);
    }
    case OpType::op_hard_sigmoid: {
      double alpha = reader.get_float("alpha", 0.2);
      double beta = reader.get_float("beta", 0.5);
      ATROUS_RETURN_IF_ERROR(reader.status());
      return set_params(op, ActivationKind::activation_hard_sigmoid, alpha, beta, activation);
    }
    default:
      return op_error(op, "is not an activation op");
  }
}

void activation_apply_all(const Activation& activation, float* data, int64_t count) {
  if (activation.kind == ActivationKind::activation_none) return;
  // The kind is loop-invariant; the optimizer unswitches the loop.
  for (int64_t i = 0; i < count; ++i) data[i] = activation_apply(activation, data[i]);
}

}  // namespace atrous
