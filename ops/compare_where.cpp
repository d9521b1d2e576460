// equal, less, greater, less_or_equal, greater_or_equal: float32 comparisons with NumPy
// broadcasting, uint8 (0/1) output (the IR has no bool; ONNX bool tensors are stored as uint8).
// logical_not, logical_and, logical_or, logical_xor: uint8 inputs read as bools (non-zero is
// true), broadcast like the comparisons, uint8 0/1 output. where: condition (uint8, non-zero =
// true) selects X or Y, all three broadcast together. cast: element conversion between float32,
// int32, int64 and uint8.
//
// Comparisons follow IEEE-754 (NaN compares unequal and unordered). cast from float to an integer
// type truncates toward zero; ONNX leaves NaN and out-of-range values undefined, and the oracle
// fixes them: NaN gives 0 and other values saturate to the target range, so no conversion is
// undefined behaviour in C++.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

// Walks the broadcast output in row-major order, calling visit(output index, offsets...) with
// each input's element offset.
template <size_t N, typename Visit>
void broadcast_walk(const Shape& shape, const Shape* const (&inputs)[N], Visit visit) {
  std::vector<int64_t> strides[N];
  for (size_t k = 0; k < N; ++k) strides[k] = broadcast_strides(*inputs[k], shape);
  const int64_t total = shape_numel(shape);
  std::vector<int64_t> index(shape.size(), 0);
  int64_t offsets[N] = {};
  for (int64_t o = 0; o < total; ++o) {
    visit(o, offsets);
    for (size_t d = shape.size(); d-- > 0;) {
      for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][d];
      if (++index[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][d] * shape[d];
      index[d] = 0;
    }
  }
}

Status compare_infer(const char* op, const std::vector<const TensorDesc*>& inputs,
                     std::vector<TensorDesc>* outputs) {
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input A", *inputs[0], DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input B", *inputs[1], DType::dtype_f32));
  Shape shape;
  ATROUS_RETURN_IF_ERROR(broadcast_shapes(op, inputs[0]->shape, inputs[1]->shape, &shape));
  outputs->push_back(TensorDesc{DType::dtype_u8, shape});
  return Status::success();
}

template <typename Compare>
Status compare_reference(const std::vector<const TensorView*>& inputs,
                         const std::vector<TensorView*>& outputs, Compare compare) {
  const float* a = inputs[0]->f32();
  const float* b = inputs[1]->f32();
  uint8_t* y = outputs[0]->u8();
  const Shape* shapes[2] = {&inputs[0]->shape, &inputs[1]->shape};
  broadcast_walk(outputs[0]->shape, shapes, [&](int64_t o, const int64_t* offsets) {
    y[o] = compare(a[offsets[0]], b[offsets[1]]) ? 1 : 0;
  });
  return Status::success();
}

Status logical_infer(const char* op, const std::vector<const TensorDesc*>& inputs,
                     std::vector<TensorDesc>* outputs) {
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input A", *inputs[0], DType::dtype_u8));
  Shape shape = inputs[0]->shape;
  if (inputs.size() > 1) {
    ATROUS_RETURN_IF_ERROR(check_dtype(op, "input B", *inputs[1], DType::dtype_u8));
    ATROUS_RETURN_IF_ERROR(broadcast_shapes(op, inputs[0]->shape, inputs[1]->shape, &shape));
  }
  outputs->push_back(TensorDesc{DType::dtype_u8, shape});
  return Status::success();
}

template <typename Logic>
Status logical_reference(const std::vector<const TensorView*>& inputs,
                         const std::vector<TensorView*>& outputs, Logic logic) {
  const uint8_t* a = inputs[0]->u8();
  const uint8_t* b = inputs[1]->u8();
  uint8_t* y = outputs[0]->u8();
  const Shape* shapes[2] = {&inputs[0]->shape, &inputs[1]->shape};
  broadcast_walk(outputs[0]->shape, shapes, [&](int64_t o, const int64_t* offsets) {
    y[o] = logic(a[offsets[0]] != 0, b[offsets[1]] != 0) ? 1 : 0;
  });
  return Status::success();
}

Status where_resolve(const std::vector<const TensorDesc*>& inputs, Shape* shape) {
  const char* op = "where";
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input condition", *inputs[0], DType::dtype_u8));
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", *inputs[1], DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input Y", *inputs[2], DType::dtype_f32));
  Shape partial;
  ATROUS_RETURN_IF_ERROR(broadcast_shapes(op, inputs[0]->shape, inputs[1]->shape, &partial));
  return broadcast_shapes(op, partial, inputs[2]->shape, shape);
}

Status cast_resolve(const AttributeMap& attributes, const TensorDesc& x, DType* to) {
  const char* op = "cast";
  AttributeReader reader(op, attributes);
  const std::string name = reader.get_string("to", "");
  ATROUS_RETURN_IF_ERROR(reader.status());
  for (DType dtype : {DType::dtype_f32, DType::dtype_i32, DType::dtype_i64, DType::dtype_u8}) {
    if (name == dtype_name(dtype)) {
      *to = dtype;
      return Status::success();
    }
  }
  (void)x;
  return op_error(op, "to must be float32, int32, int64 or uint8, got '" + name + "'");
}

double read_as_double(const TensorView& x, int64_t i) {
  switch (x.dtype) {
    case DType::dtype_f32:
      return double(x.f32()[i]);
    case DType::dtype_i32:
      return double(x.i32()[i]);
    case DType::dtype_i64:
      return double(x.i64()[i]);
    case DType::dtype_u8:
      return double(x.u8()[i]);
  }
  return 0.0;
}

// Truncation toward zero, NaN → 0, saturation at the target's limits.
template <typename T>
T to_integer(double v) {
  if (std::isnan(v)) return T(0);
  v = std::trunc(v);
  if (v <= double(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  // 2^63 and 2^31 are exact doubles; a value at or past the top saturates.
  if (v >= double(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return T(v);
}

}  // namespace

#define ATROUS_DEFINE_COMPARE_OP(NAME, EXPRESSION)                                           \
  Status NAME##_infer(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,     \
                      std::vector<TensorDesc>* outputs) {                                    \
    return compare_infer(#NAME, inputs, outputs);                                            \
  }                                                                                          \
  Status NAME##_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs, \
                          const std::vector<TensorView*>& outputs) {                         \
    return compare_reference(inputs, outputs, [](float a, float b) { return EXPRESSION; });  \
  }

ATROUS_DEFINE_COMPARE_OP(equal, a == b)
ATROUS_DEFINE_COMPARE_OP(less, a < b)
ATROUS_DEFINE_COMPARE_OP(greater, a > b)
ATROUS_DEFINE_COMPARE_OP(less_or_equal, a <= b)
ATROUS_DEFINE_COMPARE_OP(greater_or_equal, a >= b)

#undef ATROUS_DEFINE_COMPARE_OP

#define ATROUS_DEFINE_LOGICAL_OP(NAME, EXPRESSION)                                           \
  Status NAME##_infer(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,     \
                      std::vector<TensorDesc>* outputs) {                                    \
    return logical_infer(#NAME, inputs, outputs);                                            \
  }                                                                                          \
  Status NAME##_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs, \
                          const std::vector<TensorView*>& outputs) {                         \
    return logical_reference(inputs, outputs, [](bool a, bool b) { return EXPRESSION; });    \
  }

ATROUS_DEFINE_LOGICAL_OP(logical_and, a&& b)
ATROUS_DEFINE_LOGICAL_OP(logical_or, a || b)
ATROUS_DEFINE_LOGICAL_OP(logical_xor, a != b)

#undef ATROUS_DEFINE_LOGICAL_OP

Status logical_not_infer(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,
                         std::vector<TensorDesc>* outputs) {
  return logical_infer("logical_not", inputs, outputs);
}

Status logical_not_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs,
                             const std::vector<TensorView*>& outputs) {
  const uint8_t* x = inputs[0]->u8();
  uint8_t* y = outputs[0]->u8();
  const int64_t count = outputs[0]->numel();
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] == 0 ? 1 : 0;
  return Status::success();
}

Status where_infer(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,
                   std::vector<TensorDesc>* outputs) {
  Shape shape;
  ATROUS_RETURN_IF_ERROR(where_resolve(inputs, &shape));
  outputs->push_back(TensorDesc{DType::dtype_f32, shape});
  return Status::success();
}

Status where_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs,
                       const std::vector<TensorView*>& outputs) {
  const uint8_t* condition = inputs[0]->u8();
  const float* x = inputs[1]->f32();
  const float* y_in = inputs[2]->f32();
  float* y = outputs[0]->f32();
  const Shape* shapes[3] = {&inputs[0]->shape, &inputs[1]->shape, &inputs[2]->shape};
  broadcast_walk(outputs[0]->shape, shapes, [&](int64_t o, const int64_t* offsets) {
    y[o] = condition[offsets[0]] ? x[offsets[1]] : y_in[offsets[2]];
  });
  return Status::success();
}

Status cast_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                  std::vector<TensorDesc>* outputs) {
  DType to = DType::dtype_f32;
  ATROUS_RETURN_IF_ERROR(cast_resolve(attributes, *inputs[0], &to));
  outputs->push_back(TensorDesc{to, inputs[0]->shape});
  return Status::success();
}

Status cast_reference(const AttributeMap& attributes, const std::vector<const TensorView*>& inputs,
                      const std::vector<TensorView*>& outputs) {
  const TensorView& x = *inputs[0];
  TensorView& y = *outputs[0];
  DType to = DType::dtype_f32;
  ATROUS_RETURN_IF_ERROR(cast_resolve(attributes, TensorDesc{x.dtype, x.shape}, &to));
  const int64_t count = x.numel();
  if (x.dtype == to) {
    std::memcpy(y.data, x.data, x.byte_size());
    return Status::success();
  }
  for (int64_t i = 0; i < count; ++i) {
    // Integers beyond 2^53 lose precision through double; only int64 → int64 could need them,
    // and equal dtypes are copied above. int64 → float32 rounds once through double, except
    // where double's rounding of a > 2^53 value then rounds again (off by at most one float ulp).
    const double v = read_as_double(x, i);
    switch (to) {
      case DType::dtype_f32:
        y.f32()[i] = x.dtype == DType::dtype_i64 ? float(x.i64()[i]) : float(v);
        break;
      case DType::dtype_i32:
        y.i32()[i] = to_integer<int32_t>(v);
        break;
      case DType::dtype_i64:
        y.i64()[i] = x.dtype == DType::dtype_f32 ? to_integer<int64_t>(v) : int64_t(v);
        break;
      case DType::dtype_u8:
        y.u8()[i] = to_integer<uint8_t>(v);
        break;
    }
  }
  return Status::success();
}

}  // namespace atrous
