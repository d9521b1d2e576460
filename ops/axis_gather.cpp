#include "ops/axis_gather.h"

#include <cstdint>
#include <cstring>

namespace atrous {

namespace {

// The loop walks the output row by row (the last axis); the outer axes contribute a base
// offset, recomputed per row (the rank is at most 8, a row is usually much longer).
template <typename T>
void gather_typed(const T* input, const Shape& shape,
                  const std::vector<std::vector<int64_t>>& offsets, T fill, T* output) {
  if (shape.empty()) {
    output[0] = input[0];
    return;
  }
  const int64_t total = shape_numel(shape);
  if (total == 0) return;
  const size_t last = shape.size() - 1;
  const int64_t inner = shape[last];
  const int64_t* row_offsets = offsets[last].data();
  std::vector<int64_t> index(last, 0);
  for (int64_t row = 0; row < total / inner; ++row) {
    int64_t base = 0;
    bool padded = false;
    for (size_t d = 0; d < last; ++d) {
      int64_t term = offsets[d][size_t(index[d])];
      padded |= term < 0;
      base += term;
    }
    T* out = output + row * inner;
    if (padded) {
      for (int64_t i = 0; i < inner; ++i) out[i] = fill;
    } else {
      for (int64_t i = 0; i < inner; ++i)
        out[i] = row_offsets[i] < 0 ? fill : input[base + row_offsets[i]];
    }
    for (size_t d = last; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

template <typename T>
void gather_as(const void* input, const Shape& shape,
               const std::vector<std::vector<int64_t>>& offsets, const void* fill, void* output) {
  T fill_value{};
  if (fill) std::memcpy(&fill_value, fill, sizeof(T));
  gather_typed(static_cast<const T*>(input), shape, offsets, fill_value, static_cast<T*>(output));
}

}  // namespace

void axis_gather(const void* input, DType dtype, const Shape& output_shape,
                 const std::vector<std::vector<int64_t>>& offsets, const void* fill, void* output) {
  // Copies move bits: an unsigned integer of the element size carries any dtype unchanged.
  switch (dtype_size(dtype)) {
    case 1:
      gather_as<uint8_t>(input, output_shape, offsets, fill, output);
      return;
    case 4:
      gather_as<uint32_t>(input, output_shape, offsets, fill, output);
      return;
    case 8:
      gather_as<uint64_t>(input, output_shape, offsets, fill, output);
      return;
    default:
      return;
  }
}

}  // namespace atrous
