// .npy reader/writer. The header is a Python dict literal; it is parsed strictly: exactly the
// three keys NumPy writes ('descr', 'fortran_order', 'shape'), each once, with the value types
// NumPy itself requires (a string, True/False, a tuple of integers). Anything else is refused
// rather than guessed at, since a header read differently from NumPy means other data.
#include "runtime/npy.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "graph/file_io.h"

namespace atrous {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A recursive-descent reader of the header dict; errors are returned without the path.
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : text_(text) {}

  Status parse(NpyHeader* header) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_spaces();
    if (!take('{')) return Status::error("header is not a dict");
    for (;;) {
      skip_spaces();
      if (take('}')) break;
      std::string key;
      if (!string_literal(&key)) return Status::error("header has a key that is not a string");
      skip_spaces();
      if (!take(':')) return Status::error("header has no ':' after '" + key + "'");
      skip_spaces();
      if (key == "descr") {
        if (have_descr) return Status::error("header has 'descr' twice");
        have_descr = true;
        if (!string_literal(&header->descr)) return Status::error("'descr' is not a string");
      } else if (key == "fortran_order") {
        if (have_fortran) return Status::error("header has 'fortran_order' twice");
        have_fortran = true;
        if (keyword("True")) {
          header->fortran_order = true;
        } else if (keyword("False")) {
          header->fortran_order = false;
        } else {
          return Status::error("'fortran_order' must be True or False");
        }
      } else if (key == "shape") {
        if (have_shape) return Status::error("header has 'shape' twice");
        have_shape = true;
        ATROUS_RETURN_IF_ERROR(shape_tuple(&header->shape));
      } else {
        return Status::error("header has an unknown key '" + key +
                             "' (only 'descr', 'fortran_order' and 'shape' are allowed)");
      }
      skip_spaces();
      if (take(',')) continue;
      skip_spaces();
      if (take('}')) break;
      return Status::error("header dict is malformed after '" + key + "'");
    }
    skip_spaces();
    if (at_ != text_.size()) return Status::error("header has text after its dict");
    if (!have_descr) return Status::error("header has no 'descr'");
    if (!have_fortran) return Status::error("header has no 'fortran_order'");
    if (!have_shape) return Status::error("header has no 'shape'");
    return Status::success();
  }

 private:
  void skip_spaces() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }
  bool take(char c) {
    if (at_ < text_.size() && text_[at_] == c) return ++at_, true;
    return false;
  }
  bool keyword(const char* word) {
    const size_t n = std::strlen(word);
    if (text_.compare(at_, n, word) != 0) return false;
    const size_t after = at_ + n;
    if (after < text_.size() &&
        (std::isalnum(static_cast<unsigned char>(text_[after])) || text_[after] == '_'))
      return false;  // "Truest" is not True
    at_ = after;
    return true;
  }
  // A quoted string without escapes (NumPy's keys and dtype strings have none).
  bool string_literal(std::string* out) {
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) return false;
    const char quote = text_[at_];
    const size_t end = text_.find(quote, at_ + 1);
    if (end == std::string::npos) return false;
    std::string value = text_.substr(at_ + 1, end - at_ - 1);
    if (value.find('\\') != std::string::npos) return false;
    *out = std::move(value);
    at_ = end + 1;
    return true;
  }
  // A Python tuple of non-negative decimal integers: (), (n,), (n, m), (n, m,), ...
  Status shape_tuple(Shape* shape) {
    shape->clear();
    if (!take('(')) return Status::error("'shape' is not a tuple");
    skip_spaces();
    if (take(')')) return Status::success();
    for (;;) {
      skip_spaces();
      const size_t first = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      if (at_ == first) return Status::error("'shape' holds something other than a number");
      // 18 digits stay below 2^63; larger dimensions are refused as too large below.
      if (at_ - first > 18) return Status::error("'shape' has a dimension that is too large");
      if (shape->size() == size_t(kMaxRank))
        return Status::error("'shape' has more than " + std::to_string(kMaxRank) + " dimensions");
      shape->push_back(std::stoll(text_.substr(first, at_ - first)));
      skip_spaces();
      const bool comma = take(',');
      skip_spaces();
      if (take(')')) {
        // (n) is the number n in Python, not a tuple.
        if (shape->size() == 1 && !comma) return Status::error("'shape' (n) needs a comma: (n,)");
        return Status::success();
      }
      if (!comma) return Status::error("'shape' needs commas between its dimensions");
    }
  }

  const std::string& text_;
  size_t at_ = 0;
};

}  // namespace

Status npy_read(const std::string& path, Tensor* tensor) {
  const std::string where = "'" + path + "': ";
  std::FILE* opened = nullptr;
  uint64_t file_size = 0;
  // Only regular files: a FIFO would block the open or the read forever.
  ATROUS_RETURN_IF_ERROR(fopen_regular_file(path, &opened, &file_size));
  File file(opened);
  unsigned char prefix[10];
  if (std::fread(prefix, 1, 10, file.get()) != 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    return Status::error(where + "not a .npy file");
  uint64_t header_length = 0;
  uint64_t header_start = 10;
  int major = prefix[6];
  if (major == 1) {
    header_length = uint32_t(prefix[8]) | (uint32_t(prefix[9]) << 8);
  } else if (major == 2 || major == 3) {
    unsigned char extra[2];
    if (std::fread(extra, 1, 2, file.get()) != 2) return Status::error(where + "truncated header");
    header_length = uint32_t(prefix[8]) | (uint32_t(prefix[9]) << 8) | (uint32_t(extra[0]) << 16) |
                    (uint32_t(extra[1]) << 24);
    header_start = 12;
  } else {
    return Status::error(where + "unsupported .npy version " + std::to_string(major));
  }
  if (header_length > (1u << 20)) return Status::error(where + "header too large");
  if (header_start + header_length > file_size) return Status::error(where + "truncated header");
  std::string text(size_t(header_length), '\0');
  if (std::fread(&text[0], 1, text.size(), file.get()) != text.size())
    return Status::error(where + "truncated header");

  NpyHeader header;
  Status parsed = HeaderParser(text).parse(&header);
  if (!parsed.ok()) return Status::error(where + parsed.message());
  if (header.fortran_order)
    return Status::error(where +
                         "Fortran-order arrays are not supported (save np.ascontiguousarray(x))");

  DType dtype;
  uint64_t element_size;
  bool from_f64 = false;
  const std::string& descr = header.descr;
  if (descr == "<f4") {
    dtype = DType::dtype_f32, element_size = 4;
  } else if (descr == "<f8") {
    dtype = DType::dtype_f32, element_size = 8, from_f64 = true;
  } else if (descr == "<i4") {
    dtype = DType::dtype_i32, element_size = 4;
  } else if (descr == "<i8") {
    dtype = DType::dtype_i64, element_size = 8;
  } else if (descr == "|u1" || descr == "<u1") {
    dtype = DType::dtype_u8, element_size = 1;
  } else {
    return Status::error(where + "dtype '" + descr +
                         "' is not supported (use float32, float64, int32, int64 or uint8)");
  }

  // Element and byte counts in checked arithmetic, and against the file's size, before any
  // allocation: a header is a few bytes, the data it promises must be there.
  const Shape& shape = header.shape;
  const uint64_t payload_available = file_size - header_start - header_length;
  // The product of the non-zero dimensions is bounded too, so that no later product of
  // dimensions (in any order) overflows, even for an empty array.
  uint64_t nonzero = 1;
  for (int64_t d : shape)
    if (d != 0 && (__builtin_mul_overflow(nonzero, uint64_t(d), &nonzero) ||
                   nonzero > uint64_t(kMaxTensorElements)))
      return Status::error(where + "shape " + shape_to_string(shape) + " is too large");
  uint64_t count = nonzero;
  for (int64_t d : shape)
    if (d == 0) count = 0;
  uint64_t payload = 0;
  if (__builtin_mul_overflow(count, element_size, &payload) || payload > payload_available)
    return Status::error(where + "file holds fewer bytes than its shape " + shape_to_string(shape) +
                         " needs");

  Tensor result(dtype, shape);
  if (from_f64) {
    std::vector<double> buffer(static_cast<size_t>(count));
    if (count && std::fread(buffer.data(), 8, size_t(count), file.get()) != size_t(count))
      return Status::error(where + "truncated data");
    float* out = result.f32();
    for (size_t i = 0; i < size_t(count); ++i) {
      out[i] = float(buffer[i]);
      // Finite doubles beyond float32's range would silently become infinities.
      if (std::isinf(out[i]) && std::isfinite(buffer[i])) {
        char value[32];
        std::snprintf(value, sizeof value, "%.17g", buffer[i]);
        return Status::error(where + "float64 value " + value + " (element " + std::to_string(i) +
                             ") is beyond float32's range");
      }
    }
  } else if (count &&
             std::fread(result.data(), size_t(element_size), size_t(count), file.get()) != count) {
    return Status::error(where + "truncated data");
  }
  *tensor = std::move(result);
  return Status::success();
}

Status npy_write(const std::string& path, const TensorView& tensor) {
  const char* descr = nullptr;
  switch (tensor.dtype) {
    case DType::dtype_f32:
      descr = "<f4";
      break;
    case DType::dtype_i32:
      descr = "<i4";
      break;
    case DType::dtype_i64:
      descr = "<i8";
      break;
    case DType::dtype_u8:
      descr = "|u1";
      break;
  }
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape.size(); ++i)
    shape += std::to_string(tensor.shape[i]) +
             (tensor.shape.size() == 1 ? "," : (i + 1 < tensor.shape.size() ? ", " : ""));
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that magic + length + header + newline is a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  File file(std::fopen(path.c_str(), "wb"));
  if (!file) return Status::error("cannot write '" + path + "'");
  unsigned char prefix[10] = {0x93,
                              'N',
                              'U',
                              'M',
                              'P',
                              'Y',
                              1,
                              0,
                              (unsigned char)(header.size() & 0xff),
                              (unsigned char)(header.size() >> 8)};
  bool ok = std::fwrite(prefix, 1, 10, file.get()) == 10 &&
            std::fwrite(header.data(), 1, header.size(), file.get()) == header.size();
  size_t bytes = tensor.byte_size();
  ok = ok && (bytes == 0 || std::fwrite(tensor.data, 1, bytes, file.get()) == bytes);
  if (!ok) return Status::error("cannot write '" + path + "'");
  return Status::success();
}

}  // namespace atrous
