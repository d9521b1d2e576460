// A persistent pool of worker threads owned by one session, built to keep working on a busy
// machine (other processes, or another runtime's spinning threads, on the same cores).
//
// parallel_for splits [0, count) into contiguous chunks of equal size, always the same way for
// the same (count, threads, work); each output element is computed by exactly one call with the
// same arithmetic whichever thread makes it, so results are bitwise identical for any thread
// count. The chunk count follows the caller's work estimate (a few µs of work per chunk, at
// least 4 per thread, at most kMaxChunks), so that a worker descheduled inside a chunk holds
// back only a small part of the layer.
//
// Hand-off: a parallel_for publishes the task and its chunk bounds and then a ticket
// (generation, the first and one past the last chunk left); the calling thread claims chunks from
// the front and the workers from the back, one at a time with a compare-and-swap on the ticket,
// checked against the ends the ticket itself carries (while a chunk is left, the caller cannot
// have moved on to another task, so a claimer always runs the task it claimed), until none is
// left; the caller then waits for the chunks others are still running. A worker the OS has not
// scheduled therefore delays nothing: the caller takes its chunks (with a static split, one busy
// core made MobileNetV3-Small at 2 threads 3–10× slower). Claiming from the two ends keeps each
// thread on the same part of consecutive layers (the caller the first rows or columns, a worker
// the last), whose data its own core's caches still hold.
//
// Small work runs on the caller alone: a caller passes an estimate of the work (about one unit
// per multiply-add or per float read or written), and below kParallelMinWork units (a few µs)
// no other thread is involved: a layer that short gains less from a second core than the
// hand-off and the risk of waiting on a descheduled worker cost.
//
// Workers sleep on a condition variable as soon as no chunk is left (by default they do not
// spin for the next task: on a busy machine a spinning worker competes with the caller for the
// cores, see docs/CPU.md; set_hot is the opt-in exception); the caller spins briefly for the
// others' last chunks, then sleeps too, leaving its core to a worker that was descheduled inside a
// chunk.
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
  // Work estimates (see above) below this run on the calling thread.
  static constexpr int64_t kParallelMinWork = int64_t(1) << 16;

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // While hot (a session's run is in progress), a worker that finds no chunk left spins up to
  // ATROUS_POOL_SPIN_US µs (read when the pool is made) for the next task before it sleeps: a run's
  // layers follow each other within microseconds, and a sleeping worker costs each parallel layer a
  // futex wake-up and its latency. Outside a run workers sleep at once (see below). Off unless that
  // variable is set: it helps where atrous has the cores to itself and hurts beside other
  // processes' spinning threads (docs/CPU.md).
  void set_hot(bool hot) { hot_.store(hot && worker_spin_us_ > 0, std::memory_order_relaxed); }
  // Whether work of this size is split over the threads (see kParallelMinWork).
  bool worth_splitting(int64_t work) const {
    return threads_ > 1 && (work < 0 || work >= kParallelMinWork);
  }
  // Calls task(begin, end) on disjoint chunks covering [0, count); returns when all are done.
  // `work` estimates the whole task's work (negative: unknown, always split).
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& task,
                    int64_t work = -1);
  // The same, with the index in [0, threads()) of the thread running the chunk (0: the caller),
  // for per-thread scratch; no two chunks with the same index run at the same time.
  void parallel_for_indexed(int64_t count, const std::function<void(int64_t, int64_t, int)>& task,
                            int64_t work = -1);

 private:
  static constexpr int kMaxChunks = 64;
  using Task = std::function<void(int64_t, int64_t)>;
  using IndexedTask = std::function<void(int64_t, int64_t, int)>;

  void worker(int index);
  void run(int64_t count, const Task* task, const IndexedTask* indexed, int64_t work);
  // Claims and runs chunks of the task of generation `generation` until none is left.
  void run_chunks(uint64_t generation, int index);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_cv_;

  // The current task (one of the two) and its chunk bounds, published before the ticket that
  // names its generation.
  std::atomic<const Task*> task_{nullptr};
  std::atomic<const IndexedTask*> indexed_task_{nullptr};
  std::atomic<int64_t> bounds_[kMaxChunks + 1];
  // generation << 32 | back << 16 | front: chunks [front, back) are left to claim (the caller
  // takes the front one, workers the back one)
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int64_t> chunk_count_{0};  // chunks of the current generation
  std::atomic<int64_t> done_{0};         // chunks of the current generation finished
  std::atomic<int> sleepers_{0};         // workers waiting on wake_
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> hot_{false};
  int64_t worker_spin_us_ = 0;
};

}  // namespace atrous
