// The memory planner: one arena for every tensor a node produces, for every backend (the CPU
// session and the CUDA executor both call memory_plan; the backend passes its facts as data).
//
// Liveness: tensor t lives from its producer node to the last node reading it, inclusive (graph
// outputs to nodes.size(), so they survive the run). Constants and graph inputs are not planned.
//
// Aliasing, before placement, so that some nodes move no data at all:
//  * concat slices: a concat whose inputs are contiguous slices of its output (every dimension
//    before the axis is 1, e.g. channel concat of batch-1 NCHW) has each input produced straight
//    into its slice; the concat node is skipped. Nested concats chain.
//  * views: reshape, flatten and pad by zero everywhere share their input's bytes; skipped.
//  * in place: where the backend says a node's kernel may write output 0 over input 0, it does
//    so when input 0 dies at that node, has the output's shape and dtype, is no other input of
//    the node, and neither tensor takes part in other aliasing (except that the input may have
//    been written in place itself: chains of in-place nodes share one buffer).
// A tensor and everything aliased onto it form a group; the group's root (the tensor owning the
// bytes) lives from its first member's producer to its last member's last reader.
//
// Placement: greedy by size. Roots are placed largest first (ties in tensor order), each at the
// lowest offset where it overlaps no already placed root alive at the same time; sizes are
// rounded up to the backend's alignment. The placed roots are indexed by the node that starts
// them in a segment tree carrying the latest end of each subtree, so finding the roots alive
// during an interval costs O(log n) per root found: planning is O(n log n + p log p) for n
// tensors and p pairs of roots alive at the same time (p grows with the graph's width, not its
// length), instead of O(n^2) for the plain scan over all placed roots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

enum class AliasKind : uint8_t {
  alias_none,
  alias_concat_slice,  // a slice of its concat's output, at MemoryPlan::offsets' distance
  alias_view,          // the same bytes as its reshape / flatten / zero-pad input
  alias_in_place,      // output 0 written over input 0, which dies at that node
};

// What the backend knows and the IR does not.
struct MemoryPlanOptions {
  size_t alignment = 64;       // every root's size is rounded up to this (a power of two or not)
  bool alias_concat = true;    // produce concat inputs in their slices of the output
  bool alias_views = true;     // reshape, flatten and zero pad share their input's bytes
  std::vector<bool> in_place;  // per node (shorter or empty: false): its kernel may write
                               // output 0 over input 0
};

struct MemoryPlan {
  std::vector<int32_t> producer;  // per tensor: producing node, -1 for constants and graph inputs
  std::vector<int32_t> last_use;  // per tensor: last reading node (graph outputs: nodes.size()),
                                  // -1 if never read
  std::vector<size_t> offsets;    // per tensor: byte offset in the arena, SIZE_MAX if not planned
  std::vector<int32_t> alias_of;  // per tensor: the tensor whose bytes it shares, or -1
  std::vector<AliasKind> alias_kind;  // per tensor: how it shares them
  std::vector<bool> skip;      // per node: its output is already in place, the node need not run
  size_t arena_bytes = 0;      // the arena's size
  size_t unplanned_bytes = 0;  // every planned tensor's aligned size, summed: no reuse, no alias
};

// Plans the arena of a graph whose shapes are inferred. Fails only when a size overflows size_t.
Status memory_plan(const Graph& graph, const MemoryPlanOptions& options, MemoryPlan* plan);

}  // namespace atrous
