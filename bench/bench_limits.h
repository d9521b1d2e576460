// The machine's limits, measured in the same run as the kernels they judge: each kernel
// microbenchmark includes this header, so its output carries
//  * limits_fma_peak: one core's FMA throughput on the ISA the kernels run (cpu_isa_detect():
//    AVX-512 zmm, AVX2 ymm, NEON q registers, or scalar), 24 independent accumulator chains, so
//    neither the FMA latency nor a load limits it; GFLOP/s = 2 per lane per FMA;
//  * limits_copy/<MiB>: one-thread memcpy bandwidth, read + write bytes, on a buffer of the
//    given size (a layer's tensor, mostly in the last-level cache, and one far larger than it).
// The loops are written with intrinsics under per-function target attributes, since the bench
// files are compiled without -m flags (a vector extension loop would measure SSE here), and
// fully unrolled so the accumulators stay in registers (checked in the disassembly: rolled, GCC
// kept them in memory and measured a fifth of the peak).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace atrous_bench {

constexpr int kLimitChains = 24;

// Runs `iterations` rounds of kLimitChains independent FMAs; returns the FMAs issued per lane.
#if defined(__x86_64__)
__attribute__((target("avx512f,fma"), noinline)) inline float fma_loop_avx512(int64_t iterations) {
  __m512 acc[kLimitChains];
  for (int i = 0; i < kLimitChains; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 scale = _mm512_set1_ps(0.99999f), add = _mm512_set1_ps(1e-7f);
  for (int64_t n = 0; n < iterations; ++n)
#pragma GCC unroll 24
    for (int i = 0; i < kLimitChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], scale, add);
  __m512 sum = acc[0];
  for (int i = 1; i < kLimitChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}
__attribute__((target("avx2,fma"), noinline)) inline float fma_loop_avx2(int64_t iterations) {
  // 16 ymm registers: 12 chains (two FMA ports × latency 4-5 need at most 10).
  constexpr int chains = 12;
  __m256 acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 scale = _mm256_set1_ps(0.99999f), add = _mm256_set1_ps(1e-7f);
  for (int64_t n = 0; n < iterations * kLimitChains / chains; ++n)
#pragma GCC unroll 12
    for (int i = 0; i < chains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], scale, add);
  __m256 sum = acc[0];
  for (int i = 1; i < chains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  return lanes[0] + lanes[7];
}
#elif defined(__aarch64__)
__attribute__((noinline)) inline float fma_loop_neon(int64_t iterations) {
  float32x4_t acc[kLimitChains];
  for (int i = 0; i < kLimitChains; ++i) acc[i] = vdupq_n_f32(float(i) * 1e-3f);
  const float32x4_t scale = vdupq_n_f32(0.99999f), add = vdupq_n_f32(1e-7f);
  for (int64_t n = 0; n < iterations; ++n)
#pragma GCC unroll 24
    for (int i = 0; i < kLimitChains; ++i) acc[i] = vfmaq_f32(add, acc[i], scale);
  float32x4_t sum = acc[0];
  for (int i = 1; i < kLimitChains; ++i) sum = vaddq_f32(sum, acc[i]);
  return vaddvq_f32(sum);
}
#endif
__attribute__((noinline)) inline float fma_loop_scalar(int64_t iterations) {
  float acc[kLimitChains];
  for (int i = 0; i < kLimitChains; ++i) acc[i] = float(i) * 1e-3f;
  for (int64_t n = 0; n < iterations; ++n)
#pragma GCC unroll 24
    for (int i = 0; i < kLimitChains; ++i) acc[i] = __builtin_fmaf(acc[i], 0.99999f, 1e-7f);
  float sum = 0.f;
  for (float v : acc) sum += v;
  return sum;
}

inline void limits_fma_peak(benchmark::State& state) {
  const atrous::CpuIsa isa = atrous::cpu_isa_detect();
  const int64_t iterations = 1 << 18;
  float sink = 0.f;
  for (auto _ : state) {
    switch (isa) {
#if defined(__x86_64__)
      case atrous::CpuIsa::cpu_isa_avx512:
        sink += fma_loop_avx512(iterations);
        break;
      case atrous::CpuIsa::cpu_isa_avx2:
        sink += fma_loop_avx2(iterations);
        break;
#elif defined(__aarch64__)
      case atrous::CpuIsa::cpu_isa_neon:
        sink += fma_loop_neon(iterations);
        break;
#endif
      default:
        sink += fma_loop_scalar(iterations);
        break;
    }
  }
  benchmark::DoNotOptimize(sink);
  const double fmas = double(iterations) * kLimitChains * atrous::cpu_isa_vector_floats(isa);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * fmas * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.SetLabel(atrous::cpu_isa_name(isa));
}

inline void limits_copy(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0)) << 20;
  std::vector<char> source(bytes, 1), target(bytes, 0);
  for (auto _ : state) {
    std::memcpy(target.data(), source.data(), bytes);
    benchmark::DoNotOptimize(target.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(
      2.0 * double(bytes) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace atrous_bench

// Registers the two limits in the including benchmark program (once per program).
#define ATROUS_BENCH_LIMITS()                                                             \
  BENCHMARK(atrous_bench::limits_fma_peak)->Unit(benchmark::kMillisecond)->UseRealTime(); \
  BENCHMARK(atrous_bench::limits_copy)                                                    \
      ->Arg(36)                                                                           \
      ->Arg(1024)                                                                         \
      ->Unit(benchmark::kMillisecond)                                                     \
      ->UseRealTime()
