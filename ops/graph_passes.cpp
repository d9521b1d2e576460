#include "ops/graph_passes.h"

#include <cstdint>
#include <memory>

#include "graph/passes.h"
#include "ops/ops.h"

namespace atrous {
namespace {

constexpr int64_t kMaxFoldedBytes = int64_t(64) << 20;

bool all_inputs_constant(const Graph& graph, const Node& node) {
  bool any = false;
  for (int32_t index : node.inputs) {
    if (index == kAbsentInput) continue;
    if (!graph.tensors[size_t(index)].is_constant) return false;
    any = true;
  }
  return any;
}

}  // namespace

Status pass_fold_constants(Graph* graph, int64_t budget_bytes, int64_t* folded_bytes) {
  std::vector<char> remove(graph->nodes.size(), 0);
  int64_t total = 0;
  for (size_t n = 0; n < graph->nodes.size(); ++n) {
    const Node& node = graph->nodes[n];
    if (!all_inputs_constant(*graph, node)) continue;
    bool small = true;
    int64_t node_bytes = 0;
    for (int32_t index : node.outputs) {
      const GraphTensor& out = graph->tensors[size_t(index)];
      int64_t bytes = 0;
      small &= shape_byte_size(out.shape, out.dtype, &bytes) && bytes <= kMaxFoldedBytes;
      node_bytes += small ? bytes : 0;
    }
    if (!small || node_bytes > budget_bytes - total) continue;
    total += node_bytes;
    std::vector<TensorView> input_views(node.inputs.size());
    std::vector<const TensorView*> inputs;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] == kAbsentInput) {
        inputs.push_back(nullptr);
        continue;
      }
      input_views[i] = graph->constant_view(node.inputs[i]);
      inputs.push_back(&input_views[i]);
    }
    std::vector<Tensor> results;
    std::vector<TensorView*> outputs;
    for (int32_t index : node.outputs)
      results.emplace_back(graph->tensors[size_t(index)].dtype,
                           graph->tensors[size_t(index)].shape);
    for (Tensor& result : results) outputs.push_back(&result.view());
    Status status = op_run_reference(node.op, node.attributes, inputs, outputs);
    if (!status.ok()) return Status::error(node_label(*graph, n) + ": " + status.message());
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      auto owned = std::make_shared<Tensor>(std::move(results[o]));
      GraphTensor& tensor = graph->tensors[size_t(node.outputs[o])];
      tensor.is_constant = true;
      tensor.data = owned->data();
      graph->storage.push_back(std::shared_ptr<const void>(owned, owned->data()));
    }
    remove[n] = 1;
  }
  graph_erase_nodes(graph, remove);
  if (folded_bytes) *folded_bytes = total;
  return Status::success();
}

Status graph_optimize(Graph* graph, int64_t fold_budget_bytes, int64_t* folded_bytes) {
  ATROUS_RETURN_IF_ERROR(pass_fold_constants(graph, fold_budget_bytes, folded_bytes));
  ATROUS_RETURN_IF_ERROR(pass_fold_batch_norm(graph));
  ATROUS_RETURN_IF_ERROR(pass_fuse_activations(graph));
  ATROUS_RETURN_IF_ERROR(pass_remove_unused(graph));
  return graph_validate(*graph);
}

}  // namespace atrous
