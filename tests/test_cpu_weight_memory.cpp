// The packed-weight storage (cpu/weight_memory.h): 64-byte aligned, disjoint allocations whose
// contents survive their neighbours' frees, huge-page chunks shared and released when their last
// allocation goes, and the same from several threads at once.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "cpu/weight_memory.h"

using namespace atrous;

namespace {

struct Block {
  unsigned char* p;
  std::size_t bytes;
  unsigned char fill;
};

// Allocates blocks of mixed sizes (below the threshold, in shared chunks, larger than half a
// chunk), fills each with its own byte, frees a random half, allocates more, then checks every
// live block and frees all. Returns whether every block was 64-byte aligned and intact (no
// Catch2 assertions here: they are not thread-safe).
bool churn(uint32_t seed) {
  bool ok = true;
  std::mt19937 rng(seed);
  const std::size_t sizes[] = {1,
                               64,
                               4000,
                               kWeightMemoryMinBytes - 4,
                               kWeightMemoryMinBytes,
                               100000,
                               700000,
                               (std::size_t(2) << 20) + 12345};
  std::vector<Block> live;
  auto add = [&]() {
    const std::size_t bytes = sizes[rng() % 8] + rng() % 100;
    auto* p = static_cast<unsigned char*>(weight_memory_allocate(bytes));
    ok = ok && reinterpret_cast<uintptr_t>(p) % 64 == 0;
    const auto fill = static_cast<unsigned char>(rng());
    std::memset(p, fill, bytes);
    live.push_back({p, bytes, fill});
  };
  for (int i = 0; i < 60; ++i) add();
  for (std::size_t i = 0; i < live.size();) {
    if (rng() % 2) {
      weight_memory_free(live[i].p, live[i].bytes);
      live[i] = live.back();
      live.pop_back();
    } else {
      ++i;
    }
  }
  for (int i = 0; i < 40; ++i) add();
  for (const Block& b : live)
    for (std::size_t i = 0; i < b.bytes; ++i) ok = ok && b.p[i] == b.fill;
  for (const Block& b : live) weight_memory_free(b.p, b.bytes);
  return ok;
}

}  // namespace

TEST_CASE("weight memory: aligned, disjoint, chunks released with their last block", "[cpu]") {
  const std::size_t before = weight_memory_chunk_bytes();
  CHECK(churn(1));
  // Only the chunk new blocks are carved from may stay (emptied, for reuse).
  CHECK(weight_memory_chunk_bytes() <= before + (std::size_t(2) << 20));
  // A vector of packed weights behaves as a std::vector.
  WeightFloats weights(100000, 1.5f);
  weights.resize(200000, 2.5f);
  CHECK(reinterpret_cast<uintptr_t>(weights.data()) % 64 == 0);
  CHECK(weights[99999] == 1.5f);
  CHECK(weights[199999] == 2.5f);
  WeightFloats copy = weights;
  CHECK(copy == weights);
  CHECK(copy.data() != weights.data());
}

TEST_CASE("weight memory from several threads at once", "[cpu][threads]") {
  const std::size_t before = weight_memory_chunk_bytes();
  bool ok[3] = {false, false, false};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 3; ++t) threads.emplace_back([t, &ok] { ok[t] = churn(100 + t); });
  for (std::thread& thread : threads) thread.join();
  CHECK(ok[0]);
  CHECK(ok[1]);
  CHECK(ok[2]);
  CHECK(weight_memory_chunk_bytes() <= before + (std::size_t(2) << 20));
}
