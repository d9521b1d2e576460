// A persistent pool of worker threads owned by one session. parallel_for splits [0, count)
// into contiguous chunks (up to kChunksPerThread per thread), always the same way for the same
// (count, threads); each output element is computed by exactly one call with the same
// arithmetic whichever thread makes it, so results are bitwise identical for any thread count.
//
// Hand-off: a parallel_for publishes the task and then a ticket (generation, chunk count, next
// chunk); the calling thread and the workers claim chunks one at a time with a compare-and-swap
// on the ticket, checked against the count the ticket itself carries (while a chunk is left,
// the caller cannot have moved on to another task, so a claimer always runs the task it
// claimed), until none is left; the caller then waits for the chunks others are still running. A
// worker the OS has not scheduled yet therefore delays nothing: the caller takes its chunks (with a
// static split, one busy core made MobileNetV3-Small at 2 threads 3–10× slower). Idle workers spin
// on the generation for a short while (kSpinMicroseconds) before sleeping on a condition variable,
// and the caller spins the same way for the last chunks, so a network of many short layers pays no
// futex wake-up per node; an idle pool sleeps.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace atrous {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Calls task(begin, end) on disjoint chunks covering [0, count); returns when all are done.
  // The calling thread runs the first chunk.
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& task);

 private:
  void worker(int index);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_cv_;
  // Claims and runs chunks of the task of generation `generation` until none is left.
  void run_chunks(uint64_t generation);

  // The current task, published before the ticket that names its generation.
  std::atomic<const std::function<void(int64_t, int64_t)>*> task_{nullptr};
  std::atomic<int64_t> count_{0};
  // generation << 32 | chunk count << 16 | the next chunk to claim
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int64_t> done_{0};  // chunks of the current generation finished
  std::atomic<int> sleepers_{0};  // workers waiting on wake_
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace atrous
