// Reference execution: nodes in order, each output allocated before its node and freed after
// its last reader. The planned arena and the fast kernels come with the CPU backend.
#include "runtime/session.h"

#include <cstring>

#include "cpu/pointwise_conv.h"
#include "cpu/thread_pool.h"
#include "graph/format.h"
#include "graph/passes.h"

namespace atrous {

bool backend_from_name(const std::string& name, Backend* backend) {
  if (name == "reference") *backend = Backend::backend_reference;
  else if (name == "cpu") *backend = Backend::backend_cpu;
  else if (name == "cuda") *backend = Backend::backend_cuda;
  else return false;
  return true;
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::backend_reference: return "reference";
    case Backend::backend_cpu: return "cpu";
    case Backend::backend_cuda: return "cuda";
  }
  return "unknown";
}

Status Model::load_file(const std::string& path, std::shared_ptr<const Model>* model) {
  auto loaded = std::make_shared<Model>();
  ATROUS_RETURN_IF_ERROR(format_load_file(path, &loaded->graph_));
  *model = std::move(loaded);
  return Status::success();
}

Status Model::load_memory(const void* data, size_t size, std::shared_ptr<const Model>* model) {
  auto loaded = std::make_shared<Model>();
  ATROUS_RETURN_IF_ERROR(format_load_memory(data, size, &loaded->graph_));
  *model = std::move(loaded);
  return Status::success();
}

Status Model::from_graph(Graph graph, std::shared_ptr<const Model>* model) {
  ATROUS_RETURN_IF_ERROR(graph_validate(graph));
  ATROUS_RETURN_IF_ERROR(graph_infer_shapes(&graph));
  auto created = std::make_shared<Model>();
  created->graph_ = std::move(graph);
  *model = std::move(created);
  return Status::success();
}

Status Session::create(std::shared_ptr<const Model> model, const SessionOptions& options,
                       std::unique_ptr<Session>* session) {
  if (!model) return Status::error("no model");
  if (options.threads < 1 || options.threads > 1024)
    return Status::error("threads must be in [1, 1024], got " + std::to_string(options.threads));
  if (options.backend == Backend::backend_cuda)
    return Status::error(std::string("backend '") + backend_name(options.backend) +
                         "' is not available in this build yet; use 'cpu' or 'reference'");
  std::unique_ptr<Session> created(new Session());
  created->model_ = model;
  created->options_ = options;
  created->graph_ = model->graph();  // shares constant storage with the model
  if (options.optimize) ATROUS_RETURN_IF_ERROR(graph_optimize(&created->graph_));
  const Graph& graph = created->graph_;
  created->last_use_.assign(graph.tensors.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int32_t index : graph.nodes[n].inputs)
      if (index != kAbsentInput) created->last_use_[size_t(index)] = int32_t(n);
  // Graph outputs live to the end.
  for (int32_t index : graph.outputs) created->last_use_[size_t(index)] = int32_t(graph.nodes.size());
  if (options.backend == Backend::backend_cpu) ATROUS_RETURN_IF_ERROR(created->prepare_cpu());
  *session = std::move(created);
  return Status::success();
}

Session::~Session() = default;

namespace {

// A conv that is a plain GEMM: 1×1 kernel, stride 1, no padding, one group, constant weights.
bool is_pointwise(const Graph& graph, const Node& node) {
  if (node.op != OpType::op_conv || node.inputs.size() < 2) return false;
  const GraphTensor& weight = graph.tensors[size_t(node.inputs[1])];
  if (!weight.is_constant || weight.shape.size() != 4 || weight.shape[2] != 1 || weight.shape[3] != 1)
    return false;
  if (node.inputs.size() > 2 && node.inputs[2] != kAbsentInput &&
      !graph.tensors[size_t(node.inputs[2])].is_constant)
    return false;
  const AttributeMap& a = node.attributes;
  if (a.get_int("group", 1) != 1 || a.get_ints("strides", {1, 1}) != std::vector<int64_t>{1, 1})
    return false;
  std::string auto_pad = a.get_string("auto_pad", "explicit");
  return auto_pad != "explicit" || a.get_ints("pads", {0, 0, 0, 0}) == std::vector<int64_t>{0, 0, 0, 0};
}

}  // namespace

Status Session::prepare_cpu() {
  pool_.reset(new ThreadPool(options_.threads));
  const CpuIsa isa = cpu_isa_detect();
  pointwise_.resize(graph_.nodes.size());
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    const Node& node = graph_.nodes[n];
    if (!is_pointwise(graph_, node)) continue;
    Activation activation;
    ATROUS_RETURN_IF_ERROR(activation_from_conv_attributes(node.attributes, &activation));
    const GraphTensor& weight = graph_.tensors[size_t(node.inputs[1])];
    const float* bias = node.inputs.size() > 2 && node.inputs[2] != kAbsentInput
                            ? static_cast<const float*>(graph_.tensors[size_t(node.inputs[2])].data)
                            : nullptr;
    pointwise_[n].reset(new PointwisePlan());
    pointwise_plan(static_cast<const float*>(weight.data), bias, weight.shape[0], weight.shape[1],
                   activation, isa, pointwise_[n].get());
  }
  return Status::success();
}

Status Session::run(const std::vector<NamedInput>& inputs, std::vector<Tensor>* outputs) {
  const Graph& graph = graph_;
  std::vector<const TensorView*> input_views(graph.tensors.size(), nullptr);
  for (const NamedInput& input : inputs) {
    int32_t found = -1;
    for (int32_t index : graph.inputs)
      if (graph.tensors[size_t(index)].name == input.name) found = index;
    if (found < 0) {
      std::string names;
      for (int32_t index : graph.inputs) names += (names.empty() ? "'" : ", '") + graph.tensors[size_t(index)].name + "'";
      return Status::error("unknown input '" + input.name + "' (the model's inputs: " + names + ")");
    }
    const GraphTensor& expected = graph.tensors[size_t(found)];
    if (input_views[size_t(found)]) return Status::error("input '" + input.name + "' given twice");
    if (!input.tensor || (!input.tensor->data && input.tensor->numel() != 0))
      return Status::error("input '" + input.name + "' has no data");
    if (input.tensor->dtype != expected.dtype)
      return Status::error("input '" + input.name + "' has dtype " + dtype_name(input.tensor->dtype) +
                           ", the model expects " + dtype_name(expected.dtype));
    if (input.tensor->shape != expected.shape)
      return Status::error("input '" + input.name + "' has shape " +
                           shape_to_string(input.tensor->shape) + ", the model expects " +
                           shape_to_string(expected.shape));
    input_views[size_t(found)] = input.tensor;
  }
  for (int32_t index : graph.inputs)
    if (!input_views[size_t(index)])
      return Status::error("input '" + graph.tensors[size_t(index)].name + "' was not given");

  std::vector<Tensor> values(graph.tensors.size());
  std::vector<TensorView> constant_views(graph.tensors.size());
  auto view_of = [&](int32_t index) -> const TensorView* {
    if (input_views[size_t(index)]) return input_views[size_t(index)];
    if (graph.tensors[size_t(index)].is_constant) {
      constant_views[size_t(index)] = graph.constant_view(index);
      return &constant_views[size_t(index)];
    }
    return &values[size_t(index)].view();
  };
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    std::vector<const TensorView*> node_inputs;
    for (int32_t index : node.inputs) node_inputs.push_back(index == kAbsentInput ? nullptr : view_of(index));
    std::vector<TensorView*> node_outputs;
    for (int32_t index : node.outputs) {
      const GraphTensor& tensor = graph.tensors[size_t(index)];
      values[size_t(index)] = Tensor(tensor.dtype, tensor.shape);
      node_outputs.push_back(&values[size_t(index)].view());
    }
    Status status;
    if (n < pointwise_.size() && pointwise_[n]) {
      // NCHW: each image is a [C, H·W] by [M, H·W] product.
      const TensorView& x = *node_inputs[0];
      TensorView& y = *node_outputs[0];
      const int64_t pixels = x.shape[2] * x.shape[3];
      for (int64_t b = 0; b < x.shape[0]; ++b)
        pointwise_run(*pointwise_[n], x.f32() + b * x.shape[1] * pixels, pixels,
                      y.f32() + b * y.shape[1] * pixels, *pool_);
    } else {
      status = op_run_reference(node.op, node.attributes, node_inputs, node_outputs);
    }
    if (!status.ok()) return Status::error(node_label(graph, n) + ": " + status.message());
    for (int32_t index : node.inputs)
      if (index != kAbsentInput && last_use_[size_t(index)] == int32_t(n)) values[size_t(index)] = Tensor();
  }
  outputs->clear();
  for (int32_t index : graph.outputs) {
    const TensorView* view = view_of(index);
    Tensor copy(view->dtype, view->shape);
    if (copy.byte_size()) std::memcpy(copy.data(), view->data, copy.byte_size());
    outputs->push_back(std::move(copy));
  }
  return Status::success();
}

}  // namespace atrous
