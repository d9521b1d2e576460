// Graph passes. Each keeps the graph's outputs unchanged (bitwise, except fold_batch_norm, whose
// new weights round differently: within float32 rounding of the original) and leaves a valid,
// shape-inferred graph. tests/test_passes.cpp checks each one on its own.
#pragma once

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

// Evaluates nodes whose inputs are all constants with the reference ops and turns their
// outputs into constants (outputs above 64 MiB are left to run time).
Status pass_fold_constants(Graph* graph);
// Merges `batch_norm` into the `conv` that feeds it (conv output used only by the BN, no fused
// activation yet, constant weights): w' = w·γ/√(var+ε), b' = (b − μ)·γ/√(var+ε) + β, in double.
Status pass_fold_batch_norm(Graph* graph);
// Moves a standalone activation (relu, clip, hard_swish, hard_sigmoid, sigmoid, tanh) into the
// `activation` attribute of the conv that feeds it when the conv output has no other use.
Status pass_fuse_activations(Graph* graph);
// Removes nodes whose outputs nobody reads and tensors nobody references; renumbers tensors.
Status pass_remove_unused(Graph* graph);

// All of the above, in order.
Status graph_optimize(Graph* graph);

}  // namespace atrous
