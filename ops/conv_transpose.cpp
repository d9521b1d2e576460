// conv_transpose: 2-D grouped transposed convolution ("deconvolution"), NCHW, with bias.
//
// W has the ONNX layout [C, M/group, kH, kW]: input channel c of group g feeds output channels
// g·(M/group) .. (g+1)·(M/group) − 1. Each input pixel (h, w) scatters x·W[c, m, i, j] to output
// (h·sH − pad_top + i·dH, w·sW − pad_left + j·dW); contributions that land outside the output
// (cropped by the pads) are dropped. output_padding adds rows/columns at the bottom/right end,
// after the crop by pad_end; they get whatever taps reach them (with no pad_end, only the bias).
//
// Reference loop: for each (image, output channel) a double accumulator plane of oH×oW; for
// each input channel of the group and kernel tap (i, j), the range of input rows and columns
// whose target lies inside the output is computed once, so the inner loop has no bounds check.
// Bias is added in double and the sum is rounded to float once, as in conv.
//
// Size arithmetic: every attribute is bounded by 2^31 and every dim by 2^34 before use, and the
// two products that can still exceed int64 ((H−1)·stride and dilation·(k−1)) are checked.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

constexpr const char* kOp = "conv_transpose";

// Past this an axis could not fit in kMaxTensorElements anyway; keeps the sums below in range.
constexpr int64_t kMaxAxisSpan = int64_t(1) << 40;

struct TransposeAxis {
  int64_t input = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
  int64_t output_padding = 0;
  int64_t output = 0;
};

struct ConvTransposeGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t group = 1;
  TransposeAxis axes[2];  // 0 = H, 1 = W
};

Status resolve_axes(AttributeReader* reader, const int64_t input[2], const int64_t kernel[2],
                    TransposeAxis axes[2]) {
  std::vector<int64_t> strides = reader->get_ints("strides", {1, 1});
  std::vector<int64_t> dilations = reader->get_ints("dilations", {1, 1});
  std::vector<int64_t> pads = reader->get_ints("pads", {0, 0, 0, 0});
  std::vector<int64_t> output_padding = reader->get_ints("output_padding", {0, 0});
  ATROUS_RETURN_IF_ERROR(reader->status());
  ATROUS_RETURN_IF_ERROR(check_ints(kOp, "strides", strides, 2, 1, kMaxAttributeMagnitude));
  ATROUS_RETURN_IF_ERROR(check_ints(kOp, "dilations", dilations, 2, 1, kMaxAttributeMagnitude));
  ATROUS_RETURN_IF_ERROR(check_ints(kOp, "pads", pads, 4, 0, kMaxAttributeMagnitude));
  ATROUS_RETURN_IF_ERROR(
      check_ints(kOp, "output_padding", output_padding, 2, 0, kMaxAttributeMagnitude));

  static const char* const kAxisNames[2] = {"height", "width"};
  for (size_t a = 0; a < 2; ++a) {
    TransposeAxis& axis = axes[a];
    axis.input = input[a];
    axis.kernel = kernel[a];
    axis.stride = strides[a];
    axis.dilation = dilations[a];
    axis.pad_begin = pads[a];
    axis.pad_end = pads[a + 2];
    axis.output_padding = output_padding[a];
    if (axis.output_padding >= std::max(axis.stride, axis.dilation))
      return op_error(kOp, "output_padding must be < max(stride, dilation) per axis, got " +
                               ints_to_string(output_padding) + " with strides " +
                               ints_to_string(strides) + " and dilations " +
                               ints_to_string(dilations));
    int64_t kernel_span = 0, input_span = 0;
    if (!checked_mul(axis.dilation, axis.kernel - 1, &kernel_span) || kernel_span > kMaxAxisSpan)
      return op_error(kOp, std::string("dilated kernel ") + kAxisNames[a] + " is too large");
    if (!checked_mul(axis.input - 1, axis.stride, &input_span) || input_span > kMaxAxisSpan)
      return op_error(kOp, std::string("output ") + kAxisNames[a] + " is too large (input " +
                               std::to_string(axis.input) + ", stride " +
                               std::to_string(axis.stride) + ")");
    axis.output =
        input_span - axis.pad_begin - axis.pad_end + kernel_span + axis.output_padding + 1;
    if (axis.output < 1)
      return op_error(kOp, std::string("output ") + kAxisNames[a] + " would be < 1 (input " +
                               std::to_string(axis.input) + ", stride " +
                               std::to_string(axis.stride) + ", pads " +
                               std::to_string(axis.pad_begin) + "+" + std::to_string(axis.pad_end) +
                               ", dilated kernel " + std::to_string(kernel_span + 1) + ")");
  }
  return Status::success();
}

Status conv_transpose_resolve(const AttributeMap& attributes,
                              const std::vector<const TensorDesc*>& inputs,
                              ConvTransposeGeometry* geometry) {
  const TensorDesc& x = *inputs[0];
  const TensorDesc& w = *inputs[1];
  const TensorDesc* b = inputs.size() > 2 ? inputs[2] : nullptr;
  ATROUS_RETURN_IF_ERROR(check_dtype(kOp, "input X", x, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_dtype(kOp, "weight W", w, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_rank(kOp, "input X", x, 4));
  ATROUS_RETURN_IF_ERROR(check_rank(kOp, "weight W", w, 4));

  AttributeReader reader(kOp, attributes);
  int64_t group = reader.get_int("group", 1);
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (group < 1 || group > kMaxAttributeMagnitude)
    return op_error(kOp, "group must be in [1, 2^31], got " + std::to_string(group));

  const int64_t channels = x.shape[1];
  const int64_t group_filters = w.shape[1];
  if (channels < 1 || x.shape[2] < 1 || x.shape[3] < 1)
    return op_error(kOp, "input X must have C, H, W >= 1, got " + shape_to_string(x.shape));
  if (w.shape[0] != channels)
    return op_error(kOp, "weight W " + shape_to_string(w.shape) +
                             " must have C = " + std::to_string(channels) + " as its first dim");
  if (group_filters < 1 || w.shape[2] < 1 || w.shape[3] < 1)
    return op_error(kOp,
                    "weight W must have M/group, kH, kW >= 1, got " + shape_to_string(w.shape));
  if (channels % group != 0)
    return op_error(
        kOp, "group " + std::to_string(group) + " must divide C = " + std::to_string(channels));
  // group <= C and C·(M/group) <= kMaxTensorElements (W is a valid tensor), so this cannot
  // overflow; checked all the same.
  int64_t filters = 0;
  if (!checked_mul(group_filters, group, &filters))
    return op_error(kOp, "output channels M = (M/group)·group overflow");
  if (b) {
    ATROUS_RETURN_IF_ERROR(check_dtype(kOp, "bias B", *b, DType::dtype_f32));
    if (b->shape != Shape{filters})
      return op_error(kOp, "bias B must have shape [" + std::to_string(filters) + "], got " +
                               shape_to_string(b->shape));
  }

  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel[2] = {w.shape[2], w.shape[3]};
  ATROUS_RETURN_IF_ERROR(resolve_axes(&reader, input, kernel, geometry->axes));
  geometry->batch = x.shape[0];
  geometry->in_channels = channels;
  geometry->out_channels = filters;
  geometry->group = group;
  return Status::success();
}

// Input positions p in [0, input) whose target p·stride + offset lies in [0, output): the
// half-open range [*first, *last) (empty when first == last).
void scatter_input_range(int64_t offset, int64_t stride, int64_t input, int64_t output,
                         int64_t* first, int64_t* last) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = output - 1 - offset < 0 ? 0 : (output - 1 - offset) / stride + 1;
  *first = std::min(lo, input);
  *last = std::max(*first, std::min(hi, input));
}

}  // namespace

Status conv_transpose_infer(const AttributeMap& attributes,
                            const std::vector<const TensorDesc*>& inputs,
                            std::vector<TensorDesc>* outputs) {
  ConvTransposeGeometry geometry;
  ATROUS_RETURN_IF_ERROR(conv_transpose_resolve(attributes, inputs, &geometry));
  Shape shape = {geometry.batch, geometry.out_channels, geometry.axes[0].output,
                 geometry.axes[1].output};
  ATROUS_RETURN_IF_ERROR(check_output_shape(kOp, shape));
  outputs->push_back(TensorDesc{DType::dtype_f32, shape});
  return Status::success();
}

Status conv_transpose_reference(const AttributeMap& attributes,
                                const std::vector<const TensorView*>& inputs,
                                const std::vector<TensorView*>& outputs) {
  ViewDescs descs(inputs);
  ConvTransposeGeometry geometry;
  ATROUS_RETURN_IF_ERROR(conv_transpose_resolve(attributes, descs.pointers(), &geometry));

  const TransposeAxis& ah = geometry.axes[0];
  const TransposeAxis& aw = geometry.axes[1];
  const int64_t in_h = ah.input, in_w = aw.input, out_h = ah.output, out_w = aw.output;
  const int64_t channels = geometry.in_channels;
  const int64_t filters = geometry.out_channels;
  const int64_t group_channels = channels / geometry.group;
  const int64_t group_filters = filters / geometry.group;
  const int64_t taps = ah.kernel * aw.kernel;
  const float* x = inputs[0]->f32();
  const float* w = inputs[1]->f32();
  const float* bias = inputs.size() > 2 && inputs[2] ? inputs[2]->f32() : nullptr;
  float* y = outputs[0]->f32();

  // The input ranges per kernel row / column do not depend on the channel: compute once.
  std::vector<int64_t> rows_first(size_t(ah.kernel)), rows_last(size_t(ah.kernel));
  for (int64_t i = 0; i < ah.kernel; ++i)
    scatter_input_range(i * ah.dilation - ah.pad_begin, ah.stride, in_h, out_h,
                        &rows_first[size_t(i)], &rows_last[size_t(i)]);
  std::vector<int64_t> cols_first(size_t(aw.kernel)), cols_last(size_t(aw.kernel));
  for (int64_t j = 0; j < aw.kernel; ++j)
    scatter_input_range(j * aw.dilation - aw.pad_begin, aw.stride, in_w, out_w,
                        &cols_first[size_t(j)], &cols_last[size_t(j)]);

  std::vector<double> accumulator(size_t(out_h * out_w));
  for (int64_t n = 0; n < geometry.batch; ++n) {
    for (int64_t m = 0; m < filters; ++m) {
      const int64_t first_channel = (m / group_filters) * group_channels;
      const int64_t m_local = m % group_filters;
      std::fill(accumulator.begin(), accumulator.end(), 0.0);
      for (int64_t c = first_channel; c < first_channel + group_channels; ++c) {
        const float* plane = x + ((n * channels + c) * in_h) * in_w;
        const float* kernel = w + (c * group_filters + m_local) * taps;
        for (int64_t i = 0; i < ah.kernel; ++i) {
          const int64_t row_offset = i * ah.dilation - ah.pad_begin;
          for (int64_t j = 0; j < aw.kernel; ++j) {
            const double weight = double(kernel[i * aw.kernel + j]);
            const int64_t col_offset = j * aw.dilation - aw.pad_begin;
            const int64_t iw_first = cols_first[size_t(j)], iw_last = cols_last[size_t(j)];
            for (int64_t ih = rows_first[size_t(i)]; ih < rows_last[size_t(i)]; ++ih) {
              const float* row = plane + ih * in_w;
              double* acc = accumulator.data() + (ih * ah.stride + row_offset) * out_w;
              for (int64_t iw = iw_first; iw < iw_last; ++iw)
                acc[iw * aw.stride + col_offset] += weight * double(row[iw]);
            }
          }
        }
      }
      const double b = bias ? double(bias[m]) : 0.0;
      float* out = y + (n * filters + m) * out_h * out_w;
      for (int64_t k = 0; k < out_h * out_w; ++k) out[k] = float(accumulator[size_t(k)] + b);
    }
  }
  return Status::success();
}

// N·C·H·W·(M/group)·kH·kW: every input element meets every tap of its group's filters.
int64_t conv_transpose_multiply_adds(const AttributeMap& attributes,
                                     const std::vector<const TensorDesc*>& inputs,
                                     const std::vector<TensorDesc>& outputs) {
  (void)attributes;
  (void)outputs;
  if (inputs.size() < 2 || !inputs[0] || !inputs[1] || inputs[1]->shape.size() != 4) return 0;
  int64_t total = 1;
  for (int64_t dim : inputs[0]->shape) total = saturating_mul(total, dim);
  for (size_t i = 1; i < 4; ++i) total = saturating_mul(total, inputs[1]->shape[i]);
  return total;
}

}  // namespace atrous
