// A std::vector whose storage starts on a 64-byte line (a cache line, one AVX-512 vector).
// malloc aligns to 16 bytes only, so a buffer the kernels read or write a vector at a time at
// multiples of 64 bytes from its start would otherwise straddle two lines with every access
// whenever it happened to start mid-line (docs/CPU.md, "Alignment, output prefetch and short
// spins"). For the kernels' per-thread work buffers; tensors are aligned by graph/tensor.cpp.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace atrous {

template <class T>
struct LineAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  LineAlignedAllocator() = default;
  template <class U>
  LineAlignedAllocator(const LineAlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlignment); }
  template <class U>
  bool operator==(const LineAlignedAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const LineAlignedAllocator<U>&) const noexcept {
    return false;
  }
};

using AlignedFloats = std::vector<float, LineAlignedAllocator<float>>;

}  // namespace atrous
