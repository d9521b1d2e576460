#include "graph/graph.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <unordered_set>

namespace atrous {

int32_t Graph::add_tensor(const std::string& name, DType dtype, const Shape& shape) {
  GraphTensor tensor;
  tensor.name = name;
  tensor.dtype = dtype;
  tensor.shape = shape;
  tensors.push_back(std::move(tensor));
  return int32_t(tensors.size() - 1);
}

int32_t Graph::add_constant(const std::string& name, Tensor&& value) {
  auto owned = std::make_shared<Tensor>(std::move(value));
  GraphTensor tensor;
  tensor.name = name;
  tensor.dtype = owned->dtype();
  tensor.shape = owned->shape();
  tensor.is_constant = true;
  tensor.data = owned->data();
  storage.push_back(std::shared_ptr<const void>(owned, owned->data()));
  tensors.push_back(std::move(tensor));
  return int32_t(tensors.size() - 1);
}

std::string Graph::unique_tensor_name(const std::string& base) const {
  std::unordered_set<std::string> names;
  for (const GraphTensor& tensor : tensors) names.insert(tensor.name);
  if (!names.count(base)) return base;
  for (int suffix = 1;; ++suffix) {
    std::string candidate = base + "_" + std::to_string(suffix);
    if (!names.count(candidate)) return candidate;
  }
}

TensorView Graph::constant_view(int32_t index) const {
  const GraphTensor& tensor = tensors[size_t(index)];
  TensorView view;
  view.dtype = tensor.dtype;
  view.shape = tensor.shape;
  view.data = const_cast<void*>(tensor.data);
  return view;
}

std::string node_label(const Graph& graph, size_t node_index) {
  const Node& node = graph.nodes[node_index];
  std::string label = "node " + std::to_string(node_index) + " (" + op_type_name(node.op);
  if (!node.name.empty()) label += " '" + node.name + "'";
  return label + ")";
}

Status graph_validate(const Graph& graph) {
  const int64_t tensor_count = int64_t(graph.tensors.size());
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const GraphTensor& tensor = graph.tensors[i];
    if (tensor.name.empty())
      return Status::error("tensor " + std::to_string(i) + " has an empty name");
    if (!names.insert(tensor.name).second)
      return Status::error("tensor name '" + tensor.name + "' is used twice");
    if (tensor.is_constant && !shape_is_known(tensor.shape))
      return Status::error("constant '" + tensor.name + "' has an unknown dimension");
  }
  // available[t]: tensor t has a value at this point of the topological walk.
  std::vector<char> available(graph.tensors.size(), 0);
  std::vector<char> is_input(graph.tensors.size(), 0);
  for (size_t i = 0; i < graph.tensors.size(); ++i) available[i] = graph.tensors[i].is_constant;
  if (graph.inputs.empty()) return Status::error("graph has no inputs");
  for (int32_t index : graph.inputs) {
    if (index < 0 || index >= tensor_count)
      return Status::error("graph input index " + std::to_string(index) + " out of range");
    const GraphTensor& tensor = graph.tensors[size_t(index)];
    if (tensor.is_constant) return Status::error("graph input '" + tensor.name + "' is a constant");
    if (is_input[size_t(index)])
      return Status::error("graph input '" + tensor.name + "' is listed twice");
    int64_t count = 0;
    if (!shape_element_count(tensor.shape, &count))
      return Status::error("graph input '" + tensor.name + "' has an unknown or too large shape " +
                           shape_to_string(tensor.shape));
    is_input[size_t(index)] = 1;
    available[size_t(index)] = 1;
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    for (int32_t index : node.inputs) {
      if (index == kAbsentInput) continue;
      if (index < 0 || index >= tensor_count)
        return Status::error(node_label(graph, n) + ": input index " + std::to_string(index) +
                             " out of range");
      if (!available[size_t(index)])
        return Status::error(node_label(graph, n) + ": input '" +
                             graph.tensors[size_t(index)].name +
                             "' is not produced before it is used (nodes must be in "
                             "topological order)");
    }
    if (node.outputs.empty()) return Status::error(node_label(graph, n) + ": no outputs");
    for (int32_t index : node.outputs) {
      if (index < 0 || index >= tensor_count)
        return Status::error(node_label(graph, n) + ": output index " + std::to_string(index) +
                             " out of range");
      const GraphTensor& tensor = graph.tensors[size_t(index)];
      if (tensor.is_constant || is_input[size_t(index)])
        return Status::error(node_label(graph, n) + ": writes '" + tensor.name +
                             "', which is a graph input or a constant");
      if (available[size_t(index)])
        return Status::error(node_label(graph, n) + ": output '" + tensor.name +
                             "' is produced more than once");
      available[size_t(index)] = 1;
    }
  }
  if (graph.outputs.empty()) return Status::error("graph has no outputs");
  for (int32_t index : graph.outputs) {
    if (index < 0 || index >= tensor_count)
      return Status::error("graph output index " + std::to_string(index) + " out of range");
    if (!available[size_t(index)])
      return Status::error("graph output '" + graph.tensors[size_t(index)].name +
                           "' is never produced");
  }
  return Status::success();
}

std::vector<int32_t> graph_use_counts(const Graph& graph) {
  std::vector<int32_t> counts(graph.tensors.size(), 0);
  for (const Node& node : graph.nodes)
    for (int32_t index : node.inputs)
      if (index != kAbsentInput) ++counts[size_t(index)];
  for (int32_t index : graph.outputs) ++counts[size_t(index)];
  return counts;
}

std::vector<int32_t> graph_producers(const Graph& graph) {
  std::vector<int32_t> producers(graph.tensors.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int32_t index : graph.nodes[n].outputs) producers[size_t(index)] = int32_t(n);
  return producers;
}

}  // namespace atrous
