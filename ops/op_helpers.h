// Small helpers shared by the op files (internal to ops/): attribute reading that turns type
// mismatches into errors, bounded integer checks, axis normalization, NumPy broadcasting, and
// the window geometry (strides, dilations, pads, auto_pad, ceil_mode) that conv and the pools
// share. Every check returns a one-line Status that names the op.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/attributes.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

// Integer attributes that size or offset a tensor (strides, pads, kernel, sizes, ...) are
// bounded by this before any arithmetic, so products and sums of a few of them stay far below
// the int64 range.
constexpr int64_t kMaxAttributeMagnitude = int64_t(1) << 31;

Status op_error(const char* op, const std::string& message);
std::string ints_to_string(const std::vector<int64_t>& values);

// Reads the attributes of one op. The first problem (wrong type, missing required attribute)
// is remembered and returned by status(), so a shape rule reads everything, then checks once.
class AttributeReader {
 public:
  AttributeReader(const char* op, const AttributeMap& attributes)
      : op_(op), attributes_(attributes) {}

  int64_t get_int(const char* name, int64_t fallback);
  double get_float(const char* name, double fallback);
  std::string get_string(const char* name, const std::string& fallback);
  std::vector<int64_t> get_ints(const char* name, const std::vector<int64_t>& fallback);
  std::vector<double> get_floats(const char* name, const std::vector<double>& fallback);
  // Required attributes: absent is an error.
  int64_t require_int(const char* name);
  std::vector<int64_t> require_ints(const char* name);

  bool has(const char* name) const { return attributes_.has(name); }
  const char* op() const { return op_; }
  const Status& status() const { return status_; }

 private:
  void check_type(const char* name, bool type_ok, const char* expected);
  void note(const std::string& message);

  const char* op_;
  const AttributeMap& attributes_;
  Status status_;
};

// `values` must have `count` entries (any count when count < 0), each within [min, max].
Status check_ints(const char* op, const char* name, const std::vector<int64_t>& values,
                  int64_t count, int64_t min, int64_t max);
// An int attribute used as a boolean: 0 or 1.
Status check_flag(const char* op, const char* name, int64_t value);
Status check_dtype(const char* op, const char* what, const TensorDesc& desc, DType dtype);
Status check_rank(const char* op, const char* what, const TensorDesc& desc, size_t rank);
// Checks that an output shape has non-negative dims and at most kMaxTensorElements elements.
Status check_output_shape(const char* op, const Shape& shape);
// Maps `axis` in [-rank, rank - 1] (or [-rank, rank] when `allow_end`) to [0, rank).
Status normalize_axis(const char* op, const char* name, int64_t axis, int64_t rank, bool allow_end,
                      int64_t* normalized);

std::vector<int64_t> row_major_strides(const Shape& shape);
// NumPy broadcasting of two shapes (aligned at the right; a dim of 1 stretches).
Status broadcast_shapes(const char* op, const Shape& a, const Shape& b, Shape* result);
// Element strides of `input` read as `output` (same rank or lower, aligned at the right):
// 0 for broadcast dims. The result has output.size() entries.
std::vector<int64_t> broadcast_strides(const Shape& input, const Shape& output);

// The descs of a list of views (nullptr stays nullptr), so a reference function can call the
// same resolve function as the shape rule.
class ViewDescs {
 public:
  explicit ViewDescs(const std::vector<const TensorView*>& views);
  ViewDescs(const ViewDescs&) = delete;
  ViewDescs& operator=(const ViewDescs&) = delete;
  const std::vector<const TensorDesc*>& pointers() const { return pointers_; }

 private:
  std::vector<TensorDesc> descs_;
  std::vector<const TensorDesc*> pointers_;
};

// ---- window geometry of conv and the pools ---------------------------------------------------

enum class AutoPad { auto_pad_explicit, auto_pad_valid, auto_pad_same_upper, auto_pad_same_lower };

struct WindowAxis {
  int64_t input = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
  int64_t output = 0;
  // Input coordinates covered by one window, dilation gaps included. Output position o reads
  // input coordinates o·stride − pad_begin + k·dilation for k in [0, kernel).
  int64_t extent() const { return dilation * (kernel - 1) + 1; }
  // Σ over the output positions of the kernel taps that read inside the input: the taps a
  // convolution that skips padding computes along this axis.
  int64_t taps_inside() const {
    int64_t taps = 0;
    for (int64_t o = 0; o < output; ++o)
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t i = o * stride + k * dilation - pad_begin;
        taps += i >= 0 && i < input;
      }
    return taps;
  }
};

struct WindowOptions {
  bool dilations = true;   // reads `dilations` (conv, max_pool)
  bool ceil_mode = false;  // reads `ceil_mode` (pools)
};

// Reads strides, dilations, pads, auto_pad and ceil_mode and computes both axes (0 = H, 1 = W)
// of an NCHW window op whose input spatial size and kernel are given (kernel already >= 1 and
// bounded). Output sizes follow docs/OPS.md; an output size below 1 is an error.
Status resolve_window_2d(AttributeReader* reader, const int64_t input[2], const int64_t kernel[2],
                         const WindowOptions& options, WindowAxis axes[2]);

}  // namespace atrous
