// Reading and writing `.atrous` files (docs/FORMAT.md). The reader treats every byte as untrusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

constexpr uint32_t kFormatVersionMajor = 1;
constexpr uint32_t kFormatVersionMinor = 0;
constexpr size_t kFormatHeaderSize = 128;
constexpr size_t kFormatAlignment = 64;

// Reads the whole file into aligned memory (not a mapping: see docs/FORMAT.md "Loading"), checks
// its structure and the graph rules (graph_validate) and fills `graph`. Op attributes and shapes
// are not checked here, and intermediate tensors keep the shapes the file records: graph_load_file
// (ops/graph_rules.h) runs the shape rules after this. Constant data points into that memory, kept
// alive by graph->storage.
Status format_load_file(const std::string& path, Graph* graph);
// Same from a caller's buffer; the bytes are copied into aligned storage first.
Status format_load_memory(const void* data, size_t size, Graph* graph);

// Serializes a graph (constants included) in the current format version.
std::vector<uint8_t> format_write_memory(const Graph& graph);
Status format_write_file(const Graph& graph, const std::string& path);

}  // namespace atrous
