// Depthwise convolution: the plan (interior columns, packed weights), the tile loop that builds
// each output row's tap table, the scalar row kernel and the factory. The SIMD row kernels are
// in depthwise_conv_kernel.h; the design is described in depthwise_conv.h.
#include "cpu/depthwise_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/cpu_kernel.h"
#include "ops/op_functions.h"

namespace atrous {

namespace {

// Output columns per parallel tile (a tile is a run of rows of one channel plane): large
// enough that the per-tile setup is negligible, small enough that a few channels give every
// thread work.
constexpr int64_t kTileColumns = 4096;

DepthwiseRowFunction row_function(CpuIsa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case CpuIsa::cpu_isa_avx512: return depthwise_row_avx512;
    case CpuIsa::cpu_isa_avx2: return depthwise_row_avx2;
#endif
#if defined(__aarch64__)
    case CpuIsa::cpu_isa_neon: return depthwise_row_neon;
#endif
    default: return depthwise_row_scalar;
  }
}

}  // namespace

void depthwise_plan(const float* weight, const float* bias, int64_t channels,
                    const WindowAxis axes[2], const Activation& activation, CpuIsa isa,
                    DepthwisePlan* plan) {
  plan->channels = channels;
  plan->axes[0] = axes[0];
  plan->axes[1] = axes[1];
  const WindowAxis& aw = axes[1];
  const int64_t taps = axes[0].kernel * aw.kernel;
  plan->weights.assign(weight, weight + channels * taps);
  plan->bias.assign(size_t(channels), 0.f);
  if (bias) std::memcpy(plan->bias.data(), bias, size_t(channels) * sizeof(float));
  plan->column_offsets.resize(size_t(aw.kernel));
  for (int64_t kx = 0; kx < aw.kernel; ++kx)
    plan->column_offsets[size_t(kx)] = kx * aw.dilation - aw.pad_begin;
  // Interior: ow·s − pad_left >= 0 and ow·s − pad_left + (kW − 1)·dW <= W − 1.
  const int64_t begin = (aw.pad_begin + aw.stride - 1) / aw.stride;
  const int64_t last_numerator = aw.input - 1 + aw.pad_begin - (aw.kernel - 1) * aw.dilation;
  const int64_t end = last_numerator < 0 ? 0 : last_numerator / aw.stride + 1;
  plan->interior_begin = std::min(begin, aw.output);
  plan->interior_end = std::max(plan->interior_begin, std::min(end, aw.output));
  plan->rows_per_tile =
      std::max<int64_t>(1, std::min(axes[0].output, kTileColumns / std::max<int64_t>(aw.output, 1)));
  plan->phase_stride = (aw.input + aw.stride - 1) / aw.stride;
  plan->activation = activation;
  plan->isa = isa;
  plan->row = row_function(isa);
}

void depthwise_row_scalar(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias,
                          float* y) {
  const int64_t out_w = plan.axes[1].output;
  const int64_t begin = plan.interior_begin, end = plan.interior_end;
  const bool in_registers = depthwise_activation_in_registers(plan.activation.kind);
  depthwise_border_columns<false>(plan, taps, bias, y, 0, begin);
  // The interior accumulates in the output row, tap by tap (a loop compilers vectorize).
  float* out = y + begin;
  const int64_t columns = end - begin;
  std::fill(out, out + columns, 0.f);
  for (int t = 0; t < taps.count; ++t) {
    const float w = taps.weight[t];
    const float* source = taps.interior[t];
    for (int64_t i = 0; i < columns; ++i) {
      const float product = w * source[i];
      out[i] = out[i] + product;
    }
  }
  for (int64_t i = 0; i < columns; ++i) {
    const float sum = out[i] + bias;
    out[i] = in_registers ? activation_apply(plan.activation, sum) : sum;
  }
  depthwise_border_columns<false>(plan, taps, bias, y, end, out_w);
  if (!in_registers)
    for (int64_t ow = 0; ow < out_w; ++ow) y[ow] = activation_apply(plan.activation, y[ow]);
}

namespace {

// Per-thread state of the tile loop: the tap table of the current row and, for stride > 1, a
// cache of kH input rows split into their phases (consecutive output rows share input rows).
class DepthwiseWorkspace {
 public:
  explicit DepthwiseWorkspace(const DepthwisePlan& plan) : plan_(plan) {
    const size_t taps = size_t(plan.axes[0].kernel * plan.axes[1].kernel);
    weight_.resize(taps);
    row_.resize(taps);
    offset_.resize(taps);
    interior_.resize(taps);
    needed_.resize(size_t(plan.axes[0].kernel));
    if (split_rows()) {
      slot_row_.assign(size_t(plan.axes[0].kernel), -1);
      phases_.resize(size_t(plan.axes[0].kernel * plan.axes[1].stride * plan.phase_stride));
    }
  }

  void run_tile(const float* x, float* y, int64_t tile) {
    const DepthwisePlan& plan = plan_;
    const WindowAxis& ah = plan.axes[0];
    const WindowAxis& aw = plan.axes[1];
    const int64_t blocks = (ah.output + plan.rows_per_tile - 1) / plan.rows_per_tile;
    const int64_t plane_index = tile / blocks, block = tile % blocks;
    const int64_t channel = plane_index % plan.channels;
    const float* plane = x + plane_index * ah.input * aw.input;
    float* out_plane = y + plane_index * ah.output * aw.output;
    const float* kernel = plan.weights.data() + channel * ah.kernel * aw.kernel;
    const int64_t stride = aw.stride;
    std::fill(slot_row_.begin(), slot_row_.end(), int64_t(-1));

    const int64_t row_begin = block * plan.rows_per_tile;
    const int64_t row_end = std::min(ah.output, row_begin + plan.rows_per_tile);
    for (int64_t oh = row_begin; oh < row_end; ++oh) {
      // Kernel rows inside the input; the others read only padding and are skipped.
      int needed = 0;
      for (int64_t ky = 0; ky < ah.kernel; ++ky) {
        const int64_t ih = oh * ah.stride - ah.pad_begin + ky * ah.dilation;
        if (ih >= 0 && ih < ah.input) needed_[size_t(needed++)] = ih;
      }
      int count = 0;
      for (int64_t ky = 0; ky < ah.kernel; ++ky) {
        const int64_t ih = oh * ah.stride - ah.pad_begin + ky * ah.dilation;
        if (ih < 0 || ih >= ah.input) continue;
        const float* row = plane + ih * aw.input;
        const float* phases = split_rows() ? split_row(row, ih, needed) : row;
        for (int64_t kx = 0; kx < aw.kernel; ++kx, ++count) {
          const int64_t offset = plan.column_offsets[size_t(kx)];
          weight_[size_t(count)] = kernel[ky * aw.kernel + kx];
          row_[size_t(count)] = row;
          offset_[size_t(count)] = offset;
          // Input column of the first interior output: inside the row by construction of the
          // interior (when there is one; otherwise the pointer is never read).
          const int64_t column = plan.interior_begin * stride + offset;
          if (plan.interior_end == plan.interior_begin)
            interior_[size_t(count)] = row;
          else
            interior_[size_t(count)] =
                stride == 1 ? row + column
                            : phases + (column % stride) * plan.phase_stride + column / stride;
        }
      }
      DepthwiseTaps taps;
      taps.count = count;
      taps.weight = weight_.data();
      taps.row = row_.data();
      taps.offset = offset_.data();
      taps.interior = interior_.data();
      plan.row(plan, taps, plan.bias[size_t(channel)], out_plane + oh * aw.output);
    }
  }

 private:
  bool split_rows() const {
    return plan_.axes[1].stride > 1 && plan_.interior_end > plan_.interior_begin;
  }

  // The phases of input row `ih` ([stride][phase_stride] floats), from the cache or split now
  // into a slot that holds none of the `needed` rows of the current output row.
  const float* split_row(const float* row, int64_t ih, int needed) {
    const int64_t stride = plan_.axes[1].stride, width = plan_.axes[1].input;
    const int64_t slot_floats = stride * plan_.phase_stride;
    const size_t slots = slot_row_.size();
    for (size_t s = 0; s < slots; ++s)
      if (slot_row_[s] == ih) return phases_.data() + int64_t(s) * slot_floats;
    size_t free_slot = 0;
    for (size_t s = 0; s < slots; ++s) {
      bool in_use = false;
      for (int j = 0; j < needed; ++j) in_use = in_use || slot_row_[s] == needed_[size_t(j)];
      if (!in_use) {
        free_slot = s;
        break;
      }
    }
    slot_row_[free_slot] = ih;
    float* out = phases_.data() + int64_t(free_slot) * slot_floats;
    const int64_t full = width / stride;
    if (stride == 2) {
      float* odd = out + plan_.phase_stride;
      for (int64_t j = 0; j < full; ++j) {
        out[j] = row[2 * j];
        odd[j] = row[2 * j + 1];
      }
    } else {
      for (int64_t j = 0; j < full; ++j)
        for (int64_t p = 0; p < stride; ++p) out[p * plan_.phase_stride + j] = row[j * stride + p];
    }
    for (int64_t p = 0; full * stride + p < width; ++p)
      out[p * plan_.phase_stride + full] = row[full * stride + p];
    return out;
  }

  const DepthwisePlan& plan_;
  std::vector<float> weight_;
  std::vector<const float*> row_;
  std::vector<int64_t> offset_;
  std::vector<const float*> interior_;
  std::vector<int64_t> needed_;
  std::vector<int64_t> slot_row_;
  std::vector<float> phases_;
};

}  // namespace

void depthwise_run(const DepthwisePlan& plan, const float* x, int64_t batch, float* y,
                   ThreadPool& pool) {
  const int64_t blocks = (plan.axes[0].output + plan.rows_per_tile - 1) / plan.rows_per_tile;
  const int64_t tiles = batch * plan.channels * blocks;
  // The workspace is a few kilobytes, made once per thread and run.
  pool.parallel_for(tiles, [&](int64_t begin, int64_t end) {
    DepthwiseWorkspace workspace(plan);
    for (int64_t tile = begin; tile < end; ++tile) workspace.run_tile(x, y, tile);
  });
}

namespace {

class DepthwiseKernel : public CpuKernel {
 public:
  DepthwisePlan plan;
  Shape input_shape, output_shape;
  std::string label;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    if (inputs.empty() || !inputs[0] || outputs.empty() || !outputs[0] ||
        inputs[0]->dtype != DType::dtype_f32 || outputs[0]->dtype != DType::dtype_f32 ||
        inputs[0]->shape != input_shape || outputs[0]->shape != output_shape)
      return Status::error("depthwise conv kernel: tensors do not match the shapes it was made for (" +
                           shape_to_string(input_shape) + " -> " + shape_to_string(output_shape) + ")");
    depthwise_run(plan, inputs[0]->f32(), input_shape[0], outputs[0]->f32(), pool);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
};

// A constant f32 tensor of exactly `shape`.
bool is_constant_f32(const GraphTensor& tensor, const Shape& shape) {
  return tensor.is_constant && tensor.data && tensor.dtype == DType::dtype_f32 && tensor.shape == shape;
}

}  // namespace

// Handles conv nodes with group == C == M (weights [C, 1, kH, kW]), constant weights and bias,
// any geometry the reference conv accepts; nullptr for anything else.
CpuKernelPtr cpu_make_depthwise_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_conv || node.inputs.size() < 2 || node.inputs.size() > 3 ||
      node.outputs.size() != 1)
    return nullptr;
  const GraphTensor& x = graph.tensors[size_t(node.inputs[0])];
  const GraphTensor& w = graph.tensors[size_t(node.inputs[1])];
  const GraphTensor& y = graph.tensors[size_t(node.outputs[0])];
  if (x.dtype != DType::dtype_f32 || x.shape.size() != 4 || w.shape.size() != 4) return nullptr;
  const int64_t channels = x.shape[1];
  if (channels < 1 || !is_constant_f32(w, {channels, 1, w.shape[2], w.shape[3]})) return nullptr;
  const bool has_bias = node.inputs.size() > 2 && node.inputs[2] != kAbsentInput;
  if (has_bias && !is_constant_f32(graph.tensors[size_t(node.inputs[2])], {channels})) return nullptr;
  AttributeReader reader("conv", node.attributes);
  if (reader.get_int("group", 1) != channels || !reader.status().ok()) return nullptr;

  // The reference's own shape rule validates every attribute; then the same window resolution.
  TensorDesc x_desc{x.dtype, x.shape}, w_desc{w.dtype, w.shape}, b_desc{DType::dtype_f32, {channels}};
  std::vector<const TensorDesc*> descs = {&x_desc, &w_desc};
  if (has_bias) descs.push_back(&b_desc);
  std::vector<TensorDesc> inferred;
  if (!conv_infer(node.attributes, descs, &inferred).ok() || inferred.size() != 1 ||
      inferred[0].shape != y.shape || y.dtype != DType::dtype_f32)
    return nullptr;
  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel[2] = {w.shape[2], w.shape[3]};
  WindowAxis axes[2];
  Activation activation;
  if (!resolve_window_2d(&reader, input, kernel, WindowOptions(), axes).ok() ||
      !activation_from_conv_attributes(node.attributes, &activation).ok())
    return nullptr;

  std::unique_ptr<DepthwiseKernel> made(new DepthwiseKernel());
  const float* bias =
      has_bias ? static_cast<const float*>(graph.tensors[size_t(node.inputs[2])].data) : nullptr;
  depthwise_plan(static_cast<const float*>(w.data), bias, channels, axes, activation, config.isa,
                 &made->plan);
  made->input_shape = x.shape;
  made->output_shape = y.shape;
  made->label = "depthwise_" + std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]);
  if (axes[0].stride != 1 || axes[1].stride != 1)
    made->label += "_s" + std::to_string(axes[0].stride) +
                   (axes[0].stride == axes[1].stride ? "" : "x" + std::to_string(axes[1].stride));
  if (axes[0].dilation != 1 || axes[1].dilation != 1)
    made->label += "_d" + std::to_string(axes[0].dilation) +
                   (axes[0].dilation == axes[1].dilation ? "" : "x" + std::to_string(axes[1].dilation));
  return made;
}

}  // namespace atrous
