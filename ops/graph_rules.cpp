#include "ops/graph_rules.h"

#include <map>

#include "graph/format.h"
#include "ops/ops.h"

namespace atrous {
namespace {

// "[1,8,?,4]" (? for a dim recorded as -1), preceded by the dtype when `with_dtype`.
std::string describe(DType dtype, const Shape& shape, bool with_dtype) {
  return with_dtype ? std::string(dtype_name(dtype)) + " " + shape_to_string(shape)
                    : shape_to_string(shape);
}

bool recorded_shape_matches(const Shape& recorded, const Shape& inferred) {
  if (recorded.size() != inferred.size()) return false;
  for (size_t d = 0; d < recorded.size(); ++d)
    if (recorded[d] != -1 && recorded[d] != inferred[d]) return false;
  return true;
}

}  // namespace

Status graph_infer_shapes(Graph* graph) {
  for (size_t n = 0; n < graph->nodes.size(); ++n) {
    Node& node = graph->nodes[n];
    std::vector<const TensorDesc*> inputs;
    std::vector<TensorDesc> input_descs(node.inputs.size());
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int32_t index = node.inputs[i];
      if (index == kAbsentInput) {
        inputs.push_back(nullptr);
        continue;
      }
      input_descs[i].dtype = graph->tensors[size_t(index)].dtype;
      input_descs[i].shape = graph->tensors[size_t(index)].shape;
      inputs.push_back(&input_descs[i]);
    }
    std::vector<TensorDesc> outputs;
    Status status = op_infer(node.op, node.attributes, inputs, &outputs);
    if (!status.ok()) return Status::error(node_label(*graph, n) + ": " + status.message());
    if (outputs.size() != node.outputs.size())
      return Status::error(node_label(*graph, n) + ": has " + std::to_string(node.outputs.size()) +
                           " outputs, the op produces " + std::to_string(outputs.size()));
    for (size_t o = 0; o < outputs.size(); ++o) {
      int64_t count = 0;
      if (!shape_element_count(outputs[o].shape, &count))
        return Status::error(node_label(*graph, n) + ": output shape " +
                             shape_to_string(outputs[o].shape) + " is too large");
      GraphTensor& tensor = graph->tensors[size_t(node.outputs[o])];
      tensor.dtype = outputs[o].dtype;
      tensor.shape = outputs[o].shape;
    }
  }
  return Status::success();
}

Status graph_infer_and_check_recorded_shapes(Graph* graph) {
  std::vector<TensorDesc> recorded(graph->tensors.size());
  for (size_t t = 0; t < graph->tensors.size(); ++t)
    recorded[t] = {graph->tensors[t].dtype, graph->tensors[t].shape};
  ATROUS_RETURN_IF_ERROR(graph_infer_shapes(graph));
  for (size_t n = 0; n < graph->nodes.size(); ++n) {
    const Node& node = graph->nodes[n];
    for (int32_t index : node.outputs) {
      const TensorDesc& record = recorded[size_t(index)];
      const GraphTensor& tensor = graph->tensors[size_t(index)];
      // Rank 0 is how writers say "unknown" (docs/FORMAT.md).
      if (record.shape.empty()) continue;
      if (record.dtype == tensor.dtype && recorded_shape_matches(record.shape, tensor.shape))
        continue;
      const bool with_dtype = record.dtype != tensor.dtype;
      std::string producer = node.name.empty()
                                 ? "node " + std::to_string(n) + " (" + op_type_name(node.op) + ")"
                                 : std::string(op_type_name(node.op)) + " '" + node.name + "'";
      return Status::error(
          "tensor '" + tensor.name + "' (output of " + producer + "): the file records " +
          describe(record.dtype, record.shape, with_dtype) + " but the shape rules give " +
          describe(tensor.dtype, tensor.shape, with_dtype) +
          "; the converter and the runtime disagree");
    }
  }
  return Status::success();
}

Status graph_load_file(const std::string& path, Graph* graph) {
  ATROUS_RETURN_IF_ERROR(format_load_file(path, graph));
  Status status = graph_infer_and_check_recorded_shapes(graph);
  if (!status.ok()) {
    *graph = Graph();
    return Status::error("'" + path + "': " + status.message());
  }
  return status;
}

Status graph_load_memory(const void* data, size_t size, Graph* graph) {
  ATROUS_RETURN_IF_ERROR(format_load_memory(data, size, graph));
  Status status = graph_infer_and_check_recorded_shapes(graph);
  if (!status.ok()) *graph = Graph();
  return status;
}

int64_t node_multiply_adds(const Graph& graph, size_t node_index) {
  const Node& node = graph.nodes[node_index];
  std::vector<TensorDesc> input_descs(node.inputs.size());
  std::vector<const TensorDesc*> inputs;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == kAbsentInput) {
      inputs.push_back(nullptr);
      continue;
    }
    input_descs[i] = {graph.tensors[size_t(node.inputs[i])].dtype,
                      graph.tensors[size_t(node.inputs[i])].shape};
    inputs.push_back(&input_descs[i]);
  }
  std::vector<TensorDesc> outputs;
  for (int32_t index : node.outputs)
    outputs.push_back({graph.tensors[size_t(index)].dtype, graph.tensors[size_t(index)].shape});
  return op_multiply_adds(node.op, node.attributes, inputs, outputs);
}

GraphStatistics graph_statistics(const Graph& graph) {
  GraphStatistics stats;
  std::vector<int32_t> uses = graph_use_counts(graph);
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const GraphTensor& tensor = graph.tensors[i];
    if (!tensor.is_constant || uses[i] == 0) continue;
    stats.parameters += shape_numel(tensor.shape);
    stats.parameter_bytes += shape_numel(tensor.shape) * int64_t(dtype_size(tensor.dtype));
  }
  std::map<std::string, int> counts;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    ++counts[op_type_name(graph.nodes[n].op)];
    stats.multiply_adds += node_multiply_adds(graph, n);
  }
  stats.op_counts.assign(counts.begin(), counts.end());
  return stats;
}

}  // namespace atrous
