// Dataset-level evaluation: the accumulators of every metric, filled image by image in parallel
// and merged in image order (so the sums, and every reported digit, do not depend on the thread
// count), plus the readers' common per-image description.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/confusion_matrix.h"
#include "eval/instance_ap.h"
#include "eval/panoptic_quality.h"
#include "eval/parsing_covering.h"
#include "graph/thread_pool.h"

namespace atrous {

// What one image (or the whole dataset, after merging) contributes.
struct EvalAccumulators {
  std::unique_ptr<PanopticQuality> pq;  // null when the inputs have no panoptic pairs
  std::unique_ptr<ParsingCovering> pc;
  std::unique_ptr<ConfusionMatrix> semantic;
  std::unique_ptr<InstanceAp> instance;
  int64_t images = 0;
  int64_t missing_images = 0;        // images with at least one missing prediction
  std::vector<std::string> missing;  // "<image>: <what is missing>"

  // An empty accumulator with the same metrics enabled.
  EvalAccumulators empty_like() const;
  void merge(EvalAccumulators&& other);
};

// Progress of a run: images done, images in all, seconds since the start.
using EvalProgress = std::function<void(size_t done, size_t total, double seconds)>;

// Runs `evaluate(index, delta)` for index in [0, count) on the threads of `pool` (each takes the
// next image not yet taken) and merges each delta into `total` in index order, so the result
// does not depend on the thread count. Stops at the first error; of several errors, the one of
// the lowest image index is returned. `evaluate` must not use `pool` itself.
Status evaluate_images(size_t count, ThreadPool& pool,
                       const std::function<Status(size_t, EvalAccumulators*)>& evaluate,
                       EvalAccumulators* total, const EvalProgress& progress);
// The same on a pool of `threads` (at most `count`) made for the call.
Status evaluate_images(size_t count, int threads,
                       const std::function<Status(size_t, EvalAccumulators*)>& evaluate,
                       EvalAccumulators* total, const EvalProgress& progress);

}  // namespace atrous
