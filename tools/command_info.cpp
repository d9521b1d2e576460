// `atrous info (MODEL | --arch NAME [--size HxW]) [--json] [--nodes]`: what a model holds.
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "graph/format.h"
#include "graph/json_io.h"
#include "models/builders.h"
#include "ops/graph_passes.h"
#include "ops/graph_rules.h"
#include "runtime/session.h"
#include "tools/cli_common.h"

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

nlohmann::ordered_json json_attribute(const Attribute& a) {
  switch (a.type) {
    case AttributeType::attribute_int:
      return a.i;
    case AttributeType::attribute_float:
      return a.f;
    case AttributeType::attribute_string:
      return a.s;
    case AttributeType::attribute_ints:
      return a.ints;
    case AttributeType::attribute_floats:
      return a.floats;
    case AttributeType::attribute_strings:
      return a.strings;
  }
  return nullptr;
}

nlohmann::ordered_json json_tensor_list(const Graph& graph, const std::vector<int32_t>& indices) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (int32_t index : indices) {
    const GraphTensor& t = graph.tensors[size_t(index)];
    out.push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}});
  }
  return out;
}

// Per node: op, attributes, and the shapes of its inputs (constants marked) and outputs; what
// tests/python/test_builders.py compares between a built architecture and a converted file.
nlohmann::ordered_json json_node_list(const Graph& graph) {
  using nlohmann::ordered_json;
  auto shape_json = [&](int32_t index) -> ordered_json {
    if (index < 0) return nullptr;
    const GraphTensor& t = graph.tensors[size_t(index)];
    return {{"constant", t.is_constant}, {"shape", t.shape}};
  };
  ordered_json out = ordered_json::array();
  for (const Node& node : graph.nodes) {
    ordered_json attributes = ordered_json::object(), inputs = ordered_json::array(),
                 outputs = ordered_json::array();
    for (const Attribute& a : node.attributes.items()) attributes[a.name] = json_attribute(a);
    for (int32_t index : node.inputs) inputs.push_back(shape_json(index));
    for (int32_t index : node.outputs) outputs.push_back(shape_json(index));
    out.push_back({{"op", op_type_name(node.op)},
                   {"attributes", std::move(attributes)},
                   {"inputs", std::move(inputs)},
                   {"outputs", std::move(outputs)}});
  }
  return out;
}

void print_json(const Graph& graph, const GraphStatistics& stored, const Graph& optimized,
                const GraphStatistics& planned, bool nodes) {
  using nlohmann::ordered_json;
  ordered_json metadata = ordered_json::object(), op_counts = ordered_json::object(),
               op_counts_optimized = ordered_json::object();
  for (const Attribute& a : graph.metadata.items()) metadata[a.name] = json_attribute(a);
  for (const auto& entry : stored.op_counts) op_counts[entry.first] = entry.second;
  for (const auto& entry : planned.op_counts) op_counts_optimized[entry.first] = entry.second;
  ordered_json out = {{"inputs", json_tensor_list(graph, graph.inputs)},
                      {"outputs", json_tensor_list(graph, graph.outputs)},
                      {"metadata", std::move(metadata)},
                      {"nodes", graph.nodes.size()},
                      {"nodes_optimized", optimized.nodes.size()},
                      {"op_counts", std::move(op_counts)},
                      {"op_counts_optimized", std::move(op_counts_optimized)},
                      {"parameters", stored.parameters},
                      {"parameters_optimized", planned.parameters},
                      {"multiply_adds", stored.multiply_adds}};
  if (nodes) {
    out["node_list"] = json_node_list(graph);
    out["node_list_optimized"] = json_node_list(optimized);
  }
  std::printf("%s\n", json_dump(out).c_str());
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

struct InfoArguments {
  std::string path, arch, size_text, seed_text;
  bool json = false, nodes = false;
};

int run_info(InfoArguments a) {
  std::string& path = a.path;
  const std::string &arch = a.arch, &size_text = a.size_text, &seed_text = a.seed_text;
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
  if (a.json)
    print_json(model->graph(), stored, optimized, planned, a.nodes);
  else
    print_text(path, model->graph(), stored, optimized, planned);
  return 0;
}

}  // namespace

CommandRunner add_command_info(CLI::App& app) {
  auto a = std::make_shared<InfoArguments>();
  CLI::App* cmd = app.add_subcommand(
      "info", "Inputs, outputs, metadata, op counts, parameters and multiply-adds of a model");
  cmd->add_option("MODEL", a->path, "a .atrous model file")->type_name("FILE");
  cmd->add_option("--arch", a->arch, "a built-in architecture instead of a file (see bench)")
      ->type_name("NAME");
  cmd->add_option("--size", a->size_text, "input size of --arch (default 1025x2049)")
      ->type_name("HxW");
  cmd->add_option("--seed", a->seed_text, "weights seed of --arch (default 0)")->type_name("N");
  cmd->add_flag("--json", a->json, "print one JSON object instead of text");
  cmd->add_flag("--nodes", a->nodes, "with --json: add the node lists (as stored and optimized)");
  return [a] { return run_info(*a); };
}

}  // namespace atrous
