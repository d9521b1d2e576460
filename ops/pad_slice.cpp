// pad and slice: per-axis index maps executed by the axis gather (ops/axis_gather.h), any dtype.
//
// pad: output coordinate o of an axis reads input coordinate i = o − begin. Negative pads crop.
// Outside [0, d): `constant` writes `value`, `edge` clamps i, `reflect` mirrors i about the first
// and last element without repeating them (−1 → 1, d → d − 2). Reflection is relative to the
// whole input even when the other side is cropped (ONNX reference: pad, then crop); it needs
// every positive pad <= d − 1.
//
// slice: ONNX Slice. Negative starts/ends count from the end; then starts and ends are clamped
// to [0, d] for positive steps and to [0, d − 1] / [−1, d − 1] for negative steps.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ops/axis_gather.h"
#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

enum class PadMode { pad_constant, pad_reflect, pad_edge };

struct PadPlan {
  PadMode mode = PadMode::pad_constant;
  std::vector<int64_t> pads;  // [begin_0..begin_{r-1}, end_0..end_{r-1}]
  double value = 0.0;
  Shape output;
};

// The fill element of `dtype` holding `value`: float32 saturates to ±inf (a plain cast of an
// out-of-range double is undefined behaviour); integer dtypes need an integer value in range.
Status pad_fill_bytes(DType dtype, double value, uint64_t* bytes) {
  *bytes = 0;
  if (dtype == DType::dtype_f32) {
    float v = value > double(FLT_MAX)    ? INFINITY
              : value < -double(FLT_MAX) ? -INFINITY
                                         : float(value);
    std::memcpy(bytes, &v, sizeof v);
    return Status::success();
  }
  double low = 0.0, high = 255.0;  // uint8
  if (dtype == DType::dtype_i32) {
    low = double(INT32_MIN);
    high = double(INT32_MAX);
  } else if (dtype == DType::dtype_i64) {
    // The largest doubles strictly inside the int64 range.
    low = -9223372036854774784.0;
    high = 9223372036854774784.0;
  }
  if (!(value >= low && value <= high) || value != std::floor(value))
    return op_error("pad", std::string("value must be an integer that fits ") + dtype_name(dtype));
  if (dtype == DType::dtype_u8) {
    uint8_t v = uint8_t(value);
    std::memcpy(bytes, &v, sizeof v);
  } else if (dtype == DType::dtype_i32) {
    int32_t v = int32_t(value);
    std::memcpy(bytes, &v, sizeof v);
  } else {
    int64_t v = int64_t(value);
    std::memcpy(bytes, &v, sizeof v);
  }
  return Status::success();
}

Status pad_resolve(const AttributeMap& attributes, const TensorDesc& input, PadPlan* plan) {
  const char* op = "pad";
  const size_t rank = input.shape.size();
  AttributeReader reader(op, attributes);
  plan->pads = reader.require_ints("pads");
  std::string mode = reader.get_string("mode", "constant");
  plan->value = reader.get_float("value", 0.0);
  ATROUS_RETURN_IF_ERROR(reader.status());
  ATROUS_RETURN_IF_ERROR(check_ints(op, "pads", plan->pads, int64_t(2 * rank),
                                    -kMaxAttributeMagnitude, kMaxAttributeMagnitude));
  if (mode == "constant") {
    plan->mode = PadMode::pad_constant;
  } else if (mode == "reflect") {
    plan->mode = PadMode::pad_reflect;
  } else if (mode == "edge") {
    plan->mode = PadMode::pad_edge;
  } else {
    return op_error(op, "mode must be constant, reflect or edge, got '" + mode + "'");
  }
  if (std::isnan(plan->value)) return op_error(op, "value must not be NaN");
  uint64_t fill = 0;
  ATROUS_RETURN_IF_ERROR(pad_fill_bytes(input.dtype, plan->value, &fill));
  plan->output.assign(rank, 0);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t dim = input.shape[d], begin = plan->pads[d], end = plan->pads[d + rank];
    const int64_t size = dim + begin + end;
    if (size < 0)
      return op_error(op, "pads " + ints_to_string(plan->pads) + " crop more than axis " +
                              std::to_string(d) + " of " + shape_to_string(input.shape) + " holds");
    plan->output[d] = size;
    if (size == 0 || (begin <= 0 && end <= 0)) continue;
    if (plan->mode == PadMode::pad_edge && dim < 1)
      return op_error(op, "edge padding of an empty axis " + std::to_string(d));
    if (plan->mode == PadMode::pad_reflect && (begin > dim - 1 || end > dim - 1))
      return op_error(op, "reflect pads must be <= dim - 1 (axis " + std::to_string(d) + " has " +
                              std::to_string(dim) + "), got " + ints_to_string(plan->pads));
  }
  return check_output_shape(op, plan->output);
}

}  // namespace

Status pad_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                 std::vector<TensorDesc>* outputs) {
  PadPlan plan;
  ATROUS_RETURN_IF_ERROR(pad_resolve(attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{inputs[0]->dtype, plan.output});
  return Status::success();
}

Status pad_reference(const AttributeMap& attributes, const std::vector<const TensorView*>& inputs,
                     const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  PadPlan plan;
  ATROUS_RETURN_IF_ERROR(pad_resolve(attributes, TensorDesc{input.dtype, input.shape}, &plan));
  uint64_t fill = 0;
  ATROUS_RETURN_IF_ERROR(pad_fill_bytes(input.dtype, plan.value, &fill));
  const size_t rank = input.shape.size();
  const std::vector<int64_t> strides = row_major_strides(input.shape);
  std::vector<std::vector<int64_t>> offsets(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t dim = input.shape[d], begin = plan.pads[d];
    offsets[d].resize(size_t(plan.output[d]));
    for (int64_t o = 0; o < plan.output[d]; ++o) {
      int64_t i = o - begin;
      if (i < 0 || i >= dim) {
        if (plan.mode == PadMode::pad_constant) {
          offsets[d][size_t(o)] = -1;
          continue;
        }
        if (plan.mode == PadMode::pad_edge)
          i = std::min(std::max<int64_t>(i, 0), dim - 1);
        else
          i = i < 0 ? -i : 2 * (dim - 1) - i;
      }
      offsets[d][size_t(o)] = i * strides[d];
    }
  }
  axis_gather(input.data, input.dtype, plan.output, offsets, &fill, outputs[0]->data);
  return Status::success();
}

// ---- slice -----------------------------------------------------------------------------------

namespace {

struct SlicePlan {
  std::vector<int64_t> start, step;  // per input axis (unsliced axes: 0 and 1)
  Shape output;
};

Status slice_resolve(const AttributeMap& attributes, const TensorDesc& input, SlicePlan* plan) {
  const char* op = "slice";
  const int64_t rank = int64_t(input.shape.size());
  AttributeReader reader(op, attributes);
  std::vector<int64_t> starts = reader.require_ints("starts");
  std::vector<int64_t> ends = reader.require_ints("ends");
  std::vector<int64_t> default_axes(starts.size());
  for (size_t i = 0; i < starts.size(); ++i) default_axes[i] = int64_t(i);
  std::vector<int64_t> axes = reader.get_ints("axes", default_axes);
  std::vector<int64_t> steps = reader.get_ints("steps", std::vector<int64_t>(starts.size(), 1));
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return op_error(op, "starts, ends, axes and steps must have the same length, got " +
                            std::to_string(starts.size()) + ", " + std::to_string(ends.size()) +
                            ", " + std::to_string(axes.size()) + ", " +
                            std::to_string(steps.size()));
  plan->start.assign(size_t(rank), 0);
  plan->step.assign(size_t(rank), 1);
  plan->output = input.shape;
  std::vector<char> seen(size_t(rank), 0);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t axis = 0;
    ATROUS_RETURN_IF_ERROR(normalize_axis(op, "axes entry", axes[i], rank, false, &axis));
    if (seen[size_t(axis)]) return op_error(op, "axes " + ints_to_string(axes) + " repeat an axis");
    seen[size_t(axis)] = 1;
    const int64_t step = steps[i];
    // Bounding the step keeps −step and step − 1 representable.
    if (step == 0 || step < -kMaxTensorElements || step > kMaxTensorElements)
      return op_error(op,
                      "steps must be non-zero and |step| <= 2^34, got " + ints_to_string(steps));
    const int64_t dim = input.shape[size_t(axis)];
    // start, end: any int64 (INT64_MAX means "to the end"); adding dim to a negative value
    // cannot overflow.
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    int64_t count = 0;
    if (dim == 0) {
      start = 0;
    } else if (step > 0) {
      start = std::min(std::max<int64_t>(start, 0), dim);
      end = std::min(std::max<int64_t>(end, 0), dim);
      count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::min(std::max<int64_t>(start, 0), dim - 1);
      end = std::min(std::max<int64_t>(end, -1), dim - 1);
      count = start > end ? (start - end - 1) / -step + 1 : 0;
    }
    plan->start[size_t(axis)] = start;
    plan->step[size_t(axis)] = step;
    plan->output[size_t(axis)] = count;
  }
  return check_output_shape(op, plan->output);
}

}  // namespace

Status slice_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                   std::vector<TensorDesc>* outputs) {
  SlicePlan plan;
  ATROUS_RETURN_IF_ERROR(slice_resolve(attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{inputs[0]->dtype, plan.output});
  return Status::success();
}

Status slice_reference(const AttributeMap& attributes, const std::vector<const TensorView*>& inputs,
                       const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  SlicePlan plan;
  ATROUS_RETURN_IF_ERROR(slice_resolve(attributes, TensorDesc{input.dtype, input.shape}, &plan));
  const std::vector<int64_t> strides = row_major_strides(input.shape);
  std::vector<std::vector<int64_t>> offsets(plan.output.size());
  for (size_t d = 0; d < plan.output.size(); ++d) {
    offsets[d].resize(size_t(plan.output[d]));
    for (int64_t o = 0; o < plan.output[d]; ++o)
      offsets[d][size_t(o)] = (plan.start[d] + o * plan.step[d]) * strides[d];
  }
  axis_gather(input.data, input.dtype, plan.output, offsets, nullptr, outputs[0]->data);
  return Status::success();
}

}  // namespace atrous
