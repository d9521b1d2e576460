// The `.atrous` writer (docs/FORMAT.md): header, metadata, tensor table, graph, then the
// 64-byte aligned data section. Used by tests, the fuzz corpus and C++ model builders.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "graph/format.h"

namespace atrous {
namespace {

class ByteWriter {
 public:
  std::vector<uint8_t> bytes;

  void raw(const void* data, size_t size) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + size);
  }
  void u8(uint8_t v) { raw(&v, 1); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void f64(double v) { raw(&v, 8); }
  void string(const std::string& s) {
    u32(uint32_t(s.size()));
    raw(s.data(), s.size());
  }
  void pad_to(size_t alignment) {
    while (bytes.size() % alignment) bytes.push_back(0);
  }
};

void write_value(ByteWriter& w, const Attribute& a) {
  w.u8(uint8_t(a.type));
  switch (a.type) {
    case AttributeType::attribute_int:
      w.i64(a.i);
      break;
    case AttributeType::attribute_float:
      w.f64(a.f);
      break;
    case AttributeType::attribute_string:
      w.string(a.s);
      break;
    case AttributeType::attribute_ints:
      w.u32(uint32_t(a.ints.size()));
      for (int64_t v : a.ints) w.i64(v);
      break;
    case AttributeType::attribute_floats:
      w.u32(uint32_t(a.floats.size()));
      for (double v : a.floats) w.f64(v);
      break;
    case AttributeType::attribute_strings:
      w.u32(uint32_t(a.strings.size()));
      for (const std::string& v : a.strings) w.string(v);
      break;
  }
}

void write_key_values(ByteWriter& w, const AttributeMap& map) {
  w.u32(uint32_t(map.size()));
  for (const Attribute& a : map.items()) {
    w.string(a.name);
    write_value(w, a);
  }
}

void write_indices(ByteWriter& w, const std::vector<int32_t>& indices) {
  w.u32(uint32_t(indices.size()));
  for (int32_t index : indices) w.u32(index == kAbsentInput ? 0xFFFFFFFFu : uint32_t(index));
}

}  // namespace

std::vector<uint8_t> format_write_memory(const Graph& graph) {
  // Lay out the data section first so the tensor table can hold final offsets.
  std::vector<uint64_t> offsets(graph.tensors.size(), ~uint64_t(0));
  uint64_t data_size = 0;
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const GraphTensor& tensor = graph.tensors[t];
    if (!tensor.is_constant) continue;
    data_size = (data_size + kFormatAlignment - 1) / kFormatAlignment * kFormatAlignment;
    offsets[t] = data_size;
    data_size += uint64_t(shape_numel(tensor.shape)) * dtype_size(tensor.dtype);
  }

  ByteWriter metadata, tensors, graph_section;
  write_key_values(metadata, graph.metadata);
  tensors.u32(uint32_t(graph.tensors.size()));
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const GraphTensor& tensor = graph.tensors[t];
    tensors.string(tensor.name);
    tensors.u8(uint8_t(tensor.dtype));
    tensors.u8(uint8_t(tensor.shape.size()));
    for (int64_t dim : tensor.shape) tensors.i64(dim);
    tensors.u64(offsets[t]);
    tensors.u64(tensor.is_constant ? uint64_t(shape_numel(tensor.shape)) * dtype_size(tensor.dtype)
                                   : 0);
  }
  write_indices(graph_section, graph.inputs);
  write_indices(graph_section, graph.outputs);
  graph_section.u32(uint32_t(graph.nodes.size()));
  for (const Node& node : graph.nodes) {
    graph_section.string(op_type_name(node.op));
    graph_section.string(node.name);
    write_indices(graph_section, node.inputs);
    write_indices(graph_section, node.outputs);
    write_key_values(graph_section, node.attributes);
  }

  ByteWriter file;
  file.bytes.resize(kFormatHeaderSize, 0);
  uint64_t metadata_offset = file.bytes.size();
  file.raw(metadata.bytes.data(), metadata.bytes.size());
  uint64_t tensor_offset = file.bytes.size();
  file.raw(tensors.bytes.data(), tensors.bytes.size());
  uint64_t graph_offset = file.bytes.size();
  file.raw(graph_section.bytes.data(), graph_section.bytes.size());
  file.pad_to(kFormatAlignment);
  uint64_t data_offset = file.bytes.size();
  file.bytes.resize(size_t(data_offset + data_size), 0);
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const GraphTensor& tensor = graph.tensors[t];
    if (!tensor.is_constant) continue;
    size_t size = size_t(shape_numel(tensor.shape)) * dtype_size(tensor.dtype);
    if (size) std::memcpy(file.bytes.data() + data_offset + offsets[t], tensor.data, size);
  }

  ByteWriter header;
  const uint8_t magic[8] = {'A', 'T', 'R', 'O', 'U', 'S', 0, 0};
  header.raw(magic, 8);
  header.u32(kFormatVersionMajor);
  header.u32(kFormatVersionMinor);
  header.u64(file.bytes.size());
  header.u64(metadata_offset);
  header.u64(metadata.bytes.size());
  header.u64(tensor_offset);
  header.u64(tensors.bytes.size());
  header.u64(graph_offset);
  header.u64(graph_section.bytes.size());
  header.u64(data_offset);
  header.u64(data_size);
  std::memcpy(file.bytes.data(), header.bytes.data(), header.bytes.size());
  return std::move(file.bytes);
}

Status format_write_file(const Graph& graph, const std::string& path) {
  std::vector<uint8_t> bytes = format_write_memory(graph);
  std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (!file) return Status::error("cannot write '" + temporary + "'");
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  ok = (std::fclose(file) == 0) && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return Status::error("cannot write '" + path + "'");
  }
  return Status::success();
}

}  // namespace atrous
