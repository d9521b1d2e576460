#include "cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace atrous {
namespace {

// How long a thread spins for the next task (a worker) or for the workers (the caller) before
// it sleeps: longer than a typical layer of a small network, short enough that an idle pool
// stops using the cores almost at once.
constexpr int64_t kSpinMicroseconds = 200;

// Chunk `index` of `parts` over [0, count): sizes differ by at most one.
void chunk(int64_t count, int parts, int index, int64_t* begin, int64_t* end) {
  int64_t base = count / parts, extra = count % parts;
  *begin = index * base + std::min<int64_t>(index, extra);
  *end = *begin + base + (index < extra ? 1 : 0);
}

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or kSpinMicroseconds have passed; returns ready()'s last value.
template <class Ready>
bool spin_until(Ready ready) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 &&
        std::chrono::steady_clock::now() - start > std::chrono::microseconds(kSpinMicroseconds))
      return ready();
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back(&ThreadPool::worker, this, i);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto published = [&] {
      return stop_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spin_until(published)) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, published);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    // The task and count were written before the generation was bumped (release/acquire).
    seen = generation_.load(std::memory_order_acquire);
    const std::function<void(int64_t, int64_t)>* task = task_;
    const int64_t count = count_;
    int64_t begin, end;
    chunk(count, threads_, index, &begin, &end);
    if (begin < end) (*task)(begin, end);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The caller may be asleep: take the lock so the notification cannot fall between its
      // check and its wait.
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& task) {
  if (count <= 0) return;
  if (threads_ == 1 || count == 1) {
    task(0, count);
    return;
  }
  task_ = &task;
  count_ = count;
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  {
    // Workers asleep re-check the generation under the lock, so none misses this wake-up.
    std::lock_guard<std::mutex> lock(mutex_);
  }
  wake_.notify_all();
  int64_t begin, end;
  chunk(count, threads_, 0, &begin, &end);
  if (begin < end) task(begin, end);
  auto finished = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
  }
}

}  // namespace atrous
