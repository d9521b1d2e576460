#include "graph/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace atrous {

bool dtype_is_valid(uint8_t code) { return code >= 1 && code <= 4; }

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::dtype_f32:
      return 4;
    case DType::dtype_i32:
      return 4;
    case DType::dtype_i64:
      return 8;
    case DType::dtype_u8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::dtype_f32:
      return "float32";
    case DType::dtype_i32:
      return "int32";
    case DType::dtype_i64:
      return "int64";
    case DType::dtype_u8:
      return "uint8";
  }
  return "unknown";
}

int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t product = 0;
  if (checked_mul(a, b, &product)) return product;
  return ((a < 0) != (b < 0)) ? INT64_MIN : INT64_MAX;
}

bool shape_element_count(const Shape& shape, int64_t* count) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int64_t dim : shape) {
    if (dim < 0) return false;
    if (dim == 0) {
      empty = true;
      continue;
    }
    // nonzero <= kMaxTensorElements here, so the product is checked before it can overflow.
    if (dim > kMaxTensorElements / nonzero) return false;
    nonzero *= dim;
  }
  *count = empty ? 0 : nonzero;
  return true;
}

bool shape_byte_size(const Shape& shape, DType dtype, int64_t* bytes) {
  int64_t count = 0;
  if (!shape_element_count(shape, &count)) return false;
  static_assert(kMaxTensorElements <= INT64_MAX / 8, "byte sizes must fit int64");
  static_assert(uint64_t(kMaxTensorElements) * 8 <= uint64_t(SIZE_MAX), "and size_t");
  *bytes = count * int64_t(dtype_size(dtype));
  return true;
}

int64_t shape_numel(const Shape& shape) {
  // An empty tensor's other dims may be huge (shape_element_count accepts them): no product.
  for (int64_t dim : shape)
    if (dim == 0) return 0;
  int64_t total = 1;
  for (int64_t dim : shape)
    if (dim == 0) return 0;
  for (int64_t dim : shape) total = saturating_mul(total, dim);
  return total;
}

bool shape_is_known(const Shape& shape) {
  for (int64_t dim : shape)
    if (dim < 0) return false;
  return true;
}

std::string shape_to_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ",";
    text += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return text + "]";
}

namespace {
// Buffers at least this large are placed on transparent huge pages (Linux).
constexpr size_t kHugePageMinBytes = size_t(4) << 20;

}  // namespace

bool huge_pages_wanted() {
  static const bool wanted = [] {
    const char* value = std::getenv("ATROUS_HUGE_PAGES");
    return !(value && value[0] == '0' && value[1] == 0);
  }();
  return wanted;
}

// Tensor storage is 64-byte aligned (one cache line, one AVX-512 vector) and zero-initialized.
Tensor::Tensor(DType dtype, Shape shape) {
  view_.dtype = dtype;
  view_.shape = std::move(shape);
  // Also used for arenas beyond kMaxTensorElements bytes, so only overflow is refused here.
  uint64_t bytes = 1;
  for (int64_t dim : view_.shape)
    if (dim < 0 || __builtin_mul_overflow(bytes, uint64_t(dim), &bytes)) throw std::bad_alloc();
  if (__builtin_mul_overflow(bytes, uint64_t(dtype_size(dtype)), &bytes) ||
      bytes > uint64_t(SIZE_MAX) - 63)
    throw std::bad_alloc();
  size_t rounded = size_t((bytes + 63) / 64 * 64);
  if (rounded == 0) rounded = 64;
#if defined(__linux__)
  if (rounded >= kHugePageMinBytes && huge_pages_wanted()) {
    // Large buffers (arenas, big activations): 2 MiB aligned and marked for transparent huge
    // pages, so kernels that stride across channel planes do not miss the TLB on every plane.
    const size_t huge = size_t(2) << 20;
    if (rounded <= SIZE_MAX - huge) {
      const size_t aligned = (rounded + huge - 1) / huge * huge;
      view_.data = std::aligned_alloc(huge, aligned);
      if (!view_.data) throw std::bad_alloc();
      madvise(view_.data, aligned, MADV_HUGEPAGE);  // advice only: failure changes nothing
      std::memset(view_.data, 0, rounded);
      return;
    }
  }
#endif
  view_.data = std::aligned_alloc(64, rounded);
  if (!view_.data) throw std::bad_alloc();
  std::memset(view_.data, 0, rounded);
}

Tensor::Tensor(Tensor&& other) noexcept : view_(std::move(other.view_)) {
  other.view_.data = nullptr;
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    std::free(view_.data);
    view_ = std::move(other.view_);
    other.view_.data = nullptr;
  }
  return *this;
}

Tensor::~Tensor() { std::free(view_.data); }

}  // namespace atrous
