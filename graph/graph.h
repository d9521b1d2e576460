// The graph IR: a tensor table, nodes in topological order, graph inputs/outputs and metadata.
// Plain structs; the loader (format_reader), the passes and the runtime all work on these.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/attributes.h"
#include "graph/op_type.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

constexpr int32_t kAbsentInput = -1;

struct GraphTensor {
  std::string name;
  DType dtype = DType::dtype_f32;
  Shape shape;  // graph inputs and constants: exact; others: set by inference
  bool is_constant = false;
  const void* data = nullptr;  // constant bytes (row-major), alive as long as Graph::storage
};

struct Node {
  OpType op = OpType::op_relu;
  std::string name;
  std::vector<int32_t> inputs;   // tensor indices; kAbsentInput for an absent optional input
  std::vector<int32_t> outputs;  // tensor indices
  AttributeMap attributes;
};

struct Graph {
  AttributeMap metadata;
  std::vector<GraphTensor> tensors;
  std::vector<Node> nodes;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  // Owners of constant bytes: the mapped file, and constants created by passes.
  std::vector<std::shared_ptr<const void>> storage;

  // Adds a data-less tensor (an intermediate or a graph input) and returns its index.
  int32_t add_tensor(const std::string& name, DType dtype, const Shape& shape);
  // Adds a constant that takes ownership of `value`'s storage and returns its index.
  int32_t add_constant(const std::string& name, Tensor&& value);
  // A name not yet used by any tensor, derived from `base`.
  std::string unique_tensor_name(const std::string& base) const;
  // A view over a constant tensor's bytes (read-only in practice).
  TensorView constant_view(int32_t index) const;
};

// Structural rules of docs/FORMAT.md: indices in range, inputs data-less with known shapes,
// topological order, single producer, nothing writes an input or a constant, outputs produced,
// names unique. Does not look at op attributes (graph_infer_shapes in ops/graph_rules.h does).
Status graph_validate(const Graph& graph);

// For each tensor, the number of node inputs reading it (graph outputs count one extra).
std::vector<int32_t> graph_use_counts(const Graph& graph);
// For each tensor, the index of the node producing it, or -1.
std::vector<int32_t> graph_producers(const Graph& graph);

std::string node_label(const Graph& graph, size_t node_index);

}  // namespace atrous
