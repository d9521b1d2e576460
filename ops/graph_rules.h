// The op rules applied to a whole graph: shape inference, the check of the shapes a file records
// against it, loading a file completely, and the counts of `atrous info`. These live in ops/, not
// graph/, because each needs the ops' definitions (ops/ops.h); the IR itself knows none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

// Sets dtype and shape of every non-constant, non-input tensor from the op shape rules, and
// checks every node's attributes and input shapes. Errors name the node.
Status graph_infer_shapes(Graph* graph);

// For a graph read from a file: graph_infer_shapes, then every tensor a node produces whose
// record is known (rank > 0; a dim of -1 matches any size) must have the recorded dtype and
// shape. A mismatch means the writer's shape rules (the converter's) and ours disagree: the file
// is refused with an error naming the tensor, its producer and both shapes.
Status graph_infer_and_check_recorded_shapes(Graph* graph);

// format_load_file / format_load_memory (graph/format.h), then
// graph_infer_and_check_recorded_shapes: a graph whose every attribute and shape is checked and
// known. Errors are those of the reader (prefixed with the path for a file); on error `graph` is
// left empty.
Status graph_load_file(const std::string& path, Graph* graph);
Status graph_load_memory(const void* data, size_t size, Graph* graph);

// Totals for `atrous info` (shapes must be inferred).
struct GraphStatistics {
  int64_t parameters = 0;  // elements in constant tensors
  int64_t parameter_bytes = 0;
  int64_t multiply_adds = 0;
  std::vector<std::pair<std::string, int>> op_counts;  // sorted by op name
};
GraphStatistics graph_statistics(const Graph& graph);
// One node's multiply-adds (shapes must be inferred); 0 for ops that count none.
int64_t node_multiply_adds(const Graph& graph, size_t node_index);

}  // namespace atrous
