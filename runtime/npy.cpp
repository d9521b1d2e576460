// .npy reader/writer. The header is a Python dict literal; we parse just the three keys NumPy
// writes ('descr', 'fortran_order', 'shape') and reject anything we cannot represent exactly.
#include "runtime/npy.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace atrous {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Finds `'key':` in the header dict and returns the position after the colon.
bool find_key(const std::string& header, const std::string& key, size_t* position) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return false;
  at = header.find(':', at);
  if (at == std::string::npos) return false;
  *position = at + 1;
  return true;
}

void skip_spaces(const std::string& s, size_t* p) {
  while (*p < s.size() && (s[*p] == ' ' || s[*p] == '\t')) ++*p;
}

}  // namespace

Status npy_read(const std::string& path, Tensor* tensor) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) return Status::error("cannot open '" + path + "'");
  unsigned char prefix[10];
  if (std::fread(prefix, 1, 10, file.get()) != 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    return Status::error("'" + path + "' is not a .npy file");
  uint32_t header_length = 0;
  int major = prefix[6];
  if (major == 1) {
    header_length = uint32_t(prefix[8]) | (uint32_t(prefix[9]) << 8);
  } else if (major == 2 || major == 3) {
    unsigned char extra[2];
    if (std::fread(extra, 1, 2, file.get()) != 2)
      return Status::error("'" + path + "': truncated header");
    header_length = uint32_t(prefix[8]) | (uint32_t(prefix[9]) << 8) | (uint32_t(extra[0]) << 16) |
                    (uint32_t(extra[1]) << 24);
  } else {
    return Status::error("'" + path + "': unsupported .npy version " + std::to_string(major));
  }
  if (header_length > (1u << 20)) return Status::error("'" + path + "': header too large");
  std::string header(header_length, '\0');
  if (std::fread(&header[0], 1, header_length, file.get()) != header_length)
    return Status::error("'" + path + "': truncated header");

  size_t p = 0;
  if (!find_key(header, "descr", &p)) return Status::error("'" + path + "': header has no 'descr'");
  skip_spaces(header, &p);
  size_t end = p < header.size() ? header.find(header[p], p + 1) : std::string::npos;
  if (p >= header.size() || (header[p] != '\'' && header[p] != '"') || end == std::string::npos)
    return Status::error("'" + path + "': unreadable 'descr'");
  std::string descr = header.substr(p + 1, end - p - 1);

  if (!find_key(header, "fortran_order", &p))
    return Status::error("'" + path + "': header has no 'fortran_order'");
  skip_spaces(header, &p);
  if (header.compare(p, 4, "True") == 0)
    return Status::error(
        "'" + path + "': Fortran-order arrays are not supported (save np.ascontiguousarray(x))");

  if (!find_key(header, "shape", &p)) return Status::error("'" + path + "': header has no 'shape'");
  skip_spaces(header, &p);
  if (p >= header.size() || header[p] != '(')
    return Status::error("'" + path + "': unreadable 'shape'");
  size_t close = header.find(')', p);
  if (close == std::string::npos) return Status::error("'" + path + "': unreadable 'shape'");
  Shape shape;
  std::string dims = header.substr(p + 1, close - p - 1);
  size_t q = 0;
  while (q < dims.size()) {
    while (q < dims.size() && (dims[q] == ' ' || dims[q] == ',')) ++q;
    if (q >= dims.size()) break;
    size_t digits = q;
    while (digits < dims.size() && dims[digits] >= '0' && dims[digits] <= '9') ++digits;
    if (digits == q || digits - q > 12) return Status::error("'" + path + "': unreadable 'shape'");
    shape.push_back(std::stoll(dims.substr(q, digits - q)));
    q = digits;
  }
  if (shape.size() > size_t(kMaxRank))
    return Status::error("'" + path + "': rank " + std::to_string(shape.size()) + " > 8");
  int64_t count = 0;
  if (!shape_element_count(shape, &count))
    return Status::error("'" + path + "': shape " + shape_to_string(shape) + " is too large");

  DType dtype;
  size_t element_size;
  bool from_f64 = false;
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
    return Status::error("'" + path + "': dtype '" + descr +
                         "' is not supported (use float32, float64, int32, int64 or uint8)");
  }
  // Check the payload size before allocating.
  long data_start = std::ftell(file.get());
  std::fseek(file.get(), 0, SEEK_END);
  long file_end = std::ftell(file.get());
  std::fseek(file.get(), data_start, SEEK_SET);
  uint64_t payload = uint64_t(count) * element_size;
  if (data_start < 0 || file_end < data_start || uint64_t(file_end - data_start) < payload)
    return Status::error("'" + path + "': file holds fewer bytes than its shape " +
                         shape_to_string(shape) + " needs");

  Tensor result(dtype, shape);
  if (from_f64) {
    std::vector<double> buffer(static_cast<size_t>(count));
    if (count && std::fread(buffer.data(), 8, size_t(count), file.get()) != size_t(count))
      return Status::error("'" + path + "': truncated data");
    for (int64_t i = 0; i < count; ++i) result.f32()[i] = float(buffer[size_t(i)]);
  } else if (count &&
             std::fread(result.data(), element_size, size_t(count), file.get()) != size_t(count)) {
    return Status::error("'" + path + "': truncated data");
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
