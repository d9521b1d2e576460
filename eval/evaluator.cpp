// The parallel image loop on a thread pool: one pool task per thread, each taking the next image
// not yet taken. Threads deposit finished per-image deltas in a pending map; whoever holds the
// lock merges the run of consecutive indices that are ready. Since images are taken in index
// order, the pending set stays around one image per thread.
#include "eval/evaluator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace atrous {

namespace {

// The budget of one evaluate_images() call, shared by its threads.
struct SharedBudget {
  const EvalMemory* memory = nullptr;
  std::mutex mutex;
  std::condition_variable freed;
  uint64_t used = 0;  // sum of the threads' reservations
  int waiting = 0;
};

// The calling thread's part of it: `held` covers the image in hand and the buffers kept from
// earlier images (which never outgrow the largest reservation since they were last freed).
struct ThreadShare {
  SharedBudget* budget = nullptr;
  uint64_t held = 0;
  bool reserved = false;  // for the current image
};

thread_local ThreadShare* current_share = nullptr;

std::string mebibytes(uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20); }

void release_share(ThreadShare* share) {
  SharedBudget& b = *share->budget;
  if (b.memory->release_thread_buffers) b.memory->release_thread_buffers();
  std::lock_guard<std::mutex> lock(b.mutex);
  b.used -= share->held;
  share->held = 0;
  b.freed.notify_all();
}

}  // namespace

Status eval_reserve_image_memory(uint64_t bytes) {
  ThreadShare* share = current_share;
  if (!share || !share->budget || share->budget->memory->budget == 0) return Status::success();
  SharedBudget& b = *share->budget;
  const uint64_t limit = b.memory->budget;
  if (bytes > limit)
    return Status::error("decoding this image needs about " + mebibytes(bytes) +
                         " MiB, more than the memory budget of " + mebibytes(limit) +
                         " MiB (--memory-budget)");
  if (bytes <= share->held) {
    share->reserved = true;
    return Status::success();
  }
  // A second, larger reservation for the same image would have to free buffers still in use.
  if (share->reserved) return Status::error("internal error: image memory reserved twice");
  share->reserved = true;
  {
    std::lock_guard<std::mutex> lock(b.mutex);
    if (b.used - share->held + bytes <= limit) {
      b.used += bytes - share->held;
      share->held = bytes;
      return Status::success();
    }
  }
  // Wait holding nothing, buffers included, so that waiting threads never block each other.
  release_share(share);
  std::unique_lock<std::mutex> lock(b.mutex);
  b.waiting += 1;
  b.freed.wait(lock, [&] { return b.used + bytes <= limit; });
  b.waiting -= 1;
  b.used += bytes;
  share->held = bytes;
  return Status::success();
}

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
                       EvalAccumulators* total, const EvalProgress& progress,
                       const EvalMemory& memory) {
  SharedBudget budget;
  budget.memory = &memory;
  const auto start = std::chrono::steady_clock::now();
  std::mutex mutex;
  std::map<size_t, EvalAccumulators> pending;
  size_t next = 0;               // the next index to merge
  std::atomic<size_t> taken{0};  // the next index to evaluate
  std::atomic<bool> failed{false};
  size_t error_index = count;
  Status error;
  auto work = [&]() {
    ThreadShare share;
    share.budget = &budget;
    current_share = &share;
    struct Leave {
      ThreadShare* share;
      ~Leave() {
        release_share(share);
        current_share = nullptr;
      }
    } leave{&share};
    for (;;) {
      const size_t i = taken.fetch_add(1);
      if (i >= count || failed.load()) return;
      EvalAccumulators delta = total->empty_like();
      share.reserved = false;
      Status status;
      try {
        status = evaluate(i, &delta);
      } catch (const std::bad_alloc&) {
        status = Status::error("image " + std::to_string(i) + ": out of memory");
      } catch (const std::exception& e) {
        status = Status::error("image " + std::to_string(i) + ": " + e.what());
      }
      bool others_wait = false;
      {
        std::lock_guard<std::mutex> lock(budget.mutex);
        others_wait = budget.waiting > 0;
      }
      if (share.held > kEvalKeepBytes || (share.held > 0 && others_wait)) release_share(&share);
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
                       EvalAccumulators* total, const EvalProgress& progress,
                       const EvalMemory& memory) {
  if (threads < 1) threads = 1;
  if (size_t(threads) > count) threads = int(count > 0 ? count : 1);
  ThreadPool pool(threads);
  return evaluate_images(count, pool, evaluate, total, progress, memory);
}

}  // namespace atrous
