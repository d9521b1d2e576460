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

// The memory that decoding may use at once, over all threads (docs/EVAL.md "Memory"). Each image
// states what it needs (eval_reserve_image_memory, from its files' headers, before any pixel
// is decoded); a thread waits while other threads' images hold the budget, and an image that
// alone needs more than the budget is an error. Per-thread decode buffers kept from one image to
// the next stay counted: a thread keeps its reservation while it keeps its buffers, and drops
// both when another thread waits or the reservation is large (kEvalKeepBytes).
struct EvalMemory {
  uint64_t budget = 0;  // bytes; 0 = no limit
  // Frees the calling thread's decode buffers (the readers' thread_local state).
  std::function<void()> release_thread_buffers;
};
constexpr uint64_t kEvalDefaultMemoryBudget = uint64_t(2) << 30;
constexpr uint64_t kEvalKeepBytes = uint64_t(64) << 20;

// Called by a reader for the image being evaluated, before decoding: blocks until `bytes` fit in
// the budget of the evaluate_images() call running on this thread (no-op outside one, or
// without a budget). Errors: `bytes` alone exceed the budget.
Status eval_reserve_image_memory(uint64_t bytes);

// Progress of a run: images done, images in all, seconds since the start.
using EvalProgress = std::function<void(size_t done, size_t total, double seconds)>;

// Runs `evaluate(index, delta)` for index in [0, count) on the threads of `pool` (each takes the
// next image not yet taken) and merges each delta into `total` in index order, so the result
// does not depend on the thread count. Stops at the first error; of several errors, the one of
// the lowest image index is returned. `evaluate` must not use `pool` itself.
Status evaluate_images(size_t count, ThreadPool& pool,
                       const std::function<Status(size_t, EvalAccumulators*)>& evaluate,
                       EvalAccumulators* total, const EvalProgress& progress,
                       const EvalMemory& memory = EvalMemory());
// The same on a pool of `threads` (at most `count`) made for the call.
Status evaluate_images(size_t count, int threads,
                       const std::function<Status(size_t, EvalAccumulators*)>& evaluate,
                       EvalAccumulators* total, const EvalProgress& progress,
                       const EvalMemory& memory = EvalMemory());

}  // namespace atrous
