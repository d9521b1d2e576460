// libFuzzer target for the .atrous loader (docs/FUZZING.md). Any input must load or be
// rejected; loaded graphs with small tensors are also optimized and run once.
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/graph_rules.h"
#include "runtime/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  atrous::Graph graph;
  if (!atrous::graph_load_memory(data, size, &graph).ok()) return 0;
  for (const atrous::GraphTensor& tensor : graph.tensors)
    if (atrous::shape_numel(tensor.shape) > (int64_t(1) << 16)) return 0;
  std::shared_ptr<const atrous::Model> model;
  if (!atrous::Model::from_graph(std::move(graph), &model).ok()) return 0;
  std::unique_ptr<atrous::Session> session;
  if (!atrous::Session::create(model, atrous::SessionOptions(), &session).ok()) return 0;
  const atrous::Graph& g = session->graph();
  std::vector<atrous::Tensor> inputs;
  inputs.reserve(g.inputs.size());
  std::vector<atrous::NamedInput> named;
  for (int32_t index : g.inputs) {
    inputs.emplace_back(g.tensors[size_t(index)].dtype, g.tensors[size_t(index)].shape);
    named.push_back({g.tensors[size_t(index)].name, &inputs.back().view()});
  }
  std::vector<atrous::Tensor> outputs;
  (void)session->run(named, &outputs);
  return 0;
}
