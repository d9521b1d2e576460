// Element types, shapes and non-owning tensor views shared by the IR, the ops and the runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace atrous {

// Values are the on-disk codes of docs/FORMAT.md.
enum class DType : uint8_t { dtype_f32 = 1, dtype_i32 = 2, dtype_i64 = 3, dtype_u8 = 4 };

bool dtype_is_valid(uint8_t code);
size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

using Shape = std::vector<int64_t>;

constexpr int kMaxRank = 8;
// Largest element count a single tensor may have (2^34 elements = 64 GiB of float32): a bound
// that keeps every size computation far from overflow while allowing any real model.
constexpr int64_t kMaxTensorElements = int64_t(1) << 34;

// Overflow-checked int64 arithmetic, the one place shape rules and kernels do size arithmetic
// on values that came from a file: false on overflow (the result is then unspecified).
inline bool checked_add(int64_t a, int64_t b, int64_t* sum) {
  return !__builtin_add_overflow(a, b, sum);
}
inline bool checked_mul(int64_t a, int64_t b, int64_t* product) {
  return !__builtin_mul_overflow(a, b, product);
}
// a·b clamped to the int64 range (work estimates of absurd shapes stay finite).
int64_t saturating_mul(int64_t a, int64_t b);

// A shape is valid when every dim is >= 0 and the product of its non-zero dims is at most
// kMaxTensorElements. The second rule also holds for empty tensors, so a [0, 2^62, 2^62] tensor
// is refused: every partial product and every sum of a valid shape's dims then fits in int64,
// and a per-axis table of an empty tensor is no larger than that of a real one.
// shape_element_count: the element count of a valid shape; false for an invalid one.
bool shape_element_count(const Shape& shape, int64_t* count);
// Bytes of a tensor of a valid shape; false when the shape is invalid. The result is at most
// kMaxTensorElements · 8, which fits both int64 and size_t.
bool shape_byte_size(const Shape& shape, DType dtype, int64_t* bytes);
// Product of dims: exact for valid shapes, 0 when any dim is 0, and saturated instead of
// overflowing for anything else (callers should have validated the shape).
int64_t shape_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);
bool shape_is_known(const Shape& shape);

struct TensorDesc {
  DType dtype = DType::dtype_f32;
  Shape shape;
};

// A view over memory owned elsewhere; the op functions read inputs and write outputs through it.
struct TensorView {
  DType dtype = DType::dtype_f32;
  Shape shape;
  void* data = nullptr;

  int64_t numel() const { return shape_numel(shape); }
  size_t byte_size() const { return size_t(numel()) * dtype_size(dtype); }
  float* f32() const { return static_cast<float*>(data); }
  int32_t* i32() const { return static_cast<int32_t*>(data); }
  int64_t* i64() const { return static_cast<int64_t*>(data); }
  uint8_t* u8() const { return static_cast<uint8_t*>(data); }
};

// Whether large buffers go on transparent huge pages (tensors of 4 MiB or more here, the
// kernels' packed weights in cpu/weight_memory.cpp): true unless ATROUS_HUGE_PAGES=0, which
// keeps every buffer on ordinary pages (to measure the difference).
bool huge_pages_wanted();

// An owning tensor (aligned storage), used by the runtime, passes and tests.
class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;
  ~Tensor();

  TensorView& view() { return view_; }
  const TensorView& view() const { return view_; }
  DType dtype() const { return view_.dtype; }
  const Shape& shape() const { return view_.shape; }
  int64_t numel() const { return view_.numel(); }
  size_t byte_size() const { return view_.byte_size(); }
  void* data() const { return view_.data; }
  float* f32() const { return view_.f32(); }
  int32_t* i32() const { return view_.i32(); }

 private:
  TensorView view_;
};

}  // namespace atrous
