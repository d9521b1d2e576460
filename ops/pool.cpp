// global_average_pool, average_pool, max_pool over NCHW float32.
//
// Window geometry (strides, pads, auto_pad, ceil_mode) is shared with conv (resolve_window_2d).
// Window of output row oh: input rows oh·sH − pad_top + k·dH, k in [0, kH).
// average_pool: the sum (double) of the cells inside the input, divided by the number of cells
// inside the input (count_include_pad = 0) or inside the padded input (count_include_pad = 1;
// with ceil_mode, cells of the last window beyond the right/bottom padding are not counted, as
// in PyTorch). Every window holds at least one input cell because pads < kernel.
// max_pool: the maximum of the cells inside the input (padding never wins); NaN propagates
// (PyTorch). A dilated window that skips the whole input gives −inf (PyTorch).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

struct PoolPlan {
  WindowAxis axes[2];
  bool count_include_pad = false;
  Shape output;
};

Status pool_resolve(const char* op, bool is_max, const AttributeMap& attributes,
                    const TensorDesc& x, PoolPlan* plan) {
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", x, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_rank(op, "input X", x, 4));
  if (x.shape[2] < 1 || x.shape[3] < 1)
    return op_error(op, "input X must have H, W >= 1, got " + shape_to_string(x.shape));
  AttributeReader reader(op, attributes);
  std::vector<int64_t> kernel = reader.require_ints("kernel_shape");
  int64_t count_include_pad = is_max ? 0 : reader.get_int("count_include_pad", 0);
  std::vector<int64_t> dilations =
      is_max ? std::vector<int64_t>{1, 1} : reader.get_ints("dilations", {1, 1});
  ATROUS_RETURN_IF_ERROR(reader.status());
  ATROUS_RETURN_IF_ERROR(check_ints(op, "kernel_shape", kernel, 2, 1, kMaxAttributeMagnitude));
  ATROUS_RETURN_IF_ERROR(check_flag(op, "count_include_pad", count_include_pad));
  if (dilations != std::vector<int64_t>{1, 1})
    return op_error(op, "dilations are not supported, got " + ints_to_string(dilations));
  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel_size[2] = {kernel[0], kernel[1]};
  WindowOptions options;
  options.dilations = is_max;
  options.ceil_mode = true;
  ATROUS_RETURN_IF_ERROR(resolve_window_2d(&reader, input, kernel_size, options, plan->axes));
  for (const WindowAxis& axis : plan->axes)
    if (axis.pad_begin >= axis.extent() || axis.pad_end >= axis.extent())
      return op_error(op, "pads must be smaller than the (dilated) kernel " +
                              std::to_string(axis.extent()) + ", got " +
                              std::to_string(axis.pad_begin) + " and " +
                              std::to_string(axis.pad_end));
  plan->count_include_pad = count_include_pad != 0;
  plan->output = {x.shape[0], x.shape[1], plan->axes[0].output, plan->axes[1].output};
  return check_output_shape(op, plan->output);
}

// Kernel taps k in [*first, *last) whose coordinate start + k·dilation lies in [0, input).
void taps_inside(int64_t start, const WindowAxis& axis, int64_t* first, int64_t* last) {
  int64_t lo = start >= 0 ? 0 : (-start + axis.dilation - 1) / axis.dilation;
  int64_t hi = start > axis.input - 1 ? 0 : (axis.input - 1 - start) / axis.dilation + 1;
  *first = std::min(lo, axis.kernel);
  *last = std::max(*first, std::min(hi, axis.kernel));
}

Status pool_reference(const char* op, bool is_max, const AttributeMap& attributes,
                      const TensorView& input, TensorView* output) {
  PoolPlan plan;
  ATROUS_RETURN_IF_ERROR(
      pool_resolve(op, is_max, attributes, TensorDesc{input.dtype, input.shape}, &plan));
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  const int64_t planes = input.shape[0] * input.shape[1];
  const float* x = input.f32();
  float* y = output->f32();
  for (int64_t p = 0; p < planes; ++p) {
    const float* plane = x + p * ah.input * aw.input;
    for (int64_t oh = 0; oh < ah.output; ++oh) {
      const int64_t row_start = oh * ah.stride - ah.pad_begin;
      int64_t kh_first = 0, kh_last = 0;
      taps_inside(row_start, ah, &kh_first, &kh_last);
      for (int64_t ow = 0; ow < aw.output; ++ow) {
        const int64_t col_start = ow * aw.stride - aw.pad_begin;
        int64_t kw_first = 0, kw_last = 0;
        taps_inside(col_start, aw, &kw_first, &kw_last);
        float result = 0.0f;
        if (is_max) {
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t kh = kh_first; kh < kh_last; ++kh) {
            const float* row = plane + (row_start + kh * ah.dilation) * aw.input;
            for (int64_t kw = kw_first; kw < kw_last; ++kw) {
              float v = row[col_start + kw * aw.dilation];
              if (v > best || std::isnan(v)) best = v;
            }
          }
          result = best;
        } else {
          double sum = 0.0;
          for (int64_t kh = kh_first; kh < kh_last; ++kh) {
            const float* row = plane + (row_start + kh) * aw.input;
            for (int64_t kw = kw_first; kw < kw_last; ++kw) sum += double(row[col_start + kw]);
          }
          int64_t rows = kh_last - kh_first, cols = kw_last - kw_first;
          if (plan.count_include_pad) {
            rows = std::min(row_start + ah.kernel, ah.input + ah.pad_end) - row_start;
            cols = std::min(col_start + aw.kernel, aw.input + aw.pad_end) - col_start;
          }
          result = float(sum / double(rows * cols));
        }
        y[(p * ah.output + oh) * aw.output + ow] = result;
      }
    }
  }
  return Status::success();
}

}  // namespace

Status average_pool_infer(const AttributeMap& attributes,
                          const std::vector<const TensorDesc*>& inputs,
                          std::vector<TensorDesc>* outputs) {
  PoolPlan plan;
  ATROUS_RETURN_IF_ERROR(pool_resolve("average_pool", false, attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{DType::dtype_f32, plan.output});
  return Status::success();
}

Status average_pool_reference(const AttributeMap& attributes,
                              const std::vector<const TensorView*>& inputs,
                              const std::vector<TensorView*>& outputs) {
  return pool_reference("average_pool", false, attributes, *inputs[0], outputs[0]);
}

Status max_pool_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                      std::vector<TensorDesc>* outputs) {
  PoolPlan plan;
  ATROUS_RETURN_IF_ERROR(pool_resolve("max_pool", true, attributes, *inputs[0], &plan));
  outputs->push_back(TensorDesc{DType::dtype_f32, plan.output});
  return Status::success();
}

Status max_pool_reference(const AttributeMap& attributes,
                          const std::vector<const TensorView*>& inputs,
                          const std::vector<TensorView*>& outputs) {
  return pool_reference("max_pool", true, attributes, *inputs[0], outputs[0]);
}

// ---- global_average_pool ---------------------------------------------------------------------

namespace {

Status global_pool_resolve(const TensorDesc& x, Shape* output) {
  const char* op = "global_average_pool";
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input X", x, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_rank(op, "input X", x, 4));
  if (x.shape[2] < 1 || x.shape[3] < 1)
    return op_error(op, "input X must have H, W >= 1, got " + shape_to_string(x.shape));
  *output = {x.shape[0], x.shape[1], 1, 1};
  return Status::success();
}

}  // namespace

Status global_average_pool_infer(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,
                                 std::vector<TensorDesc>* outputs) {
  Shape shape;
  ATROUS_RETURN_IF_ERROR(global_pool_resolve(*inputs[0], &shape));
  outputs->push_back(TensorDesc{DType::dtype_f32, shape});
  return Status::success();
}

Status global_average_pool_reference(const AttributeMap&,
                                     const std::vector<const TensorView*>& inputs,
                                     const std::vector<TensorView*>& outputs) {
  const TensorView& input = *inputs[0];
  Shape shape;
  ATROUS_RETURN_IF_ERROR(global_pool_resolve(TensorDesc{input.dtype, input.shape}, &shape));
  const int64_t planes = input.shape[0] * input.shape[1];
  const int64_t area = input.shape[2] * input.shape[3];
  for (int64_t p = 0; p < planes; ++p) {
    const float* plane = input.f32() + p * area;
    double sum = 0.0;
    for (int64_t i = 0; i < area; ++i) sum += double(plane[i]);
    outputs[0]->f32()[p] = float(sum / double(area));
  }
  return Status::success();
}

}  // namespace atrous
