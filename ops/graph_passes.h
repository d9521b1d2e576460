// The passes that need the ops: constant folding runs the reference implementations, and
// graph_optimize runs it before the op-agnostic passes of graph/passes.h. Outputs stay as
// graph/passes.h describes.
#pragma once

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

// Evaluates nodes whose inputs are all constants with the reference ops and turns their
// outputs into constants (outputs above 64 MiB are left to run time).
Status pass_fold_constants(Graph* graph);

// Every pass, in order: pass_fold_constants, pass_fold_batch_norm, pass_fuse_activations,
// pass_remove_unused; then graph_validate.
Status graph_optimize(Graph* graph);

}  // namespace atrous
