// The parallel image loop on a thread pool: one pool task per thread, each taking the next image
// not yet taken. Threads deposit finished per-image deltas in a pending map; whoever holds the
// lock merges the run of consecutive indices that are ready. Since images are taken in index
// order, the pending set stays around one image per thread.
#include "eval/evaluator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

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

Status evaluate_images(size_t count, ThreadPool& pool,
                       const std::function<Status(size_t, EvalAccumulators*)>& evaluate,
                       EvalAccumulators* total, const EvalProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  std::mutex mutex;
  std::map<size_t, EvalAccumulators> pending;
  size_t next = 0;               // the next index to merge
  std::atomic<size_t> taken{0};  // the next index to evaluate
  std::atomic<bool> failed{false};
  size_t error_index = count;
  Status error;
  auto work = [&]() {
    for (;;) {
      const size_t i = taken.fetch_add(1);
      if (i >= count || failed.load()) return;
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
  // One chunk per thread (the pool splits [0, threads) into single chunks); a thread whose chunk
  // runs late finds fewer images left.
  const int threads = int(std::min<size_t>(size_t(pool.threads()), std::max<size_t>(count, 1)));
  pool.parallel_for(threads, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) work();
  });
  if (failed.load()) return error;
  return Status::success();
}

Status evaluate_images(size_t count, int threads,
                       const std::function<Status(size_t, EvalAccumulators*)>& evaluate,
                       EvalAccumulators* total, const EvalProgress& progress) {
  if (threads < 1) threads = 1;
  if (size_t(threads) > count) threads = int(count > 0 ? count : 1);
  ThreadPool pool(threads);
  return evaluate_images(count, pool, evaluate, total, progress);
}

}  // namespace atrous
