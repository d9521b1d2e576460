// A persistent pool of worker threads owned by one session. parallel_for splits [0, count)
// into `threads` contiguous chunks, always the same way for the same (count, threads): each
// output element is computed by exactly one thread with the same arithmetic, so results are
// bitwise identical for any thread count.
//
// Hand-off: a parallel_for publishes the task and bumps an atomic generation; workers that
// finished the previous task spin on it for a short while (kSpinMicroseconds) before sleeping
// on a condition variable, and the caller spins the same way for the workers to finish. A
// network of many short layers (MobileNetV3 at 224×224: ~90 nodes of 20–100 µs) then pays no
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
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t)>* task_ = nullptr;
  int64_t count_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace atrous
