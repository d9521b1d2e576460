// add, sub, mul, div, pow, min, max, prelu: element-wise on float32 with NumPy broadcasting.
// add..div: each output element is one float operation on the two (broadcast) operands, as
// IEEE-754 defines it (x/0 = ±inf). pow: std::pow in double rounded once. min/max: a NaN operand
// gives NaN (NumPy's minimum/maximum). prelu: a < 0 ? b·a : a, where the slope B broadcasts to
// A's shape only (ONNX's unidirectional broadcast), so the output has A's shape.
//
// The loop walks the output row by row (the last axis); the operands advance by their
// broadcast strides, which are 0 along stretched axes, so [1,C,H,W] · [1,C,1,1] reads one
// scale per row without materializing the broadcast.
#include <cmath>
#include <cstdint>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

enum class BinaryKind {
  binary_add,
  binary_sub,
  binary_mul,
  binary_div,
  binary_pow,
  binary_min,
  binary_max,
  binary_prelu
};

Status binary_infer(const char* op, BinaryKind kind, const std::vector<const TensorDesc*>& inputs,
                    std::vector<TensorDesc>* outputs) {
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input A", *inputs[0], DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input B", *inputs[1], DType::dtype_f32));
  Shape shape;
  ATROUS_RETURN_IF_ERROR(broadcast_shapes(op, inputs[0]->shape, inputs[1]->shape, &shape));
  if (kind == BinaryKind::binary_prelu && shape != inputs[0]->shape)
    return op_error(op, "slope " + shape_to_string(inputs[1]->shape) + " must broadcast to X " +
                            shape_to_string(inputs[0]->shape));
  outputs->push_back(TensorDesc{DType::dtype_f32, shape});
  return Status::success();
}

void binary_row(BinaryKind kind, const float* a, int64_t a_stride, const float* b, int64_t b_stride,
                float* y, int64_t count) {
  switch (kind) {
    case BinaryKind::binary_add:
      for (int64_t i = 0; i < count; ++i) y[i] = a[i * a_stride] + b[i * b_stride];
      return;
    case BinaryKind::binary_sub:
      for (int64_t i = 0; i < count; ++i) y[i] = a[i * a_stride] - b[i * b_stride];
      return;
    case BinaryKind::binary_mul:
      for (int64_t i = 0; i < count; ++i) y[i] = a[i * a_stride] * b[i * b_stride];
      return;
    case BinaryKind::binary_div:
      for (int64_t i = 0; i < count; ++i) y[i] = a[i * a_stride] / b[i * b_stride];
      return;
    case BinaryKind::binary_pow:
      for (int64_t i = 0; i < count; ++i)
        y[i] = float(std::pow(double(a[i * a_stride]), double(b[i * b_stride])));
      return;
    case BinaryKind::binary_min:
      for (int64_t i = 0; i < count; ++i) {
        const float u = a[i * a_stride], v = b[i * b_stride];
        y[i] = std::isnan(u) || std::isnan(v) ? std::nanf("") : (v < u ? v : u);
      }
      return;
    case BinaryKind::binary_max:
      for (int64_t i = 0; i < count; ++i) {
        const float u = a[i * a_stride], v = b[i * b_stride];
        y[i] = std::isnan(u) || std::isnan(v) ? std::nanf("") : (v > u ? v : u);
      }
      return;
    case BinaryKind::binary_prelu:
      for (int64_t i = 0; i < count; ++i) {
        const float u = a[i * a_stride];
        y[i] = u < 0.0f ? b[i * b_stride] * u : u;
      }
      return;
  }
}

Status binary_reference(const char* op, BinaryKind kind,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  const TensorView& a = *inputs[0];
  const TensorView& b = *inputs[1];
  Shape shape;
  ATROUS_RETURN_IF_ERROR(broadcast_shapes(op, a.shape, b.shape, &shape));
  float* y = outputs[0]->f32();
  if (shape.empty()) {
    binary_row(kind, a.f32(), 0, b.f32(), 0, y, 1);
    return Status::success();
  }
  const std::vector<int64_t> a_strides = broadcast_strides(a.shape, shape);
  const std::vector<int64_t> b_strides = broadcast_strides(b.shape, shape);
  const size_t last = shape.size() - 1;
  const int64_t inner = shape[last];
  const int64_t total = shape_numel(shape);
  if (total == 0) return Status::success();
  std::vector<int64_t> index(last, 0);
  int64_t a_offset = 0, b_offset = 0;
  for (int64_t row = 0; row < total / inner; ++row) {
    binary_row(kind, a.f32() + a_offset, a_strides[last], b.f32() + b_offset, b_strides[last],
               y + row * inner, inner);
    // Advance the multi-index over the outer axes (odometer order).
    for (size_t d = last; d-- > 0;) {
      a_offset += a_strides[d];
      b_offset += b_strides[d];
      if (++index[d] < shape[d]) break;
      a_offset -= a_strides[d] * shape[d];
      b_offset -= b_strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return Status::success();
}

}  // namespace

#define ATROUS_DEFINE_BINARY_OP(NAME)                                                        \
  Status NAME##_infer(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,     \
                      std::vector<TensorDesc>* outputs) {                                    \
    return binary_infer(#NAME, BinaryKind::binary_##NAME, inputs, outputs);                  \
  }                                                                                          \
  Status NAME##_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs, \
                          const std::vector<TensorView*>& outputs) {                         \
    return binary_reference(#NAME, BinaryKind::binary_##NAME, inputs, outputs);              \
  }

ATROUS_DEFINE_BINARY_OP(add)
ATROUS_DEFINE_BINARY_OP(sub)
ATROUS_DEFINE_BINARY_OP(mul)
ATROUS_DEFINE_BINARY_OP(div)
ATROUS_DEFINE_BINARY_OP(pow)
ATROUS_DEFINE_BINARY_OP(min)
ATROUS_DEFINE_BINARY_OP(max)
ATROUS_DEFINE_BINARY_OP(prelu)

#undef ATROUS_DEFINE_BINARY_OP

}  // namespace atrous
