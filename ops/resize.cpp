// resize: NCHW float32 to [N, C, oH, oW], nearest, bilinear or bicubic, per docs/OPS.md.
//
// Each output coordinate x maps to an input coordinate x' (double) by the coordinate mode, with
// r = in/out, or 1/scale when `scales` is given (ONNX Runtime and PyTorch use the user's scale
// factor, not the size ratio, when one is given):
//   align_corners         x' = x·(in − 1)/(out − 1), 0 when out = 1
//   half_pixel            x' = (x + 0.5)·r − 0.5
//   pytorch_half_pixel    as half_pixel, 0 when out = 1
//   asymmetric            x' = x·r
//   half_pixel_symmetric  half_pixel shifted so the output stays centred when out ≠ in/r:
//                         x' = (in/2)·(1 − out·r/in) + (x + 0.5)·r − 0.5
//   tf_crop_and_resize    x' = start·(in − 1) + x·(end − start)·(in − 1)/(out − 1), or
//                         (start + end)·(in − 1)/2 when out = 1; an x' outside [0, in − 1] on
//                         either axis gives `extrapolation_value` (TF's CropAndResize)
// Two-tap resizes (ResizeTaps, shared with the kernels): bilinear clamps x' to [0, in − 1] (a
// negative half-pixel x' reads the first pixel, as ONNX Runtime, PyTorch and TF do), then
// interpolates along H, then along W, in double. Nearest rounds x' (round_prefer_floor: a tie
// goes down, round_prefer_ceil: up, floor, ceil) and clamps the index to [0, in − 1].
// The other resizes (cubic, antialiased linear downscale, tf_crop_and_resize) take, per axis, the
// taps floor(x') + i, i in [start, start + n), with weight f(s·(i − frac(x'))): f is the tent
// max(0, 1 − |t|) (linear) or Keys' cubic with `cubic_coeff_a` (cubic), s = 1, or min(1, 1/r)
// with `antialias` (the filter widens by 1/s when downscaling), start = ⌊−w/s⌋ + 1 and
// n = 2 − 2·start for the filter's half-width w (1 or 2). Taps outside the input read the edge
// pixel, or with `exclude_outside` get weight 0; the weights are divided by their sum when
// antialiased or excluding (ONNX's reference implementation). Each output is
// Σ_h w_h·Σ_w w_w·x[h, w] in double, rounded once.
#include "ops/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

constexpr const char* kOp = "resize";

enum class ResizeMode { nearest, linear, cubic };
enum class CoordinateMode {
  align_corners,
  half_pixel,
  pytorch_half_pixel,
  asymmetric,
  half_pixel_symmetric,
  tf_crop_and_resize
};
enum class NearestMode { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct ResizePlan {
  ResizeMode mode = ResizeMode::linear;
  CoordinateMode coordinate = CoordinateMode::half_pixel;
  NearestMode nearest = NearestMode::round_prefer_floor;
  double ratio[2] = {1.0, 1.0};          // r per axis (H, W)
  double roi[4] = {0.0, 0.0, 1.0, 1.0};  // tf_crop_and_resize: H start, W start, H end, W end
  double cubic_a = -0.75;
  double extrapolation = 0.0;
  bool exclude_outside = false;
  bool antialias = false;
  Shape output;

  bool two_taps() const {
    if (mode == ResizeMode::cubic || coordinate == CoordinateMode::tf_crop_and_resize) return false;
    return !(antialias && mode == ResizeMode::linear && (ratio[0] > 1.0 || ratio[1] > 1.0));
  }
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
  const std::vector<double> roi = reader.get_floats("roi", {0.0, 0.0, 1.0, 1.0});
  plan->cubic_a = reader.get_float("cubic_coeff_a", -0.75);
  plan->extrapolation = reader.get_float("extrapolation_value", 0.0);
  const int64_t exclude_outside = reader.get_int("exclude_outside", 0);
  const int64_t antialias = reader.get_int("antialias", 0);
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (roi.size() != 4)
    return op_error(kOp, "roi must have 4 values, got " + std::to_string(roi.size()));
  for (size_t i = 0; i < 4; ++i) {
    if (!std::isfinite(roi[i])) return op_error(kOp, "roi must be finite");
    plan->roi[i] = roi[i];
  }
  if (!std::isfinite(plan->cubic_a)) return op_error(kOp, "cubic_coeff_a must be finite");
  if (std::isnan(plan->extrapolation)) return op_error(kOp, "extrapolation_value must not be NaN");
  if ((exclude_outside != 0 && exclude_outside != 1) || (antialias != 0 && antialias != 1))
    return op_error(kOp, "exclude_outside and antialias must be 0 or 1");
  plan->exclude_outside = exclude_outside == 1;
  plan->antialias = antialias == 1;
  ATROUS_RETURN_IF_ERROR(check_ints(kOp, "sizes", sizes, 2, 1, kMaxAttributeMagnitude));
  if (!scales.empty() && scales.size() != 2)
    return op_error(kOp,
                    "scales must be empty or have 2 values, got " + std::to_string(scales.size()));
  for (double scale : scales)
    if (!(scale > 0.0) || !std::isfinite(scale) || !std::isfinite(1.0 / scale))
      return op_error(kOp, "scales must be finite and > 0 (with a finite inverse)");

  if (mode == "linear") {
    plan->mode = ResizeMode::linear;
  } else if (mode == "nearest") {
    plan->mode = ResizeMode::nearest;
  } else if (mode == "cubic") {
    plan->mode = ResizeMode::cubic;
  } else {
    return op_error(kOp, "mode must be linear, nearest or cubic, got '" + mode + "'");
  }
  if (coordinate == "align_corners") {
    plan->coordinate = CoordinateMode::align_corners;
  } else if (coordinate == "half_pixel") {
    plan->coordinate = CoordinateMode::half_pixel;
  } else if (coordinate == "pytorch_half_pixel") {
    plan->coordinate = CoordinateMode::pytorch_half_pixel;
  } else if (coordinate == "asymmetric") {
    plan->coordinate = CoordinateMode::asymmetric;
  } else if (coordinate == "half_pixel_symmetric") {
    plan->coordinate = CoordinateMode::half_pixel_symmetric;
  } else if (coordinate == "tf_crop_and_resize") {
    plan->coordinate = CoordinateMode::tf_crop_and_resize;
  } else {
    return op_error(kOp,
                    "coordinate_mode must be align_corners, half_pixel, pytorch_half_pixel, "
                    "asymmetric, half_pixel_symmetric or tf_crop_and_resize, got '" +
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
  // An antialiased downscale reads about 2·w·r pixels per output pixel (w: the filter's
  // half-width); bounding r keeps the tap lists and the window arithmetic small.
  if (plan->antialias && plan->mode != ResizeMode::nearest)
    for (double ratio : plan->ratio)
      if (ratio > 32768.0)
        return op_error(kOp, "antialias: a downscale by more than 32768 is not supported");
  plan->output = {x.shape[0], x.shape[1], sizes[0], sizes[1]};
  return check_output_shape(kOp, plan->output);
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

double source_coordinate(const ResizePlan& plan, size_t axis, int64_t x, int64_t in, int64_t out) {
  const double ratio = plan.ratio[axis];
  switch (plan.coordinate) {
    case CoordinateMode::align_corners:
      return out == 1 ? 0.0 : double(x) * double(in - 1) / double(out - 1);
    case CoordinateMode::half_pixel:
      return (double(x) + 0.5) * ratio - 0.5;
    case CoordinateMode::pytorch_half_pixel:
      return out == 1 ? 0.0 : (double(x) + 0.5) * ratio - 0.5;
    case CoordinateMode::asymmetric:
      return double(x) * ratio;
    case CoordinateMode::half_pixel_symmetric: {
      const double adjustment = double(out) * ratio / double(in);
      return double(in) / 2.0 * (1.0 - adjustment) + (double(x) + 0.5) * ratio - 0.5;
    }
    case CoordinateMode::tf_crop_and_resize: {
      const double start = plan.roi[axis], end = plan.roi[axis + 2];
      const double span = double(in - 1);
      if (out == 1) return (start + end) * span / 2.0;
      return start * span + double(x) * (end - start) * span / double(out - 1);
    }
  }
  return 0.0;
}

// Keys' cubic convolution kernel with parameter a, at distance t.
double cubic_weight(double t, double a) {
  t = std::fabs(t);
  if (t <= 1.0) return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
  if (t < 2.0) return ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
  return 0.0;
}

// The taps of one output coordinate of a resize without two taps (see the top of the file);
// empty when the coordinate lies outside a tf_crop_and_resize input.
struct GeneralTaps {
  std::vector<int64_t> index;
  std::vector<double> weight;
};

void general_taps(const ResizePlan& plan, size_t axis, int64_t o, int64_t in, int64_t out,
                  GeneralTaps* taps) {
  taps->index.clear();
  taps->weight.clear();
  const double coordinate = source_coordinate(plan, axis, o, in, out);
  if (plan.coordinate == CoordinateMode::tf_crop_and_resize &&
      !(coordinate >= 0.0 && coordinate <= double(in - 1)))
    return;
  if (plan.mode == ResizeMode::nearest) {
    taps->index.push_back(nearest_index(plan.nearest, coordinate, in));
    taps->weight.push_back(1.0);
    return;
  }
  const double half_width = plan.mode == ResizeMode::cubic ? 2.0 : 1.0;
  const double scale = plan.antialias ? std::min(1.0, 1.0 / plan.ratio[axis]) : 1.0;
  const double base = std::floor(coordinate);
  const double fraction = coordinate - base;
  const int64_t start = int64_t(std::floor(-half_width / scale)) + 1;
  const int64_t count = 2 - 2 * start;
  double sum = 0.0;
  for (int64_t i = start; i < start + count; ++i) {
    const double t = scale * (double(i) - fraction);
    double weight = plan.mode == ResizeMode::cubic ? cubic_weight(t, plan.cubic_a)
                                                   : std::max(0.0, 1.0 - std::fabs(t));
    // base + i may lie far outside int64 for a huge coordinate: compare in double.
    const double position = base + double(i);
    if (plan.exclude_outside && (position < 0.0 || position > double(in - 1))) weight = 0.0;
    taps->index.push_back(int64_t(std::min(std::max(position, 0.0), double(in - 1))));
    taps->weight.push_back(weight);
    sum += weight;
  }
  if ((plan.antialias || plan.exclude_outside) && sum != 0.0)
    for (double& weight : taps->weight) weight /= sum;
}

Status resize_general_reference(const ResizePlan& plan, const TensorView& input,
                                TensorView* output) {
  if (shape_numel(plan.output) == 0) return Status::success();
  const int64_t in_size[2] = {input.shape[2], input.shape[3]};
  const int64_t out_size[2] = {plan.output[2], plan.output[3]};
  std::vector<GeneralTaps> taps[2];
  for (size_t a = 0; a < 2; ++a) {
    taps[a].resize(size_t(out_size[a]));
    for (int64_t o = 0; o < out_size[a]; ++o)
      general_taps(plan, a, o, in_size[a], out_size[a], &taps[a][size_t(o)]);
  }
  const int64_t planes = input.shape[0] * input.shape[1];
  for (int64_t p = 0; p < planes; ++p) {
    const float* plane = input.f32() + p * in_size[0] * in_size[1];
    float* out = output->f32() + p * out_size[0] * out_size[1];
    for (int64_t oh = 0; oh < out_size[0]; ++oh) {
      const GeneralTaps& th = taps[0][size_t(oh)];
      for (int64_t ow = 0; ow < out_size[1]; ++ow) {
        const GeneralTaps& tw = taps[1][size_t(ow)];
        if (th.index.empty() || tw.index.empty()) {
          out[oh * out_size[1] + ow] = float(plan.extrapolation);
          continue;
        }
        double sum = 0.0;
        for (size_t i = 0; i < th.index.size(); ++i) {
          const float* row = plane + th.index[i] * in_size[1];
          double inner = 0.0;
          for (size_t j = 0; j < tw.index.size(); ++j)
            inner += tw.weight[j] * double(row[tw.index[j]]);
          sum += th.weight[i] * inner;
        }
        out[oh * out_size[1] + ow] = float(sum);
      }
    }
  }
  return Status::success();
}

}  // namespace

bool resize_has_two_taps(const AttributeMap& attributes, const TensorDesc& x) {
  ResizePlan plan;
  return resize_resolve(attributes, x, &plan).ok() && plan.two_taps();
}

Status resize_taps(const AttributeMap& attributes, const TensorDesc& x, ResizeTaps* taps) {
  ResizePlan plan;
  ATROUS_RETURN_IF_ERROR(resize_resolve(attributes, x, &plan));
  if (!plan.two_taps())
    return op_error(kOp, "cubic, antialiased and cropping resizes have no two-tap form");
  taps->linear = plan.mode == ResizeMode::linear;
  taps->output = plan.output;
  const int64_t in_size[2] = {x.shape[2], x.shape[3]};
  const int64_t out_size[2] = {plan.output[2], plan.output[3]};
  // The maps of H and W are separable: computed once per axis.
  for (size_t a = 0; a < 2; ++a) {
    taps->axis[a].assign(size_t(out_size[a]), ResizeTap());
    for (int64_t o = 0; o < out_size[a]; ++o) {
      double coordinate = source_coordinate(plan, a, o, in_size[a], out_size[a]);
      ResizeTap& tap = taps->axis[a][size_t(o)];
      if (taps->linear) {
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
  ResizePlan plan;
  ATROUS_RETURN_IF_ERROR(resize_resolve(attributes, TensorDesc{input.dtype, input.shape}, &plan));
  if (!plan.two_taps()) return resize_general_reference(plan, input, outputs[0]);
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
