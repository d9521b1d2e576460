// Microbenchmark of the depthwise convolution kernels on the depthwise layers of ANCHORS.md,
// made through the kernel factory as a session makes them (best ISA of this machine).
//   build/bench_depthwise --benchmark_min_time=0.5
// GB/s = (input + output + weights) bytes / time: these layers are memory bound, so compare
// against the copy bandwidth measured in the same run (bench/bench_limits.h).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "bench/bench_limits.h"
#include "cpu/cpu_kernel.h"
#include "cpu/depthwise_conv.h"
#include "cpu/kernel_table.h"
#include "ops/graph_rules.h"

namespace {

using namespace atrous;

Tensor random_tensor(const Shape& shape, std::mt19937& rng) {
  Tensor tensor(DType::dtype_f32, shape);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < tensor.numel(); ++i) tensor.f32()[i] = dist(rng);
  return tensor;
}

// Args: channels, input H, input W, kernel, stride, dilation H, dilation W, threads.
void bench_depthwise(benchmark::State& state) {
  const int64_t channels = state.range(0), height = state.range(1), width = state.range(2);
  const int64_t kernel = state.range(3), stride = state.range(4);
  const int64_t dilation_h = state.range(5), dilation_w = state.range(6);
  const int threads = int(state.range(7));
  std::mt19937 rng(1);
  Graph graph;
  int32_t input = graph.add_tensor("x", DType::dtype_f32, {1, channels, height, width});
  graph.inputs.push_back(input);
  int32_t weight = graph.add_constant("w", random_tensor({channels, 1, kernel, kernel}, rng));
  int32_t bias = graph.add_constant("b", random_tensor({channels}, rng));
  int32_t output = graph.add_tensor("y", DType::dtype_f32, {});
  Node node;
  node.op = OpType::op_conv;
  node.name = "dw";
  node.inputs = {input, weight, bias};
  node.outputs = {output};
  const int64_t pad_h = (kernel / 2) * dilation_h, pad_w = (kernel / 2) * dilation_w;
  node.attributes.set_int("group", channels);
  node.attributes.set_ints("strides", {stride, stride});
  node.attributes.set_ints("dilations", {dilation_h, dilation_w});
  node.attributes.set_ints("pads", {pad_h, pad_w, pad_h, pad_w});
  node.attributes.set_string("activation", "relu");
  graph.nodes.push_back(node);
  graph.outputs.push_back(output);
  if (!graph_infer_shapes(&graph).ok()) {
    state.SkipWithError("shape inference failed");
    return;
  }
  CpuKernelConfig config;
  config.isa = cpu_kernel_table().isa;
  config.threads = threads;
  CpuKernelPtr made = cpu_make_depthwise_kernel(graph, 0, config);
  if (!made) {
    state.SkipWithError("the depthwise factory refused the layer");
    return;
  }
  Tensor x = random_tensor({1, channels, height, width}, rng);
  Tensor y(DType::dtype_f32, graph.tensors[size_t(output)].shape);
  // 64-byte aligned, as a session's scratch is.
  Tensor scratch(DType::dtype_u8, Shape{int64_t(made->scratch_bytes() + 64)});
  ThreadPool pool(threads);
  state.counters["threads"] = threads;  // read by bench/kernel_efficiency.py
  for (auto _ : state) {
    Status status = made->run({&x.view()}, {&y.view()}, scratch.data(), pool);
    if (!status.ok()) state.SkipWithError(status.message().c_str());
    benchmark::DoNotOptimize(y.f32());
  }
  const double bytes = 4.0 * double(x.numel() + y.numel() + channels * kernel * kernel);
  state.counters["GB/s"] =
      benchmark::Counter(bytes * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(made->name());
}

// The depthwise rows of ANCHORS.md's single-layer table, 1 and 2 threads.
BENCHMARK(bench_depthwise)
    ->Args({72, 257, 513, 3, 1, 1, 1, 1})
    ->Args({72, 257, 513, 3, 1, 1, 1, 2})
    ->Args({672, 65, 129, 3, 1, 2, 2, 1})
    ->Args({672, 65, 129, 3, 1, 2, 2, 2})
    ->Args({256, 257, 513, 5, 1, 1, 1, 1})
    // Panoptic-DeepLab's stride-8 decoder depthwise (320 channels at 129×257).
    ->Args({320, 129, 257, 5, 1, 1, 1, 1})
    // The same kernels on planes that stay in L2: their compute rate without DRAM traffic.
    ->Args({256, 32, 64, 5, 1, 1, 1, 1})
    ->Args({4, 65, 513, 5, 1, 1, 1, 1})
    ->Args({4, 65, 513, 3, 1, 1, 1, 1})
    ->Args({256, 257, 513, 5, 1, 1, 1, 2})
    ->Args({64, 513, 1025, 3, 2, 1, 1, 1})
    ->Args({64, 513, 1025, 3, 2, 1, 1, 2})
    ->Args({256, 65, 129, 3, 1, 1, 6, 1})
    ->Args({256, 65, 129, 3, 1, 1, 6, 2})
    // MobileNetV3 at 224×224: small planes where borders are most of each row.
    ->Args({240, 14, 14, 5, 1, 1, 1, 1})
    ->Args({672, 14, 14, 3, 1, 1, 1, 1})
    ->Args({184, 14, 14, 3, 1, 1, 1, 1})
    ->Args({120, 28, 28, 5, 1, 1, 1, 1})
    ->Args({64, 56, 56, 3, 1, 1, 1, 1})
    ->Args({576, 7, 7, 5, 1, 1, 1, 1})
    ->Args({72, 56, 56, 3, 1, 1, 1, 1})
    ->Args({16, 112, 112, 3, 1, 1, 1, 1})
    ->Args({96, 28, 28, 5, 2, 1, 1, 1})
    // MobileNetV3-Large's stride-2 layers at 224×224.
    ->Args({64, 112, 112, 3, 2, 1, 1, 1})
    ->Args({72, 56, 56, 5, 2, 1, 1, 1})
    ->Args({72, 56, 56, 3, 2, 1, 1, 1})
    ->Args({240, 28, 28, 3, 2, 1, 1, 1})
    ->Args({672, 14, 14, 5, 2, 1, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

ATROUS_BENCH_LIMITS();

BENCHMARK_MAIN();
