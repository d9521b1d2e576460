// concat, reshape, flatten, transpose: data movement for any dtype (copies by element size).
// reshape and flatten keep the bytes and only change the shape; concat copies contiguous
// blocks; transpose goes through the axis gather (ops/axis_gather.h).
#include <cstdint>
#include <cstring>

#include "ops/axis_gather.h"
#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

// Copies the bytes of a tensor whose layout does not change (reshape, flatten).
void copy_bytes(const TensorView& input, TensorView* output) {
  if (input.byte_size() > 0) std::memcpy(output->data, input.data, input.byte_size());
}

// ---- concat ----------------------------------------------------------------------------------

Status concat_resolve(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                      int64_t* axis, TensorDesc* output) {
  const char* op = "concat";
  AttributeReader reader(op, attributes);
  int64_t raw_axis = reader.require_int("axis");
  ATROUS_RETURN_IF_ERROR(reader.status());
  const TensorDesc& first = *inputs[0];
  const int64_t rank = int64_t(first.shape.size());
  if (rank == 0) return op_error(op, "inputs must have rank >= 1");
  ATROUS_RETURN_IF_ERROR(normalize_axis(op, "axis", raw_axis, rank, false, axis));
  Shape shape = first.shape;
  shape[size_t(*axis)] = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorDesc& input = *inputs[i];
    if (input.dtype != first.dtype)
      return op_error(op, "input " + std::to_string(i) + " is " + dtype_name(input.dtype) +
                              ", input 0 is " + dtype_name(first.dtype));
    bool compatible = input.shape.size() == first.shape.size();
    for (size_t d = 0; compatible && d < first.shape.size(); ++d)
      compatible = int64_t(d) == *axis || input.shape[d] == first.shape[d];
    if (!compatible)
      return op_error(op, "input " + std::to_string(i) + " shape " + shape_to_string(input.shape) +
                              " does not match input 0 shape " + shape_to_string(first.shape) +
                              " outside axis " + std::to_string(*axis));
    // Each dim is at most kMaxTensorElements: the running sum cannot overflow before the check.
    shape[size_t(*axis)] += input.shape[size_t(*axis)];
    if (shape[size_t(*axis)] > kMaxTensorElements) return op_error(op, "output is too large");
  }
  ATROUS_RETURN_IF_ERROR(check_output_shape(op, shape));
  *output = TensorDesc{first.dtype, shape};
  return Status::success();
}

}  // namespace

Status concat_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                    std::vector<TensorDesc>* outputs) {
  int64_t axis = 0;
  TensorDesc output;
  ATROUS_RETURN_IF_ERROR(concat_resolve(attributes, inputs, &axis, &output));
  outputs->push_back(output);
  return Status::success();
}

Status concat_reference(const AttributeMap& attributes,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  ViewDescs descs(inputs);
  int64_t axis = 0;
  TensorDesc output;
  ATROUS_RETURN_IF_ERROR(concat_resolve(attributes, descs.pointers(), &axis, &output));
  // The output is `outer` blocks; block o is the o-th block of each input in turn.
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= output.shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < output.shape.size(); ++d) inner *= output.shape[d];
  const size_t element = dtype_size(output.dtype);
  uint8_t* out = static_cast<uint8_t*>(outputs[0]->data);
  for (int64_t o = 0; o < outer; ++o) {
    for (const TensorView* input : inputs) {
      const size_t block = size_t(input->shape[size_t(axis)] * inner) * element;
      if (block == 0) continue;
      std::memcpy(out, static_cast<const uint8_t*>(input->data) + size_t(o) * block, block);
      out += block;
    }
  }
  return Status::success();
}

// ---- reshape ---------------------------------------------------------------------------------

namespace {

Status reshape_resolve(const AttributeMap& attributes, const TensorDesc& input, Shape* output) {
  const char* op = "reshape";
  AttributeReader reader(op, attributes);
  std::vector<int64_t> target = reader.require_ints("shape");
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (target.size() > size_t(kMaxRank))
    return op_error(op, "shape " + ints_to_string(target) + " has more than " +
                            std::to_string(kMaxRank) + " dims");
  Shape shape(target.size());
  int64_t inferred = -1;
  Shape known;  // the dims other than the inferred one
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t dim = target[i];
    if (dim == -1) {
      if (inferred >= 0) return op_error(op, "shape " + ints_to_string(target) + " has two -1");
      inferred = int64_t(i);
      continue;
    }
    if (dim < -1) return op_error(op, "shape " + ints_to_string(target) + " has a dim < -1");
    if (dim == 0) {
      if (i >= input.shape.size())
        return op_error(op, "shape " + ints_to_string(target) + " copies dim " + std::to_string(i) +
                                " (0) but the input " + shape_to_string(input.shape) +
                                " has no such dim");
      dim = input.shape[i];
    }
    shape[i] = dim;
    known.push_back(dim);
  }
  int64_t input_count = shape_numel(input.shape);
  int64_t known_count = 0;
  if (!shape_element_count(known, &known_count))
    return op_error(op, "shape " + ints_to_string(target) + " is too large");
  if (inferred >= 0) {
    if (known_count == 0)
      return op_error(
          op, "shape " + ints_to_string(target) + ": -1 cannot be inferred next to a 0-sized dim");
    if (input_count % known_count != 0)
      return op_error(
          op, "cannot reshape " + shape_to_string(input.shape) + " to " + ints_to_string(target));
    shape[size_t(inferred)] = input_count / known_count;
  } else if (known_count != input_count) {
    return op_error(op, "cannot reshape " + shape_to_string(input.shape) + " (" +
                            std::to_string(input_count) + " elements) to " +
                            ints_to_string(target) + " (" + std::to_string(known_count) +
                            " elements)");
  }
  *output = shape;
  return Status::success();
}

}  // namespace

Status reshape_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                     std::vector<TensorDesc>* outputs) {
  Shape shape;
  ATROUS_RETURN_IF_ERROR(reshape_resolve(attributes, *inputs[0], &shape));
  outputs->push_back(TensorDesc{inputs[0]->dtype, shape});
  return Status::success();
}

Status reshape_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs,
                         const std::vector<TensorView*>& outputs) {
  copy_bytes(*inputs[0], outputs[0]);
  return Status::success();
}

// ---- flatten ---------------------------------------------------------------------------------

Status flatten_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                     std::vector<TensorDesc>* outputs) {
  const char* op = "flatten";
  const Shape& in = inputs[0]->shape;
  AttributeReader reader(op, attributes);
  int64_t raw_axis = reader.get_int("axis", 1);
  ATROUS_RETURN_IF_ERROR(reader.status());
  int64_t axis = 0;
  ATROUS_RETURN_IF_ERROR(normalize_axis(op, "axis", raw_axis, int64_t(in.size()), true, &axis));
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < in.size(); ++d) (int64_t(d) < axis ? outer : inner) *= in[d];
  outputs->push_back(TensorDesc{inputs[0]->dtype, Shape{outer, inner}});
  return Status::success();
}

Status flatten_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs,
                         const std::vector<TensorView*>& outputs) {
  copy_bytes(*inputs[0], outputs[0]);
  return Status::success();
}

// ---- transpose -------------------------------------------------------------------------------

namespace {

Status transpose_resolve(const AttributeMap& attributes, const TensorDesc& input,
                         std::vector<int64_t>* perm, Shape* output) {
  const char* op = "transpose";
  const int64_t rank = int64_t(input.shape.size());
  std::vector<int64_t> reversed(static_cast<size_t>(rank));
  for (int64_t i = 0; i < rank; ++i) reversed[size_t(i)] = rank - 1 - i;
  AttributeReader reader(op, attributes);
  *perm = reader.get_ints("perm", reversed);
  ATROUS_RETURN_IF_ERROR(reader.status());
  std::vector<char> seen(size_t(rank), 0);
  bool valid = int64_t(perm->size()) == rank;
  for (size_t i = 0; valid && i < perm->size(); ++i) {
    int64_t axis = (*perm)[i];
    valid = axis >= 0 && axis < rank && !seen[size_t(axis)];
    if (valid) seen[size_t(axis)] = 1;
  }
  if (!valid)
    return op_error(op, "perm " + ints_to_string(*perm) + " is not a permutation of the " +
                            std::to_string(rank) + " axes of " + shape_to_string(input.shape));
  output->resize(size_t(rank));
  for (int64_t i = 0; i < rank; ++i) (*output)[size_t(i)] = input.shape[size_t((*perm)[size_t(i)])];
  return Status::success();
}

}  // namespace

Status transpose_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                       std::vector<TensorDesc>* outputs) {
  std::vector<int64_t> perm;
  Shape shape;
  ATROUS_RETURN_IF_ERROR(transpose_resolve(attributes, *inputs[0], &perm, &shape));
  outputs->push_back(TensorDesc{inputs[0]->dtype, shape});
  return Status::success();
}

Status transpose_reference(const AttributeMap& attributes,
                           const std::vector<const TensorView*>& inputs,
                           const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  std::vector<int64_t> perm;
  Shape shape;
  ATROUS_RETURN_IF_ERROR(
      transpose_resolve(attributes, TensorDesc{input.dtype, input.shape}, &perm, &shape));
  const std::vector<int64_t> strides = row_major_strides(input.shape);
  std::vector<std::vector<int64_t>> offsets(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    offsets[d].resize(size_t(shape[d]));
    for (int64_t i = 0; i < shape[d]; ++i) offsets[d][size_t(i)] = i * strides[size_t(perm[d])];
  }
  axis_gather(input.data, input.dtype, shape, offsets, nullptr, outputs[0]->data);
  return Status::success();
}

}  // namespace atrous
