// The passes that need the ops: constant folding runs the reference implementations, and
// graph_optimize runs it before the op-agnostic passes of graph/passes.h. Outputs stay as
// graph/passes.h describes.
#pragma once

#include <cstdint>

#include "graph/graph.h"
#include "graph/status.h"

namespace atrous {

// Evaluates nodes whose inputs are all constants with the reference ops and turns their
// outputs into constants (outputs above 64 MiB are left to run time). Folding stops once the
// folded outputs would exceed `budget_bytes` in total (the rest run at inference, where the
// session's memory check covers them); *folded_bytes, when given, receives the total kept.
Status pass_fold_constants(Graph* graph, int64_t budget_bytes = INT64_MAX,
                           int64_t* folded_bytes = nullptr);

// Every pass, in order: pass_fold_constants (with the budget), pass_fold_batch_norm,
// pass_fuse_activations, pass_remove_unused; then graph_validate.
Status graph_optimize(Graph* graph, int64_t fold_budget_bytes = INT64_MAX,
                      int64_t* folded_bytes = nullptr);

}  // namespace atrous
