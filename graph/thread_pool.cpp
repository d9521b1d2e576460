#include "graph/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace atrous {
namespace {

// How long the caller spins for the others' last chunks before it sleeps. Workers do not spin
// for the next task unless the pool is hot (ThreadPool::set_hot, opt-in): on a busy machine
// (docs/CPU.md, "Threading and per-node fixed cost") a spinning worker takes turns on the cores
// with the caller's work, and MobileNetV3 at 2 threads got 1.3–1.6× slower with 20–200 µs of worker
// spinning than with none.
constexpr int64_t kCallerSpinMicroseconds = 50;
// Chunks are sized from the work estimate: about this many units each (a few µs), at least
// kMinChunksPerThread per thread, so that a worker descheduled inside a chunk holds back
// little of the layer.
constexpr int64_t kChunkWork = int64_t(1) << 15;
constexpr int64_t kMinChunksPerThread = 4;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or kCallerSpinMicroseconds have passed; returns ready()'s last value.
template <class Ready>
bool spin_until(Ready ready) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() - start >
                              std::chrono::microseconds(kCallerSpinMicroseconds))
      return ready();
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  if (const char* spin = std::getenv("ATROUS_POOL_SPIN_US")) worker_spin_us_ = std::atoll(spin);
  for (std::atomic<int64_t>& bound : bounds_) bound.store(0, std::memory_order_relaxed);
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

void ThreadPool::run_chunks(uint64_t generation, int index) {
  // The caller (index 0) claims chunks from the front, the workers from the back: a thread
  // keeps the same end of [0, count) from one layer to the next, so the rows or columns it
  // writes are mostly those it reads next, from its own core's caches.
  const bool from_back = index > 0;
  for (;;) {
    uint64_t ticket = ticket_.load(std::memory_order_acquire);
    if ((ticket >> 32) != generation) return;  // a newer task: not ours to run
    // Both ends travel in the ticket, so a claim is checked against the generation it claims
    // from. While a chunk is left to claim, the caller cannot have moved on, so the task, the
    // bounds and the chunk count read here are that generation's.
    const int64_t back = int64_t((ticket >> 16) & 0xffffu);
    const int64_t front = int64_t(ticket & 0xffffu);
    if (front >= back) return;
    const int64_t chunk = from_back ? back - 1 : front;
    const Task* task = task_.load(std::memory_order_relaxed);
    const IndexedTask* indexed = indexed_task_.load(std::memory_order_relaxed);
    const int64_t chunks = chunk_count_.load(std::memory_order_relaxed);
    const int64_t begin = bounds_[chunk].load(std::memory_order_relaxed);
    const int64_t end = bounds_[chunk + 1].load(std::memory_order_relaxed);
    const uint64_t claimed = from_back ? ticket - (uint64_t(1) << 16) : ticket + 1;
    if (!ticket_.compare_exchange_weak(ticket, claimed, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      continue;
    if (indexed)
      (*indexed)(begin, end, index);
    else
      (*task)(begin, end);
    // Sequentially consistent with the caller's flag and check (a store-buffer pattern): either
    // this sees the caller asleep or the caller sees the chunk done.
    if (done_.fetch_add(1) + 1 == chunks && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto published = [&] { return stop_.load() || (ticket_.load() >> 32) != seen; };
    if (!published() && hot_.load(std::memory_order_relaxed)) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; !published() && hot_.load(std::memory_order_relaxed); ++i) {
        cpu_relax();
        if ((i & 63) == 63 &&
            std::chrono::steady_clock::now() - start > std::chrono::microseconds(worker_spin_us_))
          break;
      }
    }
    if (!published()) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);  // seq_cst against the caller's ticket store and sleepers load
      wake_.wait(lock, published);
      sleepers_.fetch_sub(1);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = ticket_.load(std::memory_order_acquire) >> 32;
    run_chunks(seen, index);
  }
}

void ThreadPool::parallel_for(int64_t count, const Task& task, int64_t work) {
  if (count <= 0) return;
  if (count == 1 || !worth_splitting(work)) {
    task(0, count);
    return;
  }
  run(count, &task, nullptr, work);
}

void ThreadPool::parallel_for_indexed(int64_t count, const IndexedTask& task, int64_t work) {
  if (count <= 0) return;
  if (count == 1 || !worth_splitting(work)) {
    task(0, count, 0);
    return;
  }
  run(count, nullptr, &task, work);
}

void ThreadPool::run(int64_t count, const Task* task, const IndexedTask* indexed, int64_t work) {
  // Equal chunks (sizes differ by at most one), as many as the work fills at kChunkWork each,
  // within [kMinChunksPerThread · threads, kMaxChunks] and at most count.
  int64_t chunks = int64_t(threads_) * kMinChunksPerThread;
  if (work > 0) chunks = std::max(chunks, work / kChunkWork);
  chunks = std::min<int64_t>(std::min<int64_t>(chunks, kMaxChunks), count);
  for (int64_t c = 0; c <= chunks; ++c)
    bounds_[c].store(c * (count / chunks) + std::min(c, count % chunks), std::memory_order_relaxed);
  const uint64_t generation = (ticket_.load(std::memory_order_relaxed) >> 32) + 1;
  task_.store(task, std::memory_order_relaxed);
  indexed_task_.store(indexed, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  chunk_count_.store(chunks, std::memory_order_relaxed);
  // Front 0, back `chunks`. The store and the sleepers load below are each side of a
  // store-buffer handshake with a worker going to sleep (its sleepers increment, then its
  // ticket load): an exchange, not a plain store, so that the store is ordered before the load
  // on every target. A seq_cst store followed by a seq_cst load of another variable is ordered
  // in C++ and on x86 and ARM hardware, but qemu's user-mode emulation of ARM on x86 does not
  // order a store-release (stlr) before a later load-acquire; an atomic read-modify-write it
  // emulates with a locked instruction, a full barrier.
  ticket_.exchange(generation << 32 | uint64_t(chunks) << 16);
  if (sleepers_.load() > 0) {
    // Sleeping workers re-check the ticket under the lock, so none misses this wake-up.
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
  run_chunks(generation, 0);
  // Chunks other threads claimed may still run: spin, then sleep (leaving the core to a
  // descheduled worker), until all are done.
  auto finished = [&] { return done_.load(std::memory_order_acquire) == chunks; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    // The same handshake with the worker that finishes the last chunk (its done_ increment,
    // then its caller_sleeping_ load): an exchange, for the reason above. With a plain store,
    // one run of the [cpu] tests under qemu-aarch64 hung with the caller and both workers
    // asleep, which is what this handshake losing the last chunk's wake-up looks like.
    caller_sleeping_.exchange(true);
    done_cv_.wait(lock, [&] { return done_.load() == chunks; });
    caller_sleeping_.store(false);
  }
}

}  // namespace atrous
