#include "cpu/weight_memory.h"

#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>

#include "graph/tensor.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace atrous {

namespace {

constexpr std::size_t kChunkBytes = std::size_t(2) << 20;  // one x86-64 huge page
constexpr std::size_t kAlignment = 64;

struct Chunk {
  std::size_t size = 0;  // bytes
  std::size_t used = 0;  // bytes handed out from the start (the bump pointer)
  int64_t live = 0;      // allocations not yet freed
};

struct WeightMemory {
  std::mutex mutex;
  std::map<char*, Chunk> chunks;  // by base address
  char* current = nullptr;        // the chunk new allocations are carved from
  std::size_t chunk_bytes = 0;    // sum of the chunks' sizes
};

WeightMemory& memory() {
  static WeightMemory* instance = new WeightMemory();  // never destroyed: frees may come late
  return *instance;
}

char* new_chunk(WeightMemory& m, std::size_t size) {
  char* base = static_cast<char*>(std::aligned_alloc(kChunkBytes, size));
  if (!base) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge_pages_wanted())
    madvise(base, size, MADV_HUGEPAGE);  // advice only: without it the pages are ordinary ones
#endif
  m.chunks[base].size = size;
  m.chunk_bytes += size;
  return base;
}

void release_chunk(WeightMemory& m, std::map<char*, Chunk>::iterator it) {
  m.chunk_bytes -= it->second.size;
  std::free(it->first);
  m.chunks.erase(it);
}

}  // namespace

void* weight_memory_allocate(std::size_t bytes) {
  if (bytes < kWeightMemoryMinBytes) {
    return ::operator new ((bytes + kAlignment - 1) / kAlignment * kAlignment,
                           std::align_val_t{kAlignment});
  }
  if (bytes > SIZE_MAX - kChunkBytes) throw std::bad_alloc();
  const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  WeightMemory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  if (rounded > kChunkBytes / 2) {
    // A large block gets chunks of its own (a whole number of huge pages).
    char* base = new_chunk(m, (rounded + kChunkBytes - 1) / kChunkBytes * kChunkBytes);
    Chunk& chunk = m.chunks[base];
    chunk.used = chunk.size;
    chunk.live = 1;
    return base;
  }
  if (!m.current || m.chunks[m.current].size - m.chunks[m.current].used < rounded) {
    if (m.current) {
      auto it = m.chunks.find(m.current);
      m.current = nullptr;
      if (it->second.live == 0) release_chunk(m, it);
    }
    m.current = new_chunk(m, kChunkBytes);
  }
  Chunk& chunk = m.chunks[m.current];
  char* p = m.current + chunk.used;
  chunk.used += rounded;
  chunk.live += 1;
  return p;
}

void weight_memory_free(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  if (bytes < kWeightMemoryMinBytes) {
    ::operator delete (p, std::align_val_t{kAlignment});
    return;
  }
  WeightMemory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  char* address = static_cast<char*>(p);
  auto it = m.chunks.upper_bound(address);
  if (it == m.chunks.begin()) return;  // not ours: cannot happen through WeightAllocator
  it = std::prev(it);
  if (address >= it->first + it->second.size) return;
  if (--it->second.live > 0) return;
  if (it->first == m.current) {
    it->second.used = 0;  // empty again: reuse it from the start
    return;
  }
  release_chunk(m, it);
}

std::size_t weight_memory_chunk_bytes() {
  WeightMemory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  return m.chunk_bytes;
}

}  // namespace atrous
