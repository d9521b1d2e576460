// Microbenchmark of the pointwise (1×1) convolution kernels on the layer shapes of
// ANCHORS.md, next to the machine's FMA peak measured in the same run.
//   build/bench_pointwise --benchmark_min_time=0.5
// GFLOP/s = 2·M·C·pixels / time; the limits come from bench/bench_limits.h.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_limits.h"
#include "cpu/kernel_table.h"
#include "cpu/pointwise_conv.h"
#include "graph/tensor.h"

namespace {

using namespace atrous;

void bench_pointwise(benchmark::State& state) {
  const int64_t filters = state.range(0), channels = state.range(1);
  const int64_t pixels = state.range(2) * state.range(3);
  const int threads = int(state.range(4));
  // range(5): 1 takes the pixel tiles where pointwise_plan_pixel_tiles would; 2 runs the GEMM
  // on planes padded to a multiple of 16 floats (every row 64-byte aligned), a layout
  // measurement (docs/CPU.md), not a path of the runtime; 3 keeps the ISA's main GEMM tile
  // where the runtime takes its wide one (CpuKernelTable::gemm_wide), to compare the two.
  const bool pixel_tiles = state.range(5) == 1;
  const bool main_tile = state.range(5) == 3;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  // Activations and scratch 64-byte aligned, as a session's arena and scratch are (a
  // std::vector of this size starts 16 bytes into a page, which splits every vector load).
  std::vector<float> w(size_t(filters * channels));
  Tensor x(DType::dtype_f32, Shape{channels * pixels});
  Tensor y(DType::dtype_f32, Shape{filters * pixels});
  for (float& v : w) v = dist(rng);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = dist(rng);
  Activation relu;
  relu.kind = ActivationKind::activation_relu;
  PointwisePlan plan;
  pointwise_plan(w.data(), nullptr, filters, channels, relu, cpu_kernel_table().isa, &plan,
                 main_tile ? 0 : pixels);
  if (pixel_tiles && !pointwise_plan_pixel_tiles(&plan, pixels)) {
    state.SkipWithError("the pixel tiles do not take this layer");
    return;
  }
  ThreadPool pool(threads);
  state.counters["threads"] = threads;  // read by bench/kernel_efficiency.py
  Tensor scratch(DType::dtype_f32,
                 Shape{int64_t(threads) * int64_t(gemm_scratch_floats(plan.gemm.isa))});
  const bool padded = state.range(5) == 2;
  if (padded) {
    const int64_t pitch = (pixels + 15) / 16 * 16;
    Tensor xp(DType::dtype_f32, Shape{channels * pitch});
    Tensor yp(DType::dtype_f32, Shape{filters * pitch});
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < pixels; ++i) xp.f32()[c * pitch + i] = x.f32()[c * pixels + i];
    PointwisePacker packer(xp.f32(), pitch, false);
    for (auto _ : state) {
      gemm_run(plan.gemm, packer, pixels, yp.f32(), pitch, pool, scratch.f32(), threads);
      benchmark::DoNotOptimize(yp.data());
    }
  } else {
    for (auto _ : state) {
      pointwise_run(plan, x.f32(), pixels, y.f32(), pool, scratch.f32(), threads);
      benchmark::DoNotOptimize(y.data());
    }
  }
  const double flops = 2.0 * double(filters) * double(channels) * double(pixels);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(pixel_tiles ? plan.gemm.kernels->pixels_name
                 : padded ? std::string(plan.gemm.kernels->name) + " (planes padded to 16 floats)"
                          : plan.gemm.kernels->name);
}

// (M, C, H, W, threads, pixel tiles): ANCHORS.md's single-layer 1×1 table, the ASPP projection
// input size (960→256 @33×65) and a squeeze-excitation 1×1 on one pixel.
BENCHMARK(bench_pointwise)
    ->Args({40, 120, 257, 513, 1, 0})
    ->Args({40, 120, 257, 513, 2, 0})
    ->Args({240, 40, 129, 257, 1, 0})
    ->Args({240, 40, 129, 257, 2, 0})
    ->Args({256, 288, 257, 513, 1, 0})
    ->Args({256, 288, 257, 513, 1, 2})
    ->Args({240, 40, 129, 257, 1, 2})
    ->Args({40, 120, 257, 513, 1, 2})
    ->Args({256, 960, 33, 65, 1, 2})
    ->Args({256, 288, 257, 513, 2, 0})
    ->Args({256, 960, 33, 65, 1, 0})
    ->Args({256, 960, 33, 65, 2, 0})
    // The same 1×1 on images that stay in the caches (16×32: read in place; 32×64: packed).
    ->Args({256, 288, 16, 32, 1, 0})
    ->Args({256, 288, 32, 64, 1, 0})
    ->Args({64, 240, 1, 1, 1, 0})
    ->Args({64, 240, 1, 1, 2, 0})
    // MobileNetV3-Large at 224×224: expand and project 1×1s at 112², 56², 28², 14² and 7²
    // (16 input channels: the first blocks' 1×1s, whose K loop is short).
    ->Args({16, 16, 112, 112, 1, 0})
    ->Args({16, 16, 112, 112, 1, 3})
    ->Args({64, 16, 112, 112, 1, 0})
    ->Args({64, 16, 112, 112, 1, 3})
    ->Args({72, 24, 56, 56, 1, 0})
    ->Args({24, 72, 56, 56, 1, 0})
    ->Args({240, 40, 28, 28, 1, 0})
    ->Args({672, 112, 14, 14, 1, 0})
    ->Args({112, 672, 14, 14, 1, 0})
    ->Args({960, 160, 7, 7, 1, 0})
    ->Args({160, 960, 7, 7, 1, 0})
    // The same 14×14 and 7×7 layers and MobileNetV3-Small's on pixel tiles (cpu/gemm.h).
    ->Args({672, 112, 14, 14, 1, 1})
    ->Args({960, 160, 7, 7, 1, 1})
    ->Args({160, 960, 7, 7, 1, 1})
    ->Args({576, 96, 7, 7, 1, 0})
    ->Args({576, 96, 7, 7, 1, 1})
    ->Args({96, 576, 7, 7, 1, 0})
    ->Args({96, 576, 7, 7, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

ATROUS_BENCH_LIMITS();

BENCHMARK_MAIN();
