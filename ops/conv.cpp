// conv: 2-D grouped convolution, NCHW, with bias and a fused activation.
//
// Reference loop: for each (image, output channel) a double accumulator plane of oH×oW; for
// each input channel of the group and kernel tap (kh, kw), the range of output rows and columns
// whose input coordinate lies inside the image is computed once, so the innermost loop has no
// bounds check and vectorizes: acc[oh][ow] += w · x[ih][ow·sW + kw·dW − pad_left]. Taps that
// fall into the padding add nothing (the padding is zero). Bias is added in double, then the
// sum is rounded to float once and the fused activation (ops/activation.h) is applied.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/activation.h"
#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

constexpr const char* kOp = "conv";

struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t group = 1;
  WindowAxis axes[2];  // 0 = H, 1 = W
  Activation activation;
};

Status conv_resolve(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                    ConvGeometry* geometry) {
  const TensorDesc& x = *inputs[0];
  const TensorDesc& w = *inputs[1];
  const TensorDesc* b = inputs.size() > 2 ? inputs[2] : nullptr;
  ATROUS_RETURN_IF_ERROR(check_dtype(kOp, "input X", x, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_dtype(kOp, "weight W", w, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_rank(kOp, "input X", x, 4));
  ATROUS_RETURN_IF_ERROR(check_rank(kOp, "weight W", w, 4));

  AttributeReader reader(kOp, attributes);
  int64_t group = reader.get_int("group", 1);
  std::vector<int64_t> kernel_shape = reader.get_ints("kernel_shape", {});
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (group < 1 || group > kMaxAttributeMagnitude)
    return op_error(kOp, "group must be in [1, 2^31], got " + std::to_string(group));

  int64_t channels = x.shape[1];
  int64_t filters = w.shape[0];
  if (channels < 1 || x.shape[2] < 1 || x.shape[3] < 1)
    return op_error(kOp, "input X must have C, H, W >= 1, got " + shape_to_string(x.shape));
  if (filters < 1 || w.shape[2] < 1 || w.shape[3] < 1)
    return op_error(kOp, "weight W must have M, kH, kW >= 1, got " + shape_to_string(w.shape));
  if (channels % group != 0 || filters % group != 0)
    return op_error(kOp, "group " + std::to_string(group) + " must divide C = " +
                             std::to_string(channels) + " and M = " + std::to_string(filters));
  if (w.shape[1] != channels / group)
    return op_error(kOp, "weight W " + shape_to_string(w.shape) + " must have C/group = " +
                             std::to_string(channels / group) + " input channels");
  if (!kernel_shape.empty() &&
      (kernel_shape.size() != 2 || kernel_shape[0] != w.shape[2] || kernel_shape[1] != w.shape[3]))
    return op_error(kOp, "kernel_shape " + ints_to_string(kernel_shape) +
                             " does not match weight W " + shape_to_string(w.shape));
  if (b) {
    ATROUS_RETURN_IF_ERROR(check_dtype(kOp, "bias B", *b, DType::dtype_f32));
    if (b->shape != Shape{filters})
      return op_error(kOp, "bias B must have shape [" + std::to_string(filters) + "], got " +
                               shape_to_string(b->shape));
  }

  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel[2] = {w.shape[2], w.shape[3]};
  WindowOptions options;
  options.dilations = true;
  ATROUS_RETURN_IF_ERROR(resolve_window_2d(&reader, input, kernel, options, geometry->axes));
  ATROUS_RETURN_IF_ERROR(activation_from_conv_attributes(attributes, &geometry->activation));
  geometry->batch = x.shape[0];
  geometry->in_channels = channels;
  geometry->out_channels = filters;
  geometry->group = group;
  return Status::success();
}

// Output positions o in [0, output) whose input coordinate o·stride + offset is inside
// [0, input): the half-open range [*first, *last).
void valid_output_range(int64_t offset, int64_t stride, int64_t input, int64_t output,
                        int64_t* first, int64_t* last) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = input - 1 - offset < 0 ? 0 : (input - 1 - offset) / stride + 1;
  *first = std::min(lo, output);
  *last = std::max(*first, std::min(hi, output));
}

}  // namespace

Status conv_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                  std::vector<TensorDesc>* outputs) {
  ConvGeometry geometry;
  ATROUS_RETURN_IF_ERROR(conv_resolve(attributes, inputs, &geometry));
  Shape shape = {geometry.batch, geometry.out_channels, geometry.axes[0].output,
                 geometry.axes[1].output};
  ATROUS_RETURN_IF_ERROR(check_output_shape(kOp, shape));
  outputs->push_back(TensorDesc{DType::dtype_f32, shape});
  return Status::success();
}

Status conv_reference(const AttributeMap& attributes, const std::vector<const TensorView*>& inputs,
                      const std::vector<TensorView*>& outputs) {
  ViewDescs descs(inputs);
  ConvGeometry geometry;
  ATROUS_RETURN_IF_ERROR(conv_resolve(attributes, descs.pointers(), &geometry));

  const WindowAxis& ah = geometry.axes[0];
  const WindowAxis& aw = geometry.axes[1];
  const int64_t in_h = ah.input, in_w = aw.input, out_h = ah.output, out_w = aw.output;
  const int64_t stride_w = aw.stride;
  const int64_t channels = geometry.in_channels;
  const int64_t filters = geometry.out_channels;
  const int64_t group_channels = channels / geometry.group;
  const int64_t group_filters = filters / geometry.group;
  const int64_t taps = ah.kernel * aw.kernel;
  const float* x = inputs[0]->f32();
  const float* w = inputs[1]->f32();
  const float* bias = inputs.size() > 2 && inputs[2] ? inputs[2]->f32() : nullptr;
  float* y = outputs[0]->f32();

  // Valid output ranges per kernel row / column do not depend on the channel: compute once.
  std::vector<int64_t> rows_first(size_t(ah.kernel)), rows_last(size_t(ah.kernel));
  for (int64_t kh = 0; kh < ah.kernel; ++kh)
    valid_output_range(kh * ah.dilation - ah.pad_begin, ah.stride, in_h, out_h,
                       &rows_first[size_t(kh)], &rows_last[size_t(kh)]);
  std::vector<int64_t> cols_first(size_t(aw.kernel)), cols_last(size_t(aw.kernel));
  for (int64_t kw = 0; kw < aw.kernel; ++kw)
    valid_output_range(kw * aw.dilation - aw.pad_begin, aw.stride, in_w, out_w,
                       &cols_first[size_t(kw)], &cols_last[size_t(kw)]);

  std::vector<double> accumulator(size_t(out_h * out_w));
  for (int64_t n = 0; n < geometry.batch; ++n) {
    for (int64_t m = 0; m < filters; ++m) {
      const int64_t first_channel = (m / group_filters) * group_channels;
      std::fill(accumulator.begin(), accumulator.end(), 0.0);
      for (int64_t c = 0; c < group_channels; ++c) {
        const float* plane = x + ((n * channels + first_channel + c) * in_h) * in_w;
        const float* kernel = w + (m * group_channels + c) * taps;
        for (int64_t kh = 0; kh < ah.kernel; ++kh) {
          for (int64_t kw = 0; kw < aw.kernel; ++kw) {
            const double weight = double(kernel[kh * aw.kernel + kw]);
            const int64_t col_offset = kw * aw.dilation - aw.pad_begin;
            const int64_t ow_first = cols_first[size_t(kw)], ow_last = cols_last[size_t(kw)];
            for (int64_t oh = rows_first[size_t(kh)]; oh < rows_last[size_t(kh)]; ++oh) {
              const int64_t ih = oh * ah.stride + kh * ah.dilation - ah.pad_begin;
              const float* row = plane + ih * in_w;
              double* acc = accumulator.data() + oh * out_w;
              if (stride_w == 1) {
                for (int64_t ow = ow_first; ow < ow_last; ++ow)
                  acc[ow] += weight * double(row[ow + col_offset]);
              } else {
                for (int64_t ow = ow_first; ow < ow_last; ++ow)
                  acc[ow] += weight * double(row[ow * stride_w + col_offset]);
              }
            }
          }
        }
      }
      const double b = bias ? double(bias[m]) : 0.0;
      float* out = y + (n * filters + m) * out_h * out_w;
      for (int64_t i = 0; i < out_h * out_w; ++i)
        out[i] = activation_apply(geometry.activation, float(accumulator[size_t(i)] + b));
    }
  }
  return Status::success();
}

int64_t conv_multiply_adds(const AttributeMap& attributes,
                           const std::vector<const TensorDesc*>& inputs,
                           const std::vector<TensorDesc>& outputs) {
  (void)attributes;
  if (inputs.size() < 2 || !inputs[1] || inputs[1]->shape.size() != 4 || outputs.empty()) return 0;
  const Shape& w = inputs[1]->shape;
  int64_t total = 1;
  for (int64_t dim : outputs[0].shape) total = saturating_mul(total, dim);
  for (size_t i = 1; i < 4; ++i) total = saturating_mul(total, w[i]);
  return total;
}

}  // namespace atrous
