// Planning time against node count: memory_plan alone and the whole Session::create (graph
// passes, CPU kernel preparation, planning) on two synthetic graphs of tiny tensors:
//  * chain:    relu → sigmoid → relu → ... on [1, 8, 4, 4];
//  * branches: blocks of y = relu(x); concat(sigmoid(y), tanh(y), y) → conv 1×1 back to 8
//              channels, so a third of the nodes are concats whose inputs alias their slices.
// Usage: bench_planner [NODES...] (default 1000 10000 100000 200000).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/memory_planner.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"

namespace {

using namespace atrous;

using testing::add_node;

Graph chain_graph(size_t nodes) {
  Graph graph;
  int32_t x = graph.add_tensor("x", DType::dtype_f32, {1, 8, 4, 4});
  graph.inputs = {x};
  for (size_t n = 0; n < nodes; ++n) {
    const int32_t y = graph.add_tensor("t" + std::to_string(n), DType::dtype_f32, {});
    add_node(graph, n % 2 ? OpType::op_sigmoid : OpType::op_relu, {x}, {y});
    x = y;
  }
  graph.outputs = {x};
  return graph;
}

Graph branch_graph(size_t nodes) {
  Graph graph;
  int32_t x = graph.add_tensor("x", DType::dtype_f32, {1, 8, 4, 4});
  graph.inputs = {x};
  Tensor weight(DType::dtype_f32, {8, 24, 1, 1});
  for (int64_t i = 0; i < weight.numel(); ++i) weight.f32()[i] = float(i % 7) * 0.01f;
  const int32_t w = graph.add_constant("w", std::move(weight));
  AttributeMap axis1;
  axis1.set_int("axis", 1);
  for (size_t block = 0; graph.nodes.size() + 5 <= nodes; ++block) {
    const std::string b = std::to_string(block);
    auto fresh = [&](const char* what) { return graph.add_tensor(what + b, DType::dtype_f32, {}); };
    const int32_t y = fresh("y"), s = fresh("s"), t = fresh("t"), c = fresh("c"), z = fresh("z");
    add_node(graph, OpType::op_relu, {x}, {y});
    add_node(graph, OpType::op_sigmoid, {y}, {s});
    add_node(graph, OpType::op_tanh, {y}, {t});
    add_node(graph, OpType::op_concat, {s, t, y}, {c}, axis1);
    add_node(graph, OpType::op_conv, {c, w}, {z});
    x = z;
  }
  graph.outputs = {x};
  return graph;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> counts = {1000, 10000, 100000, 200000};
  if (argc > 1) {
    counts.clear();
    for (int i = 1; i < argc; ++i) counts.push_back(size_t(std::strtoull(argv[i], nullptr, 10)));
  }
  std::printf("%-9s %8s %12s %12s %14s %12s\n", "graph", "nodes", "model (s)", "plan (s)",
              "session (s)", "arena (B)");
  for (const char* kind : {"chain", "branches"}) {
    for (size_t count : counts) {
      Graph graph = std::string(kind) == "chain" ? chain_graph(count) : branch_graph(count);
      const size_t nodes = graph.nodes.size();
      auto start = std::chrono::steady_clock::now();
      std::shared_ptr<const Model> model;
      Status status = Model::from_graph(std::move(graph), &model);  // validation, shapes
      const double model_seconds = seconds_since(start);
      if (!status.ok()) {
        std::fprintf(stderr, "bench_planner: %s\n", status.message().c_str());
        return 1;
      }
      MemoryPlanOptions options;
      options.in_place.assign(nodes, true);
      MemoryPlan plan;
      start = std::chrono::steady_clock::now();
      status = memory_plan(model->graph(), options, &plan);
      const double plan_seconds = seconds_since(start);
      SessionOptions session_options;
      session_options.backend = Backend::backend_cpu;
      std::unique_ptr<Session> session;
      start = std::chrono::steady_clock::now();
      if (status.ok()) status = Session::create(model, session_options, &session);
      const double session_seconds = seconds_since(start);
      if (!status.ok()) {
        std::fprintf(stderr, "bench_planner: %s\n", status.message().c_str());
        return 1;
      }
      std::printf("%-9s %8zu %12.4f %12.4f %14.4f %12zu\n", kind, nodes, model_seconds,
                  plan_seconds, session_seconds, session->arena_bytes());
      std::fflush(stdout);
    }
  }
  return 0;
}
