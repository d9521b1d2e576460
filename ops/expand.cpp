// expand: ONNX Expand with a static target shape. The output shape is the NumPy broadcast of the
// input shape and `shape` (both ways: a 1 in `shape` keeps the input dim, and `shape` may have a
// lower or higher rank). Any dtype: elements are copied, never computed.
#include <cstdint>
#include <cstring>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

Status expand_resolve(const AttributeMap& attributes, const TensorDesc& x, Shape* output) {
  const char* op = "expand";
  AttributeReader reader(op, attributes);
  std::vector<int64_t> shape = reader.require_ints("shape");
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (shape.size() > size_t(kMaxRank))
    return op_error(op, "shape has " + std::to_string(shape.size()) + " dims, more than " +
                            std::to_string(kMaxRank));
  ATROUS_RETURN_IF_ERROR(check_ints(op, "shape", shape, -1, 0, kMaxAttributeMagnitude));
  return broadcast_shapes(op, x.shape, shape, output);
}

}  // namespace

Status expand_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                    std::vector<TensorDesc>* outputs) {
  Shape shape;
  ATROUS_RETURN_IF_ERROR(expand_resolve(attributes, *inputs[0], &shape));
  outputs->push_back(TensorDesc{inputs[0]->dtype, shape});
  return Status::success();
}

Status expand_reference(const AttributeMap& attributes,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  const TensorView& x = *inputs[0];
  Shape shape;
  ATROUS_RETURN_IF_ERROR(expand_resolve(attributes, TensorDesc{x.dtype, x.shape}, &shape));
  const size_t element = dtype_size(x.dtype);
  const auto* source = static_cast<const unsigned char*>(x.data);
  auto* target = static_cast<unsigned char*>(outputs[0]->data);
  if (shape.empty()) {
    std::memcpy(target, source, element);
    return Status::success();
  }
  // Odometer over the output; the input offset advances by its broadcast strides (0 along
  // stretched axes).
  const std::vector<int64_t> strides = broadcast_strides(x.shape, shape);
  const int64_t total = shape_numel(shape);
  std::vector<int64_t> index(shape.size(), 0);
  int64_t offset = 0;
  for (int64_t o = 0; o < total; ++o) {
    std::memcpy(target + size_t(o) * element, source + size_t(offset) * element, element);
    for (size_t d = shape.size(); d-- > 0;) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return Status::success();
}

}  // namespace atrous
