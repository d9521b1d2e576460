// reduce_mean, reduce_sum, reduce_prod, reduce_l2, reduce_max, reduce_min, softmax, argmax over
// float32 tensors of any rank.
//
// reduce_*: accumulate in double in input order and round once: reduce_mean divides the sum by
//   the number of reduced elements, reduce_l2 is the square root of the sum of squares;
//   reduce_max/min propagate NaN.
// softmax: numerically stable, y = exp(x − max) / Σ exp(x − max) along one axis, with the
//   exponentials and the sum in double.
// argmax: int32 indices; the first maximum wins ties; NaN counts as the maximum (NumPy).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

// The tensor seen as [outer, dim, inner] around one axis.
struct AxisSplit {
  int64_t outer = 1, dim = 1, inner = 1;
};

AxisSplit split_at(const Shape& shape, int64_t axis) {
  AxisSplit split;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (d < axis) split.outer *= shape[size_t(d)];
    if (d == axis) split.dim = shape[size_t(d)];
    if (d > axis) split.inner *= shape[size_t(d)];
  }
  return split;
}

// ---- reduce_mean -----------------------------------------------------------------------------

struct ReducePlan {
  std::vector<char> reduced;  // per input axis
  Shape kept;                 // the output with keepdims (reduced axes as 1)
  Shape output;
  int64_t count = 1;  // reduced elements per output element
};

Status reduce_resolve(const char* op, const AttributeMap& attributes, const TensorDesc& x,
                      ReducePlan* plan) {
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", x, DType::dtype_f32));
  const int64_t rank = int64_t(x.shape.size());
  AttributeReader reader(op, attributes);
  std::vector<int64_t> axes = reader.get_ints("axes", {});
  int64_t keepdims = reader.get_int("keepdims", 1);
  ATROUS_RETURN_IF_ERROR(reader.status());
  ATROUS_RETURN_IF_ERROR(check_flag(op, "keepdims", keepdims));
  plan->reduced.assign(size_t(rank), axes.empty() ? 1 : 0);  // empty: all axes (ONNX)
  for (int64_t raw : axes) {
    int64_t axis = 0;
    ATROUS_RETURN_IF_ERROR(normalize_axis(op, "axes entry", raw, rank, false, &axis));
    if (plan->reduced[size_t(axis)])
      return op_error(op, "axes " + ints_to_string(axes) + " repeat an axis");
    plan->reduced[size_t(axis)] = 1;
  }
  plan->kept = x.shape;
  plan->output.clear();
  plan->count = 1;
  for (size_t d = 0; d < size_t(rank); ++d) {
    if (plan->reduced[d]) {
      plan->count *= x.shape[d];
      plan->kept[d] = 1;
      if (keepdims) plan->output.push_back(1);
    } else {
      plan->output.push_back(x.shape[d]);
    }
  }
  if (plan->count == 0) return op_error(op, "reducing an empty set is not supported");
  return Status::success();
}

enum class ReduceKind { reduce_mean, reduce_sum, reduce_prod, reduce_l2, reduce_max, reduce_min };

double reduce_initial(ReduceKind kind) {
  switch (kind) {
    case ReduceKind::reduce_prod:
      return 1.0;
    case ReduceKind::reduce_max:
      return -std::numeric_limits<double>::infinity();
    case ReduceKind::reduce_min:
      return std::numeric_limits<double>::infinity();
    default:
      return 0.0;
  }
}

inline void reduce_accumulate(ReduceKind kind, double v, double* acc) {
  switch (kind) {
    case ReduceKind::reduce_prod:
      *acc *= v;
      return;
    case ReduceKind::reduce_l2:
      *acc += v * v;
      return;
    case ReduceKind::reduce_max:
      if (v > *acc || std::isnan(v)) *acc = std::isnan(*acc) ? *acc : v;
      return;
    case ReduceKind::reduce_min:
      if (v < *acc || std::isnan(v)) *acc = std::isnan(*acc) ? *acc : v;
      return;
    default:
      *acc += v;
      return;
  }
}

Status reduce_infer(const char* op, const AttributeMap& attributes,
                    const std::vector<const TensorDesc*>& inputs,
                    std::vector<TensorDesc>* outputs) {
  ReducePlan plan;
  ATROUS_RETURN_IF_ERROR(reduce_resolve(op, attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{DType::dtype_f32, plan.output});
  return Status::success();
}

Status reduce_reference(const char* op, ReduceKind kind, const AttributeMap& attributes,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  ReducePlan plan;
  ATROUS_RETURN_IF_ERROR(
      reduce_resolve(op, attributes, TensorDesc{input.dtype, input.shape}, &plan));
  const Shape& shape = input.shape;
  std::vector<double> sums(size_t(shape_numel(plan.kept)), reduce_initial(kind));
  const int64_t total = input.numel();
  if (shape.empty()) {
    reduce_accumulate(kind, double(input.f32()[0]), &sums[0]);
  } else if (total > 0) {
    // Walk the input in order; each element adds to the output element whose kept-dims
    // coordinates it shares (output stride 0 along reduced axes).
    const std::vector<int64_t> kept_strides = row_major_strides(plan.kept);
    std::vector<int64_t> strides(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) strides[d] = plan.reduced[d] ? 0 : kept_strides[d];
    const size_t last = shape.size() - 1;
    const int64_t inner = shape[last];
    std::vector<int64_t> index(last, 0);
    int64_t base = 0;
    const float* x = input.f32();
    for (int64_t row = 0; row < total / inner; ++row) {
      for (int64_t i = 0; i < inner; ++i)
        reduce_accumulate(kind, double(x[row * inner + i]),
                          &sums[size_t(base + i * strides[last])]);
      for (size_t d = last; d-- > 0;) {
        base += strides[d];
        if (++index[d] < shape[d]) break;
        base -= strides[d] * shape[d];
        index[d] = 0;
      }
    }
  }
  float* y = outputs[0]->f32();
  for (size_t i = 0; i < sums.size(); ++i) {
    double value = sums[i];
    if (kind == ReduceKind::reduce_mean) value /= double(plan.count);
    if (kind == ReduceKind::reduce_l2) value = std::sqrt(value);
    y[i] = float(value);
  }
  return Status::success();
}

}  // namespace

#define ATROUS_DEFINE_REDUCE_OP(NAME)                                              \
  Status NAME##_infer(const AttributeMap& attributes,                              \
                      const std::vector<const TensorDesc*>& inputs,                \
                      std::vector<TensorDesc>* outputs) {                          \
    return reduce_infer(#NAME, attributes, inputs, outputs);                       \
  }                                                                                \
  Status NAME##_reference(const AttributeMap& attributes,                          \
                          const std::vector<const TensorView*>& inputs,            \
                          const std::vector<TensorView*>& outputs) {               \
    return reduce_reference(#NAME, ReduceKind::NAME, attributes, inputs, outputs); \
  }

ATROUS_DEFINE_REDUCE_OP(reduce_mean)
ATROUS_DEFINE_REDUCE_OP(reduce_sum)
ATROUS_DEFINE_REDUCE_OP(reduce_prod)
ATROUS_DEFINE_REDUCE_OP(reduce_l2)
ATROUS_DEFINE_REDUCE_OP(reduce_max)
ATROUS_DEFINE_REDUCE_OP(reduce_min)

#undef ATROUS_DEFINE_REDUCE_OP

// ---- softmax ---------------------------------------------------------------------------------

namespace {

Status softmax_resolve(const AttributeMap& attributes, const TensorDesc& x, int64_t* axis) {
  const char* op = "softmax";
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", x, DType::dtype_f32));
  if (x.shape.empty()) return op_error(op, "input X must have rank >= 1");
  AttributeReader reader(op, attributes);
  int64_t raw = reader.get_int("axis", -1);
  ATROUS_RETURN_IF_ERROR(reader.status());
  return normalize_axis(op, "axis", raw, int64_t(x.shape.size()), false, axis);
}

}  // namespace

Status softmax_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                     std::vector<TensorDesc>* outputs) {
  int64_t axis = 0;
  ATROUS_RETURN_IF_ERROR(softmax_resolve(attributes, *inputs[0], &axis));
  outputs->push_back(*inputs[0]);
  return Status::success();
}

Status softmax_reference(const AttributeMap& attributes,
                         const std::vector<const TensorView*>& inputs,
                         const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  int64_t axis = 0;
  ATROUS_RETURN_IF_ERROR(softmax_resolve(attributes, TensorDesc{input.dtype, input.shape}, &axis));
  const AxisSplit split = split_at(input.shape, axis);
  const float* x = input.f32();
  float* y = outputs[0]->f32();
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      const int64_t base = o * split.dim * split.inner + i;
      float peak = -INFINITY;
      for (int64_t k = 0; k < split.dim; ++k) peak = std::max(peak, x[base + k * split.inner]);
      double sum = 0.0;
      for (int64_t k = 0; k < split.dim; ++k)
        sum += std::exp(double(x[base + k * split.inner]) - double(peak));
      for (int64_t k = 0; k < split.dim; ++k)
        y[base + k * split.inner] =
            float(std::exp(double(x[base + k * split.inner]) - double(peak)) / sum);
    }
  }
  return Status::success();
}

// ---- argmax ----------------------------------------------------------------------------------

namespace {

Status argmax_resolve(const AttributeMap& attributes, const TensorDesc& x, int64_t* axis,
                      Shape* output) {
  const char* op = "argmax";
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", x, DType::dtype_f32));
  if (x.shape.empty()) return op_error(op, "input X must have rank >= 1");
  AttributeReader reader(op, attributes);
  int64_t raw = reader.get_int("axis", 0);
  int64_t keepdims = reader.get_int("keepdims", 1);
  ATROUS_RETURN_IF_ERROR(reader.status());
  ATROUS_RETURN_IF_ERROR(check_flag(op, "keepdims", keepdims));
  ATROUS_RETURN_IF_ERROR(normalize_axis(op, "axis", raw, int64_t(x.shape.size()), false, axis));
  const int64_t dim = x.shape[size_t(*axis)];
  if (dim < 1 || dim > INT32_MAX)
    return op_error(op, "axis size must be in [1, 2^31 - 1], got " + std::to_string(dim));
  *output = x.shape;
  if (keepdims)
    (*output)[size_t(*axis)] = 1;
  else
    output->erase(output->begin() + *axis);
  return Status::success();
}

}  // namespace

Status argmax_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                    std::vector<TensorDesc>* outputs) {
  int64_t axis = 0;
  Shape shape;
  ATROUS_RETURN_IF_ERROR(argmax_resolve(attributes, *inputs[0], &axis, &shape));
  outputs->push_back(TensorDesc{DType::dtype_i32, shape});
  return Status::success();
}

Status argmax_reference(const AttributeMap& attributes,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  int64_t axis = 0;
  Shape shape;
  ATROUS_RETURN_IF_ERROR(
      argmax_resolve(attributes, TensorDesc{input.dtype, input.shape}, &axis, &shape));
  const AxisSplit split = split_at(input.shape, axis);
  const float* x = input.f32();
  int32_t* y = outputs[0]->i32();
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      const int64_t base = o * split.dim * split.inner + i;
      float best = x[base];
      int64_t best_index = 0;
      for (int64_t k = 1; k < split.dim && !std::isnan(best); ++k) {
        const float v = x[base + k * split.inner];
        if (v > best || std::isnan(v)) {
          best = v;
          best_index = k;
        }
      }
      y[o * split.inner + i] = int32_t(best_index);
    }
  }
  return Status::success();
}

}  // namespace atrous
