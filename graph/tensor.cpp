#include "graph/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

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

bool shape_element_count(const Shape& shape, int64_t* count) {
  int64_t total = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return false;
    if (dim == 0) {
      total = 0;
      continue;
    }
    if (total > kMaxTensorElements / dim) {
      // Keep scanning: a later zero dim makes the tensor empty, which is fine.
      bool has_zero = false;
      for (int64_t d : shape) has_zero |= (d == 0);
      if (has_zero) {
        *count = 0;
        return true;
      }
      return false;
    }
    total *= dim;
  }
  *count = total;
  return true;
}

int64_t shape_numel(const Shape& shape) {
  // An empty tensor's other dims may be huge (shape_element_count accepts them): no product.
  for (int64_t dim : shape)
    if (dim == 0) return 0;
  int64_t total = 1;
  for (int64_t dim : shape) total *= dim;
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

// Tensor storage is 64-byte aligned (one cache line, one AVX-512 vector) and zero-initialized.
Tensor::Tensor(DType dtype, Shape shape) {
  view_.dtype = dtype;
  view_.shape = std::move(shape);
  size_t bytes = view_.byte_size();
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
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
