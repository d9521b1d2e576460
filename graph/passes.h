// The graph passes that need no op semantics beyond the op enum and attributes. Each keeps the
// graph's outputs unchanged (bitwise, except fold_batch_norm, whose new weights round
// differently: within float32 rounding of the original) and leaves a valid, shape-inferred graph.
// Constant folding, which runs the reference ops, and graph_optimize, which runs every pass, are
// in ops/graph_passes.h. tests/test_passes.cpp checks each one on its own.
#pragma once

#include <vector>

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

// Merges `batch_norm` into the `conv` that feeds it (conv output used only by the BN, no fused
// activation yet, constant weights): w' = w·γ/√(var+ε), b' = (b − μ)·γ/√(var+ε) + β, in double.
Status pass_fold_batch_norm(Graph* graph);
// Moves a standalone activation (relu, clip, hard_swish, hard_sigmoid, sigmoid, tanh) into the
// `activation` attribute of the conv that feeds it when the conv output has no other use.
Status pass_fuse_activations(Graph* graph);
// Removes nodes whose outputs nobody reads and tensors nobody references; renumbers tensors.
Status pass_remove_unused(Graph* graph);

// Drops the nodes marked in `remove` (one flag per node), keeping the order of the others.
void graph_erase_nodes(Graph* graph, const std::vector<char>& remove);

}  // namespace atrous
