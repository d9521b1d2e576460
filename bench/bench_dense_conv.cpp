// Microbenchmark of the dense convolution kernels (implicit GEMM and direct) on the dense layers
// of ANCHORS.md: the 3-channel stem and the ASPP's dilated 3×3 convolutions, beside this
// core's FMA peak measured in the same run (bench/bench_limits.h). Compare the paths interleaved:
//   build/bench_dense_conv --benchmark_repetitions=5 --benchmark_enable_random_interleaving
//       --benchmark_report_aggregates_only
// GFLOP/s counts only the taps inside the image (2·M·C per in-image tap and output pixel);
// "all-taps GFLOP/s" counts every tap, padding included.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "bench/bench_limits.h"
#include "cpu/dense_conv.h"
#include "cpu/kernel_table.h"
#include "graph/tensor.h"
#include "ops/ops.h"

namespace {

using namespace atrous;

WindowAxis axis(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad) {
  WindowAxis a;
  a.input = input;
  a.kernel = kernel;
  a.stride = stride;
  a.dilation = dilation;
  a.pad_begin = a.pad_end = pad;
  a.output = (input + 2 * pad - a.extent()) / stride + 1;
  return a;
}

// Args: M, C, input H, input W, kernel, stride, dilation, pad, threads, path (0 GEMM, 1 direct,
// 2 row tiles, 3 Winograd F(2×2, 3×3), 4 tap GEMMs). GFLOP/s counts only in-image taps on every
// path (for Winograd too: the work the layer needs, not the work the path does).
void bench_dense_conv(benchmark::State& state) {
  const int64_t filters = state.range(0), channels = state.range(1);
  const int64_t kernel = state.range(4);
  const int threads = int(state.range(8));
  const DenseConvPath path = state.range(9) == 4   ? DenseConvPath::dense_conv_path_taps
                             : state.range(9) == 3 ? DenseConvPath::dense_conv_path_winograd
                             : state.range(9) == 2 ? DenseConvPath::dense_conv_path_rows
                             : state.range(9) == 1 ? DenseConvPath::dense_conv_path_direct
                                                   : DenseConvPath::dense_conv_path_gemm;
  const WindowAxis axes[2] = {
      axis(state.range(2), kernel, state.range(5), state.range(6), state.range(7)),
      axis(state.range(3), kernel, state.range(5), state.range(6), state.range(7))};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> w(size_t(filters * channels * kernel * kernel));
  // Activations and scratch 64-byte aligned, as a session's arena and scratch are (a large
  // std::vector starts 16 bytes into a page, which splits vector loads across cache lines).
  Tensor x(DType::dtype_f32, Shape{channels * axes[0].input * axes[1].input});
  Tensor y(DType::dtype_f32, Shape{filters * axes[0].output * axes[1].output});
  for (float& v : w) v = dist(rng);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = dist(rng);
  Activation relu;
  relu.kind = ActivationKind::activation_relu;
  DenseConvPlan plan;
  dense_conv_plan(w.data(), nullptr, filters, channels, axes, relu, cpu_kernel_table().isa, &plan,
                  path);
  ThreadPool pool(threads);
  state.counters["threads"] = threads;  // read by bench/kernel_efficiency.py
  Tensor scratch(DType::dtype_f32,
                 Shape{int64_t(dense_conv_shared_floats(plan) +
                               size_t(threads) * dense_conv_scratch_floats(plan))});
  for (auto _ : state) {
    dense_conv_run(plan, x.f32(), y.f32(), pool, scratch.f32(), threads);
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * double(filters) * double(channels * kernel * kernel) *
                       double(axes[0].output * axes[1].output);
  const double inside =
      2.0 * double(filters * channels) * double(axes[0].taps_inside() * axes[1].taps_inside());
  state.counters["GFLOP/s"] =
      benchmark::Counter(inside * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["all-taps GFLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(dense_conv_kernel_name(plan));
}

// Each layer on every path (the last argument; the row tiles for the few-channel stems).
void dense_conv_layers(benchmark::internal::Benchmark* b) {
  const std::vector<std::vector<int64_t>> layers = {
      // stem: 3×3 stride 2, 3→16, input 1025×2049 (Panoptic-DeepLab) and 224×224 (MobileNetV3)
      {16, 3, 1025, 2049, 3, 2, 1, 1, 1},
      {16, 3, 1025, 2049, 3, 2, 1, 1, 2},
      {16, 3, 224, 224, 3, 2, 1, 1, 1},
      // ResNet's stem: 7×7 stride 2, 3→64, input 512×1024 (DeepLabV3)
      {64, 3, 512, 1024, 7, 2, 1, 3, 1},
      // Panoptic-DeepLab's decoder 1×1, 288→256 @257×513, and the ASPP projection 1280→256
      // @33×65: pointwise layers (their family runs them on the GEMM), here on both paths.
      {256, 288, 257, 513, 1, 1, 1, 0, 1},
      {256, 1280, 33, 65, 1, 1, 1, 0, 1},
      // Panoptic-DeepLab's ASPP: 3×3 dilation 3, 6, 9, 960→256 @33×65
      {256, 960, 33, 65, 3, 1, 3, 3, 1},
      {256, 960, 33, 65, 3, 1, 6, 6, 1},
      {256, 960, 33, 65, 3, 1, 6, 6, 2},
      {256, 960, 33, 65, 3, 1, 9, 9, 1},
      {256, 960, 33, 65, 3, 1, 12, 12, 1},
      // ASPP: 3×3 dilation 12, 960→256 @65×129
      {256, 960, 65, 129, 3, 1, 12, 12, 1},
      {256, 960, 65, 129, 3, 1, 12, 12, 2},
      // DeepLabV3 at 512×1024 (OS16: a 32×64 map), rates 12, 24, 36, and its head's 3×3
      {256, 960, 32, 64, 3, 1, 12, 12, 1},
      {256, 960, 32, 64, 3, 1, 24, 24, 1},
      {256, 960, 32, 64, 3, 1, 36, 36, 1},
      {256, 960, 32, 64, 3, 1, 12, 12, 2},
      {256, 960, 32, 64, 3, 1, 24, 24, 2},
      {256, 960, 32, 64, 3, 1, 36, 36, 2},
      {256, 256, 32, 64, 3, 1, 1, 1, 1},
      // ResNet-50's bottleneck 3×3s at 512×1024: 64→64 @128×256 and the stride-2 128→128
      {64, 64, 128, 256, 3, 1, 1, 1, 1},
      {128, 128, 128, 256, 3, 2, 1, 1, 1},
  };
  for (const std::vector<int64_t>& layer : layers)
    for (int64_t path : {0, 1, 2, 3, 4}) {
      if (path == 2 && layer[1] > 4) continue;
      if (path == 3 && (layer[4] != 3 || layer[5] != 1)) continue;
      if (path == 4 && layer[5] != 1) continue;
      std::vector<int64_t> args = layer;
      args.push_back(path);
      b->Args(args);
    }
}

BENCHMARK(bench_dense_conv)->Apply(dense_conv_layers)->Unit(benchmark::kMillisecond)->UseRealTime();

// The reference conv (ops/conv.cpp, double accumulation, one thread) on the same layers: what
// these nodes ran on before this kernel family. Args: M, C, H, W, kernel, stride, dilation, pad.
void bench_reference_conv(benchmark::State& state) {
  const int64_t filters = state.range(0), channels = state.range(1), kernel = state.range(4);
  const int64_t stride = state.range(5), dilation = state.range(6), pad = state.range(7);
  const WindowAxis axes[2] = {axis(state.range(2), kernel, stride, dilation, pad),
                              axis(state.range(3), kernel, stride, dilation, pad)};
  Tensor x(DType::dtype_f32, {1, channels, axes[0].input, axes[1].input});
  Tensor w(DType::dtype_f32, {filters, channels, kernel, kernel});
  Tensor y(DType::dtype_f32, {1, filters, axes[0].output, axes[1].output});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = dist(rng);
  for (int64_t i = 0; i < w.numel(); ++i) w.f32()[i] = dist(rng);
  AttributeMap attributes;
  attributes.set_ints("strides", {stride, stride});
  attributes.set_ints("dilations", {dilation, dilation});
  attributes.set_ints("pads", {pad, pad, pad, pad});
  attributes.set_string("activation", "relu");
  for (auto _ : state) {
    Status status =
        op_run_reference(OpType::op_conv, attributes, {&x.view(), &w.view(), nullptr}, {&y.view()});
    if (!status.ok()) state.SkipWithError(status.message().c_str());
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * double(filters) * double(channels * kernel * kernel) *
                       double(axes[0].output * axes[1].output);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(bench_reference_conv)
    ->Args({16, 3, 1025, 2049, 3, 2, 1, 1})
    ->Args({256, 960, 33, 65, 3, 1, 6, 6})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

ATROUS_BENCH_LIMITS();

BENCHMARK_MAIN();
