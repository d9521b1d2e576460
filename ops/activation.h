// The one definition of the activations of docs/OPS.md. The standalone ops (relu, clip, ...)
// and the fused `activation` attribute of `conv` both go through activation_apply, so a conv
// with a fused activation is bitwise identical to the conv followed by the standalone op.
// Everything is computed in float, in the order the formulas of docs/OPS.md are written.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "graph/attributes.h"
#include "graph/status.h"
#include "ops/ops.h"

namespace atrous {

enum class ActivationKind {
  activation_none,
  activation_relu,
  activation_clip,  // param0 = min, param1 = max
  activation_hard_swish,
  activation_hard_sigmoid,  // param0 = alpha, param1 = beta
  activation_sigmoid,
  activation_tanh,
};

struct Activation {
  ActivationKind kind = ActivationKind::activation_none;
  float param0 = 0.0f;
  float param1 = 0.0f;
};

// Names as in the conv `activation` attribute: "none", "relu", "clip", ...
const char* activation_kind_name(ActivationKind kind);

// Reads `activation` (s, "none") and `activation_params` (fs): for clip [min, max] and for
// hard_sigmoid [alpha, beta]; an empty list means the standalone op's defaults; other
// activations take no params.
Status activation_from_conv_attributes(const AttributeMap& attributes, Activation* activation);

// The activation computed by a standalone activation op (relu, clip, hard_swish, hard_sigmoid,
// sigmoid, tanh) with its attributes; an error for other ops or bad attributes.
Status activation_from_op(OpType type, const AttributeMap& attributes, Activation* activation);

inline float activation_apply(const Activation& activation, float x) {
  switch (activation.kind) {
    case ActivationKind::activation_none:
      return x;
    case ActivationKind::activation_relu:
      return std::max(x, 0.0f);
    case ActivationKind::activation_clip:
      return std::min(std::max(x, activation.param0), activation.param1);
    case ActivationKind::activation_hard_swish:
      return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case ActivationKind::activation_hard_sigmoid: {
      // Two statements, so a compiler that contracts a·x + b within one expression (clang's
      // default on FMA targets) cannot fuse it in one caller and not in another; that would
      // break the fused == standalone guarantee.
      float scaled = activation.param0 * x;
      float shifted = scaled + activation.param1;
      return std::max(0.0f, std::min(1.0f, shifted));
    }
    case ActivationKind::activation_sigmoid:
      return 1.0f / (1.0f + std::exp(-x));
    case ActivationKind::activation_tanh:
      return std::tanh(x);
  }
  return x;
}

// Applies `activation` to `count` floats in place (kind dispatched once, not per element).
void activation_apply_all(const Activation& activation, float* data, int64_t count);

}  // namespace atrous
