// Shared by the kernel factories of the non-convolution families: a node is only handled when
// its op's own shape rule accepts its attributes and inputs and gives the graph's output
// shapes, so a kernel never sees attributes or shapes that the reference would reject.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/graph.h"
#include "ops/ops.h"

namespace atrous {

// True when every input is present with a known shape and op_infer reproduces the outputs'
// dtypes and shapes.
inline bool cpu_node_shapes_check(const Graph& graph, const Node& node) {
  std::vector<TensorDesc> descs;
  std::vector<const TensorDesc*> pointers;
  descs.reserve(node.inputs.size());
  for (int32_t index : node.inputs) {
    if (index < 0 || size_t(index) >= graph.tensors.size()) return false;  // also kAbsentInput
    const GraphTensor& tensor = graph.tensors[size_t(index)];
    descs.push_back(TensorDesc{tensor.dtype, tensor.shape});
  }
  for (const TensorDesc& desc : descs) pointers.push_back(&desc);
  std::vector<TensorDesc> outputs;
  if (!op_infer(node.op, node.attributes, pointers, &outputs).ok()) return false;
  if (outputs.size() != node.outputs.size()) return false;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (node.outputs[i] < 0 || size_t(node.outputs[i]) >= graph.tensors.size()) return false;
    const GraphTensor& tensor = graph.tensors[size_t(node.outputs[i])];
    if (tensor.dtype != outputs[i].dtype || tensor.shape != outputs[i].shape) return false;
  }
  return true;
}

}  // namespace atrous
