// The CUDA executor (cuda/cuda_backend.h): plans every node once at creation (kernel path,
// launch parameters, device pointers), then queues the plan on its stream at each run.
// Every CUDA and cuBLAS call is checked; failures become Status errors naming the node.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_kernels.h"
#include "graph/memory_planner.h"
#include "ops/activation.h"
#include "ops/op_helpers.h"
#include "ops/ops.h"
#include "ops/resize.h"

namespace atrous {

namespace {

Status cuda_status(const char* what, cudaError_t error) {
  return Status::error(std::string("cuda: ") + what + ": " + cudaGetErrorString(error));
}

#define ATROUS_CUDA_TRY(call, what)                                        \
  do {                                                                     \
    cudaError_t cuda_error_ = (call);                                      \
    if (cuda_error_ != cudaSuccess) return cuda_status(what, cuda_error_); \
  } while (0)

#define ATROUS_CUBLAS_TRY(call, what)                              \
  do {                                                             \
    cublasStatus_t cublas_status_ = (call);                        \
    if (cublas_status_ != CUBLAS_STATUS_SUCCESS)                   \
      return Status::error(std::string("cuBLAS: ") + what + ": " + \
                           cublasGetStatusString(cublas_status_)); \
  } while (0)

// Scratch for im2col columns: pixel chunks are sized to stay within this.
constexpr size_t kIm2colScratchBytes = size_t(64) << 20;
constexpr size_t kAlignment = 256;
constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;

size_t align_up(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  Status allocate(size_t bytes, const char* what) {
    if (bytes == 0) return Status::success();
    ATROUS_CUDA_TRY(cudaMalloc(&data_, bytes), what);
    bytes_ = bytes;
    return Status::success();
  }
  uint8_t* data() const { return static_cast<uint8_t*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

CudaActivation to_cuda(const Activation& activation) {
  CudaActivation result;
  result.kind = int(activation.kind);
  result.param0 = activation.param0;
  result.param1 = activation.param1;
  return result;
}

static_assert(int(ActivationKind::activation_none) == 0 &&
                  int(ActivationKind::activation_relu) == 1 &&
                  int(ActivationKind::activation_clip) == 2 &&
                  int(ActivationKind::activation_hard_swish) == 3 &&
                  int(ActivationKind::activation_hard_sigmoid) == 4 &&
                  int(ActivationKind::activation_sigmoid) == 5 &&
                  int(ActivationKind::activation_tanh) == 6,
              "CudaActivation::kind numbers the activations as ActivationKind does");

CudaWindow to_cuda(const WindowAxis& axis) {
  CudaWindow window;
  window.input = axis.input;
  window.output = axis.output;
  window.kernel = axis.kernel;
  window.stride = axis.stride;
  window.dilation = axis.dilation;
  window.pad_begin = axis.pad_begin;
  window.pad_end = axis.pad_end;
  return window;
}

enum class StepKind {
  depthwise,
  gemm_conv,
  activation,
  binary,
  global_pool,
  pool,
  resize,
  concat,
  softmax,
  argmax,
  copy,
  pad,
  host
};

const char* step_kind_name(StepKind kind, bool direct_gemm) {
  switch (kind) {
    case StepKind::depthwise:
      return "depthwise";
    case StepKind::gemm_conv:
      return direct_gemm ? "gemm_1x1" : "im2col_gemm";
    case StepKind::activation:
      return "activation";
    case StepKind::binary:
      return "binary";
    case StepKind::global_pool:
      return "global_average_pool";
    case StepKind::pool:
      return "pool";
    case StepKind::resize:
      return "resize";
    case StepKind::concat:
      return "concat";
    case StepKind::softmax:
      return "softmax";
    case StepKind::argmax:
      return "argmax";
    case StepKind::copy:
      return "copy";
    case StepKind::pad:
      return "pad";
    case StepKind::host:
      return "host";
  }
  return "unknown";
}

struct Step {
  StepKind kind = StepKind::host;
  size_t node = 0;
  CudaDepthwiseParams depthwise;
  // gemm_conv
  bool direct = false;  // 1×1, stride 1, no padding: X itself is the GEMM operand
  int64_t batch = 0, in_channels = 0, filters = 0, group = 1, pixels = 0, chunk = 0;
  CudaWindow h, w;
  CudaActivation activation;
  CudaBinaryParams binary;
  int64_t planes = 0, area = 0;
  CudaPoolParams pool;
  CudaResizeParams resize;
  CudaPadParams pad;
  std::shared_ptr<DeviceBuffer> tables;   // resize taps or pad index maps
  int64_t outer = 0, dim = 0, inner = 0;  // softmax, argmax, concat
  size_t element_size = 4;
  size_t copy_bytes = 0;
};

class CudaExecutorImpl final : public CudaExecutor {
 public:
  ~CudaExecutorImpl() override {
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
    for (cudaEvent_t event : events_) cudaEventDestroy(event);
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  Status initialize(const Graph& graph, const CudaOptions& options);
  Status run(const std::vector<const TensorView*>& inputs, std::vector<Tensor>* outputs) override;
  Status run_on_device(const std::vector<const TensorView*>& inputs,
                       std::vector<CudaDeviceTensor>* outputs) override;
  size_t arena_bytes() const override { return arena_.bytes(); }
  size_t weight_bytes() const override { return weights_.bytes(); }
  size_t host_fallback_nodes() const override { return host_nodes_; }
  const std::vector<double>& node_seconds() const override { return node_seconds_; }
  const std::vector<std::string>& node_kernels() const override { return node_kernels_; }

 private:
  Status plan_node(size_t n, Step* step);
  Status plan_conv(const Node& node, Step* step);
  Status plan_pool(const Node& node, Step* step);
  Status plan_resize(const Node& node, Step* step);
  Status plan_pad(const Node& node, Step* step);
  Status allocate_and_upload();
  Status enqueue(const Step& step);
  Status enqueue_gemm_conv(const Step& step);
  Status run_host(const Step& step);
  Status enqueue_all(bool timed);
  Status enqueue_run(const std::vector<const TensorView*>& inputs, bool* use_graph);
  Status read_profile(bool use_graph);
  float* f32(int32_t tensor) const { return static_cast<float*>(pointers_[size_t(tensor)]); }
  const float* optional_f32(const Node& node, size_t input) const {
    return node.inputs.size() > input && node.inputs[input] != kAbsentInput
               ? f32(node.inputs[input])
               : nullptr;
  }

  Graph graph_;
  CudaOptions options_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  DeviceBuffer weights_, inputs_, arena_, scratch_, cublas_workspace_;
  std::vector<void*> pointers_;  // device address of every tensor
  std::vector<Step> steps_;
  size_t host_nodes_ = 0;
  size_t scratch_bytes_ = 0;
  cudaGraphExec_t graph_exec_ = nullptr;
  std::vector<cudaEvent_t> events_;
  std::vector<double> node_seconds_;
  std::vector<std::string> node_kernels_;
};

Status CudaExecutorImpl::initialize(const Graph& graph, const CudaOptions& options) {
  graph_ = graph;
  options_ = options;
  int count = 0;
  ATROUS_CUDA_TRY(cudaGetDeviceCount(&count), "no usable device");
  if (options.device < 0 || options.device >= count)
    return Status::error("cuda: device " + std::to_string(options.device) + " does not exist (" +
                         std::to_string(count) + " visible)");
  ATROUS_CUDA_TRY(cudaSetDevice(options.device), "cudaSetDevice");
  ATROUS_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  ATROUS_CUBLAS_TRY(cublasCreate(&cublas_), "cublasCreate");
  ATROUS_CUBLAS_TRY(cublasSetStream(cublas_, stream_), "cublasSetStream");
  // A workspace of our own (set after cublasSetStream, which resets it), so cuBLAS allocates
  // nothing while a CUDA graph is being captured.
  ATROUS_RETURN_IF_ERROR(
      cublas_workspace_.allocate(kCublasWorkspaceBytes, "cudaMalloc (cuBLAS workspace)"));
  ATROUS_CUBLAS_TRY(
      cublasSetWorkspace(cublas_, cublas_workspace_.data(), cublas_workspace_.bytes()),
      "cublasSetWorkspace");
  // Plain FP32 unless TF32 is asked for explicitly (its error is about 1e-3, not 1e-6).
  ATROUS_CUBLAS_TRY(cublasSetMathMode(cublas_, options.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                  : CUBLAS_DEFAULT_MATH),
                    "cublasSetMathMode");
  steps_.resize(graph_.nodes.size());
  node_kernels_.resize(graph_.nodes.size());
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    Status status = plan_node(n, &steps_[n]);
    if (!status.ok()) return Status::error(node_label(graph_, n) + ": " + status.message());
    if (steps_[n].kind == StepKind::host) ++host_nodes_;
    node_kernels_[n] = step_kind_name(steps_[n].kind, steps_[n].direct);
  }
  ATROUS_RETURN_IF_ERROR(allocate_and_upload());
  if (options_.profile) {
    events_.resize(steps_.size() + 1);
    for (cudaEvent_t& event : events_) ATROUS_CUDA_TRY(cudaEventCreate(&event), "cudaEventCreate");
    node_seconds_.assign(steps_.size(), 0.0);
  }
  return Status::success();
}

Status CudaExecutorImpl::plan_conv(const Node& node, Step* step) {
  const GraphTensor& x = graph_.tensors[size_t(node.inputs[0])];
  const GraphTensor& w = graph_.tensors[size_t(node.inputs[1])];
  AttributeReader reader("conv", node.attributes);
  const int64_t group = reader.get_int("group", 1);
  ATROUS_RETURN_IF_ERROR(reader.status());
  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel[2] = {w.shape[2], w.shape[3]};
  WindowOptions window_options;
  window_options.dilations = true;
  WindowAxis axes[2];
  ATROUS_RETURN_IF_ERROR(resolve_window_2d(&reader, input, kernel, window_options, axes));
  Activation activation;
  ATROUS_RETURN_IF_ERROR(activation_from_conv_attributes(node.attributes, &activation));
  step->batch = x.shape[0];
  step->in_channels = x.shape[1];
  step->filters = w.shape[0];
  step->group = group;
  step->h = to_cuda(axes[0]);
  step->w = to_cuda(axes[1]);
  step->activation = to_cuda(activation);
  step->pixels = axes[0].output * axes[1].output;
  if (group == step->in_channels && group > 1) {
    step->kind = StepKind::depthwise;
    step->depthwise.batch = step->batch;
    step->depthwise.channels = step->in_channels;
    step->depthwise.filters = step->filters;
    step->depthwise.h = step->h;
    step->depthwise.w = step->w;
    step->depthwise.activation = step->activation;
    return Status::success();
  }
  step->kind = StepKind::gemm_conv;
  const int64_t group_channels = step->in_channels / group;
  const int64_t depth = group_channels * kernel[0] * kernel[1];
  step->direct = kernel[0] == 1 && kernel[1] == 1 && axes[0].stride == 1 && axes[1].stride == 1 &&
                 axes[0].pad_begin == 0 && axes[1].pad_begin == 0 &&
                 axes[0].output == axes[0].input && axes[1].output == axes[1].input;
  if (step->pixels > INT_MAX || depth > INT_MAX || step->filters > INT_MAX ||
      step->in_channels * step->pixels > INT64_MAX / 4)
    return Status::error("conv: too large for cuBLAS int dimensions");
  if (!step->direct) {
    const int64_t fit = int64_t(kIm2colScratchBytes / (size_t(depth) * sizeof(float)));
    step->chunk = std::max<int64_t>(1, std::min(step->pixels, fit));
    scratch_bytes_ = std::max(scratch_bytes_, size_t(depth * step->chunk) * sizeof(float));
  }
  return Status::success();
}

Status CudaExecutorImpl::plan_pool(const Node& node, Step* step) {
  const bool is_max = node.op == OpType::op_max_pool;
  const char* op = is_max ? "max_pool" : "average_pool";
  const GraphTensor& x = graph_.tensors[size_t(node.inputs[0])];
  AttributeReader reader(op, node.attributes);
  std::vector<int64_t> kernel = reader.require_ints("kernel_shape");
  const int64_t count_include_pad = is_max ? 0 : reader.get_int("count_include_pad", 0);
  ATROUS_RETURN_IF_ERROR(reader.status());
  if (kernel.size() != 2)
    return Status::error(std::string(op) + ": kernel_shape must have 2 values");
  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel_size[2] = {kernel[0], kernel[1]};
  WindowOptions window_options;
  window_options.dilations = is_max;
  window_options.ceil_mode = true;
  WindowAxis axes[2];
  ATROUS_RETURN_IF_ERROR(resolve_window_2d(&reader, input, kernel_size, window_options, axes));
  step->kind = StepKind::pool;
  step->pool.is_max = is_max;
  step->pool.count_include_pad = count_include_pad != 0;
  step->pool.planes = x.shape[0] * x.shape[1];
  step->pool.h = to_cuda(axes[0]);
  step->pool.w = to_cuda(axes[1]);
  return Status::success();
}

Status CudaExecutorImpl::plan_resize(const Node& node, Step* step) {
  const GraphTensor& x = graph_.tensors[size_t(node.inputs[0])];
  const GraphTensor& y = graph_.tensors[size_t(node.outputs[0])];
  // Cubic, antialiased and cropping resizes stay host steps (the reference implementation).
  if (!resize_has_two_taps(node.attributes, TensorDesc{x.dtype, x.shape})) return Status::success();
  ResizeTaps taps;
  ATROUS_RETURN_IF_ERROR(resize_taps(node.attributes, TensorDesc{x.dtype, x.shape}, &taps));
  const bool linear = taps.linear;
  const int64_t in_size[2] = {x.shape[2], x.shape[3]};
  const int64_t out_size[2] = {y.shape[2], y.shape[3]};
  // Tables: first[oH], second[oH], first[oW], second[oW] (int64), then lambda[oH], lambda[oW].
  std::vector<int64_t> indices;
  std::vector<double> lambdas;
  for (size_t a = 0; a < 2; ++a) {
    for (const ResizeTap& tap : taps.axis[a]) indices.push_back(tap.first);
    for (const ResizeTap& tap : taps.axis[a]) indices.push_back(tap.second);
    for (const ResizeTap& tap : taps.axis[a]) lambdas.push_back(tap.lambda);
  }
  const size_t index_bytes = indices.size() * sizeof(int64_t);
  const size_t lambda_bytes = lambdas.size() * sizeof(double);
  step->tables = std::make_shared<DeviceBuffer>();
  ATROUS_RETURN_IF_ERROR(
      step->tables->allocate(index_bytes + lambda_bytes, "cudaMalloc (resize tables)"));
  ATROUS_CUDA_TRY(
      cudaMemcpy(step->tables->data(), indices.data(), index_bytes, cudaMemcpyHostToDevice),
      "upload resize tables");
  ATROUS_CUDA_TRY(cudaMemcpy(step->tables->data() + index_bytes, lambdas.data(), lambda_bytes,
                             cudaMemcpyHostToDevice),
                  "upload resize tables");
  const int64_t* device_indices = reinterpret_cast<const int64_t*>(step->tables->data());
  const double* device_lambdas =
      reinterpret_cast<const double*>(step->tables->data() + index_bytes);
  CudaResizeParams& p = step->resize;
  p.linear = linear;
  p.planes = x.shape[0] * x.shape[1];
  p.in_h = in_size[0];
  p.in_w = in_size[1];
  p.out_h = out_size[0];
  p.out_w = out_size[1];
  p.first_h = device_indices;
  p.second_h = device_indices + out_size[0];
  p.first_w = device_indices + 2 * out_size[0];
  p.second_w = device_indices + 2 * out_size[0] + out_size[1];
  p.lambda_h = device_lambdas;
  p.lambda_w = device_lambdas + out_size[0];
  step->kind = StepKind::resize;
  return Status::success();
}

// Per-axis index maps as ops/pad_slice.cpp builds them (element offsets, −1 = fill).
Status CudaExecutorImpl::plan_pad(const Node& node, Step* step) {
  const GraphTensor& x = graph_.tensors[size_t(node.inputs[0])];
  const GraphTensor& y = graph_.tensors[size_t(node.outputs[0])];
  if (x.dtype != DType::dtype_f32 || x.shape.size() > size_t(kCudaMaxRank))
    return Status::success();
  AttributeReader reader("pad", node.attributes);
  std::vector<int64_t> pads = reader.require_ints("pads");
  const std::string mode = reader.get_string("mode", "constant");
  const double value = reader.get_float("value", 0.0);
  ATROUS_RETURN_IF_ERROR(reader.status());
  const size_t rank = x.shape.size();
  if (pads.size() != 2 * rank) return Status::error("pad: pads must have 2 values per axis");
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    return Status::error("pad: unknown mode '" + mode + "'");
  const std::vector<int64_t> strides = row_major_strides(x.shape);
  std::vector<int64_t> tables;
  CudaPadParams& p = step->pad;
  p.rank = int(rank);
  p.count = shape_numel(y.shape);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t dim = x.shape[d], begin = pads[d];
    p.dims[d] = y.shape[d];
    p.table_start[d] = int64_t(tables.size());
    for (int64_t o = 0; o < y.shape[d]; ++o) {
      int64_t i = o - begin;
      if (i < 0 || i >= dim) {
        if (mode == "constant") {
          tables.push_back(-1);
          continue;
        }
        if (mode == "edge")
          i = std::min(std::max<int64_t>(i, 0), dim - 1);
        else
          i = i < 0 ? -i : 2 * (dim - 1) - i;
      }
      tables.push_back(i * strides[d]);
    }
  }
  // The fill as the reference makes it: float32, saturating to ±inf.
  const float fill = value > double(FLT_MAX)    ? INFINITY
                     : value < -double(FLT_MAX) ? -INFINITY
                                                : float(value);
  std::memcpy(&p.fill_bits, &fill, sizeof(fill));
  step->tables = std::make_shared<DeviceBuffer>();
  const size_t bytes = std::max<size_t>(1, tables.size()) * sizeof(int64_t);
  ATROUS_RETURN_IF_ERROR(step->tables->allocate(bytes, "cudaMalloc (pad tables)"));
  if (!tables.empty())
    ATROUS_CUDA_TRY(cudaMemcpy(step->tables->data(), tables.data(), tables.size() * sizeof(int64_t),
                               cudaMemcpyHostToDevice),
                    "upload pad tables");
  p.tables = reinterpret_cast<const int64_t*>(step->tables->data());
  step->kind = StepKind::pad;
  return Status::success();
}

// Splits `shape` at `axis`: the product of the dims before, the dim, the product after.
void split_shape(const Shape& shape, int64_t axis, int64_t* outer, int64_t* dim, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t d = 0; d < axis; ++d) *outer *= shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) *inner *= shape[d];
  *dim = shape[size_t(axis)];
}

Status CudaExecutorImpl::plan_node(size_t n, Step* step) {
  const Node& node = graph_.nodes[n];
  step->node = n;
  step->kind = StepKind::host;
  const GraphTensor& out = graph_.tensors[size_t(node.outputs[0])];
  // Kernels take float32 (the data-movement ops below take any dtype).
  auto all_f32 = [&]() {
    for (int32_t index : node.inputs)
      if (index != kAbsentInput && graph_.tensors[size_t(index)].dtype != DType::dtype_f32)
        return false;
    return true;
  };
  switch (node.op) {
    case OpType::op_conv:
      if (!all_f32()) return Status::success();
      return plan_conv(node, step);
    case OpType::op_relu:
    case OpType::op_clip:
    case OpType::op_hard_swish:
    case OpType::op_hard_sigmoid:
    case OpType::op_sigmoid:
    case OpType::op_tanh: {
      Activation activation;
      ATROUS_RETURN_IF_ERROR(activation_from_op(node.op, node.attributes, &activation));
      step->kind = StepKind::activation;
      step->activation = to_cuda(activation);
      return Status::success();
    }
    case OpType::op_add:
    case OpType::op_sub:
    case OpType::op_mul:
    case OpType::op_div: {
      const Shape& a = graph_.tensors[size_t(node.inputs[0])].shape;
      const Shape& b = graph_.tensors[size_t(node.inputs[1])].shape;
      if (out.shape.size() > size_t(kCudaMaxRank)) return Status::success();
      CudaBinaryParams& p = step->binary;
      p.kind = node.op == OpType::op_add   ? 0
               : node.op == OpType::op_sub ? 1
               : node.op == OpType::op_mul ? 2
                                           : 3;
      p.rank = int(out.shape.size());
      p.count = shape_numel(out.shape);
      const std::vector<int64_t> a_strides = broadcast_strides(a, out.shape);
      const std::vector<int64_t> b_strides = broadcast_strides(b, out.shape);
      for (size_t d = 0; d < out.shape.size(); ++d) {
        p.dims[d] = out.shape[d];
        p.a_strides[d] = a_strides[d];
        p.b_strides[d] = b_strides[d];
      }
      step->kind = StepKind::binary;
      return Status::success();
    }
    case OpType::op_global_average_pool: {
      const Shape& x = graph_.tensors[size_t(node.inputs[0])].shape;
      step->kind = StepKind::global_pool;
      step->planes = x[0] * x[1];
      step->area = x[2] * x[3];
      return Status::success();
    }
    case OpType::op_reduce_mean: {
      // Over a trailing run of axes (squeeze-excite's mean over H, W): the plane-mean kernel.
      const Shape& x = graph_.tensors[size_t(node.inputs[0])].shape;
      AttributeReader reader("reduce_mean", node.attributes);
      const std::vector<int64_t> axes = reader.get_ints("axes", {});
      ATROUS_RETURN_IF_ERROR(reader.status());
      const int64_t rank = int64_t(x.size());
      std::vector<bool> reduced(size_t(rank), axes.empty());
      for (int64_t raw : axes) {
        int64_t axis = 0;
        ATROUS_RETURN_IF_ERROR(
            normalize_axis("reduce_mean", "axes entry", raw, rank, false, &axis));
        reduced[size_t(axis)] = true;
      }
      int64_t first = rank;
      while (first > 0 && reduced[size_t(first - 1)]) --first;
      for (int64_t d = 0; d < first; ++d)
        if (reduced[size_t(d)]) return Status::success();  // not a trailing run: host
      if (first == rank) return Status::success();         // nothing reduced (rank 0): host
      step->planes = 1;
      step->area = 1;
      for (int64_t d = 0; d < rank; ++d) (d < first ? step->planes : step->area) *= x[size_t(d)];
      if (step->area < 1 || step->planes > INT_MAX) return Status::success();
      step->kind = StepKind::global_pool;
      return Status::success();
    }
    case OpType::op_pad:
      return plan_pad(node, step);
    case OpType::op_average_pool:
    case OpType::op_max_pool:
      return plan_pool(node, step);
    case OpType::op_resize:
      return plan_resize(node, step);
    case OpType::op_concat: {
      AttributeReader reader("concat", node.attributes);
      const int64_t raw = reader.require_int("axis");
      ATROUS_RETURN_IF_ERROR(reader.status());
      int64_t axis = 0;
      ATROUS_RETURN_IF_ERROR(
          normalize_axis("concat", "axis", raw, int64_t(out.shape.size()), false, &axis));
      split_shape(out.shape, axis, &step->outer, &step->dim, &step->inner);
      step->element_size = dtype_size(out.dtype);
      step->area = axis;  // the normalized axis
      step->kind = StepKind::concat;
      return Status::success();
    }
    case OpType::op_softmax:
    case OpType::op_argmax: {
      const bool is_softmax = node.op == OpType::op_softmax;
      const char* op = is_softmax ? "softmax" : "argmax";
      const Shape& x = graph_.tensors[size_t(node.inputs[0])].shape;
      AttributeReader reader(op, node.attributes);
      const int64_t raw = reader.get_int("axis", is_softmax ? -1 : 0);
      ATROUS_RETURN_IF_ERROR(reader.status());
      int64_t axis = 0;
      ATROUS_RETURN_IF_ERROR(normalize_axis(op, "axis", raw, int64_t(x.size()), false, &axis));
      split_shape(x, axis, &step->outer, &step->dim, &step->inner);
      step->kind = is_softmax ? StepKind::softmax : StepKind::argmax;
      return Status::success();
    }
    case OpType::op_reshape:
    case OpType::op_flatten:
      step->kind = StepKind::copy;
      step->copy_bytes = size_t(shape_numel(out.shape)) * dtype_size(out.dtype);
      return Status::success();
    default:
      return Status::success();  // host fallback
  }
}

// Constants go to one weight buffer, graph inputs to another, everything a node produces to the
// arena, planned by graph/memory_planner.h (greedy by size from liveness, as on the CPU).
Status CudaExecutorImpl::allocate_and_upload() {
  const Graph& graph = graph_;
  const size_t count = graph.tensors.size();
  pointers_.assign(count, nullptr);
  std::vector<size_t> weight_offsets(count, SIZE_MAX), input_offsets(count, SIZE_MAX);
  size_t weight_total = 0, input_total = 0;
  for (size_t t = 0; t < count; ++t) {
    const GraphTensor& tensor = graph.tensors[t];
    if (!tensor.is_constant) continue;
    weight_offsets[t] = weight_total;
    weight_total += align_up(size_t(shape_numel(tensor.shape)) * dtype_size(tensor.dtype));
  }
  for (int32_t index : graph.inputs) {
    const GraphTensor& tensor = graph.tensors[size_t(index)];
    input_offsets[size_t(index)] = input_total;
    input_total += align_up(size_t(shape_numel(tensor.shape)) * dtype_size(tensor.dtype));
  }
  // The arena: no aliasing (reshape and flatten are copy steps here, concat copies its inputs,
  // no kernel writes over its input), every tensor aligned for any device load.
  MemoryPlanOptions planning;
  planning.alignment = kAlignment;
  planning.alias_concat = false;
  planning.alias_views = false;
  MemoryPlan plan;
  ATROUS_RETURN_IF_ERROR(memory_plan(graph, planning, &plan));
  const std::vector<size_t>& arena_offsets = plan.offsets;
  const size_t arena_total = plan.arena_bytes;
  ATROUS_RETURN_IF_ERROR(weights_.allocate(weight_total, "cudaMalloc (weights)"));
  ATROUS_RETURN_IF_ERROR(inputs_.allocate(input_total, "cudaMalloc (inputs)"));
  ATROUS_RETURN_IF_ERROR(arena_.allocate(arena_total, "cudaMalloc (arena)"));
  ATROUS_RETURN_IF_ERROR(scratch_.allocate(scratch_bytes_, "cudaMalloc (im2col scratch)"));
  for (size_t t = 0; t < count; ++t) {
    if (weight_offsets[t] != SIZE_MAX)
      pointers_[t] = weights_.data() + weight_offsets[t];
    else if (input_offsets[t] != SIZE_MAX)
      pointers_[t] = inputs_.data() + input_offsets[t];
    else if (arena_offsets[t] != SIZE_MAX)
      pointers_[t] = arena_.data() + arena_offsets[t];
  }
  // Weights, once.
  for (size_t t = 0; t < count; ++t) {
    const GraphTensor& tensor = graph.tensors[t];
    if (!tensor.is_constant) continue;
    const size_t bytes = size_t(shape_numel(tensor.shape)) * dtype_size(tensor.dtype);
    if (bytes)
      ATROUS_CUDA_TRY(cudaMemcpy(pointers_[t], tensor.data, bytes, cudaMemcpyHostToDevice),
                      "upload weights");
  }
  return Status::success();
}

Status CudaExecutorImpl::enqueue_gemm_conv(const Step& step) {
  const Node& node = graph_.nodes[step.node];
  const float* x = f32(node.inputs[0]);
  const float* w = f32(node.inputs[1]);
  float* y = f32(node.outputs[0]);
  const int64_t group_channels = step.in_channels / step.group;
  const int64_t group_filters = step.filters / step.group;
  const int64_t depth = group_channels * step.h.kernel * step.w.kernel;
  const int64_t in_pixels = step.h.input * step.w.input;
  const float one = 1.0f, zero = 0.0f;
  for (int64_t g = 0; g < step.group; ++g) {
    const float* weight = w + g * group_filters * depth;
    if (step.direct) {
      // Row-major Y[n] (M×P) = W (M×C) · X[n] (C×P), read column-major: Yᵀ = Xᵀ · Wᵀ.
      ATROUS_CUBLAS_TRY(cublasSgemmStridedBatched(
                            cublas_, CUBLAS_OP_N, CUBLAS_OP_N, int(step.pixels), int(group_filters),
                            int(group_channels), &one, x + g * group_channels * in_pixels,
                            int(step.pixels), step.in_channels * in_pixels, weight, int(depth), 0,
                            &zero, y + g * group_filters * step.pixels, int(step.pixels),
                            step.filters * step.pixels, int(step.batch)),
                        "sgemm (1x1 conv)");
      continue;
    }
    for (int64_t n = 0; n < step.batch; ++n) {
      for (int64_t first = 0; first < step.pixels; first += step.chunk) {
        CudaIm2colParams params;
        params.in_channels = step.in_channels;
        params.first_channel = g * group_channels;
        params.channels = group_channels;
        params.first_pixel = first;
        params.pixels = std::min(step.chunk, step.pixels - first);
        params.h = step.h;
        params.w = step.w;
        float* col = reinterpret_cast<float*>(scratch_.data());
        ATROUS_CUDA_TRY(
            cuda_launch_im2col(x + n * step.in_channels * in_pixels, col, params, stream_),
            "im2col launch");
        ATROUS_CUBLAS_TRY(
            cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_N, int(params.pixels), int(group_filters),
                        int(depth), &one, col, int(params.pixels), weight, int(depth), &zero,
                        y + (n * step.filters + g * group_filters) * step.pixels + first,
                        int(step.pixels)),
            "sgemm (im2col conv)");
      }
    }
  }
  ATROUS_CUDA_TRY(cuda_launch_bias_activation(y, optional_f32(node, 2), step.batch, step.filters,
                                              step.pixels, step.activation, stream_),
                  "bias/activation launch");
  return Status::success();
}

// An op without a kernel: inputs to the host, the reference implementation, the output back.
Status CudaExecutorImpl::run_host(const Step& step) {
  const Node& node = graph_.nodes[step.node];
  std::vector<Tensor> host_inputs(node.inputs.size());
  std::vector<TensorView> constant_views(node.inputs.size());
  std::vector<const TensorView*> input_views;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const int32_t index = node.inputs[i];
    if (index == kAbsentInput) {
      input_views.push_back(nullptr);
      continue;
    }
    const GraphTensor& tensor = graph_.tensors[size_t(index)];
    if (tensor.is_constant) {
      constant_views[i] = graph_.constant_view(index);
      input_views.push_back(&constant_views[i]);
      continue;
    }
    host_inputs[i] = Tensor(tensor.dtype, tensor.shape);
    if (host_inputs[i].byte_size())
      ATROUS_CUDA_TRY(cudaMemcpyAsync(host_inputs[i].data(), pointers_[size_t(index)],
                                      host_inputs[i].byte_size(), cudaMemcpyDeviceToHost, stream_),
                      "copy to host");
    input_views.push_back(&host_inputs[i].view());
  }
  ATROUS_CUDA_TRY(cudaStreamSynchronize(stream_), "synchronize");
  std::vector<Tensor> host_outputs;
  std::vector<TensorView*> output_views;
  for (int32_t index : node.outputs) {
    const GraphTensor& tensor = graph_.tensors[size_t(index)];
    host_outputs.emplace_back(tensor.dtype, tensor.shape);
  }
  for (Tensor& tensor : host_outputs) output_views.push_back(&tensor.view());
  ATROUS_RETURN_IF_ERROR(op_run_reference(node.op, node.attributes, input_views, output_views));
  for (size_t o = 0; o < node.outputs.size(); ++o)
    if (host_outputs[o].byte_size())
      ATROUS_CUDA_TRY(cudaMemcpyAsync(pointers_[size_t(node.outputs[o])], host_outputs[o].data(),
                                      host_outputs[o].byte_size(), cudaMemcpyHostToDevice, stream_),
                      "copy to device");
  // The host tensors die here: wait for the copies.
  ATROUS_CUDA_TRY(cudaStreamSynchronize(stream_), "synchronize");
  return Status::success();
}

Status CudaExecutorImpl::enqueue(const Step& step) {
  const Node& node = graph_.nodes[step.node];
  void* out = pointers_[size_t(node.outputs[0])];
  switch (step.kind) {
    case StepKind::depthwise:
      ATROUS_CUDA_TRY(
          cuda_launch_depthwise(f32(node.inputs[0]), f32(node.inputs[1]), optional_f32(node, 2),
                                static_cast<float*>(out), step.depthwise, stream_),
          "depthwise launch");
      return Status::success();
    case StepKind::gemm_conv:
      return enqueue_gemm_conv(step);
    case StepKind::activation: {
      const int64_t count = shape_numel(graph_.tensors[size_t(node.outputs[0])].shape);
      ATROUS_CUDA_TRY(cuda_launch_activation(f32(node.inputs[0]), static_cast<float*>(out), count,
                                             step.activation, stream_),
                      "activation launch");
      return Status::success();
    }
    case StepKind::binary:
      ATROUS_CUDA_TRY(cuda_launch_binary(f32(node.inputs[0]), f32(node.inputs[1]),
                                         static_cast<float*>(out), step.binary, stream_),
                      "binary launch");
      return Status::success();
    case StepKind::global_pool:
      ATROUS_CUDA_TRY(cuda_launch_global_average_pool(f32(node.inputs[0]), static_cast<float*>(out),
                                                      step.planes, step.area, stream_),
                      "global_average_pool launch");
      return Status::success();
    case StepKind::pool:
      ATROUS_CUDA_TRY(
          cuda_launch_pool(f32(node.inputs[0]), static_cast<float*>(out), step.pool, stream_),
          "pool launch");
      return Status::success();
    case StepKind::resize:
      ATROUS_CUDA_TRY(
          cuda_launch_resize(f32(node.inputs[0]), static_cast<float*>(out), step.resize, stream_),
          "resize launch");
      return Status::success();
    case StepKind::concat: {
      const size_t row_bytes = size_t(step.dim * step.inner) * step.element_size;
      size_t offset = 0;
      for (int32_t index : node.inputs) {
        const int64_t dim = graph_.tensors[size_t(index)].shape[size_t(step.area)];
        const size_t width = size_t(dim * step.inner) * step.element_size;
        if (width != 0 && step.outer != 0) {
          uint8_t* destination = static_cast<uint8_t*>(out) + offset;
          if (step.outer == 1)
            ATROUS_CUDA_TRY(cudaMemcpyAsync(destination, pointers_[size_t(index)], width,
                                            cudaMemcpyDeviceToDevice, stream_),
                            "concat copy");
          else
            ATROUS_CUDA_TRY(
                cudaMemcpy2DAsync(destination, row_bytes, pointers_[size_t(index)], width, width,
                                  size_t(step.outer), cudaMemcpyDeviceToDevice, stream_),
                "concat copy");
        }
        offset += width;
      }
      return Status::success();
    }
    case StepKind::softmax:
      ATROUS_CUDA_TRY(cuda_launch_softmax(f32(node.inputs[0]), static_cast<float*>(out), step.outer,
                                          step.dim, step.inner, stream_),
                      "softmax launch");
      return Status::success();
    case StepKind::argmax:
      ATROUS_CUDA_TRY(cuda_launch_argmax(f32(node.inputs[0]), static_cast<int32_t*>(out),
                                         step.outer, step.dim, step.inner, stream_),
                      "argmax launch");
      return Status::success();
    case StepKind::copy:
      if (step.copy_bytes)
        ATROUS_CUDA_TRY(cudaMemcpyAsync(out, pointers_[size_t(node.inputs[0])], step.copy_bytes,
                                        cudaMemcpyDeviceToDevice, stream_),
                        "reshape copy");
      return Status::success();
    case StepKind::pad:
      ATROUS_CUDA_TRY(
          cuda_launch_pad(static_cast<const uint32_t*>(pointers_[size_t(node.inputs[0])]),
                          static_cast<uint32_t*>(out), step.pad, stream_),
          "pad launch");
      return Status::success();
    case StepKind::host:
      return run_host(step);
  }
  return Status::error("unknown step");
}

Status CudaExecutorImpl::enqueue_all(bool timed) {
  for (size_t s = 0; s < steps_.size(); ++s) {
    if (timed) ATROUS_CUDA_TRY(cudaEventRecord(events_[s], stream_), "cudaEventRecord");
    Status status = enqueue(steps_[s]);
    if (!status.ok()) return Status::error(node_label(graph_, s) + ": " + status.message());
  }
  if (timed) ATROUS_CUDA_TRY(cudaEventRecord(events_[steps_.size()], stream_), "cudaEventRecord");
  return Status::success();
}

// Copies the inputs in and queues every node (or the captured CUDA graph) on the stream.
Status CudaExecutorImpl::enqueue_run(const std::vector<const TensorView*>& inputs,
                                     bool* graph_used) {
  if (inputs.size() != graph_.inputs.size())
    return Status::error("cuda: expected " + std::to_string(graph_.inputs.size()) +
                         " inputs, got " + std::to_string(inputs.size()));
  ATROUS_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int32_t index = graph_.inputs[i];
    const GraphTensor& tensor = graph_.tensors[size_t(index)];
    if (!inputs[i] || inputs[i]->dtype != tensor.dtype || inputs[i]->shape != tensor.shape)
      return Status::error("cuda: input '" + tensor.name + "' does not match the graph");
    if (inputs[i]->byte_size())
      ATROUS_CUDA_TRY(cudaMemcpyAsync(pointers_[size_t(index)], inputs[i]->data,
                                      inputs[i]->byte_size(), cudaMemcpyHostToDevice, stream_),
                      "copy input");
  }
  const bool use_graph = options_.use_cuda_graph && host_nodes_ == 0 && !options_.profile;
  if (use_graph) {
    if (!graph_exec_) {
      cudaGraph_t captured = nullptr;
      ATROUS_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
                      "begin capture");
      Status status = enqueue_all(false);
      cudaError_t end = cudaStreamEndCapture(stream_, &captured);
      if (!status.ok()) {
        if (captured) cudaGraphDestroy(captured);
        return status;
      }
      if (end != cudaSuccess) return cuda_status("end capture", end);
      cudaError_t instantiated = cudaGraphInstantiate(&graph_exec_, captured, 0);
      cudaGraphDestroy(captured);
      if (instantiated != cudaSuccess) {
        graph_exec_ = nullptr;
        return cuda_status("cudaGraphInstantiate", instantiated);
      }
    }
    ATROUS_CUDA_TRY(cudaGraphLaunch(graph_exec_, stream_), "cudaGraphLaunch");
  } else {
    ATROUS_RETURN_IF_ERROR(enqueue_all(options_.profile));
  }
  *graph_used = use_graph;
  return Status::success();
}

Status CudaExecutorImpl::read_profile(bool use_graph) {
  if (options_.profile && !use_graph) {
    for (size_t s = 0; s < steps_.size(); ++s) {
      float ms = 0.0f;
      ATROUS_CUDA_TRY(cudaEventElapsedTime(&ms, events_[s], events_[s + 1]),
                      "cudaEventElapsedTime");
      node_seconds_[s] = double(ms) * 1e-3;
    }
  }
  return Status::success();
}

Status CudaExecutorImpl::run_on_device(const std::vector<const TensorView*>& inputs,
                                       std::vector<CudaDeviceTensor>* outputs) {
  bool use_graph = false;
  ATROUS_RETURN_IF_ERROR(enqueue_run(inputs, &use_graph));
  ATROUS_CUDA_TRY(cudaStreamSynchronize(stream_), "synchronize");
  outputs->clear();
  for (int32_t index : graph_.outputs) {
    const GraphTensor& tensor = graph_.tensors[size_t(index)];
    CudaDeviceTensor output;
    output.dtype = tensor.dtype;
    output.shape = tensor.shape;
    output.data = pointers_[size_t(index)];
    outputs->push_back(std::move(output));
  }
  return read_profile(use_graph);
}

Status CudaExecutorImpl::run(const std::vector<const TensorView*>& inputs,
                             std::vector<Tensor>* outputs) {
  bool use_graph = false;
  ATROUS_RETURN_IF_ERROR(enqueue_run(inputs, &use_graph));
  outputs->clear();
  for (int32_t index : graph_.outputs) {
    const GraphTensor& tensor = graph_.tensors[size_t(index)];
    Tensor copy(tensor.dtype, tensor.shape);
    if (copy.byte_size())
      ATROUS_CUDA_TRY(cudaMemcpyAsync(copy.data(), pointers_[size_t(index)], copy.byte_size(),
                                      cudaMemcpyDeviceToHost, stream_),
                      "copy output");
    outputs->push_back(std::move(copy));
  }
  ATROUS_CUDA_TRY(cudaStreamSynchronize(stream_), "synchronize");
  return read_profile(use_graph);
}

}  // namespace

bool cuda_device_available(std::string* reason) {
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    if (reason) *reason = cudaGetErrorString(error);
    return false;
  }
  if (count < 1) {
    if (reason) *reason = "no device visible";
    return false;
  }
  return true;
}

Status CudaExecutor::create(const Graph& graph, const CudaOptions& options,
                            std::unique_ptr<CudaExecutor>* executor) {
  std::unique_ptr<CudaExecutorImpl> created(new CudaExecutorImpl());
  ATROUS_RETURN_IF_ERROR(created->initialize(graph, options));
  *executor = std::move(created);
  return Status::success();
}

namespace {

// Times `body` (queued on `stream`) with events; the best of `repeats` runs, in seconds.
template <typename Body>
Status time_best(cudaStream_t stream, int repeats, Body body, double* seconds) {
  cudaEvent_t start = nullptr, stop = nullptr;
  ATROUS_CUDA_TRY(cudaEventCreate(&start), "cudaEventCreate");
  cudaError_t created = cudaEventCreate(&stop);
  if (created != cudaSuccess) {
    cudaEventDestroy(start);
    return cuda_status("cudaEventCreate", created);
  }
  Status status;
  double best = 1e30;
  for (int r = 0; r < repeats && status.ok(); ++r) {
    cudaError_t error = cudaEventRecord(start, stream);
    if (error == cudaSuccess) error = body();
    if (error == cudaSuccess) error = cudaEventRecord(stop, stream);
    if (error == cudaSuccess) error = cudaEventSynchronize(stop);
    float ms = 0.0f;
    if (error == cudaSuccess) error = cudaEventElapsedTime(&ms, start, stop);
    if (error != cudaSuccess)
      status = cuda_status("timed run", error);
    else
      best = std::min(best, double(ms) * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  *seconds = best;
  return status;
}

}  // namespace

Status cuda_measure_bandwidth(double* bytes_per_second) {
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer source, destination;
  ATROUS_RETURN_IF_ERROR(source.allocate(bytes, "cudaMalloc (bandwidth)"));
  ATROUS_RETURN_IF_ERROR(destination.allocate(bytes, "cudaMalloc (bandwidth)"));
  ATROUS_CUDA_TRY(cudaMemset(source.data(), 1, bytes), "cudaMemset");
  double seconds = 0.0;
  ATROUS_RETURN_IF_ERROR(time_best(
      nullptr, 5,
      [&]() {
        return cudaMemcpyAsync(destination.data(), source.data(), bytes, cudaMemcpyDeviceToDevice,
                               nullptr);
      },
      &seconds));
  *bytes_per_second = 2.0 * double(bytes) / seconds;  // read + write
  return Status::success();
}

Status cuda_measure_fp32_peak(double* flops_per_second) {
  int device = 0, sms = 0;
  ATROUS_CUDA_TRY(cudaGetDevice(&device), "cudaGetDevice");
  ATROUS_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
                  "device attribute");
  const int blocks = sms * 16, iterations = 1 << 14;
  DeviceBuffer sink;
  ATROUS_RETURN_IF_ERROR(sink.allocate(size_t(blocks) * 256 * sizeof(float), "cudaMalloc (peak)"));
  double seconds = 0.0;
  ATROUS_RETURN_IF_ERROR(time_best(
      nullptr, 5,
      [&]() {
        return cuda_launch_fma_loop(reinterpret_cast<float*>(sink.data()), blocks, iterations,
                                    nullptr);
      },
      &seconds));
  *flops_per_second = double(blocks) * 256.0 * double(iterations) * 8.0 * 2.0 / seconds;
  return Status::success();
}

}  // namespace atrous
