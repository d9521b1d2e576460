// Microbenchmark of the fused inverted-residual blocks (cpu/fused_block.h) against the same
// nodes run one by one, both made through the kernel factories as a session makes them (best
// ISA of this machine), at the high-resolution blocks of Panoptic-DeepLab MobileNetV3-Large at
// 1025×2049 and of MobileNetV3-Large at 224×224.
//   build/bench_fused_block --benchmark_min_time=0.5
// GFLOP/s counts the block's multiply-adds (×2) of all nodes, so the two modes compare directly;
// the machine's limits (FMA peak, copy bandwidth) are measured in the same run
// (bench/bench_limits.h).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_limits.h"
#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "ops/graph_rules.h"

namespace {

using namespace atrous;

Tensor random_tensor(const Shape& shape, std::mt19937& rng, float scale) {
  Tensor tensor(DType::dtype_f32, shape);
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (int64_t i = 0; i < tensor.numel(); ++i) tensor.f32()[i] = dist(rng);
  return tensor;
}

void add_conv(Graph& graph, int32_t input, int32_t output, const Shape& weight, int64_t group,
              int64_t stride, int64_t pad, const char* activation, std::mt19937& rng,
              int64_t dilation = 1) {
  Node node;
  node.op = OpType::op_conv;
  node.name = "conv" + std::to_string(graph.nodes.size());
  node.inputs = {input, graph.add_constant(node.name + ".w", random_tensor(weight, rng, 0.3f)),
                 graph.add_constant(node.name + ".b", random_tensor({weight[0]}, rng, 0.1f))};
  node.outputs = {output};
  node.attributes.set_int("group", group);
  node.attributes.set_ints("strides", {stride, stride});
  node.attributes.set_ints("pads", {pad, pad, pad, pad});
  node.attributes.set_ints("dilations", {dilation, dilation});
  node.attributes.set_string("activation", activation);
  graph.nodes.push_back(node);
}

// Args: C, E, M (0: no projection), H, W, kernel, stride, hard-swish (else ReLU), residual,
// threads, fused, dilation.
void bench_fused_block(benchmark::State& state) {
  const int64_t channels = state.range(0), expanded = state.range(1), out_channels = state.range(2);
  const int64_t height = state.range(3), width = state.range(4);
  const int64_t kernel = state.range(5), stride = state.range(6);
  const char* act = state.range(7) ? "hard_swish" : "relu";
  const bool residual = state.range(8) != 0;
  const int threads = int(state.range(9));
  const bool fused = state.range(10) != 0;
  const int64_t dilation = state.range(11);
  std::mt19937 rng(1);
  Graph graph;
  int32_t x = graph.add_tensor("x", DType::dtype_f32, {1, channels, height, width});
  graph.inputs = {x};
  int32_t e = graph.add_tensor("e", DType::dtype_f32, {});
  int32_t d = graph.add_tensor("d", DType::dtype_f32, {});
  int32_t p = graph.add_tensor("p", DType::dtype_f32, {});
  add_conv(graph, x, e, {expanded, channels, 1, 1}, 1, 1, 0, act, rng);
  add_conv(graph, e, d, {expanded, 1, kernel, kernel}, expanded, stride, dilation * (kernel / 2),
           act, rng, dilation);
  // M = 0: a squeeze-excitation block, fused up to the depthwise.
  if (out_channels > 0) add_conv(graph, d, p, {out_channels, expanded, 1, 1}, 1, 1, 0, "none", rng);
  int32_t y = out_channels > 0 ? p : d;
  if (residual) {
    y = graph.add_tensor("y", DType::dtype_f32, {});
    Node add;
    add.op = OpType::op_add;
    add.name = "add";
    add.inputs = {p, x};
    add.outputs = {y};
    graph.nodes.push_back(add);
  }
  graph.outputs = {y};
  if (!graph_infer_shapes(&graph).ok()) {
    state.SkipWithError("shape inference failed");
    return;
  }
  CpuKernelConfig config;
  config.isa = cpu_kernel_table().isa;
  config.threads = threads;
  std::vector<CpuKernelPtr> kernels;
  std::string label;
  if (fused) {
    CpuFusedKernel made;
    if (!cpu_make_fused_kernel(graph, 0, config, &made)) {
      state.SkipWithError("the block is not fused at this size");
      return;
    }
    label = made.kernel->name();
    kernels.push_back(std::move(made.kernel));
  } else {
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      kernels.push_back(cpu_make_kernel(graph, n, config));
      if (!kernels.back()) {
        state.SkipWithError("a node has no CPU kernel");
        return;
      }
      label += (label.empty() ? "" : " + ") + std::string(kernels.back()->name());
    }
  }
  std::vector<Tensor> tensors;
  for (const GraphTensor& t : graph.tensors)
    tensors.emplace_back(t.is_constant ? Tensor(t.dtype, {0}) : Tensor(t.dtype, t.shape));
  tensors[size_t(x)] = random_tensor(graph.tensors[size_t(x)].shape, rng, 1.f);
  size_t scratch_bytes = 0;
  for (const CpuKernelPtr& k : kernels) scratch_bytes = std::max(scratch_bytes, k->scratch_bytes());
  // 64-byte aligned, as a session's scratch is (a large std::vector starts 16 bytes into a
  // page, which splits vector loads and stores across cache lines).
  Tensor scratch(DType::dtype_u8, Shape{int64_t(scratch_bytes + 64)});
  ThreadPool pool(threads);
  state.counters["threads"] = threads;  // read by bench/kernel_efficiency.py
  std::vector<TensorView> views(graph.tensors.size());
  for (size_t t = 0; t < graph.tensors.size(); ++t)
    views[t] = graph.tensors[t].is_constant ? graph.constant_view(int32_t(t)) : tensors[t].view();
  std::vector<std::vector<const TensorView*>> inputs;
  std::vector<std::vector<TensorView*>> outputs;
  for (size_t n = 0; n < (fused ? 1 : graph.nodes.size()); ++n) {
    inputs.emplace_back();
    if (fused) {
      inputs.back().push_back(&views[size_t(x)]);
      outputs.push_back({&views[size_t(y)]});
      continue;
    }
    for (int32_t t : graph.nodes[n].inputs) inputs.back().push_back(&views[size_t(t)]);
    outputs.push_back({&views[size_t(graph.nodes[n].outputs[0])]});
  }
  for (auto _ : state) {
    for (size_t k = 0; k < kernels.size(); ++k) {
      Status status = kernels[k]->run(inputs[k], outputs[k], scratch.data(), pool);
      if (!status.ok()) state.SkipWithError(status.message().c_str());
    }
    benchmark::DoNotOptimize(tensors[size_t(y)].data());
  }
  const Shape& ds = graph.tensors[size_t(d)].shape;
  const double flops = 2.0 * (double(channels * expanded * height * width) +
                              double(expanded * kernel * kernel * ds[2] * ds[3]) +
                              double(expanded * out_channels * ds[2] * ds[3]));
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(label);
}

void block_args(benchmark::internal::Benchmark* b) {
  // Panoptic-DeepLab MobileNetV3-Large at 1025×2049, then MobileNetV3-Large at 224×224.
  const std::vector<std::vector<int64_t>> blocks = {
      {16, 64, 24, 513, 1025, 3, 2, 0, 0},
      {24, 72, 24, 257, 513, 3, 1, 0, 1},
      {40, 240, 80, 129, 257, 3, 2, 1, 0},
      {80, 200, 80, 65, 129, 3, 1, 1, 1},
      {80, 184, 80, 65, 129, 3, 1, 1, 1},
      {16, 64, 24, 112, 112, 3, 2, 0, 0},
      // Squeeze-excitation blocks (expand → depthwise fused, SE and projection not).
      {24, 72, 0, 257, 513, 5, 2, 0, 0},
      {40, 120, 0, 129, 257, 5, 1, 0, 0},
      // Wide SE blocks of MobileNetV3-Large at 65×129 and 33×65 (the last two run unfused:
      // fused, they were slower).
      {80, 480, 0, 65, 129, 3, 1, 1, 0},
      {112, 672, 0, 65, 129, 5, 1, 1, 0},
      {160, 960, 0, 33, 65, 5, 1, 1, 0},
      // LR-ASPP's dilated 960-channel block at 1024×2048 (over the scratch budget: unfused; with
      // the budget raised to 8 MiB, fused was slower).
      {160, 960, 0, 65, 129, 5, 1, 1, 0, 2},
  };
  for (const std::vector<int64_t>& block : blocks)
    for (int64_t threads : {1, 2})
      for (int64_t fused : {0, 1}) {
        std::vector<int64_t> args(block.begin(), block.begin() + 9);
        args.push_back(threads);
        args.push_back(fused);
        args.push_back(block.size() > 9 ? block[9] : 1);
        b->Args(args);
      }
}

BENCHMARK(bench_fused_block)->Apply(block_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

ATROUS_BENCH_LIMITS();

BENCHMARK_MAIN();
