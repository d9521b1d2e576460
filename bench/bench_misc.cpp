// Microbenchmark of the non-convolution CPU kernels (resize, elementwise, concat, argmax) on
// Panoptic-DeepLab / MobileNetV3 shapes, through the same factories the session uses.
//   build/bench_misc --benchmark_min_time=0.2
// Arguments: threads, and 1 to time the reference implementation of ops/ instead (one thread).
// GB/s = (bytes read + bytes written) / time, counting each input and output once.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "ops/ops.h"

namespace {

using namespace atrous;

struct Setup {
  Graph graph;
  std::vector<Tensor> inputs;
  Tensor output;
  CpuKernelPtr kernel;
};

// A one-node graph with random float inputs (int32 zeros where dtypes say so), and the kernel.
void prepare(OpType op, const AttributeMap& attributes, const std::vector<Shape>& shapes,
             Setup* setup) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<TensorDesc> descs;
  std::vector<int32_t> indices;
  for (size_t i = 0; i < shapes.size(); ++i) {
    descs.push_back(TensorDesc{DType::dtype_f32, shapes[i]});
    indices.push_back(
        setup->graph.add_tensor("x" + std::to_string(i), DType::dtype_f32, shapes[i]));
    Tensor t(DType::dtype_f32, shapes[i]);
    for (int64_t k = 0; k < t.numel(); ++k) t.f32()[k] = dist(rng);
    setup->inputs.push_back(std::move(t));
  }
  std::vector<const TensorDesc*> pointers;
  for (const TensorDesc& d : descs) pointers.push_back(&d);
  std::vector<TensorDesc> outputs;
  if (!op_infer(op, attributes, pointers, &outputs).ok()) return;
  const int32_t out = setup->graph.add_tensor("y", outputs[0].dtype, outputs[0].shape);
  Node node;
  node.op = op;
  node.inputs = indices;
  node.outputs = {out};
  node.attributes = attributes;
  setup->graph.nodes.push_back(node);
  setup->output = Tensor(outputs[0].dtype, outputs[0].shape);
  CpuKernelConfig config;
  config.isa = cpu_kernel_table().isa;
  setup->kernel = cpu_make_kernel(setup->graph, 0, config);
}

void run(benchmark::State& state, Setup& setup) {
  if (!setup.kernel) {
    state.SkipWithError("no kernel for this node");
    return;
  }
  ThreadPool pool(int(state.range(0)));
  std::vector<const TensorView*> inputs;
  double bytes = double(setup.output.byte_size());
  for (const Tensor& t : setup.inputs) {
    inputs.push_back(&t.view());
    bytes += double(t.byte_size());
  }
  const Node& node = setup.graph.nodes[0];
  const bool reference = state.range(1) != 0;
  for (auto _ : state) {
    if (reference)
      op_run_reference(node.op, node.attributes, inputs, {&setup.output.view()});
    else
      setup.kernel->run(inputs, {&setup.output.view()}, nullptr, pool);
    benchmark::DoNotOptimize(setup.output.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(bytes * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(reference ? std::string("reference") : std::string(setup.kernel->name()));
}

void bench_resize(benchmark::State& state, Shape input, int64_t out_h, int64_t out_w) {
  AttributeMap attributes;
  attributes.set_ints("sizes", {out_h, out_w});
  attributes.set_string("coordinate_mode", "align_corners");
  Setup setup;
  prepare(OpType::op_resize, attributes, {input}, &setup);
  run(state, setup);
}

void bench_resize_semantic(benchmark::State& state) {
  bench_resize(state, {1, 19, 257, 513}, 1025, 2049);
}
void bench_resize_decoder(benchmark::State& state) {
  bench_resize(state, {1, 256, 33, 65}, 129, 257);
}

void bench_hard_swish(benchmark::State& state) {
  Setup setup;
  prepare(OpType::op_hard_swish, AttributeMap(), {{1, 16, 513, 1025}}, &setup);
  run(state, setup);
}

void bench_se_scale(benchmark::State& state) {
  Setup setup;
  prepare(OpType::op_mul, AttributeMap(), {{1, 240, 65, 129}, {1, 240, 1, 1}}, &setup);
  run(state, setup);
}

// The ASPP concat: five 256-channel branches at 1/16 of 1025×2049.
void bench_concat(benchmark::State& state) {
  AttributeMap attributes;
  attributes.set_int("axis", 1);
  Setup setup;
  const Shape branch = {1, 256, 65, 129};
  prepare(OpType::op_concat, attributes, {branch, branch, branch, branch, branch}, &setup);
  run(state, setup);
}

void bench_argmax(benchmark::State& state) {
  AttributeMap attributes;
  attributes.set_int("axis", 1);
  Setup setup;
  prepare(OpType::op_argmax, attributes, {{1, 19, 1025, 2049}}, &setup);
  run(state, setup);
}

BENCHMARK(bench_resize_semantic)
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bench_resize_decoder)
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bench_hard_swish)
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bench_se_scale)
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bench_concat)
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bench_argmax)
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
