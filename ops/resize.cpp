// resize: NCHW float32 to [N, C, oH, oW], bilinear or nearest, per docs/OPS.md.
//
// Each output coordinate x maps to an input coordinate x' (double) by the coordinate mode, with
// r = in/out, or 1/scale when `scales` is given (ONNX Runtime and PyTorch use the user's scale
// factor, not the size ratio, when one is given):
//   align_corners       x' = x·(in − 1)/(out − 1), 0 when out = 1
//   half_pixel          x' = (x + 0.5)·r − 0.5
//   pytorch_half_pixel  as half_pixel, 0 when out = 1
//   asymmetric          x' = x·r
// Bilinear clamps x' to [0, in − 1] (a negative half-pixel x' reads the first pixel, as ONNX
// Runtime, PyTorch and TF do), then interpolates along H, then along W, in double.
// Nearest rounds x' (round_prefer_floor: a tie goes down, round_prefer_ceil: up, floor, ceil)
// and clamps the index to [0, in − 1].
#include "ops/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

constexpr const char* kOp = "resize";

enum class CoordinateMode { align_corners, half_pixel, pytorch_half_pixel, asymmetric };
enum class NearestMode { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct ResizePlan {
  bool linear = true;
  CoordinateMode coordinate = CoordinateMode::half_pixel;
  NearestMode nearest = NearestMode::round_prefer_floor;
  double ratio[2] = {1.0, 1.0};  // r per axis (H, W)
  Shape output;
};

Status resize_resolve(const AttributeMap& attributes, const TensorDesc& x, ResizePlan* plan) {
  ATROUS_RETURN_IF_ERROR(check_dtype(kOp, "input X", x, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_rank(kOp, "input X", x, 4));
  if (x.shape[2] < 1 || x.shape[3] < 1)
    return op_error(kOp, "input X must have H, W >= 1, got " + shape_to_string(x.shape));
  AttributeReader reader(kOp, attributes);
  std::vector<int64_t> sizes = reader.require_ints("sizes");
  std::vector<double> scales = reader.get_floats("scales", {});
  std::string mode = reader.get_string("mode", "linear");
  std::string coordinate = reader.get_string("coordinate_mode", "half_pixel");
  std::string nearest = reader.get_string("nearest_mode", "round_prefer_floor");
  ATROUS_RETURN_IF_ERROR(reader.status());
  ATROUS_RETURN_IF_ERROR(check_ints(kOp, "sizes", sizes, 2, 1, kMaxAttributeMagnitude));
  if (!scales.empty() && scales.size() != 2)
    return op_error(kOp,
                    "scales must be empty or have 2 values, got " + std::to_string(scales.size()));
  for (double scale : scales)
    if (!(scale > 0.0) || !std::isfinite(scale) || !std::isfinite(1.0 / scale))
      return op_error(kOp, "scales must be finite and > 0 (with a finite inverse)");

  if (mode == "linear") {
    plan->linear = true;
  } else if (mode == "nearest") {
    plan->linear = false;
  } else {
    return op_error(kOp, "mode must be linear or nearest, got '" + mode + "'");
  }
  if (coordinate == "align_corners") {
    plan->coordinate = CoordinateMode::align_corners;
  } else if (coordinate == "half_pixel") {
    plan->coordinate = CoordinateMode::half_pixel;
  } else if (coordinate == "pytorch_half_pixel") {
    plan->coordinate = CoordinateMode::pytorch_half_pixel;
  } else if (coordinate == "asymmetric") {
    plan->coordinate = CoordinateMode::asymmetric;
  } else {
    return op_error(kOp,
                    "coordinate_mode must be align_corners, half_pixel, "
                    "pytorch_half_pixel or asymmetric, got '" +
                        coordinate + "'");
  }
  if (nearest == "round_prefer_floor") {
    plan->nearest = NearestMode::round_prefer_floor;
  } else if (nearest == "round_prefer_ceil") {
    plan->nearest = NearestMode::round_prefer_ceil;
  } else if (nearest == "floor") {
    plan->nearest = NearestMode::floor;
  } else if (nearest == "ceil") {
    plan->nearest = NearestMode::ceil;
  } else {
    return op_error(kOp,
                    "nearest_mode must be round_prefer_floor, round_prefer_ceil, floor "
                    "or ceil, got '" +
                        nearest + "'");
  }
  for (size_t i = 0; i < 2; ++i)
    plan->ratio[i] = scales.empty() ? double(x.shape[i + 2]) / double(sizes[i]) : 1.0 / scales[i];
  plan->output = {x.shape[0], x.shape[1], sizes[0], sizes[1]};
  return check_output_shape(kOp, plan->output);
}

double source_coordinate(CoordinateMode mode, int64_t x, int64_t in, int64_t out, double ratio) {
  switch (mode) {
    case CoordinateMode::align_corners:
      return out == 1 ? 0.0 : double(x) * double(in - 1) / double(out - 1);
    case CoordinateMode::half_pixel:
      return (double(x) + 0.5) * ratio - 0.5;
    case CoordinateMode::pytorch_half_pixel:
      return out == 1 ? 0.0 : (double(x) + 0.5) * ratio - 0.5;
    case CoordinateMode::asymmetric:
      return double(x) * ratio;
  }
  return 0.0;
}

int64_t nearest_index(NearestMode mode, double coordinate, int64_t in) {
  double rounded = 0.0;
  switch (mode) {
    case NearestMode::round_prefer_floor:
      rounded = coordinate - std::floor(coordinate) == 0.5 ? std::floor(coordinate)
                                                           : std::round(coordinate);
      break;
    case NearestMode::round_prefer_ceil:
      rounded = coordinate - std::floor(coordinate) == 0.5 ? std::ceil(coordinate)
                                                           : std::round(coordinate);
      break;
    case NearestMode::floor:
      rounded = std::floor(coordinate);
      break;
    case NearestMode::ceil:
      rounded = std::ceil(coordinate);
      break;
  }
  // Clamp in double first: the coordinate of a huge scale may not fit int64.
  rounded = std::min(std::max(rounded, 0.0), double(in - 1));
  return int64_t(rounded);
}

}  // namespace

Status resize_taps(const AttributeMap& attributes, const TensorDesc& x, ResizeTaps* taps) {
  ResizePlan plan;
  ATROUS_RETURN_IF_ERROR(resize_resolve(attributes, x, &plan));
  taps->linear = plan.linear;
  taps->output = plan.output;
  const int64_t in_size[2] = {x.shape[2], x.shape[3]};
  const int64_t out_size[2] = {plan.output[2], plan.output[3]};
  // The maps of H and W are separable: computed once per axis.
  for (size_t a = 0; a < 2; ++a) {
    taps->axis[a].assign(size_t(out_size[a]), ResizeTap());
    for (int64_t o = 0; o < out_size[a]; ++o) {
      double coordinate =
          source_coordinate(plan.coordinate, o, in_size[a], out_size[a], plan.ratio[a]);
      ResizeTap& tap = taps->axis[a][size_t(o)];
      if (plan.linear) {
        coordinate = std::min(std::max(coordinate, 0.0), double(in_size[a] - 1));
        tap.first = int64_t(std::floor(coordinate));
        tap.second = std::min(tap.first + 1, in_size[a] - 1);
        tap.lambda = coordinate - double(tap.first);
      } else {
        tap.first = tap.second = nearest_index(plan.nearest, coordinate, in_size[a]);
      }
    }
  }
  return Status::success();
}

Status resize_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                    std::vector<TensorDesc>* outputs) {
  ResizePlan plan;
  ATROUS_RETURN_IF_ERROR(resize_resolve(attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{DType::dtype_f32, plan.output});
  return Status::success();
}

Status resize_reference(const AttributeMap& attributes,
                        const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  ResizeTaps taps;
  ATROUS_RETURN_IF_ERROR(resize_taps(attributes, TensorDesc{input.dtype, input.shape}, &taps));
  const int64_t in_size[2] = {input.shape[2], input.shape[3]};
  const int64_t out_size[2] = {taps.output[2], taps.output[3]};
  const int64_t planes = input.shape[0] * input.shape[1];
  const int64_t in_w = in_size[1];
  for (int64_t p = 0; p < planes; ++p) {
    const float* plane = input.f32() + p * in_size[0] * in_w;
    float* out = outputs[0]->f32() + p * out_size[0] * out_size[1];
    for (int64_t oh = 0; oh < out_size[0]; ++oh) {
      const ResizeTap& th = taps.axis[0][size_t(oh)];
      const float* row0 = plane + th.first * in_w;
      const float* row1 = plane + th.second * in_w;
      for (int64_t ow = 0; ow < out_size[1]; ++ow) {
        const ResizeTap& tw = taps.axis[1][size_t(ow)];
        if (!taps.linear) {
          out[oh * out_size[1] + ow] = row0[tw.first];
          continue;
        }
        const double left =
            (1.0 - th.lambda) * double(row0[tw.first]) + th.lambda * double(row1[tw.first]);
        const double right =
            (1.0 - th.lambda) * double(row0[tw.second]) + th.lambda * double(row1[tw.second]);
        out[oh * out_size[1] + ow] = float((1.0 - tw.lambda) * left + tw.lambda * right);
      }
    }
  }
  return Status::success();
}

}  // namespace atrous
