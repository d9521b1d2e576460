// `atrous info (MODEL | --arch NAME [--size HxW]) [--json] [--nodes]`: what a model holds.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "graph/format.h"
#include "models/builders.h"
#include "ops/graph_passes.h"
#include "ops/graph_rules.h"
#include "runtime/session.h"
#include "tools/cli_common.h"
#include "tools/json_writer.h"

namespace atrous {
namespace {

std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  int count = 0;
  for (size_t i = digits.size(); i-- > 0;) {
    out.insert(out.begin(), digits[i]);
    if (++count % 3 == 0 && i > 0 && digits[i - 1] != '-') out.insert(out.begin(), ',');
  }
  return out;
}

std::string json_attribute(const Attribute& a) {
  std::string out;
  switch (a.type) {
    case AttributeType::attribute_int:
      return std::to_string(a.i);
    case AttributeType::attribute_float:
      return json_number(a.f);
    case AttributeType::attribute_string:
      return json_quote(a.s);
    case AttributeType::attribute_ints:
      for (size_t i = 0; i < a.ints.size(); ++i) out += (i ? "," : "") + std::to_string(a.ints[i]);
      return "[" + out + "]";
    case AttributeType::attribute_floats:
      for (size_t i = 0; i < a.floats.size(); ++i) out += (i ? "," : "") + json_number(a.floats[i]);
      return "[" + out + "]";
    case AttributeType::attribute_strings:
      for (size_t i = 0; i < a.strings.size(); ++i)
        out += (i ? "," : "") + json_quote(a.strings[i]);
      return "[" + out + "]";
  }
  return "null";
}

std::string json_tensor_list(const Graph& graph, const std::vector<int32_t>& indices) {
  std::string out = "[";
  for (size_t i = 0; i < indices.size(); ++i) {
    const GraphTensor& t = graph.tensors[size_t(indices[i])];
    std::string shape;
    for (size_t d = 0; d < t.shape.size(); ++d)
      shape += (d ? "," : "") + std::to_string(t.shape[d]);
    out += std::string(i ? "," : "") + "{\"name\":" + json_quote(t.name) + ",\"dtype\":\"" +
           dtype_name(t.dtype) + "\",\"shape\":[" + shape + "]}";
  }
  return out + "]";
}

// Per node: op, attributes, and the shapes of its inputs (constants marked) and outputs; what
// tests/python/test_builders.py compares between a built architecture and a converted file.
std::string json_node_list(const Graph& graph) {
  auto shape_json = [&](int32_t index) {
    if (index < 0) return std::string("null");
    const GraphTensor& t = graph.tensors[size_t(index)];
    std::string out =
        "{\"constant\":" + std::string(t.is_constant ? "true" : "false") + ",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) out += (d ? "," : "") + std::to_string(t.shape[d]);
    return out + "]}";
  };
  std::string out = "[";
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    out += std::string(n ? "," : "") + "{\"op\":" + json_quote(op_type_name(node.op)) +
           ",\"attributes\":{";
    for (size_t i = 0; i < node.attributes.items().size(); ++i) {
      const Attribute& a = node.attributes.items()[i];
      out += std::string(i ? "," : "") + json_quote(a.name) + ":" + json_attribute(a);
    }
    out += "},\"inputs\":[";
    for (size_t i = 0; i < node.inputs.size(); ++i)
      out += (i ? "," : "") + shape_json(node.inputs[i]);
    out += "],\"outputs\":[";
    for (size_t i = 0; i < node.outputs.size(); ++i)
      out += (i ? "," : "") + shape_json(node.outputs[i]);
    out += "]}";
  }
  return out + "]";
}

void print_json(const Graph& graph, const GraphStatistics& stored, const Graph& optimized,
                const GraphStatistics& planned, bool nodes) {
  std::string out = "{\"inputs\":" + json_tensor_list(graph, graph.inputs) +
                    ",\"outputs\":" + json_tensor_list(graph, graph.outputs) + ",\"metadata\":{";
  for (size_t i = 0; i < graph.metadata.items().size(); ++i) {
    const Attribute& a = graph.metadata.items()[i];
    out += std::string(i ? "," : "") + json_quote(a.name) + ":" + json_attribute(a);
  }
  out += "},\"nodes\":" + std::to_string(graph.nodes.size()) +
         ",\"nodes_optimized\":" + std::to_string(optimized.nodes.size()) + ",\"op_counts\":{";
  for (size_t i = 0; i < stored.op_counts.size(); ++i)
    out += std::string(i ? "," : "") + json_quote(stored.op_counts[i].first) + ":" +
           std::to_string(stored.op_counts[i].second);
  out += "},\"op_counts_optimized\":{";
  for (size_t i = 0; i < planned.op_counts.size(); ++i)
    out += std::string(i ? "," : "") + json_quote(planned.op_counts[i].first) + ":" +
           std::to_string(planned.op_counts[i].second);
  out += "},\"parameters\":" + std::to_string(stored.parameters) +
         ",\"parameters_optimized\":" + std::to_string(planned.parameters) +
         ",\"multiply_adds\":" + std::to_string(stored.multiply_adds);
  if (nodes)
    out += ",\"node_list\":" + json_node_list(graph) +
           ",\"node_list_optimized\":" + json_node_list(optimized);
  out += "}";
  std::printf("%s\n", out.c_str());
}

void print_text(const std::string& path, const Graph& graph, const GraphStatistics& stored,
                const Graph& optimized, const GraphStatistics& planned) {
  std::printf("model: %s\n", path.c_str());
  std::printf("inputs:\n");
  for (int32_t index : graph.inputs) {
    const GraphTensor& t = graph.tensors[size_t(index)];
    std::printf("  %-24s %-8s %s\n", t.name.c_str(), dtype_name(t.dtype),
                shape_to_string(t.shape).c_str());
  }
  std::printf("outputs:\n");
  for (int32_t index : graph.outputs) {
    const GraphTensor& t = graph.tensors[size_t(index)];
    std::printf("  %-24s %-8s %s\n", t.name.c_str(), dtype_name(t.dtype),
                shape_to_string(t.shape).c_str());
  }
  std::printf("metadata:\n");
  if (graph.metadata.items().empty()) std::printf("  (none)\n");
  for (const Attribute& a : graph.metadata.items()) {
    std::string value = attribute_value_to_string(a);
    if (a.type == AttributeType::attribute_strings && a.strings.size() > 24) {
      Attribute head = a;
      head.strings.resize(24);
      value = attribute_value_to_string(head);
      value.insert(value.size() - 1, ",... (" + std::to_string(a.strings.size()) + " in all)");
    }
    std::printf("  %s = %s\n", a.name.c_str(), value.c_str());
  }
  std::printf(
      "nodes: %zu as stored, %zu after optimization (constant and BatchNorm folding, "
      "activation fusion)\n",
      graph.nodes.size(), optimized.nodes.size());
  std::printf("ops:");
  for (const auto& entry : stored.op_counts)
    std::printf(" %s×%d", entry.first.c_str(), entry.second);
  std::printf("\nops after optimization:");
  for (const auto& entry : planned.op_counts)
    std::printf(" %s×%d", entry.first.c_str(), entry.second);
  std::printf("\nparameters: %s (%.2f MB)\n", with_thousands(planned.parameters).c_str(),
              double(planned.parameter_bytes) / 1e6);
  std::printf("multiply-adds: %s (%.3f G)\n", with_thousands(stored.multiply_adds).c_str(),
              double(stored.multiply_adds) / 1e9);
}

}  // namespace

int command_info(Arguments& args) {
  std::string path, arch, size_text, seed_text;
  bool json = false, nodes = false;
  while (!args.empty()) {
    std::string arg = args.next();
    if (arg == "--json")
      json = true;
    else if (arg == "--nodes")
      nodes = true;
    else if (arg == "--arch" || arg == "--size" || arg == "--seed") {
      std::string* target = arg == "--arch" ? &arch : arg == "--size" ? &size_text : &seed_text;
      if (!args.next_value(target)) return cli_fail("info: " + arg + " needs a value", 2);
    } else if (!arg.empty() && arg[0] == '-')
      return cli_fail("info: unknown option '" + arg + "'", 2);
    else if (path.empty())
      path = arg;
    else
      return cli_fail("info: more than one model given", 2);
  }
  if (path.empty() == arch.empty())
    return cli_fail(
        "info: give one model (usage: atrous info (MODEL | --arch NAME [--size HxW]) "
        "[--json] [--nodes])",
        2);
  if (arch.empty() && (!size_text.empty() || !seed_text.empty()))
    return cli_fail("info: --size and --seed go with --arch", 2);
  std::shared_ptr<const Model> model;
  Status status;
  if (!arch.empty()) {
    int64_t height = 1025, width = 2049;
    long long seed = 0;
    if (!size_text.empty() && !parse_image_size(size_text, &height, &width))
      return cli_fail("info: --size wants HxW with positive integers, got '" + size_text + "'", 2);
    if (!seed_text.empty() && (!parse_int(seed_text, &seed) || seed < 0))
      return cli_fail("info: --seed wants a non-negative integer, got '" + seed_text + "'", 2);
    Graph graph;
    status = build_architecture(arch, height, width, uint64_t(seed), &graph);
    if (status.ok()) status = Model::from_graph(std::move(graph), &model);
    if (!status.ok()) return cli_fail("info: " + status.message());
    path = "--arch " + arch;
  } else {
    status = Model::load_file(path, &model);
    if (!status.ok()) return cli_fail(status.message());
  }
  Graph optimized = model->graph();
  status = graph_optimize(&optimized);
  if (!status.ok()) return cli_fail("'" + path + "': " + status.message());
  GraphStatistics stored = graph_statistics(model->graph());
  GraphStatistics planned = graph_statistics(optimized);
  if (json)
    print_json(model->graph(), stored, optimized, planned, nodes);
  else
    print_text(path, model->graph(), stored, optimized, planned);
  return 0;
}

}  // namespace atrous
