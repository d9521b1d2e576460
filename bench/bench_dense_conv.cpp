// Microbenchmark of the dense (implicit-GEMM) convolution kernel on the dense layers of
// ANCHORS.md: the 3-channel stem and the ASPP's dilated 3×3 convolutions.
//   build/bench_dense_conv --benchmark_min_time=0.2
// GFLOP/s = 2·M·C·kH·kW·oH·oW / time, padding taps included (they are computed as zeros).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "cpu/dense_conv.h"
#include "cpu/kernel_table.h"
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

// Args: M, C, input H, input W, kernel, stride, dilation, pad, threads.
void bench_dense_conv(benchmark::State& state) {
  const int64_t filters = state.range(0), channels = state.range(1);
  const int64_t kernel = state.range(4);
  const int threads = int(state.range(8));
  const WindowAxis axes[2] = {
      axis(state.range(2), kernel, state.range(5), state.range(6), state.range(7)),
      axis(state.range(3), kernel, state.range(5), state.range(6), state.range(7))};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> w(size_t(filters * channels * kernel * kernel));
  std::vector<float> x(size_t(channels * axes[0].input * axes[1].input));
  std::vector<float> y(size_t(filters * axes[0].output * axes[1].output));
  for (float& v : w) v = dist(rng);
  for (float& v : x) v = dist(rng);
  Activation relu;
  relu.kind = ActivationKind::activation_relu;
  DenseConvPlan plan;
  dense_conv_plan(w.data(), nullptr, filters, channels, axes, relu, cpu_kernel_table().isa, &plan);
  ThreadPool pool(threads);
  std::vector<float> scratch(size_t(threads) * gemm_scratch_floats(plan.gemm.isa));
  for (auto _ : state) {
    dense_conv_run(plan, x.data(), y.data(), pool, scratch.data(), threads);
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * double(filters) * double(channels * kernel * kernel) *
                       double(axes[0].output * axes[1].output);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(plan.gemm.kernels->name);
}

BENCHMARK(bench_dense_conv)
    // stem: 3×3 stride 2, 3→16, input 1025×2049
    ->Args({16, 3, 1025, 2049, 3, 2, 1, 1, 1})
    ->Args({16, 3, 1025, 2049, 3, 2, 1, 1, 2})
    // ASPP: 3×3 dilation 6, 960→256 @33×65
    ->Args({256, 960, 33, 65, 3, 1, 6, 6, 1})
    ->Args({256, 960, 33, 65, 3, 1, 6, 6, 2})
    // ASPP: 3×3 dilation 12, 960→256 @65×129
    ->Args({256, 960, 65, 129, 3, 1, 12, 12, 1})
    ->Args({256, 960, 65, 129, 3, 1, 12, 12, 2})
    // Panoptic-DeepLab's rate 9 and DeepLabV3's rate 12 at 512×1024 (OS16: a 32×64 map).
    ->Args({256, 960, 33, 65, 3, 1, 9, 9, 1})
    ->Args({256, 960, 32, 64, 3, 1, 12, 12, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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

BENCHMARK_MAIN();
