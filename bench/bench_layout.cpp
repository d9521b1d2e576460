// The activation-layout measurement of docs/CPU.md ("Layout of activations"): the same
// convolution layers in NCHW (the runtime's own kernels, made through cpu_make_kernel as a
// session makes them), NHWC and NCHW16c (small AVX-512 kernels written here for the comparison
// only), next to this core's FMA peak and copy bandwidth measured in the same run.
//   build/bench_layout --benchmark_min_time=0.3 --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true
//
// NHWC and NCHW16c share their kernels: the lanes are 16 output channels, a kernel only sees a
// pixel stride and a channel-block stride (NHWC: C and 16; NCHW16c: 16 and H·W·16). What differs
// is the padding of the channel count to 16 (NCHW16c), masked tails (NHWC) and the order in
// which the tensors are walked.
//   1×1 and dense k×k: a register tile of R ≤ 14 output pixels × 32 output channels; each input
//     channel is broadcast once per pixel and multiplied with two weight vectors. A dense conv
//     splits every output row into runs of pixels whose in-image taps are the same, so a tap in
//     the padding is skipped for exactly the pixels it misses (no zeros are multiplied).
//   depthwise: one output pixel × 16 channels per step, the k×k weights held in registers for
//     the pixels whose taps are all inside the image, in-image taps only for the others.
// Two more variants: NCHW16c_nt, the 1×1 with non-temporal output stores (whole aligned lines
// exist only in the blocked layout), and NHWC_pix, the NHWC depthwise with the channel blocks
// innermost. Times are CPU time (the machines are shared), so the counters use it too.
// Every kernel, the runtime's included, is checked first against a scalar double-precision
// convolution on sampled outputs (borders oversampled); a mismatch stops the run.
// Counted work: GFLOP/s = 2 · (in-image taps) · channels / time (padded taps are not counted,
// for any layout); depthwise GB/s = (input + output + weights) bytes of the NCHW tensors / time.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "ops/graph_rules.h"

namespace {

using namespace atrous;

enum class Layout { nchw, nhwc, nchw16c };
const char* layout_name(Layout layout) {
  return layout == Layout::nchw ? "NCHW" : layout == Layout::nhwc ? "NHWC" : "NCHW16c";
}

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// max(v + b, 0) (the masked form: GCC 12's _mm512_max_ps reads an undefined register)
inline __m512 bias_relu(__m512 v, __m512 b) {
  const __m512 sum = _mm512_add_ps(v, b);
  return _mm512_mask_max_ps(sum, __mmask16(0xffff), sum, _mm512_setzero_ps());
}

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;
Buffer make_buffer(int64_t floats) {
  const size_t bytes = size_t((floats + 64) * 4 + 63) / 64 * 64;
  float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  std::memset(p, 0, bytes);
  return Buffer(p);
}

// Strides of a [C, H, W] activation in one layout, for the kernels below.
struct Geometry {
  int64_t channels, height, width;
  Layout layout;
  int64_t pixel() const { return layout == Layout::nhwc ? channels : 16; }
  int64_t block() const { return layout == Layout::nhwc ? 16 : height * width * 16; }
  int64_t floats() const {
    return (layout == Layout::nchw16c ? round16(channels) : channels) * height * width;
  }
  int64_t index(int64_t c, int64_t h, int64_t w) const {
    const int64_t p = h * width + w;
    if (layout == Layout::nchw) return c * height * width + p;
    if (layout == Layout::nhwc) return p * channels + c;
    return (c / 16) * height * width * 16 + p * 16 + c % 16;
  }
};

void convert(const float* from, const Geometry& g_from, float* to, const Geometry& g_to) {
  for (int64_t c = 0; c < g_from.channels; ++c)
    for (int64_t h = 0; h < g_from.height; ++h)
      for (int64_t w = 0; w < g_from.width; ++w)
        to[g_to.index(c, h, w)] = from[g_from.index(c, h, w)];
}

// ---- the conv layers --------------------------------------------------------------------------

struct Layer {
  int64_t in_channels, out_channels, height, width, kernel, stride, dilation;
  bool depthwise;
  int64_t pad() const { return (kernel / 2) * dilation; }
  int64_t out_height() const {
    return (height + 2 * pad() - dilation * (kernel - 1) - 1) / stride + 1;
  }
  int64_t out_width() const {
    return (width + 2 * pad() - dilation * (kernel - 1) - 1) / stride + 1;
  }
  // Kernel positions along one axis that read inside the image, summed over the outputs.
  static int64_t valid_taps(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                            int64_t dilation, int64_t pad) {
    int64_t n = 0;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t i = o * stride - pad + k * dilation;
        n += (i >= 0 && i < in);
      }
    return n;
  }
  double flops() const {
    const double taps = double(valid_taps(height, out_height(), kernel, stride, dilation, pad())) *
                        double(valid_taps(width, out_width(), kernel, stride, dilation, pad()));
    return 2.0 * taps * double(out_channels) * (depthwise ? 1.0 : double(in_channels));
  }
  double bytes() const {
    return 4.0 * double(in_channels * height * width + out_channels * out_height() * out_width() +
                        out_channels * (depthwise ? 1 : in_channels) * kernel * kernel);
  }
  std::string name() const {
    char text[96];
    if (depthwise)
      std::snprintf(text, sizeof text, "dw%ldx%ld_s%ld_d%ld/%ld@%ldx%ld", long(kernel),
                    long(kernel), long(stride), long(dilation), long(in_channels), long(height),
                    long(width));
    else if (kernel == 1)
      std::snprintf(text, sizeof text, "pw/%ld->%ld@%ldx%ld", long(in_channels), long(out_channels),
                    long(height), long(width));
    else
      std::snprintf(text, sizeof text, "dense%ldx%ld_d%ld/%ld->%ld@%ldx%ld", long(kernel),
                    long(kernel), long(dilation), long(in_channels), long(out_channels),
                    long(height), long(width));
    return text;
  }
};

// ---- NHWC / NCHW16c kernels -------------------------------------------------------------------

// One register tile: R output pixels (consecutive in a row) × V vectors of 16 output channels.
// Tap t reads input pixel j at x + tap_offset[t] + j·pixel_stride; its weights are packed
// [channel][32] (the two vectors of the 32-channel block).
struct TileArgs {
  const float* x;
  int64_t pixel_stride, block_stride, channels;
  const int64_t* tap_offset;
  const float* const* tap_weight;
  int taps;
  const float* bias;  // 32 floats
  float* y;
  int64_t out_pixel_stride, out_block_stride;
  __mmask16 last_mask;  // lanes of vector V-1 that exist (NHWC tails)
  bool stream = false;  // non-temporal stores (whole, aligned vectors only)
};

template <int R, int V>
void conv_tile(const TileArgs& a) {
  __m512 acc[R][V];
#pragma GCC unroll 14
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[j][v] = _mm512_setzero_ps();
  for (int t = 0; t < a.taps; ++t) {
    const float* xt = a.x + a.tap_offset[t];
    const float* wt = a.tap_weight[t];
    for (int64_t c0 = 0; c0 < a.channels; c0 += 16) {
      const float* xc = xt + (c0 / 16) * a.block_stride;
      const float* wc = wt + c0 * 32;
      const int n = int(std::min<int64_t>(16, a.channels - c0));
      // The next channel block of each pixel: the next line in NHWC (found by the hardware
      // prefetchers), H·W·16 floats further in NCHW16c (not found by them).
#pragma GCC unroll 14
      for (int j = 0; j < R; ++j)
        _mm_prefetch(reinterpret_cast<const char*>(xc + a.block_stride + j * a.pixel_stride),
                     _MM_HINT_T0);
      for (int ci = 0; ci < n; ++ci) {
        __m512 w[V];
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) w[v] = _mm512_load_ps(wc + ci * 32 + 16 * v);
#pragma GCC unroll 14
        for (int j = 0; j < R; ++j) {
          const __m512 xv = _mm512_set1_ps(xc[j * a.pixel_stride + ci]);
#pragma GCC unroll 2
          for (int v = 0; v < V; ++v) acc[j][v] = _mm512_fmadd_ps(xv, w[v], acc[j][v]);
        }
      }
    }
  }
#pragma GCC unroll 14
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      const __m512 r = bias_relu(acc[j][v], _mm512_load_ps(a.bias + 16 * v));
      float* out = a.y + j * a.out_pixel_stride + v * a.out_block_stride;
      if (a.stream)
        _mm512_stream_ps(out, r);
      else if (v == V - 1)
        _mm512_mask_storeu_ps(out, a.last_mask, r);
      else
        _mm512_storeu_ps(out, r);
    }
}

constexpr int kTileRows = 14;
using TileFunction = void (*)(const TileArgs&);
TileFunction g_tiles[3][kTileRows + 1];
template <int R>
void fill_tiles() {
  g_tiles[1][R] = conv_tile<R, 1>;
  g_tiles[2][R] = conv_tile<R, 2>;
  if constexpr (R > 1) fill_tiles<R - 1>();
}

// A 1×1 or dense k×k conv (stride 1) in NHWC or NCHW16c.
struct BlockedConv {
  Layer layer;
  Layout layout;
  Geometry in, out;
  Buffer packed;  // [M/32][kH·kW][C][32]
  Buffer bias;    // [M rounded to 32]
  int64_t blocks = 0, taps = 0;

  BlockedConv(const Layer& l, Layout lay, const float* weight, const float* b)
      : layer(l),
        layout(lay),
        in{l.in_channels, l.height, l.width, lay},
        out{l.out_channels, l.out_height(), l.out_width(), lay} {
    blocks = (l.out_channels + 31) / 32;
    taps = l.kernel * l.kernel;
    const int64_t C = l.in_channels;
    packed = make_buffer(blocks * taps * C * 32);
    bias = make_buffer(blocks * 32);
    for (int64_t m = 0; m < l.out_channels; ++m) {
      bias[m] = b[m];
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < taps; ++t)
          packed[((m / 32 * taps + t) * C + c) * 32 + m % 32] = weight[(m * C + c) * taps + t];
    }
  }

  // Output channel block b: how many vectors, and the lanes of the last.
  void block_shape(int64_t b, int* vectors, __mmask16* mask) const {
    const int64_t rest =
        (layout == Layout::nchw16c ? round16(layer.out_channels) : layer.out_channels) - b * 32;
    *vectors = rest > 16 ? 2 : 1;
    const int64_t last = rest - (*vectors - 1) * 16;
    *mask = last >= 16 ? __mmask16(0xffff) : __mmask16((1u << last) - 1);
  }

  // stream: write the output with non-temporal stores (NCHW16c 1×1 only), which skip the
  // read-for-ownership of each output line.
  void run(const float* x, float* y, bool stream) const {
    if (layer.kernel == 1) return run_pointwise(x, y, stream);
    return run_dense(x, y);
  }

  void run_pointwise(const float* x, float* y, bool stream) const {
    const int64_t pixels = layer.height * layer.width;
    const int64_t offset = 0;
    for (int64_t p0 = 0; p0 < pixels; p0 += kTileRows) {
      const int rows = int(std::min<int64_t>(kTileRows, pixels - p0));
      for (int64_t b = 0; b < blocks; ++b) {
        TileArgs a;
        int vectors;
        block_shape(b, &vectors, &a.last_mask);
        a.stream = stream;
        const float* weight = packed.get() + b * layer.in_channels * 32;
        a.x = x + p0 * in.pixel();
        a.pixel_stride = in.pixel();
        a.block_stride = in.block();
        a.channels = layer.in_channels;
        a.tap_offset = &offset;
        a.tap_weight = &weight;
        a.taps = 1;
        a.bias = bias.get() + b * 32;
        a.y = y + p0 * out.pixel() + 2 * b * out.block();
        a.out_pixel_stride = out.pixel();
        a.out_block_stride = out.block();
        g_tiles[vectors][rows](a);
      }
    }
  }

  // Stride 1, "same" padding: each output row is cut into runs of pixels with the same set of
  // in-image kernel columns, and each run into tiles of up to 14 pixels.
  void run_dense(const float* x, float* y) const {
    const int64_t K = layer.kernel, d = layer.dilation, pad = layer.pad();
    const int64_t H = layer.height, W = layer.width, OW = layer.out_width();
    std::vector<int64_t> offsets(static_cast<size_t>(taps));
    std::vector<const float*> weights(static_cast<size_t>(taps));
    std::vector<uint32_t> column_set(static_cast<size_t>(OW));
    for (int64_t ow = 0; ow < OW; ++ow) {
      uint32_t set = 0;
      for (int64_t kx = 0; kx < K; ++kx) {
        const int64_t iw = ow - pad + kx * d;
        if (iw >= 0 && iw < W) set |= 1u << kx;
      }
      column_set[size_t(ow)] = set;
    }
    for (int64_t b = 0; b < blocks; ++b) {
      int vectors;
      __mmask16 mask;
      block_shape(b, &vectors, &mask);
      const float* block_weight = packed.get() + b * taps * layer.in_channels * 32;
      for (int64_t oh = 0; oh < layer.out_height(); ++oh) {
        for (int64_t ow0 = 0; ow0 < OW;) {
          int64_t run_end = ow0 + 1;
          while (run_end < OW && run_end - ow0 < kTileRows &&
                 column_set[size_t(run_end)] == column_set[size_t(ow0)])
            ++run_end;
          int count = 0;
          for (int64_t ky = 0; ky < K; ++ky) {
            const int64_t ih = oh - pad + ky * d;
            if (ih < 0 || ih >= H) continue;
            for (int64_t kx = 0; kx < K; ++kx) {
              if (!(column_set[size_t(ow0)] >> kx & 1)) continue;
              offsets[size_t(count)] = (ih * W + ow0 - pad + kx * d) * in.pixel();
              weights[size_t(count)] = block_weight + (ky * K + kx) * layer.in_channels * 32;
              ++count;
            }
          }
          TileArgs a;
          a.x = x;
          a.pixel_stride = in.pixel();
          a.block_stride = in.block();
          a.channels = layer.in_channels;
          a.tap_offset = offsets.data();
          a.tap_weight = weights.data();
          a.taps = count;
          a.bias = bias.get() + b * 32;
          a.y = y + (oh * OW + ow0) * out.pixel() + 2 * b * out.block();
          a.out_pixel_stride = out.pixel();
          a.out_block_stride = out.block();
          a.last_mask = mask;
          g_tiles[vectors][run_end - ow0](a);
          ow0 = run_end;
        }
      }
    }
  }
};

// Depthwise k×k in NHWC or NCHW16c: 16 channels of one output pixel per step.
struct BlockedDepthwise {
  Layer layer;
  Layout layout;
  Geometry in, out;
  Buffer weights;  // [C/16][kH·kW][16]
  Buffer bias;     // [C rounded to 16]

  BlockedDepthwise(const Layer& l, Layout lay, const float* weight, const float* b)
      : layer(l),
        layout(lay),
        in{l.in_channels, l.height, l.width, lay},
        out{l.out_channels, l.out_height(), l.out_width(), lay} {
    const int64_t taps = l.kernel * l.kernel, C = l.in_channels;
    weights = make_buffer(round16(C) * taps);
    bias = make_buffer(round16(C));
    for (int64_t c = 0; c < C; ++c) {
      bias[c] = b[c];
      for (int64_t t = 0; t < taps; ++t)
        weights[(c / 16 * taps + t) * 16 + c % 16] = weight[c * taps + t];
    }
  }

  template <int K>
  // Output columns [begin, end) of output row oh, for one block of 16 channels.
  void row(const float* x, const float* w, const float* b, __mmask16 mask, int64_t oh,
           int64_t begin, int64_t end, float* y) const {
    const int64_t s = layer.stride, d = layer.dilation, pad = layer.pad();
    const int64_t H = layer.height, W = layer.width, OW = layer.out_width();
    const int64_t ps = in.pixel(), rs = W * ps, ops = out.pixel();
    int64_t ky0 = 0, ky1 = K;
    while (ky0 < K && oh * s - pad + ky0 * d < 0) ++ky0;
    while (ky1 > ky0 && oh * s - pad + (ky1 - 1) * d >= H) --ky1;
    // Outputs [lo, hi) have every kernel column inside the row.
    int64_t lo = 0, hi = OW;
    while (lo < OW && lo * s - pad < 0) ++lo;
    while (hi > lo && (hi - 1) * s - pad + (K - 1) * d >= W) --hi;
    lo = std::min(std::max(lo, begin), end);
    hi = std::min(std::max(hi, lo), end);
    const __m512 bias = _mm512_load_ps(b);
    const float* xr = x + (oh * s - pad) * rs;
    auto border = [&](int64_t ow) {
      __m512 acc = _mm512_setzero_ps();
      for (int64_t ky = ky0; ky < ky1; ++ky)
        for (int64_t kx = 0; kx < K; ++kx) {
          const int64_t iw = ow * s - pad + kx * d;
          if (iw < 0 || iw >= W) continue;
          acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, xr + ky * d * rs + iw * ps),
                                _mm512_load_ps(w + (ky * K + kx) * 16), acc);
        }
      _mm512_mask_storeu_ps(y + ow * ops, mask, bias_relu(acc, bias));
    };
    if (ky0 != 0 || ky1 != K) {
      for (int64_t ow = begin; ow < end; ++ow) border(ow);
      return;
    }
    for (int64_t ow = begin; ow < lo; ++ow) border(ow);
    __m512 wr[K * K];
#pragma GCC unroll 25
    for (int t = 0; t < K * K; ++t) wr[t] = _mm512_load_ps(w + t * 16);
    for (int64_t ow = lo; ow < hi; ++ow) {
      const float* xp = xr + (ow * s - pad) * ps;
      __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 5
      for (int ky = 0; ky < K; ++ky)
#pragma GCC unroll 5
        for (int kx = 0; kx < K; ++kx)
          acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, xp + ky * d * rs + kx * d * ps),
                                wr[ky * K + kx], acc);
      _mm512_mask_storeu_ps(y + ow * ops, mask, bias_relu(acc, bias));
    }
    for (int64_t ow = hi; ow < end; ++ow) border(ow);
  }

  // NHWC with the channel blocks innermost: for each output pixel all blocks in turn, so the
  // k×k window's reads of one tap run along contiguous channels; the weights are loaded per use
  // (as in XNNPACK's NHWC depthwise) since they change with every block.
  template <int K>
  void run_pixel_major(const float* x, float* y) const {
    const int64_t s = layer.stride, d = layer.dilation, pad = layer.pad(), C = layer.in_channels;
    const int64_t H = layer.height, W = layer.width, OH = layer.out_height(),
                  OW = layer.out_width();
    const int64_t ps = C, rs = W * C, block_count = (C + 15) / 16;
    for (int64_t oh = 0; oh < OH; ++oh) {
      int64_t ky0 = 0, ky1 = K;
      while (ky0 < K && oh * s - pad + ky0 * d < 0) ++ky0;
      while (ky1 > ky0 && oh * s - pad + (ky1 - 1) * d >= H) --ky1;
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t kx0 = 0, kx1 = K;
        while (kx0 < K && ow * s - pad + kx0 * d < 0) ++kx0;
        while (kx1 > kx0 && ow * s - pad + (kx1 - 1) * d >= W) --kx1;
        const float* xp = x + (oh * s - pad) * rs + (ow * s - pad) * ps;
        float* yp = y + (oh * OW + ow) * C;
        const bool full = ky0 == 0 && ky1 == K && kx0 == 0 && kx1 == K;
        for (int64_t cb = 0; cb < block_count; ++cb) {
          const int64_t rest = std::min<int64_t>(16, C - cb * 16);
          const __mmask16 mask = rest >= 16 ? __mmask16(0xffff) : __mmask16((1u << rest) - 1);
          const float* w = weights.get() + cb * K * K * 16;
          const float* xc = xp + cb * 16;
          __m512 acc = _mm512_setzero_ps();
          if (full) {
#pragma GCC unroll 5
            for (int ky = 0; ky < K; ++ky)
#pragma GCC unroll 5
              for (int kx = 0; kx < K; ++kx)
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, xc + ky * d * rs + kx * d * ps),
                                      _mm512_load_ps(w + (ky * K + kx) * 16), acc);
          } else {
            for (int64_t ky = ky0; ky < ky1; ++ky)
              for (int64_t kx = kx0; kx < kx1; ++kx)
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, xc + ky * d * rs + kx * d * ps),
                                      _mm512_load_ps(w + (ky * K + kx) * 16), acc);
          }
          _mm512_mask_storeu_ps(yp + cb * 16, mask,
                                bias_relu(acc, _mm512_load_ps(bias.get() + cb * 16)));
        }
      }
    }
  }

  void run(const float* x, float* y, bool pixel_major) const {
    if (pixel_major) {
      if (layer.kernel == 3) return run_pixel_major<3>(x, y);
      return run_pixel_major<5>(x, y);
    }
    const int64_t C = layer.in_channels, taps = layer.kernel * layer.kernel;
    const int64_t block_count = (C + 15) / 16, OH = layer.out_height();
    auto one = [&](int64_t cb, int64_t oh, int64_t begin, int64_t end) {
      const int64_t rest = layout == Layout::nchw16c ? 16 : std::min<int64_t>(16, C - cb * 16);
      const __mmask16 mask = rest >= 16 ? __mmask16(0xffff) : __mmask16((1u << rest) - 1);
      const float* xb = x + cb * in.block();
      float* yb = y + cb * out.block() + oh * layer.out_width() * out.pixel();
      const float* w = weights.get() + cb * taps * 16;
      if (layer.kernel == 3)
        row<3>(xb, w, bias.get() + cb * 16, mask, oh, begin, end, yb);
      else
        row<5>(xb, w, bias.get() + cb * 16, mask, oh, begin, end, yb);
    };
    // NCHW16c walks one block's plane after the other. NHWC walks strips of 32 output columns
    // of a row through all channel blocks, so the k input rows of a strip stay in L2 for every
    // block (whole rows of all channels do not: 5 rows × 513 × 256 channels are 2.6 MB).
    const int64_t OW = layer.out_width();
    if (layout == Layout::nhwc) {
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ow += 32)
          for (int64_t cb = 0; cb < block_count; ++cb) one(cb, oh, ow, std::min(OW, ow + 32));
    } else {
      for (int64_t cb = 0; cb < block_count; ++cb)
        for (int64_t oh = 0; oh < OH; ++oh) one(cb, oh, 0, OW);
    }
  }
};

// ---- the runtime's NCHW kernel ----------------------------------------------------------------

struct RuntimeConv {
  CpuKernelPtr kernel;
  Tensor x, y;
  Tensor scratch;  // 64-byte aligned, as a session's scratch is
  ThreadPool pool{1};
};

std::unique_ptr<RuntimeConv> make_runtime_conv(const Layer& l, const float* weight,
                                               const float* bias) {
  auto made = std::make_unique<RuntimeConv>();
  Graph graph;
  const int64_t C = l.in_channels, M = l.out_channels, K = l.kernel;
  int32_t input = graph.add_tensor("x", DType::dtype_f32, {1, C, l.height, l.width});
  graph.inputs.push_back(input);
  Tensor w(DType::dtype_f32, {M, l.depthwise ? 1 : C, K, K});
  std::memcpy(w.f32(), weight, size_t(w.numel()) * 4);
  Tensor b(DType::dtype_f32, {M});
  std::memcpy(b.f32(), bias, size_t(M) * 4);
  int32_t wi = graph.add_constant("w", std::move(w));
  int32_t bi = graph.add_constant("b", std::move(b));
  int32_t output = graph.add_tensor("y", DType::dtype_f32, {});
  Node node;
  node.op = OpType::op_conv;
  node.name = "conv";
  node.inputs = {input, wi, bi};
  node.outputs = {output};
  const int64_t p = l.pad();
  node.attributes.set_int("group", l.depthwise ? C : 1);
  node.attributes.set_ints("strides", {l.stride, l.stride});
  node.attributes.set_ints("dilations", {l.dilation, l.dilation});
  node.attributes.set_ints("pads", {p, p, p, p});
  node.attributes.set_string("activation", "relu");
  graph.nodes.push_back(node);
  graph.outputs.push_back(output);
  if (!graph_infer_shapes(&graph).ok()) return nullptr;
  CpuKernelConfig config;
  config.isa = cpu_kernel_table().isa;
  config.threads = 1;
  made->kernel = cpu_make_kernel(graph, 0, config);
  if (!made->kernel) return nullptr;
  made->x = Tensor(DType::dtype_f32, {1, C, l.height, l.width});
  made->y = Tensor(DType::dtype_f32, graph.tensors[size_t(output)].shape);
  made->scratch = Tensor(DType::dtype_u8, Shape{int64_t(made->kernel->scratch_bytes() + 64)});
  return made;
}

// ---- one layer in the three layouts, checked ---------------------------------------------------

struct Case {
  Layer layer;
  std::vector<float> weight, bias;
  std::unique_ptr<RuntimeConv> runtime;
  std::unique_ptr<BlockedConv> conv[2];
  std::unique_ptr<BlockedDepthwise> depthwise[2];
  Buffer x[2], y[2];
};

double reference(const Layer& l, const float* x, const Case& c, int64_t m, int64_t oh, int64_t ow) {
  const int64_t K = l.kernel;
  double acc = 0;
  const int64_t c_begin = l.depthwise ? m : 0, c_end = l.depthwise ? m + 1 : l.in_channels;
  for (int64_t ch = c_begin; ch < c_end; ++ch)
    for (int64_t ky = 0; ky < K; ++ky)
      for (int64_t kx = 0; kx < K; ++kx) {
        const int64_t ih = oh * l.stride - l.pad() + ky * l.dilation;
        const int64_t iw = ow * l.stride - l.pad() + kx * l.dilation;
        if (ih < 0 || ih >= l.height || iw < 0 || iw >= l.width) continue;
        const int64_t wi =
            l.depthwise ? (m * K + ky) * K + kx : ((m * l.in_channels + ch) * K + ky) * K + kx;
        acc += double(c.weight[size_t(wi)]) * double(x[(ch * l.height + ih) * l.width + iw]);
      }
  return std::max(0.0, acc + double(c.bias[size_t(m)]));
}

// alternative: the 1×1 with non-temporal stores (NCHW16c), the pixel-major NHWC depthwise.
void run_case(Case& c, Layout layout, bool alternative) {
  if (layout == Layout::nchw) {
    RuntimeConv& r = *c.runtime;
    Status status = r.kernel->run({&r.x.view()}, {&r.y.view()}, r.scratch.data(), r.pool);
    if (!status.ok()) std::abort();
    return;
  }
  const int i = layout == Layout::nhwc ? 0 : 1;
  if (c.layer.depthwise)
    c.depthwise[i]->run(c.x[i].get(), c.y[i].get(), alternative);
  else
    c.conv[i]->run(c.x[i].get(), c.y[i].get(), alternative);
  if (alternative) _mm_sfence();
}

const char* alternative_name(const Layer& l) { return l.depthwise ? "NHWC_pix" : "NCHW16c_nt"; }

// Samples outputs (half of them near the borders) and compares every layout to the reference.
bool check_case(Case& c) {
  const Layer& l = c.layer;
  const int64_t OH = l.out_height(), OW = l.out_width(), margin = l.kernel * l.dilation;
  std::mt19937 rng(7);
  auto pick = [&](int64_t n) {
    const int64_t r = int64_t(rng() % uint32_t(n));
    if (rng() % 2 || n <= 2 * margin) return r;
    const int64_t e = int64_t(rng() % uint32_t(margin));
    return rng() % 2 ? e : n - 1 - e;
  };
  bool ok = true;
  const int variants = l.kernel == 1 || l.depthwise ? 4 : 3;
  for (int variant = 0; variant < variants; ++variant) {
    const Layout layout = variant < 3   ? Layout(variant)
                          : l.depthwise ? Layout::nhwc
                                        : Layout::nchw16c;
    run_case(c, layout, variant == 3);
    Geometry g{l.out_channels, OH, OW, layout};
    const float* y =
        layout == Layout::nchw ? c.runtime->y.f32() : c.y[layout == Layout::nhwc ? 0 : 1].get();
    double worst = 0;
    const int samples = l.depthwise ? 3000 : (l.in_channels > 500 ? 600 : 1500);
    for (int s = 0; s < samples; ++s) {
      const int64_t m = int64_t(rng() % uint32_t(l.out_channels)), oh = pick(OH), ow = pick(OW);
      const double want = reference(l, c.runtime->x.f32(), c, m, oh, ow);
      const double got = y[g.index(m, oh, ow)];
      worst = std::max(worst, std::fabs(got - want) / (1.0 + std::fabs(want)));
    }
    // NCHW16c's padding lanes must stay zero for the next layer.
    if (layout == Layout::nchw16c && variant == 2)
      for (int64_t m = l.out_channels; m < round16(l.out_channels); ++m)
        for (int64_t p = 0; p < OH * OW; p += 97)
          if (y[(m / 16) * OH * OW * 16 + p * 16 + m % 16] != 0.f) worst = 1;
    const bool pass = worst < 1e-4;
    std::printf("check %-32s %-10s max error %.2e %s\n", l.name().c_str(),
                variant < 3 ? layout_name(layout) : alternative_name(l), worst,
                pass ? "ok" : "WRONG");
    ok = ok && pass;
  }
  return ok;
}

std::unique_ptr<Case> make_case(const Layer& l) {
  auto c = std::make_unique<Case>();
  c->layer = l;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  const int64_t weight_count =
      l.out_channels * (l.depthwise ? 1 : l.in_channels) * l.kernel * l.kernel;
  c->weight.resize(size_t(weight_count));
  c->bias.resize(size_t(l.out_channels));
  for (float& v : c->weight) v = dist(rng);
  for (float& v : c->bias) v = 0.5f * dist(rng);
  c->runtime = make_runtime_conv(l, c->weight.data(), c->bias.data());
  if (!c->runtime) {
    std::fprintf(stderr, "no runtime kernel for %s\n", l.name().c_str());
    std::exit(1);
  }
  float* x = c->runtime->x.f32();
  for (int64_t i = 0; i < c->runtime->x.numel(); ++i) x[i] = dist(rng);
  const Geometry nchw{l.in_channels, l.height, l.width, Layout::nchw};
  for (int i = 0; i < 2; ++i) {
    const Layout layout = i == 0 ? Layout::nhwc : Layout::nchw16c;
    const Geometry g_in{l.in_channels, l.height, l.width, layout};
    const Geometry g_out{l.out_channels, l.out_height(), l.out_width(), layout};
    c->x[i] = make_buffer(g_in.floats());
    c->y[i] = make_buffer(g_out.floats());
    convert(x, nchw, c->x[i].get(), g_in);
    if (l.depthwise)
      c->depthwise[i] =
          std::make_unique<BlockedDepthwise>(l, layout, c->weight.data(), c->bias.data());
    else
      c->conv[i] = std::make_unique<BlockedConv>(l, layout, c->weight.data(), c->bias.data());
  }
  return c;
}

void bench_case(benchmark::State& state, Case* c, Layout layout, bool alternative) {
  for (auto _ : state) {
    run_case(*c, layout, alternative);
    benchmark::ClobberMemory();
  }
  const double n = double(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(c->layer.flops() * n / 1e9, benchmark::Counter::kIsRate);
  if (c->layer.depthwise)
    state.counters["GB/s"] =
        benchmark::Counter(c->layer.bytes() * n / 1e9, benchmark::Counter::kIsRate);
  if (layout == Layout::nchw) state.SetLabel(c->runtime->kernel->name());
}

// ---- the limits and the conversions at the graph's edges --------------------------------------

// 12 independent chains of 16-float FMAs (latency 4 × 2 ports needs ≥ 8).
void bench_fma_peak(benchmark::State& state) {
  typedef float v16 __attribute__((vector_size(64)));
  v16 a[12], b, c;
  for (int i = 0; i < 16; ++i) b[i] = 1.0001f, c[i] = 1e-7f;
  for (auto& v : a) v = c;
  const int64_t iterations = 1 << 20;
  for (auto _ : state) {
    for (int64_t i = 0; i < iterations; ++i)
      for (auto& v : a) v = v * b + c;
    benchmark::DoNotOptimize(a);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(double(iterations) * 12 * 16 * 2 * double(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

// memcpy of `floats` floats (a layer-sized buffer and a 512 MB one); GB/s counts read + write.
void bench_copy(benchmark::State& state) {
  const int64_t floats = state.range(0);
  Buffer source = make_buffer(floats), target = make_buffer(floats);
  for (int64_t i = 0; i < floats; ++i) source[i] = float(i & 1023);
  for (auto _ : state) {
    std::memcpy(target.get(), source.get(), size_t(floats) * 4);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(
      8.0 * double(floats) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// NCHW → NHWC / NCHW16c and back, 16×16 blocks through a register-sized tile. Args: C, H, W,
// direction (0: NCHW → NCHW16c, 1: NCHW16c → NCHW, 2: NCHW → NHWC, 3: NHWC → NCHW).
void bench_convert(benchmark::State& state) {
  const int64_t C = state.range(0), H = state.range(1), W = state.range(2), P = H * W;
  const int direction = int(state.range(3));
  const int64_t Cp = round16(C);
  Buffer nchw = make_buffer(C * P), other = make_buffer(Cp * P);
  for (int64_t i = 0; i < C * P; ++i) nchw[i] = float(i % 1000);
  for (auto _ : state) {
    float* a = nchw.get();
    float* b = other.get();
    for (int64_t c0 = 0; c0 < C; c0 += 16) {
      const int64_t cn = std::min<int64_t>(16, C - c0);
      for (int64_t p0 = 0; p0 < P; p0 += 16) {
        const int64_t pn = std::min<int64_t>(16, P - p0);
        switch (direction) {
          case 0:
            for (int64_t p = p0; p < p0 + pn; ++p)
              for (int64_t c = 0; c < 16; ++c)
                b[(c0 / 16 * P + p) * 16 + c] = c < cn ? a[(c0 + c) * P + p] : 0.f;
            break;
          case 1:
            for (int64_t c = 0; c < cn; ++c)
              for (int64_t p = p0; p < p0 + pn; ++p)
                a[(c0 + c) * P + p] = b[(c0 / 16 * P + p) * 16 + c];
            break;
          case 2:
            for (int64_t p = p0; p < p0 + pn; ++p)
              for (int64_t c = 0; c < cn; ++c) b[p * C + c0 + c] = a[(c0 + c) * P + p];
            break;
          default:
            for (int64_t c = 0; c < cn; ++c)
              for (int64_t p = p0; p < p0 + pn; ++p) a[(c0 + c) * P + p] = b[p * C + c0 + c];
        }
      }
    }
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(
      8.0 * double(C * P) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

std::vector<Layer> layers() {
  std::vector<Layer> list;
  auto pw = [&](int64_t c, int64_t m, int64_t h, int64_t w) {
    list.push_back({c, m, h, w, 1, 1, 1, false});
  };
  auto dw = [&](int64_t c, int64_t h, int64_t w, int64_t k, int64_t s, int64_t d) {
    list.push_back({c, c, h, w, k, s, d, true});
  };
  auto dense = [&](int64_t c, int64_t m, int64_t h, int64_t w, int64_t d) {
    list.push_back({c, m, h, w, 3, 1, d, false});
  };
  // 1×1: MobileNetV3-Large stages at 1025×2049 input, the ASPP projection, the 224² tail.
  pw(16, 64, 513, 1025);
  pw(120, 40, 257, 513);
  pw(40, 240, 129, 257);
  pw(288, 256, 257, 513);
  pw(960, 256, 33, 65);
  pw(160, 960, 7, 7);
  pw(96, 576, 7, 7);
  pw(112, 672, 14, 14);
  // depthwise: 3×3 and 5×5, stride 1 and 2, dilation 1 and 2.
  dw(72, 257, 513, 3, 1, 1);
  dw(72, 257, 513, 3, 2, 1);
  dw(72, 257, 513, 5, 1, 2);
  dw(256, 257, 513, 5, 1, 1);
  dw(672, 65, 129, 3, 1, 2);
  dw(240, 14, 14, 5, 1, 1);
  dw(576, 7, 7, 5, 1, 1);
  dw(96, 28, 28, 5, 2, 1);
  // dense 3×3 dilated: Panoptic-DeepLab's ASPP rates at 33×65, and rate 12 at 65×129.
  dense(960, 256, 33, 65, 3);
  dense(960, 256, 33, 65, 6);
  dense(960, 256, 33, 65, 9);
  dense(960, 256, 65, 129, 12);
  return list;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!__builtin_cpu_supports("avx512f")) {
    std::fprintf(stderr, "bench_layout needs an AVX-512 machine\n");
    return 1;
  }
  fill_tiles<kTileRows>();
  std::vector<std::unique_ptr<Case>> cases;
  bool ok = true;
  for (const Layer& l : layers()) {
    cases.push_back(make_case(l));
    ok = check_case(*cases.back()) && ok;
  }
  if (!ok) {
    std::fprintf(stderr, "a kernel disagrees with the reference: no timings\n");
    return 1;
  }
  benchmark::RegisterBenchmark("fma_peak", bench_fma_peak)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("copy", bench_copy)
      ->Arg(int64_t(72) * 257 * 513)
      ->Arg(int64_t(1) << 27)
      ->Unit(benchmark::kMillisecond);
  for (auto& c : cases) {
    for (Layout layout : {Layout::nchw, Layout::nhwc, Layout::nchw16c})
      benchmark::RegisterBenchmark((c->layer.name() + "/" + layout_name(layout)).c_str(),
                                   bench_case, c.get(), layout, false)
          ->Unit(benchmark::kMillisecond);
    if (c->layer.kernel == 1 || c->layer.depthwise)
      benchmark::RegisterBenchmark((c->layer.name() + "/" + alternative_name(c->layer)).c_str(),
                                   bench_case, c.get(),
                                   c->layer.depthwise ? Layout::nhwc : Layout::nchw16c, true)
          ->Unit(benchmark::kMillisecond);
  }
  // The graph's edges: the 3-channel input image and the 19-class logits; a 256-channel tensor
  // as the cost of a conversion inside the graph.
  benchmark::RegisterBenchmark("convert", bench_convert)
      ->ArgsProduct({{3}, {1025}, {2049}, {0, 2}})
      ->ArgsProduct({{19}, {257}, {513}, {1, 3}})
      ->ArgsProduct({{256}, {257}, {513}, {0, 1, 2, 3}})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
