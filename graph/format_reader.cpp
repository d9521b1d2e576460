// The `.atrous` reader. Every read goes through ByteReader, which knows the bytes left in its
// section; every count is checked against those bytes before anything is allocated, so a
// corrupt count can neither over-allocate nor read out of bounds.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "graph/format.h"

namespace atrous {
namespace {

constexpr uint32_t kMaxStringBytes = 1u << 20;
constexpr uint64_t kNoData = ~uint64_t(0);
constexpr uint32_t kAbsentIndex = 0xFFFFFFFFu;
constexpr uint64_t kMaxConstantBytes = uint64_t(1) << 40;
const uint8_t kMagic[8] = {'A', 'T', 'R', 'O', 'U', 'S', 0, 0};

class ByteReader {
 public:
  ByteReader(const uint8_t* begin, uint64_t size, uint64_t file_offset, const char* section)
      : begin_(begin), size_(size), file_offset_(file_offset), section_(section) {}

  uint64_t remaining() const { return size_ - position_; }
  bool at_end() const { return position_ == size_; }

  Status fail(const std::string& what) const {
    return Status::error(std::string(section_) + " section: " + what + " (at byte " +
                         std::to_string(file_offset_ + position_) + ")");
  }

  Status bytes(void* out, uint64_t count, const char* what) {
    if (count > remaining()) return fail(std::string("truncated while reading ") + what);
    std::memcpy(out, begin_ + position_, size_t(count));
    position_ += count;
    return Status::success();
  }
  Status u8(uint8_t* out, const char* what) { return bytes(out, 1, what); }
  Status u32(uint32_t* out, const char* what) { return bytes(out, 4, what); }
  Status u64(uint64_t* out, const char* what) { return bytes(out, 8, what); }
  Status i64(int64_t* out, const char* what) { return bytes(out, 8, what); }
  Status f64(double* out, const char* what) { return bytes(out, 8, what); }

  Status string(std::string* out, const char* what) {
    uint32_t length = 0;
    ATROUS_RETURN_IF_ERROR(u32(&length, what));
    if (length > kMaxStringBytes) return fail(std::string(what) + " is longer than 1 MiB");
    if (length > remaining()) return fail(std::string("truncated while reading ") + what);
    out->assign(reinterpret_cast<const char*>(begin_ + position_), length);
    position_ += length;
    return Status::success();
  }

  // Reads a u32 count of records, each at least `min_record_bytes` long, and checks that the
  // section can hold them.
  Status count(uint32_t* out, uint64_t min_record_bytes, const char* what) {
    ATROUS_RETURN_IF_ERROR(u32(out, what));
    if (uint64_t(*out) * min_record_bytes > remaining())
      return fail(std::string(what) + " " + std::to_string(*out) +
                  " does not fit in the remaining " + std::to_string(remaining()) + " bytes");
    return Status::success();
  }

 private:
  const uint8_t* begin_;
  uint64_t size_;
  uint64_t file_offset_;
  const char* section_;
  uint64_t position_ = 0;
};

Status read_value(ByteReader& reader, Attribute* attribute) {
  uint8_t type = 0;
  ATROUS_RETURN_IF_ERROR(reader.u8(&type, "value type"));
  uint32_t count = 0;
  switch (type) {
    case uint8_t(AttributeType::attribute_int):
      attribute->type = AttributeType::attribute_int;
      return reader.i64(&attribute->i, "int value");
    case uint8_t(AttributeType::attribute_float):
      attribute->type = AttributeType::attribute_float;
      return reader.f64(&attribute->f, "float value");
    case uint8_t(AttributeType::attribute_string):
      attribute->type = AttributeType::attribute_string;
      return reader.string(&attribute->s, "string value");
    case uint8_t(AttributeType::attribute_ints):
      attribute->type = AttributeType::attribute_ints;
      ATROUS_RETURN_IF_ERROR(reader.count(&count, 8, "ints count"));
      attribute->ints.resize(count);
      for (uint32_t i = 0; i < count; ++i)
        ATROUS_RETURN_IF_ERROR(reader.i64(&attribute->ints[i], "ints value"));
      return Status::success();
    case uint8_t(AttributeType::attribute_floats):
      attribute->type = AttributeType::attribute_floats;
      ATROUS_RETURN_IF_ERROR(reader.count(&count, 8, "floats count"));
      attribute->floats.resize(count);
      for (uint32_t i = 0; i < count; ++i)
        ATROUS_RETURN_IF_ERROR(reader.f64(&attribute->floats[i], "floats value"));
      return Status::success();
    case uint8_t(AttributeType::attribute_strings):
      attribute->type = AttributeType::attribute_strings;
      ATROUS_RETURN_IF_ERROR(reader.count(&count, 4, "strings count"));
      attribute->strings.resize(count);
      for (uint32_t i = 0; i < count; ++i)
        ATROUS_RETURN_IF_ERROR(reader.string(&attribute->strings[i], "strings value"));
      return Status::success();
    default:
      return reader.fail("unknown value type " + std::to_string(type));
  }
}

Status read_key_values(ByteReader& reader, AttributeMap* map, const char* what) {
  uint32_t count = 0;
  // Smallest record: empty key (4 bytes) + type (1) + int (8).
  ATROUS_RETURN_IF_ERROR(reader.count(&count, 13, what));
  for (uint32_t i = 0; i < count; ++i) {
    Attribute attribute;
    ATROUS_RETURN_IF_ERROR(reader.string(&attribute.name, "key"));
    if (attribute.name.empty()) return reader.fail(std::string("empty key in ") + what);
    if (map->has(attribute.name))
      return reader.fail("duplicate key '" + attribute.name + "' in " + what);
    ATROUS_RETURN_IF_ERROR(read_value(reader, &attribute));
    map->set(attribute);
  }
  return Status::success();
}

struct SectionRange {
  uint64_t offset = 0;
  uint64_t size = 0;
};

Status check_section(const char* name, SectionRange range, uint64_t file_size) {
  if (range.offset < kFormatHeaderSize)
    return Status::error(std::string(name) + " section overlaps the header (offset " +
                         std::to_string(range.offset) + ")");
  if (range.offset > file_size || range.size > file_size - range.offset)
    return Status::error(std::string(name) + " section [" + std::to_string(range.offset) + ", +" +
                         std::to_string(range.size) + ") lies outside the file of " +
                         std::to_string(file_size) + " bytes");
  return Status::success();
}

Status read_tensors(ByteReader& reader, SectionRange data, const uint8_t* file_begin,
                    Graph* graph) {
  uint32_t count = 0;
  // Smallest record: name (4) + dtype (1) + rank (1) + offset (8) + size (8).
  ATROUS_RETURN_IF_ERROR(reader.count(&count, 22, "tensor count"));
  graph->tensors.resize(count);
  for (uint32_t t = 0; t < count; ++t) {
    GraphTensor& tensor = graph->tensors[t];
    const std::string where = "tensor " + std::to_string(t);
    ATROUS_RETURN_IF_ERROR(reader.string(&tensor.name, "tensor name"));
    uint8_t dtype = 0, rank = 0;
    ATROUS_RETURN_IF_ERROR(reader.u8(&dtype, "dtype"));
    if (!dtype_is_valid(dtype))
      return reader.fail(where + ": unknown dtype " + std::to_string(dtype));
    tensor.dtype = DType(dtype);
    ATROUS_RETURN_IF_ERROR(reader.u8(&rank, "rank"));
    if (rank > kMaxRank) return reader.fail(where + ": rank " + std::to_string(rank) + " > 8");
    tensor.shape.resize(rank);
    for (uint8_t d = 0; d < rank; ++d) ATROUS_RETURN_IF_ERROR(reader.i64(&tensor.shape[d], "dim"));
    uint64_t offset = 0, size = 0;
    ATROUS_RETURN_IF_ERROR(reader.u64(&offset, "data offset"));
    ATROUS_RETURN_IF_ERROR(reader.u64(&size, "data size"));
    for (int64_t dim : tensor.shape)
      if (dim < -1 || (dim == -1 && offset != kNoData))
        return reader.fail(where + " '" + tensor.name + "': invalid dimension " +
                           std::to_string(dim));
    if (offset == kNoData) {
      if (size != 0) return reader.fail(where + ": data size without data");
      continue;
    }
    int64_t elements = 0;
    if (!shape_element_count(tensor.shape, &elements))
      return reader.fail(where + " '" + tensor.name + "': shape " + shape_to_string(tensor.shape) +
                         " is too large");
    uint64_t expected = uint64_t(elements) * dtype_size(tensor.dtype);
    if (expected > kMaxConstantBytes || size != expected)
      return reader.fail(where + " '" + tensor.name + "': data size " + std::to_string(size) +
                         " does not match shape " + shape_to_string(tensor.shape) + " (" +
                         std::to_string(expected) + " bytes)");
    if (offset % kFormatAlignment != 0)
      return reader.fail(where + " '" + tensor.name + "': data offset " + std::to_string(offset) +
                         " is not 64-byte aligned");
    if (offset > data.size || size > data.size - offset)
      return reader.fail(where + " '" + tensor.name + "': data [" + std::to_string(offset) + ", +" +
                         std::to_string(size) + ") lies outside the data section");
    tensor.is_constant = true;
    tensor.data = file_begin + data.offset + offset;
  }
  return Status::success();
}

Status read_index_list(ByteReader& reader, const char* what, size_t tensor_count, bool allow_absent,
                       std::vector<int32_t>* out) {
  uint32_t count = 0;
  ATROUS_RETURN_IF_ERROR(reader.count(&count, 4, what));
  out->resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t index = 0;
    ATROUS_RETURN_IF_ERROR(reader.u32(&index, what));
    if (allow_absent && index == kAbsentIndex) {
      (*out)[i] = kAbsentInput;
      continue;
    }
    if (index >= tensor_count)
      return reader.fail(std::string(what) + ": tensor index " + std::to_string(index) +
                         " out of range (" + std::to_string(tensor_count) + " tensors)");
    (*out)[i] = int32_t(index);
  }
  return Status::success();
}

Status read_graph(ByteReader& reader, Graph* graph) {
  const size_t tensor_count = graph->tensors.size();
  ATROUS_RETURN_IF_ERROR(
      read_index_list(reader, "graph inputs", tensor_count, false, &graph->inputs));
  ATROUS_RETURN_IF_ERROR(
      read_index_list(reader, "graph outputs", tensor_count, false, &graph->outputs));
  uint32_t count = 0;
  // Smallest node: op (4) + name (4) + input count (4) + output count (4) + attribute count (4).
  ATROUS_RETURN_IF_ERROR(reader.count(&count, 20, "node count"));
  graph->nodes.resize(count);
  for (uint32_t n = 0; n < count; ++n) {
    Node& node = graph->nodes[n];
    std::string op_name;
    ATROUS_RETURN_IF_ERROR(reader.string(&op_name, "op name"));
    if (!op_type_from_name(op_name, &node.op))
      return reader.fail("node " + std::to_string(n) + ": unknown op '" + op_name + "'");
    ATROUS_RETURN_IF_ERROR(reader.string(&node.name, "node name"));
    ATROUS_RETURN_IF_ERROR(
        read_index_list(reader, "node inputs", tensor_count, true, &node.inputs));
    ATROUS_RETURN_IF_ERROR(
        read_index_list(reader, "node outputs", tensor_count, false, &node.outputs));
    ATROUS_RETURN_IF_ERROR(read_key_values(reader, &node.attributes, "node attributes"));
  }
  return Status::success();
}

// Parses bytes that stay alive as long as graph->storage holds `owner`.
Status parse(const uint8_t* bytes, uint64_t file_size, std::shared_ptr<const void> owner,
             Graph* graph) {
  *graph = Graph();
  if (file_size < kFormatHeaderSize)
    return Status::error("file is " + std::to_string(file_size) +
                         " bytes, shorter than the 128-byte header: not an .atrous file");
  if (std::memcmp(bytes, kMagic, 8) != 0) return Status::error("bad magic: not an .atrous file");
  ByteReader header(bytes + 8, kFormatHeaderSize - 8, 8, "header");
  uint32_t major = 0, minor = 0;
  uint64_t recorded_size = 0;
  ATROUS_RETURN_IF_ERROR(header.u32(&major, "version"));
  ATROUS_RETURN_IF_ERROR(header.u32(&minor, "version"));
  if (major != kFormatVersionMajor)
    return Status::error("format version " + std::to_string(major) + "." + std::to_string(minor) +
                         " is not supported (this build reads " +
                         std::to_string(kFormatVersionMajor) + ".x)");
  ATROUS_RETURN_IF_ERROR(header.u64(&recorded_size, "file size"));
  if (recorded_size != file_size)
    return Status::error("header says the file has " + std::to_string(recorded_size) +
                         " bytes but it has " + std::to_string(file_size) +
                         " (truncated or padded file)");
  SectionRange sections[4];
  for (SectionRange& range : sections) {
    ATROUS_RETURN_IF_ERROR(header.u64(&range.offset, "section offset"));
    ATROUS_RETURN_IF_ERROR(header.u64(&range.size, "section size"));
  }
  for (size_t i = 88; i < kFormatHeaderSize; ++i)
    if (bytes[i] != 0)
      return Status::error("header: reserved byte " + std::to_string(i) + " is not zero");
  if (sections[3].offset % kFormatAlignment != 0)
    return Status::error("data section offset " + std::to_string(sections[3].offset) +
                         " is not 64-byte aligned");
  const char* names[4] = {"metadata", "tensor", "graph", "data"};
  for (int i = 0; i < 4; ++i)
    ATROUS_RETURN_IF_ERROR(check_section(names[i], sections[i], file_size));
  graph->storage.push_back(std::move(owner));

  ByteReader metadata(bytes + sections[0].offset, sections[0].size, sections[0].offset, "metadata");
  ATROUS_RETURN_IF_ERROR(read_key_values(metadata, &graph->metadata, "metadata"));
  if (!metadata.at_end()) return metadata.fail("trailing bytes");

  ByteReader tensors(bytes + sections[1].offset, sections[1].size, sections[1].offset, "tensor");
  ATROUS_RETURN_IF_ERROR(read_tensors(tensors, sections[3], bytes, graph));
  if (!tensors.at_end()) return tensors.fail("trailing bytes");

  ByteReader graph_reader(bytes + sections[2].offset, sections[2].size, sections[2].offset,
                          "graph");
  ATROUS_RETURN_IF_ERROR(read_graph(graph_reader, graph));
  if (!graph_reader.at_end()) return graph_reader.fail("trailing bytes");

  return graph_validate(*graph);
}

}  // namespace

// The file is read into memory rather than mapped: with a mapping, a file truncated (or
// rewritten in place) while a session still uses its constants turns the next read of a lost
// page into SIGBUS, which no check can prevent (MAP_PRIVATE copies pages only on write, and
// locks on Linux are advisory). Reading costs a copy at load; docs/FORMAT.md "Loading" has the
// numbers. The size comes from the opened descriptor, and a file that shrinks while it is read is
// an error rather than a short model.
Status format_load_file(const std::string& path, Graph* graph) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Status::error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int error = errno;
    close(fd);
    return Status::error("cannot stat '" + path + "': " + std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    close(fd);
    return Status::error("'" + path + "' is not a regular file");
  }
  uint64_t size = uint64_t(info.st_size);
  if (size < kFormatHeaderSize) {
    close(fd);
    return Status::error("'" + path + "': file is " + std::to_string(size) +
                         " bytes, shorter than the 128-byte header: not an .atrous file");
  }
  // 64-byte aligned like the format's weight data, rounded up as aligned_alloc requires.
  void* buffer =
      size > SIZE_MAX - 64 ? nullptr : std::aligned_alloc(64, (size_t(size) + 63) / 64 * 64);
  if (!buffer) {
    close(fd);
    return Status::error("'" + path + "': out of memory reading a " + std::to_string(size) +
                         "-byte model");
  }
  std::shared_ptr<const void> owner(buffer, [](const void* p) { std::free(const_cast<void*>(p)); });
  uint8_t* bytes = static_cast<uint8_t*>(buffer);
  uint64_t done = 0;
  while (done < size) {
    size_t chunk = size_t(std::min<uint64_t>(size - done, uint64_t(1) << 30));
    ssize_t got = pread(fd, bytes + done, chunk, off_t(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      int error = got < 0 ? errno : 0;
      close(fd);
      return Status::error("'" + path + "': " +
                           (got < 0 ? "read error: " + std::string(std::strerror(error))
                                    : "file shrank while being read (" + std::to_string(done) +
                                          " of " + std::to_string(size) + " bytes)"));
    }
    done += uint64_t(got);
  }
  close(fd);
  Status status = parse(bytes, size, owner, graph);
  if (!status.ok()) {
    *graph = Graph();
    return Status::error("'" + path + "': " + status.message());
  }
  return status;
}

Status format_load_memory(const void* data, size_t size, Graph* graph) {
  if (!data && size) return Status::error("null buffer");
  // Copy into 64-byte aligned storage so constant data is aligned like a mapped file.
  size_t rounded = (size + 63) / 64 * 64;
  void* copy = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!copy)
    return Status::error("out of memory copying a " + std::to_string(size) + "-byte model");
  if (size) std::memcpy(copy, data, size);
  std::shared_ptr<const void> owner(copy, [](const void* p) { std::free(const_cast<void*>(p)); });
  Status status = parse(static_cast<const uint8_t*>(copy), size, owner, graph);
  if (!status.ok()) *graph = Graph();
  return status;
}

}  // namespace atrous
