// The ISA-neutral depthwise band and row microkernels, instantiated per architecture in
// kernels_<isa>.cpp (each compiled with its own -m flags). One call computes one band's
// flat wide output: blocks of eight SIMD vectors of positions (then four, then one; the last
// vector may run past `total` into the slack), each accumulating its taps in (ky, kx) order
// with FMA from zero. Bias, ReLU, clip and hard-swish are applied in registers, with the
// operand order of activation_apply so NaN behaves the same; the other activations are applied
// by the caller when it copies the rows out. The row kernel (the row-by-row path) computes one
// output row: the interior with the same blocks, the borders through depthwise_border_sum with
// the same FMA sequence.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "cpu/depthwise_conv.h"
#include "cpu/shuffle_kernels.h"
#include "cpu/simd_activation.h"
#include "cpu/simd_math.h"

namespace atrous {

// `vectors` SIMD vectors of positions from q, stored at dst: independent accumulators, enough
// of them (8) to hide the FMA latency in the main loop.
template <class Arch, int vectors>
inline void depthwise_block(const float* weight, const float* const* source, int count, int64_t q,
                            const xsimd::batch<float, Arch>& bias,
                            const RegisterActivation<Arch>& finish, float* dst) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  batch acc[vectors];
  for (int v = 0; v < vectors; ++v) acc[v] = batch(0.f);
  for (int t = 0; t < count; ++t) {
    const batch w(weight[t]);
    const float* p = source[t] + q;
    for (int v = 0; v < vectors; ++v)
      acc[v] = simd_fma(w, batch::load_unaligned(p + v * width), acc[v]);
  }
  for (int v = 0; v < vectors; ++v) finish(acc[v] + bias).store_unaligned(dst + v * width);
}

template <class Arch>
void depthwise_band(const DepthwisePlan& plan, const float* const* source, const float* weight,
                    int count, int64_t rows, float bias, float* out, int64_t out_stride) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  static_assert(width <= kDepthwiseSlack, "the slack covers one vector");
  const RegisterActivation<Arch> finish(plan.activation);
  const batch b(bias);
  const int64_t out_w = plan.axes[1].output;
  auto span = [&](int64_t q, int64_t n, float* dst) {
    // Positions [q, q + n) to dst[0, n): blocks of 8, 4, 1 vectors; n >= width here, and a
    // partial last vector is recomputed as the vector ending at n (same values, same bits).
    int64_t i = 0;
    for (; i + 8 * width <= n; i += 8 * width)
      depthwise_block<Arch, 8>(weight, source, count, q + i, b, finish, dst + i);
    for (; i + 4 * width <= n; i += 4 * width)
      depthwise_block<Arch, 4>(weight, source, count, q + i, b, finish, dst + i);
    for (; i + width <= n; i += width)
      depthwise_block<Arch, 1>(weight, source, count, q + i, b, finish, dst + i);
    if (i < n)
      depthwise_block<Arch, 1>(weight, source, count, q + n - width, b, finish, dst + n - width);
  };
  if (out_w >= width) {
    for (int64_t r = 0; r < rows; ++r) span(r * plan.phase_width, out_w, out + r * out_stride);
  } else {
    // Narrow planes: the whole band as one flat run into the wide buffer (out, stride =
    // phase_width), the last vector running into the slack.
    const int64_t total = rows * plan.phase_width;
    int64_t q = 0;
    for (; q + 8 * width <= total; q += 8 * width)
      depthwise_block<Arch, 8>(weight, source, count, q, b, finish, out + q);
    for (; q + 4 * width <= total; q += 4 * width)
      depthwise_block<Arch, 4>(weight, source, count, q, b, finish, out + q);
    for (; q < total; q += width)
      depthwise_block<Arch, 1>(weight, source, count, q, b, finish, out + q);
  }
}

template <class Arch>
void depthwise_row(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias, float* y) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t out_w = plan.axes[1].output;
  const int64_t begin = plan.interior_begin, end = plan.interior_end;
  const int count = taps.count;
  const float* weight = taps.weight;
  const float* const* source = taps.interior;
  const RegisterActivation<Arch> finish(plan.activation);
  const batch b(bias);

  depthwise_border_columns<true>(plan, taps, bias, y, 0, begin);
  float* out = y + begin;
  const int64_t columns = end - begin;
  int64_t i = 0;
  for (; i + 8 * width <= columns; i += 8 * width)
    depthwise_block<Arch, 8>(weight, source, count, i, b, finish, out + i);
  for (; i + 4 * width <= columns; i += 4 * width)
    depthwise_block<Arch, 4>(weight, source, count, i, b, finish, out + i);
  for (; i + width <= columns; i += width)
    depthwise_block<Arch, 1>(weight, source, count, i, b, finish, out + i);
  // A partial last vector: the vector ending at the interior's end, recomputing a few columns
  // with the same operations (same bits); single columns only when the interior is narrower
  // than a vector.
  if (i < columns && columns >= width) {
    depthwise_block<Arch, 1>(weight, source, count, columns - width, b, finish,
                             out + columns - width);
    i = columns;
  }
  const bool in_registers = activation_in_registers(plan.activation.kind);
  for (; i < columns; ++i) {
    float acc = 0.f;
    for (int t = 0; t < count; ++t) acc = std::fma(weight[t], source[t][i], acc);
    const float sum = acc + bias;
    out[i] = in_registers ? activation_apply(plan.activation, sum) : sum;
  }
  depthwise_border_columns<true>(plan, taps, bias, y, end, out_w);
  if (!in_registers)
    for (int64_t ow = 0; ow < out_w; ++ow) y[ow] = activation_apply(plan.activation, y[ow]);
}

// Keeps a loaded vector in its register: without this GCC folds the load into every FMA that
// uses it (a memory operand each), which undoes the point of loading it once for several rows
// (measured on AVX-512: 60 against 148 GFLOP/s for the 5×5 block below, docs/CPU.md).
template <class Arch>
inline void depthwise_pin(xsimd::batch<float, Arch>& x) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+v"(x.data));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(x.data));
#else
  (void)x;
#endif
}

// A channel's K×K weights as the several-rows blocks' FMAs take them: each one broadcast, or on
// NEON (ByLane) kernel rows held as vectors of four and used by lane (`fmla v.4s, v.4s, v.s[i]`:
// no broadcast per FMA; the plan's weights have the slack the last row's vector reads). llvm-mca
// (bench/arm_mca.sh, A57-like model): 3×3 81 → 92 % of the FMA bound, 5×5 stride 2 47 → 65 %;
// the stride-1 5×5 block got worse (58 → 54 %: its ten weight vectors crowd the registers), so it
// keeps the broadcasts.
template <class Arch, int K, bool ByLane = true>
struct DepthwiseWeights {
  const float* kernel;
  explicit DepthwiseWeights(const float* k) : kernel(k) {}
  xsimd::batch<float, Arch> fma(int ky, int kx, const xsimd::batch<float, Arch>& x,
                                const xsimd::batch<float, Arch>& acc) const {
    return simd_fma(xsimd::batch<float, Arch>(kernel[ky * K + kx]), x, acc);
  }
};
#if defined(__aarch64__)
template <int K>
struct DepthwiseWeights<xsimd::neon64, K, true> {
  float32x4_t rows[K][(K + 3) / 4];
  explicit DepthwiseWeights(const float* kernel) {
    for (int ky = 0; ky < K; ++ky)
      for (int q = 0; q < (K + 3) / 4; ++q) rows[ky][q] = vld1q_f32(kernel + ky * K + 4 * q);
  }
  xsimd::batch<float, xsimd::neon64> fma(int ky, int kx,
                                         const xsimd::batch<float, xsimd::neon64>& x,
                                         const xsimd::batch<float, xsimd::neon64>& acc) const {
    return simd_fma_lane_neon(acc, x, rows[ky][kx / 4], kx % 4);
  }
};
#endif

// V SIMD vectors of positions from q in each of R output rows of a K×K kernel (stride 1,
// vertical dilation 1, horizontal dilation dw): input row i feeds output row j at ky = i − j,
// so each input vector is loaded once for the up to R rows it serves (instead of once per tap),
// while every output still adds its taps in (ky, kx) order. Loops have constant trip counts
// and unroll.
// The stride-1 blocks' weights (see DepthwiseWeights).
template <class Arch, int K>
using DepthwiseRowsWeights = DepthwiseWeights<Arch, K, K == 3>;

template <class Arch, int R, int K, int V>
inline void depthwise_rows_block(const float* const* in,
                                 const DepthwiseRowsWeights<Arch, K>& weights, int64_t dw,
                                 int64_t q, const xsimd::batch<float, Arch>& bias,
                                 const RegisterActivation<Arch>& finish, float* const* out) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  batch acc[R][V];
  for (int j = 0; j < R; ++j)
    for (int v = 0; v < V; ++v) acc[j][v] = batch(0.f);
#pragma GCC unroll 16
  for (int i = 0; i < R + K - 1; ++i) {
#pragma GCC unroll 8
    for (int kx = 0; kx < K; ++kx) {
      batch x[V];
      for (int v = 0; v < V; ++v) {
        x[v] = batch::load_unaligned(in[i] + q + kx * dw + v * width);
        depthwise_pin<Arch>(x[v]);
      }
#pragma GCC unroll 8
      for (int j = 0; j < R; ++j) {
        const int ky = i - j;
        if (ky < 0 || ky >= K) continue;
        for (int v = 0; v < V; ++v) acc[j][v] = weights.fma(ky, kx, x[v], acc[j][v]);
      }
    }
  }
  for (int j = 0; j < R; ++j)
    for (int v = 0; v < V; ++v) finish(acc[j][v] + bias).store_unaligned(out[j] + q + v * width);
}

template <class Arch, int K>
void depthwise_rows_k(const DepthwisePlan& plan, const float* const* in, const float* kernel,
                      int64_t columns, float bias, float* const* out) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int R = int(kDepthwiseRowBlock);
  constexpr int64_t width = int64_t(batch::size);
  const RegisterActivation<Arch> finish(plan.activation);
  const batch b(bias);
  const DepthwiseRowsWeights<Arch, K> weights(kernel);
  const int64_t dw = plan.axes[1].dilation;
  int64_t i = 0;
  for (; i + 2 * width <= columns; i += 2 * width)
    depthwise_rows_block<Arch, R, K, 2>(in, weights, dw, i, b, finish, out);
  for (; i + width <= columns; i += width)
    depthwise_rows_block<Arch, R, K, 1>(in, weights, dw, i, b, finish, out);
  // A partial last vector: the vector ending at `columns` (callers guarantee columns >= width),
  // recomputing a few columns with the same operations.
  if (i < columns)
    depthwise_rows_block<Arch, R, K, 1>(in, weights, dw, columns - width, b, finish, out);
}

// The stride-2 block: V SIMD vectors of output columns from q in each of R output rows of a
// K×K kernel with strides 2 and dilation 1, straight from the input rows (no phase split).
// Input row i feeds output row j at ky = i − 2j; the pair of vectors loaded at
// in[i] + 2·(q + v·lanes) + kx (kx even) is split into its even floats, tap kx of the lanes'
// columns, and its odd ones, tap kx + 1, each used for every row it feeds. Reads one float past
// the last tap of the last lane (depthwise_plan's rows_end leaves room for it).
template <class Arch, int R, int K, int V>
inline void depthwise_rows_s2_block(const float* const* in,
                                    const DepthwiseWeights<Arch, K>& weights, int64_t q,
                                    const xsimd::batch<float, Arch>& bias,
                                    const RegisterActivation<Arch>& finish, float* const* out) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  batch acc[R][V];
  for (int j = 0; j < R; ++j)
    for (int v = 0; v < V; ++v) acc[j][v] = batch(0.f);
#pragma GCC unroll 16
  for (int i = 0; i < 2 * (R - 1) + K; ++i) {
#pragma GCC unroll 4
    for (int kx = 0; kx < K; kx += 2) {
      batch even[V], odd[V];
      for (int v = 0; v < V; ++v)
        load_deinterleaved<Arch>(in[i] + 2 * (q + v * width) + kx, &even[v], &odd[v]);
#pragma GCC unroll 8
      for (int j = 0; j < R; ++j) {
        const int ky = i - 2 * j;
        if (ky < 0 || ky >= K) continue;
        for (int v = 0; v < V; ++v) acc[j][v] = weights.fma(ky, kx, even[v], acc[j][v]);
        if (kx + 1 < K)
          for (int v = 0; v < V; ++v) acc[j][v] = weights.fma(ky, kx + 1, odd[v], acc[j][v]);
      }
    }
  }
  for (int j = 0; j < R; ++j)
    for (int v = 0; v < V; ++v) finish(acc[j][v] + bias).store_unaligned(out[j] + q + v * width);
}

template <class Arch, int K>
void depthwise_rows_s2_k(const DepthwisePlan& plan, const float* const* in, const float* kernel,
                         int64_t columns, float bias, float* const* out) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int R = int(kDepthwiseRowBlock);
  constexpr int64_t width = int64_t(batch::size);
  const RegisterActivation<Arch> finish(plan.activation);
  const batch b(bias);
  const DepthwiseWeights<Arch, K> weights(kernel);
  int64_t i = 0;
  for (; i + 2 * width <= columns; i += 2 * width)
    depthwise_rows_s2_block<Arch, R, K, 2>(in, weights, i, b, finish, out);
  for (; i + width <= columns; i += width)
    depthwise_rows_s2_block<Arch, R, K, 1>(in, weights, i, b, finish, out);
  if (i < columns)
    depthwise_rows_s2_block<Arch, R, K, 1>(in, weights, columns - width, b, finish, out);
}

template <class Arch>
void depthwise_rows(const DepthwisePlan& plan, const float* const* in, const float* kernel,
                    int64_t columns, float bias, float* const* out) {
  const bool s2 = plan.axes[1].stride == 2;
  if (plan.axes[0].kernel == 3)
    (s2 ? depthwise_rows_s2_k<Arch, 3> : depthwise_rows_k<Arch, 3>)(plan, in, kernel, columns, bias,
                                                                    out);
  else
    (s2 ? depthwise_rows_s2_k<Arch, 5> : depthwise_rows_k<Arch, 5>)(plan, in, kernel, columns, bias,
                                                                    out);
}

// R output rows × P output pixels from row oh, column ow0 (rows sH and pixels sW apart in the
// padded plane): each weight vector is loaded once for the R·P outputs, whose accumulators are
// independent (enough of them to keep both FMA pipes busy: a lone pixel waits on its FMA's
// latency for every tap). Every output is the FMA chain over (ky, kx) in order from zero, then
// + bias and the activation, whatever R and P.
template <class Arch, int R, int P, int S>
inline void depthwise_lanes_block(const DepthwisePlan& plan, const float* x, const float* weight,
                                  const xsimd::batch<float, Arch>& bias,
                                  const RegisterActivation<Arch>& finish, int64_t oh, int64_t ow0,
                                  float* y) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  batch acc[R][P];
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < P; ++p) acc[r][p] = batch(0.f);
  // S > 0: the column stride as a constant, so that the loads address with immediate offsets.
  const int64_t step = (S > 0 ? S : aw.stride) * width;
  const int64_t row_step = ah.stride * plan.lane_columns * width;
  for (int64_t ky = 0; ky < ah.kernel; ++ky) {
    const float* row =
        x + ((oh * ah.stride + ky * ah.dilation) * plan.lane_columns + ow0 * aw.stride) * width;
    const float* w = weight + ky * aw.kernel * width;
    for (int64_t kx = 0; kx < aw.kernel; ++kx) {
      const batch wv = batch::load_unaligned(w + kx * width);
      const float* in = row + kx * aw.dilation * width;
      for (int r = 0; r < R; ++r)
        for (int p = 0; p < P; ++p)
          acc[r][p] = simd_fma(wv, batch::load_unaligned(in + r * row_step + p * step), acc[r][p]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < P; ++p)
      finish(acc[r][p] + bias).store_unaligned(y + ((oh + r) * aw.output + ow0 + p) * width);
}

// Calls f(std::integral_constant<int, n>()) for a count n in [1, N] known only at run time (a
// row's last pixels), so that each block size is its own instantiation; nothing for other n.
template <int N, class F>
inline void lanes_count(int64_t n, F&& f) {
  if constexpr (N >= 1) {
    if (n == N) {
      f(std::integral_constant<int, N>());
      return;
    }
    lanes_count<N - 1>(n, f);
  }
}

// The taps of one kernel row of the sliding window, expanded at compile time: input column I
// (loaded once) serves each output p whose tap kx = I − S·p lies in [0, K). Written as a loop
// over I and kx with `#pragma GCC unroll` and the tap test inside, the same code took GCC 12
// over four minutes per ISA under -fsanitize=undefined (every check unrolled before it could
// fold; the sanitizer stages of scripts/test.sh ran past CI's limit); expanded like this, under
// a minute, and 18.5 → 15.6 s in Release for kernels_avx2.cpp.
template <int I, int p, int K, int S, class B, int P>
inline void lanes_slide_tap(const B& in, const B (&w)[K], B (&acc)[P]) {
  constexpr int kx = I - S * p;
  if constexpr (kx >= 0 && kx < K) acc[p] = simd_fma(w[kx], in, acc[p]);
}

template <int I, int K, int S, class B, int P, int... p>
inline void lanes_slide_column(const float* row, const B (&w)[K], B (&acc)[P],
                               std::integer_sequence<int, p...>) {
  const B in = B::load_unaligned(row + I * int64_t(B::size));
  (lanes_slide_tap<I, p, K, S>(in, w, acc), ...);
}

template <int K, int S, class B, int P, int... I>
inline void lanes_slide_row(const float* row, const B (&w)[K], B (&acc)[P],
                            std::integer_sequence<int, I...>) {
  (lanes_slide_column<I, K, S>(row, w, acc, std::make_integer_sequence<int, P>()), ...);
}

// A K×K kernel at stride S in both axes, dilation 1: P output pixels of row oh from column
// ow0, the input pixels of each kernel row loaded once and used for every tap that reads them
// (a sliding window: input column S·ow0 + i serves output p for each kx = i − S·p in [0, K)),
// the kernel row's K weight vectors held in registers. Loads per FMA fall from (P + 1) / P
// (one per tap and output, and the weight) to (S·(P − 1) + 2K) / (P·K): 0.43 at 5×5 and 8
// pixels. Every output is still the FMA chain over (ky, kx) in order from zero: within a
// kernel row, output p meets the inputs i = S·p + kx in ascending i, that is ascending kx.
template <class Arch, int K, int S, int P>
inline void depthwise_lanes_slide(const DepthwisePlan& plan, const float* x, const float* weight,
                                  const xsimd::batch<float, Arch>& bias,
                                  const RegisterActivation<Arch>& finish, int64_t oh, int64_t ow0,
                                  float* y) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  batch acc[P];
  for (int p = 0; p < P; ++p) acc[p] = batch(0.f);
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    batch w[K];
    for (int kx = 0; kx < K; ++kx) w[kx] = batch::load_unaligned(weight + (ky * K + kx) * width);
    const float* row = x + ((oh * S + ky) * plan.lane_columns + ow0 * S) * width;
    lanes_slide_row<K, S>(row, w, acc, std::make_integer_sequence<int, S*(P - 1) + K>());
  }
  const int64_t out_w = plan.axes[1].output;
  for (int p = 0; p < P; ++p)
    finish(acc[p] + bias).store_unaligned(y + (oh * out_w + ow0 + p) * width);
}

// Rows in blocks of 7 pixels where the width is a multiple of 7 (MobileNetV3's 7, 14, 28 and
// 56), else of 8, then the last 1 to 7. Measured on AMD EPYC (Zen 3, AVX2), one group's plane
// in L1, GFLOP/s (a load per tap and output in blocks of 8 and 4 pixels / the same in blocks of
// 2 rows × 7 / the window in blocks of 7): 5×5 at 28×28 33 / 41 / 59, at 14×14 41 / 45 / 64;
// 3×3 at 28×28 19 / 29 / 57, at 14×14 26 / 28 / 56 (docs/CPU.md, "The twelfth session").
template <class Arch, int K, int S>
void depthwise_lanes_window(const DepthwisePlan& plan, const float* x, const float* weight,
                            const float* bias, float* y, int64_t out_h) {
  const RegisterActivation<Arch> finish(plan.activation);
  const xsimd::batch<float, Arch> b = xsimd::batch<float, Arch>::load_unaligned(bias);
  const int64_t out_w = plan.axes[1].output;
  const bool sevens = out_w % 7 == 0;
  for (int64_t oh = 0; oh < out_h; ++oh) {
    int64_t ow = 0;
    if (sevens)
      for (; ow + 7 <= out_w; ow += 7)
        depthwise_lanes_slide<Arch, K, S, 7>(plan, x, weight, b, finish, oh, ow, y);
    else
      for (; ow + 8 <= out_w; ow += 8)
        depthwise_lanes_slide<Arch, K, S, 8>(plan, x, weight, b, finish, oh, ow, y);
    // The last 1 to 7 pixels as one block.
    lanes_count<7>(out_w - ow, [&](auto p) {
      depthwise_lanes_slide<Arch, K, S, decltype(p)::value>(plan, x, weight, b, finish, oh, ow, y);
    });
  }
}

// Pairs of output rows in blocks of 7 pixels (14 accumulators, with the weight vector the 15
// of AVX2's 16 registers the loop needs), then the last pixels; a last odd row in blocks of 8
// and 4. Narrow planes thus run no block of fewer than 7 independent accumulators but their
// last columns (14×14 ran blocks of 8, 4 and 2 pixels per row, the 2-pixel one bound by the
// FMA latency).
template <class Arch, int S>
void depthwise_lanes_s(const DepthwisePlan& plan, const float* x, const float* weight,
                       const float* bias, float* y, int64_t out_h) {
  const RegisterActivation<Arch> finish(plan.activation);
  const xsimd::batch<float, Arch> b = xsimd::batch<float, Arch>::load_unaligned(bias);
  const int64_t out_w = plan.axes[1].output;
  int64_t oh = 0;
  for (; oh + 2 <= out_h; oh += 2) {
    int64_t ow = 0;
    for (; ow + 7 <= out_w; ow += 7)
      depthwise_lanes_block<Arch, 2, 7, S>(plan, x, weight, b, finish, oh, ow, y);
    lanes_count<6>(out_w - ow, [&](auto p) {
      depthwise_lanes_block<Arch, 2, decltype(p)::value, S>(plan, x, weight, b, finish, oh, ow, y);
    });
  }
  for (; oh < out_h; ++oh) {
    int64_t ow = 0;
    for (; ow + 8 <= out_w; ow += 8)
      depthwise_lanes_block<Arch, 1, 8, S>(plan, x, weight, b, finish, oh, ow, y);
    for (; ow + 4 <= out_w; ow += 4)
      depthwise_lanes_block<Arch, 1, 4, S>(plan, x, weight, b, finish, oh, ow, y);
    lanes_count<3>(out_w - ow, [&](auto p) {
      depthwise_lanes_block<Arch, 1, decltype(p)::value, S>(plan, x, weight, b, finish, oh, ow, y);
    });
  }
}

// Square 3×3 and 5×5 kernels at stride 1 or 2 without dilation (every small-plane depthwise
// layer of MobileNetV3) take the sliding window; the other geometries the blocks of two rows,
// with column strides 1 and 2 as constants and the others read from the plan.
template <class Arch>
void depthwise_lanes(const DepthwisePlan& plan, const float* x, const float* weight,
                     const float* bias, float* y, int64_t rows) {
  const WindowAxis& ah = plan.axes[0];
  const WindowAxis& aw = plan.axes[1];
  const bool square = ah.kernel == aw.kernel && ah.stride == aw.stride && ah.dilation == 1 &&
                      aw.dilation == 1 && (ah.stride == 1 || ah.stride == 2);
  if (square && ah.kernel == 3) {
    (ah.stride == 1 ? depthwise_lanes_window<Arch, 3, 1>
                    : depthwise_lanes_window<Arch, 3, 2>)(plan, x, weight, bias, y, rows);
    return;
  }
  if (square && ah.kernel == 5) {
    (ah.stride == 1 ? depthwise_lanes_window<Arch, 5, 1>
                    : depthwise_lanes_window<Arch, 5, 2>)(plan, x, weight, bias, y, rows);
    return;
  }
  if (plan.axes[1].stride == 1)
    depthwise_lanes_s<Arch, 1>(plan, x, weight, bias, y, rows);
  else if (plan.axes[1].stride == 2)
    depthwise_lanes_s<Arch, 2>(plan, x, weight, bias, y, rows);
  else
    depthwise_lanes_s<Arch, 0>(plan, x, weight, bias, y, rows);
}

}  // namespace atrous
