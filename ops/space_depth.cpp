// depth_to_space and space_to_depth (ONNX semantics), any dtype, through the axis gather.
//
// With C' = C / b²:
//   depth_to_space DCR: y[n, c, h·b + i, w·b + j] = x[n, (i·b + j)·C' + c, h, w]
//   depth_to_space CRD: y[n, c, h·b + i, w·b + j] = x[n, c·b² + i·b + j, h, w]
//   space_to_depth:     y[n, (i·b + j)·C + c, h, w] = x[n, c, h·b + i, w·b + j]
// so space_to_depth inverts depth_to_space DCR. The output is viewed as a rank-6 tensor whose
// every axis adds one term to the input offset.
#include <cstdint>

#include "ops/axis_gather.h"
#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

struct BlockPlan {
  int64_t block = 1;
  bool column_row_depth = false;  // depth_to_space mode CRD (else DCR)
  Shape output;
};

Status block_resolve(const char* op, bool to_space, const AttributeMap& attributes,
                     const TensorDesc& input, BlockPlan* plan) {
  ATROUS_RETURN_IF_ERROR(check_rank(op, "input X", input, 4));
  AttributeReader reader(op, attributes);
  int64_t block = reader.require_int("blocksize");
  std::string mode = to_space ? reader.get_string("mode", "DCR") : "DCR";
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (block < 1 || block > kMaxAttributeMagnitude)
    return op_error(op, "blocksize must be in [1, 2^31], got " + std::to_string(block));
  if (mode != "DCR" && mode != "CRD")
    return op_error(op, "mode must be DCR or CRD, got '" + mode + "'");
  const Shape& s = input.shape;
  const int64_t square = block * block;
  plan->block = block;
  plan->column_row_depth = mode == "CRD";
  if (to_space) {
    if (s[1] % square != 0)
      return op_error(op, "channels " + std::to_string(s[1]) +
                              " must be divisible by blocksize^2 = " + std::to_string(square));
    int64_t height = 0, width = 0;
    if (!checked_mul(s[2], block, &height) || !checked_mul(s[3], block, &width))
      return op_error(op, "output is too large");
    plan->output = {s[0], s[1] / square, height, width};
  } else {
    if (s[2] % block != 0 || s[3] % block != 0)
      return op_error(op, "height and width of " + shape_to_string(s) +
                              " must be divisible by blocksize " + std::to_string(block));
    int64_t channels = 0;
    if (!checked_mul(s[1], square, &channels)) return op_error(op, "output is too large");
    plan->output = {s[0], channels, s[2] / block, s[3] / block};
  }
  return check_output_shape(op, plan->output);
}

// offsets[d][k] = k · scale for an axis of `size` entries.
std::vector<int64_t> axis_terms(int64_t size, int64_t scale) {
  std::vector<int64_t> terms(static_cast<size_t>(size));
  for (int64_t k = 0; k < size; ++k) terms[size_t(k)] = k * scale;
  return terms;
}

Status block_reference(const char* op, bool to_space, const AttributeMap& attributes,
                       const TensorView& input, TensorView* output) {
  BlockPlan plan;
  ATROUS_RETURN_IF_ERROR(
      block_resolve(op, to_space, attributes, TensorDesc{input.dtype, input.shape}, &plan));
  const int64_t b = plan.block;
  const int64_t n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
  const int64_t image = c * h * w, plane = h * w;
  Shape view;
  std::vector<std::vector<int64_t>> offsets;
  if (to_space) {
    // Output viewed as [N, C', H, b(i), W, b(j)].
    const int64_t channels = c / (b * b);
    view = {n, channels, h, b, w, b};
    const int64_t channel_scale = plan.column_row_depth ? b * b * plane : plane;
    const int64_t i_scale = plan.column_row_depth ? b * plane : b * channels * plane;
    const int64_t j_scale = plan.column_row_depth ? plane : channels * plane;
    offsets = {axis_terms(n, image), axis_terms(channels, channel_scale),
               axis_terms(h, w),     axis_terms(b, i_scale),
               axis_terms(w, 1),     axis_terms(b, j_scale)};
  } else {
    // Output viewed as [N, b(i), b(j), C, H/b, W/b].
    view = {n, b, b, c, h / b, w / b};
    offsets = {axis_terms(n, image), axis_terms(b, w),         axis_terms(b, 1),
               axis_terms(c, plane), axis_terms(h / b, b * w), axis_terms(w / b, b)};
  }
  axis_gather(input.data, input.dtype, view, offsets, nullptr, output->data);
  return Status::success();
}

}  // namespace

Status depth_to_space_infer(const AttributeMap& attributes,
                            const std::vector<const TensorDesc*>& inputs,
                            std::vector<TensorDesc>* outputs) {
  BlockPlan plan;
  ATROUS_RETURN_IF_ERROR(block_resolve("depth_to_space", true, attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{inputs[0]->dtype, plan.output});
  return Status::success();
}

Status depth_to_space_reference(const AttributeMap& attributes,
                                const std::vector<const TensorView*>& inputs,
                                const std::vector<TensorView*>& outputs) {
  return block_reference("depth_to_space", true, attributes, *inputs[0], outputs[0]);
}

Status space_to_depth_infer(const AttributeMap& attributes,
                            const std::vector<const TensorDesc*>& inputs,
                            std::vector<TensorDesc>* outputs) {
  BlockPlan plan;
  ATROUS_RETURN_IF_ERROR(block_resolve("space_to_depth", false, attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{inputs[0]->dtype, plan.output});
  return Status::success();
}

Status space_to_depth_reference(const AttributeMap& attributes,
                                const std::vector<const TensorView*>& inputs,
                                const std::vector<TensorView*>& outputs) {
  return block_reference("space_to_depth", false, attributes, *inputs[0], outputs[0]);
}

}  // namespace atrous
