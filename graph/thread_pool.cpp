#include "graph/thread_pool.h"

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
// Chunks per thread: enough that the caller can take over a late worker's share in pieces.
constexpr int64_t kChunksPerThread = 4;

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

void ThreadPool::run_chunks(uint64_t generation) {
  for (;;) {
    uint64_t ticket = ticket_.load(std::memory_order_acquire);
    if ((ticket >> 32) != generation) return;  // a newer task: not ours to run
    // The chunk count travels in the ticket, so a claim is checked against the count of the
    // generation it claims from. While a chunk is left to claim, the caller cannot have moved
    // on, so the task and count read here are that generation's.
    const int64_t chunks = int64_t((ticket >> 16) & 0xffffu);
    const int64_t index = int64_t(ticket & 0xffffu);
    if (index >= chunks) return;
    const std::function<void(int64_t, int64_t)>* task = task_.load(std::memory_order_relaxed);
    const int64_t count = count_.load(std::memory_order_relaxed);
    if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      continue;
    int64_t begin, end;
    chunk(count, int(chunks), int(index), &begin, &end);
    (*task)(begin, end);
    // Sequentially consistent with the caller's flag and check (a store-buffer pattern): either
    // this sees the caller asleep or the caller sees the chunk done.
    if (done_.fetch_add(1) + 1 == chunks && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::worker(int) {
  uint64_t seen = 0;
  for (;;) {
    auto published = [&] { return stop_.load() || (ticket_.load() >> 32) != seen; };
    if (!spin_until(published)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);  // seq_cst against the caller's ticket store and sleepers load
      wake_.wait(lock, published);
      sleepers_.fetch_sub(1);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = ticket_.load(std::memory_order_acquire) >> 32;
    run_chunks(seen);
  }
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& task) {
  if (count <= 0) return;
  if (threads_ == 1 || count == 1) {
    task(0, count);
    return;
  }
  const int64_t chunks =
      std::min<int64_t>(std::min<int64_t>(count, int64_t(threads_) * kChunksPerThread), 0xffff);
  const uint64_t generation = (ticket_.load(std::memory_order_relaxed) >> 32) + 1;
  task_.store(&task, std::memory_order_relaxed);
  count_.store(count, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  ticket_.store(generation << 32 | uint64_t(chunks) << 16);  // seq_cst: see the sleepers check
  if (sleepers_.load() > 0) {
    // Sleeping workers re-check the ticket under the lock, so none misses this wake-up.
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
  run_chunks(generation);
  // Chunks other threads claimed may still run: spin, then sleep, until all are done.
  auto finished = [&] { return done_.load(std::memory_order_acquire) == chunks; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_.store(true);
    done_cv_.wait(lock, [&] { return done_.load() == chunks; });
    caller_sleeping_.store(false);
  }
}

}  // namespace atrous
