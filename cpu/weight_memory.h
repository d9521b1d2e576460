// Storage for the kernels' packed weights in transparent huge pages. A session reads every
// packed weight once per run, so between two runs of a large model each page of weights sits
// idle for the length of a run; on a machine that reclaims idle memory (the development machines
// run DAMON with a pageout scheme) touching an idle 4 KiB page again costs 6–12 µs, 2 MiB huge
// pages almost nothing (bench/RESULTS.md, seventh session). Huge pages also spare the TLB.
//
// Allocations of at least kWeightMemoryMinBytes are carved, 64-byte aligned, from 2 MiB-aligned
// chunks marked MADV_HUGEPAGE (several allocations share a chunk; a chunk is freed when its last
// allocation is); smaller ones are plain 64-byte aligned allocations. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace atrous {

constexpr std::size_t kWeightMemoryMinBytes = std::size_t(16) << 10;

// 64-byte aligned storage of `bytes` bytes (bytes > 0); throws std::bad_alloc.
void* weight_memory_allocate(std::size_t bytes);
// Frees what weight_memory_allocate(bytes) returned, with the same `bytes`.
void weight_memory_free(void* p, std::size_t bytes) noexcept;
// Bytes of huge-page chunks currently held (for tests).
std::size_t weight_memory_chunk_bytes();

template <class T>
struct WeightAllocator {
  using value_type = T;
  WeightAllocator() = default;
  template <class U>
  WeightAllocator(const WeightAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(weight_memory_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { weight_memory_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const WeightAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const WeightAllocator<U>&) const noexcept {
    return false;
  }
};

// The packed weights of a kernel plan.
using WeightFloats = std::vector<float, WeightAllocator<float>>;

}  // namespace atrous
