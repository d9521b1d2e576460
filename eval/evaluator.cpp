// The parallel image loop. Workers deposit finished per-image deltas in a pending map; whoever
// holds the lock merges the run of consecutive indices that are ready. With the static
// round-robin assignment the pending set stays around one image per thread.
#include "eval/evaluator.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

namespace atrous {

EvalAccumulators EvalAccumulators::empty_like() const {
  EvalAccumulators e;
  if (pq) e.pq = std::make_unique<PanopticQuality>(pq->categories());
  if (pc) e.pc = std::make_unique<ParsingCovering>(pc->empty_like());
  if (semantic) e.semantic = std::make_unique<ConfusionMatrix>(semantic->empty_like());
  if (instance) e.instance = std::make_unique<InstanceAp>(instance->empty_like());
  return e;
}

void EvalAccumulators::merge(EvalAccumulators&& other) {
  if (pq && other.pq) pq->merge(*other.pq);
  if (pc && other.pc) pc->merge(*other.pc);
  if (semantic && other.semantic) semantic->merge(*other.semantic);
  if (instance && other.instance) instance->merge(std::move(*other.instance));
  images += other.images;
  missing_images += other.missing_images;
  for (auto& m : other.missing) missing.push_back(std::move(m));
}

Status evaluate_images(size_t count, int threads,
                       const std::function<Status(size_t, EvalAccumulators*)>& evaluate,
                       EvalAccumulators* total, const EvalProgress& progress) {
  if (threads < 1) threads = 1;
  if (size_t(threads) > count) threads = int(count > 0 ? count : 1);
  const auto start = std::chrono::steady_clock::now();
  std::mutex mutex;
  std::map<size_t, EvalAccumulators> pending;
  size_t next = 0;
  std::atomic<bool> failed{false};
  size_t error_index = count;
  Status error;
  auto worker = [&](int t) {
    for (size_t i = size_t(t); i < count; i += size_t(threads)) {
      if (failed.load()) return;
      EvalAccumulators delta = total->empty_like();
      Status status = evaluate(i, &delta);
      std::lock_guard<std::mutex> lock(mutex);
      if (!status.ok()) {
        if (i < error_index) {
          error_index = i;
          error = status;
        }
        failed.store(true);
        return;
      }
      pending.emplace(i, std::move(delta));
      while (!pending.empty() && pending.begin()->first == next) {
        total->merge(std::move(pending.begin()->second));
        pending.erase(pending.begin());
        ++next;
        if (progress) {
          double seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          progress(next, count, seconds);
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  if (failed.load()) return error;
  return Status::success();
}

}  // namespace atrous
