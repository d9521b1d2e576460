#include "graph/passes.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace atrous {
namespace {

bool is_graph_output(const Graph& graph, int32_t index) {
  for (int32_t output : graph.outputs)
    if (output == index) return true;
  return false;
}

}  // namespace
void graph_erase_nodes(Graph* graph, const std::vector<char>& remove) {
  std::vector<Node> kept;
  kept.reserve(graph->nodes.size());
  for (size_t n = 0; n < graph->nodes.size(); ++n)
    if (!remove[n]) kept.push_back(std::move(graph->nodes[n]));
  graph->nodes = std::move(kept);
}

Status pass_fold_batch_norm(Graph* graph) {
  std::vector<int32_t> uses = graph_use_counts(*graph);
  std::vector<int32_t> producers = graph_producers(*graph);
  std::vector<char> remove(graph->nodes.size(), 0);
  for (size_t n = 0; n < graph->nodes.size(); ++n) {
    const Node& bn = graph->nodes[n];
    if (bn.op != OpType::op_batch_norm || bn.inputs.size() != 5) continue;
    int32_t x = bn.inputs[0];
    int32_t conv_index = producers[size_t(x)];
    if (conv_index < 0 || uses[size_t(x)] != 1 || is_graph_output(*graph, x)) continue;
    Node& conv = graph->nodes[size_t(conv_index)];
    if (conv.op != OpType::op_conv || conv.attributes.get_string("activation", "none") != "none")
      continue;
    bool constants = graph->tensors[size_t(conv.inputs[1])].is_constant;
    bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kAbsentInput;
    if (has_bias) constants &= graph->tensors[size_t(conv.inputs[2])].is_constant;
    for (int i = 1; i < 5; ++i)
      constants &= graph->tensors[size_t(bn.inputs[size_t(i)])].is_constant;
    if (!constants) continue;

    const GraphTensor& weight = graph->tensors[size_t(conv.inputs[1])];
    const int64_t channels = weight.shape[0];
    const int64_t per_channel = shape_numel(weight.shape) / std::max<int64_t>(channels, 1);
    const float* w = static_cast<const float*>(weight.data);
    const float* b =
        has_bias ? static_cast<const float*>(graph->tensors[size_t(conv.inputs[2])].data) : nullptr;
    const float* gamma = static_cast<const float*>(graph->tensors[size_t(bn.inputs[1])].data);
    const float* beta = static_cast<const float*>(graph->tensors[size_t(bn.inputs[2])].data);
    const float* mean = static_cast<const float*>(graph->tensors[size_t(bn.inputs[3])].data);
    const float* var = static_cast<const float*>(graph->tensors[size_t(bn.inputs[4])].data);
    const double epsilon = bn.attributes.get_float("epsilon", 1e-5);

    Tensor new_weight(DType::dtype_f32, weight.shape);
    Tensor new_bias(DType::dtype_f32, {channels});
    for (int64_t c = 0; c < channels; ++c) {
      double scale = double(gamma[c]) / std::sqrt(double(var[c]) + epsilon);
      for (int64_t k = 0; k < per_channel; ++k)
        new_weight.f32()[c * per_channel + k] = float(double(w[c * per_channel + k]) * scale);
      double bias = b ? double(b[c]) : 0.0;
      new_bias.f32()[c] = float((bias - double(mean[c])) * scale + double(beta[c]));
    }
    std::string base = conv.name.empty() ? graph->tensors[size_t(x)].name : conv.name;
    int32_t w_index = graph->add_constant(graph->unique_tensor_name(base + "/folded_weight"),
                                          std::move(new_weight));
    int32_t b_index =
        graph->add_constant(graph->unique_tensor_name(base + "/folded_bias"), std::move(new_bias));
    conv.inputs.resize(3);
    conv.inputs[1] = w_index;
    conv.inputs[2] = b_index;
    conv.outputs = bn.outputs;
    remove[n] = 1;
  }
  graph_erase_nodes(graph, remove);
  // The conv now writes the BN's output tensor; its old output is orphaned.
  return pass_remove_unused(graph);
}

Status pass_fuse_activations(Graph* graph) {
  std::vector<int32_t> uses = graph_use_counts(*graph);
  std::vector<int32_t> producers = graph_producers(*graph);
  std::vector<char> remove(graph->nodes.size(), 0);
  for (size_t n = 0; n < graph->nodes.size(); ++n) {
    const Node& act = graph->nodes[n];
    std::string kind;
    std::vector<double> params;
    switch (act.op) {
      case OpType::op_relu:
        kind = "relu";
        break;
      case OpType::op_hard_swish:
        kind = "hard_swish";
        break;
      case OpType::op_sigmoid:
        kind = "sigmoid";
        break;
      case OpType::op_tanh:
        kind = "tanh";
        break;
      case OpType::op_clip:
        kind = "clip";
        params = {act.attributes.get_float("min", -std::numeric_limits<double>::infinity()),
                  act.attributes.get_float("max", std::numeric_limits<double>::infinity())};
        break;
      case OpType::op_hard_sigmoid:
        kind = "hard_sigmoid";
        params = {act.attributes.get_float("alpha", 0.2), act.attributes.get_float("beta", 0.5)};
        break;
      default:
        continue;
    }
    int32_t x = act.inputs[0];
    int32_t conv_index = producers[size_t(x)];
    if (conv_index < 0 || uses[size_t(x)] != 1 || is_graph_output(*graph, x)) continue;
    Node& conv = graph->nodes[size_t(conv_index)];
    if (conv.op != OpType::op_conv || conv.attributes.get_string("activation", "none") != "none")
      continue;
    conv.attributes.set_string("activation", kind);
    if (params.empty())
      conv.attributes.erase("activation_params");
    else
      conv.attributes.set_floats("activation_params", params);
    conv.outputs = act.outputs;
    remove[n] = 1;
  }
  graph_erase_nodes(graph, remove);
  return pass_remove_unused(graph);
}

Status pass_remove_unused(Graph* graph) {
  // Walk backwards: a node is live if a live node or the graph output reads one of its outputs.
  std::vector<char> needed(graph->tensors.size(), 0);
  for (int32_t index : graph->outputs) needed[size_t(index)] = 1;
  std::vector<char> remove(graph->nodes.size(), 0);
  for (size_t n = graph->nodes.size(); n-- > 0;) {
    const Node& node = graph->nodes[n];
    bool live = false;
    for (int32_t index : node.outputs) live |= bool(needed[size_t(index)]);
    if (!live) {
      remove[n] = 1;
      continue;
    }
    for (int32_t index : node.inputs)
      if (index != kAbsentInput) needed[size_t(index)] = 1;
  }
  graph_erase_nodes(graph, remove);
  // Keep graph inputs and every tensor a remaining node touches.
  for (int32_t index : graph->inputs) needed[size_t(index)] = 1;
  for (const Node& node : graph->nodes)
    for (int32_t index : node.outputs) needed[size_t(index)] = 1;
  std::vector<int32_t> remap(graph->tensors.size(), -1);
  std::vector<GraphTensor> kept;
  for (size_t t = 0; t < graph->tensors.size(); ++t) {
    if (!needed[t]) continue;
    remap[t] = int32_t(kept.size());
    kept.push_back(std::move(graph->tensors[t]));
  }
  graph->tensors = std::move(kept);
  auto apply = [&](std::vector<int32_t>& indices) {
    for (int32_t& index : indices)
      if (index != kAbsentInput) index = remap[size_t(index)];
  };
  apply(graph->inputs);
  apply(graph->outputs);
  for (Node& node : graph->nodes) {
    apply(node.inputs);
    apply(node.outputs);
  }
  return Status::success();
}

}  // namespace atrous
