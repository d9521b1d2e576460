// The fixed cost per node of Session::run: chains of tiny nodes on [1, 8, 4, 4] (128 floats,
// a few nanoseconds of arithmetic), so the time per node is what the session and the kernel
// call cost around the work. Two chains: unary (relu after relu) and binary (each
// node adds the graph input to the previous result, so the input is patched into every node).
// The graph is not optimized, so every node runs. Reported: time per node (the counter
// "per_node") at 1 and 2 threads.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"

namespace {

using namespace atrous;

Graph chain_graph(int64_t nodes, bool binary) {
  Graph graph;
  const int32_t input = graph.add_tensor("x", DType::dtype_f32, {1, 8, 4, 4});
  graph.inputs = {input};
  int32_t x = input;
  for (int64_t n = 0; n < nodes; ++n) {
    const int32_t y = graph.add_tensor("t" + std::to_string(n), DType::dtype_f32, {});
    if (binary)
      testing::add_node(graph, OpType::op_add, {x, input}, {y});
    else
      testing::add_node(graph, OpType::op_relu, {x}, {y});
    x = y;
  }
  graph.outputs = {x};
  return graph;
}

void run_chain(benchmark::State& state, bool binary) {
  const int64_t nodes = state.range(0);
  std::shared_ptr<const Model> model;
  if (!Model::from_graph(chain_graph(nodes, binary), &model).ok()) {
    state.SkipWithError("graph");
    return;
  }
  SessionOptions options;
  options.backend = Backend::backend_cpu;
  options.threads = int(state.range(1));
  options.optimize = false;
  std::unique_ptr<Session> session;
  if (!Session::create(model, options, &session).ok()) {
    state.SkipWithError("session");
    return;
  }
  Tensor x(DType::dtype_f32, {1, 8, 4, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = float(i % 13) * 0.1f - 0.6f;
  const std::vector<NamedInput> inputs = {{"x", &x.view()}};
  std::vector<Tensor> outputs;
  for (auto _ : state) {
    if (!session->run(inputs, &outputs).ok()) {
      state.SkipWithError("run");
      return;
    }
    benchmark::DoNotOptimize(outputs.data());
  }
  state.counters["per_node"] =
      benchmark::Counter(double(state.iterations()) * double(nodes),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_unary_chain(benchmark::State& state) { run_chain(state, false); }
void BM_binary_chain(benchmark::State& state) { run_chain(state, true); }

BENCHMARK(BM_unary_chain)->ArgsProduct({{100, 1000}, {1, 2}})->ArgNames({"nodes", "threads"});
BENCHMARK(BM_binary_chain)->ArgsProduct({{100, 1000}, {1, 2}})->ArgNames({"nodes", "threads"});

}  // namespace

BENCHMARK_MAIN();
