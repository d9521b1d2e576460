// Dense convolution as an implicit GEMM (see dense_conv.h). The reduction index is
// k = (c·kH + i)·kW + j, the row-major order of the weight, so the weight packs as it is.
// Taps that fall into the padding for every pixel of a column block are left out of its
// packed rows (ASPP's dilated 3×3 at 33×65 with dilation 6–18 has many), see GemmPacker.
// Padding and the conv attributes are resolved by resolve_window_2d, as ops/conv.cpp does.
#include "cpu/dense_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/cpu_kernel.h"

namespace atrous {

namespace {

// Splits one patch row into `tiles` tiles of [depth][Tile], starting at dst.
template <int64_t Tile>
void copy_tiles(const float* line, int64_t tiles, int64_t depth, float* dst) {
  for (int64_t t = 0; t < tiles; ++t)
    std::memcpy(dst + t * depth * Tile, line + t * Tile, Tile * sizeof(float));
}

// Gathers the patch rows of one column block of output pixels.
class PatchPacker : public GemmPacker {
 public:
  // phases: x split into column phases as DenseConvPlan::phase_width describes, or null.
  PatchPacker(const DenseConvPlan& plan, const float* x, const float* phases)
      : plan_(plan), x_(x), phases_(phases) {}

  int64_t pack(int64_t k0, int64_t depth, int64_t column0, int64_t count, int64_t tile, float* dst,
               int32_t* kept) const override {
    const WindowAxis& ax_h = plan_.axes[0];
    const WindowAxis& ax_w = plan_.axes[1];
    const int64_t height = ax_h.input, width = ax_w.input, out_width = ax_w.output;
    const int64_t tiles = (count + tile - 1) / tile;
    // One patch row (count pixels, zero padded to whole tiles) is built here, then split
    // into the tiles.
    float line[kGemmBlockTiles * kGemmMaxTile];
    std::fill(line + count, line + tiles * tile, 0.f);
    int64_t packed = 0;
    for (int64_t kk = 0; kk < depth; ++kk) {
      const int64_t k = k0 + kk;
      const int64_t c = k / (ax_h.kernel * ax_w.kernel);
      const int64_t i = (k / ax_w.kernel) % ax_h.kernel, j = k % ax_w.kernel;
      const int64_t dy = i * ax_h.dilation - ax_h.pad_begin;
      const int64_t dx = j * ax_w.dilation - ax_w.pad_begin;
      const float* plane = x_ + c * height * width;
      int64_t oh = column0 / out_width, ow = column0 % out_width;
      bool inside = false;  // whether any pixel of the block reads the image for this tap
      for (int64_t q = 0; q < count; ++oh, ow = 0) {
        const int64_t run = std::min(count - q, out_width - ow);
        const int64_t ih = oh * ax_h.stride + dy;
        float* out = line + q;
        if (ih < 0 || ih >= height) {
          std::fill(out, out + run, 0.f);
        } else {
          const float* row = plane + ih * width;
          // Output columns [lo, hi) of this run read inside the row; the rest is padding.
          const int64_t s = ax_w.stride;
          int64_t lo = dx >= 0 ? 0 : (-dx + s - 1) / s;
          int64_t hi = width - dx <= 0 ? 0 : (width - dx + s - 1) / s;
          lo = std::min(std::max(lo, ow), ow + run);
          hi = std::max(std::min(hi, ow + run), lo);
          inside = inside || lo < hi;
          std::fill(out, out + (lo - ow), 0.f);
          if (s == 1) {
            std::memcpy(out + (lo - ow), row + lo + dx, size_t(hi - lo) * sizeof(float));
          } else if (phases_) {
            // Input column o·s + dx is in phase p = dx mod s, at index o + (dx − p) / s.
            const int64_t p = ((dx % s) + s) % s;
            const float* phase =
                phases_ + ((c * height + ih) * s + p) * plan_.phase_width + (dx - p) / s;
            std::memcpy(out + (lo - ow), phase + lo, size_t(hi - lo) * sizeof(float));
          } else {
            for (int64_t o = lo; o < hi; ++o) out[o - ow] = row[o * s + dx];
          }
          std::fill(out + (hi - ow), out + run, 0.f);
        }
        q += run;
      }
      if (!inside) continue;  // the tap is padding for the whole block: left out
      kept[packed] = int32_t(kk);
      float* row_dst = dst + packed * tile;
      ++packed;
      switch (tile) {  // constant sizes, so the copies inline
        case 8:
          copy_tiles<8>(line, tiles, depth, row_dst);
          break;
        case 16:
          copy_tiles<16>(line, tiles, depth, row_dst);
          break;
        default:
          copy_tiles<kGemmMaxTile>(line, tiles, depth, row_dst);
          break;
      }
    }
    return packed;
  }

  // Single-tile blocks when a kernel column reads only padding for at least a tile of output
  // columns (ASPP rates of 24 and more on a 64-column map): those tiles then skip the tap.
  int64_t block_tiles(int64_t tile) const override {
    const WindowAxis& ax_w = plan_.axes[1];
    const int64_t reach =
        std::max(ax_w.pad_begin, (ax_w.kernel - 1) * ax_w.dilation - ax_w.pad_begin);
    return reach / ax_w.stride >= tile ? 1 : kGemmBlockTiles;
  }

 private:
  const DenseConvPlan& plan_;
  const float* x_;
  const float* phases_;
};

class DenseConvKernel : public CpuKernel {
 public:
  DenseConvPlan plan;
  int64_t out_channels = 0;
  int threads = 1;
  std::string label;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void* scratch, ThreadPool& pool) override {
    const TensorView& x = *inputs[0];
    TensorView& y = *outputs[0];
    const int64_t in_image = plan.channels * plan.axes[0].input * plan.axes[1].input;
    const int64_t out_image = out_channels * plan.axes[0].output * plan.axes[1].output;
    for (int64_t b = 0; b < x.shape[0]; ++b)
      dense_conv_run(plan, x.f32() + b * in_image, y.f32() + b * out_image, pool,
                     static_cast<float*>(scratch), threads);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
  size_t scratch_bytes() const override {
    return (dense_conv_shared_floats(plan) + size_t(threads) * dense_conv_scratch_floats(plan)) *
           sizeof(float);
  }
};

// ATROUS_DENSE_CONV=gemm|direct|rows|winograd|taps forces one path for every layer (to compare
// the paths in one build; winograd and taps where they apply, the rules elsewhere); anything
// else, or unset, lets the rules (dense_conv_prefers_rows, _winograd, _taps, _direct) choose.
DenseConvPath forced_path() {
  static const DenseConvPath path = [] {
    const char* value = std::getenv("ATROUS_DENSE_CONV");
    const std::string name = value ? value : "";
    if (name == "gemm") return DenseConvPath::dense_conv_path_gemm;
    if (name == "direct") return DenseConvPath::dense_conv_path_direct;
    if (name == "rows") return DenseConvPath::dense_conv_path_rows;
    if (name == "winograd") return DenseConvPath::dense_conv_path_winograd;
    if (name == "taps") return DenseConvPath::dense_conv_path_taps;
    return DenseConvPath::dense_conv_path_auto;
  }();
  return path;
}

// Layers with at most this many input channels take the row tiles (dense_conv_prefers_rows).
// Measured (bench_dense_conv, AVX-512, docs/CPU.md): the 3-channel stems 1.3–1.8× faster than
// the better of the other two paths (3→16 s2 @1025×2049 10.0 against 17.7 ms, @224² 0.169
// against 0.258); with many input channels every tap reads another channel's row from L2 and
// the path loses badly (960→256 3×3 @33×65: 263–294 against 47–56 ms).
constexpr int64_t kRowsMaxChannels = 4;

// Winograd's rule (dense_conv_prefers_winograd): at least this many input and output channels
// (the transforms cost per channel what the GEMM costs per channel pair), and at most this
// ratio of its products (16 per tile) to the direct path's in-image taps. Measured
// (bench_dense_conv, docs/CPU.md "The fourteenth session").
constexpr int64_t kWinogradMinChannels = 32;
constexpr double kWinogradMaxProductRatio = 0.8;
// Both paths at most this much scratch: Winograd's transformed input and products (16 · (C + M)
// · N floats, all tiles at once: 50 MiB for the Panoptic-DeepLab ASPP, 259 MiB for a ResNet-50
// 3×3 64→64 on a 257×513 map), the tap GEMMs' per-tap buffers (12 MiB for DeepLabV3's rate 12);
// the direct path needs almost none.
constexpr double kMaxScratchBytes = 64.0 * 1024 * 1024;

// The tap GEMMs' rule (dense_conv_prefers_taps): at least this many input channels (each tap's
// GEMM sums over C only; measured at C = 960) and at most this fraction of the kernel's taps
// inside the image (DeepLabV3's ASPP at rates 12, 24, 36 on 32×64: 0.66, 0.38, 0.21, where the
// tap GEMMs ran 0.79–0.73× the direct path's time at 2 threads and 0.94–1.06× at one; at 0.82,
// rate 12 on 65×129, the direct path was faster at 2 threads). Measured (bench_dense_conv,
// docs/CPU.md "The fourteenth session").
constexpr int64_t kTapsMinChannels = 256;
constexpr double kTapsMaxInsideFraction = 0.7;

bool is_constant_f32(const Graph& graph, int32_t tensor) {
  const GraphTensor& t = graph.tensors[size_t(tensor)];
  return t.is_constant && t.dtype == DType::dtype_f32;
}

}  // namespace

bool dense_conv_prefers_rows(int64_t in_channels) { return in_channels <= kRowsMaxChannels; }

bool dense_conv_prefers_taps(int64_t out_channels, int64_t in_channels, const WindowAxis axes[2]) {
  if (!tap_conv_applies(axes) || in_channels < kTapsMinChannels ||
      out_channels < kWinogradMinChannels)  // as Winograd's: the GEMM panels filled
    return false;
  const double all_taps =
      double(axes[0].kernel * axes[1].kernel) * double(axes[0].output * axes[1].output);
  const double inside = double(axes[0].taps_inside() * axes[1].taps_inside());
  // The taps' buffers: at most M floats per in-image tap and output.
  if (inside * double(out_channels) * sizeof(float) > kMaxScratchBytes) return false;
  return inside <= kTapsMaxInsideFraction * all_taps;
}

bool dense_conv_prefers_winograd(int64_t out_channels, int64_t in_channels,
                                 const WindowAxis axes[2]) {
  if (!winograd_conv_applies(axes) || out_channels < kWinogradMinChannels ||
      in_channels < kWinogradMinChannels)
    return false;
  const int64_t tiles = winograd_tile_count(axes);
  const double scratch_bytes =
      double(winograd_shared_floats(in_channels, out_channels, tiles)) * sizeof(float);
  if (scratch_bytes > kMaxScratchBytes) return false;
  return double(kWinogradPoints * tiles) <=
         kWinogradMaxProductRatio * double(axes[0].taps_inside() * axes[1].taps_inside());
}

bool dense_conv_prefers_direct(int64_t out_channels, CpuIsa isa) {
  // Measured (bench_dense_conv, docs/CPU.md): the direct path is faster on every layer whose
  // output channels fill more than half of its register tile (the ASPP 1.4–2.9×, 7×7 and 3×3
  // stride-2 layers with 64 filters 1.4–1.8×, the 3→16 stem on AVX2 1.4×); on the AVX-512 stem
  // (16 filters in a 32-channel tile) the two are level, and the GEMM's 6-channel panels
  // waste less on narrower layers.
  return 2 * out_channels > cpu_kernel_table(isa).direct_conv.block;
}

void dense_conv_plan(const float* weight, const float* bias, int64_t out_channels,
                     int64_t in_channels, const WindowAxis axes[2], const Activation& activation,
                     CpuIsa isa, DenseConvPlan* plan, DenseConvPath path) {
  if ((path == DenseConvPath::dense_conv_path_winograd && !winograd_conv_applies(axes)) ||
      (path == DenseConvPath::dense_conv_path_taps && !tap_conv_applies(axes)))
    path = DenseConvPath::dense_conv_path_auto;
  plan->channels = in_channels;
  plan->axes[0] = axes[0];
  plan->axes[1] = axes[1];
  plan->rows =
      row_conv_available(isa) &&
      (path == DenseConvPath::dense_conv_path_rows ||
       (path == DenseConvPath::dense_conv_path_auto && dense_conv_prefers_rows(in_channels)));
  plan->direct = false;
  plan->phase_width = 0;
  plan->winograd = !plan->rows && (path == DenseConvPath::dense_conv_path_winograd ||
                                   (path == DenseConvPath::dense_conv_path_auto &&
                                    dense_conv_prefers_winograd(out_channels, in_channels, axes)));
  if (plan->winograd) {
    winograd_conv_plan(weight, bias, out_channels, in_channels, axes, activation, isa,
                       &plan->winograd_plan);
    return;
  }
  plan->taps = !plan->rows && (path == DenseConvPath::dense_conv_path_taps ||
                               (path == DenseConvPath::dense_conv_path_auto &&
                                dense_conv_prefers_taps(out_channels, in_channels, axes)));
  if (plan->taps) {
    tap_conv_plan(weight, bias, out_channels, in_channels, axes, activation, isa, &plan->taps_plan);
    return;
  }
  if (plan->rows) {
    row_conv_plan(weight, bias, out_channels, in_channels, axes, activation, isa, &plan->rows_plan);
    return;
  }
  plan->direct =
      path == DenseConvPath::dense_conv_path_direct ||
      (path == DenseConvPath::dense_conv_path_auto && dense_conv_prefers_direct(out_channels, isa));
  if (plan->direct)
    direct_conv_plan(weight, bias, out_channels, in_channels, axes, activation, isa,
                     &plan->direct_plan);
  else
    gemm_pack_weights(weight, bias, out_channels, in_channels * axes[0].kernel * axes[1].kernel,
                      activation, isa, &plan->gemm);
  const int64_t s = axes[1].stride;
  plan->phase_width = !plan->direct && s > 1 ? (axes[1].input + s - 1) / s : 0;
}

size_t dense_conv_shared_floats(const DenseConvPlan& plan) {
  if (plan.winograd) return winograd_conv_shared_floats(plan.winograd_plan);
  if (plan.taps) return tap_conv_shared_floats(plan.taps_plan);
  if (plan.rows) return row_conv_shared_floats(plan.rows_plan);
  if (plan.direct) return direct_conv_shared_floats(plan.direct_plan);
  if (!plan.phase_width) return 0;
  // [C][H][s][phase_width]: every input row's s phases, each phase_width = ceil(W / s) floats.
  return size_t(plan.channels * plan.axes[0].input * plan.axes[1].stride * plan.phase_width);
}

size_t dense_conv_scratch_floats(const DenseConvPlan& plan) {
  if (plan.winograd) return winograd_conv_scratch_floats(plan.winograd_plan);
  if (plan.taps) return tap_conv_scratch_floats(plan.taps_plan);
  if (plan.rows) return 0;
  return plan.direct ? direct_conv_scratch_floats(plan.direct_plan)
                     : gemm_scratch_floats(plan.gemm.isa);
}

const char* dense_conv_kernel_name(const DenseConvPlan& plan) {
  if (plan.winograd) return plan.winograd_plan.name.c_str();
  if (plan.taps) return plan.taps_plan.name.c_str();
  if (plan.rows) return plan.rows_plan.kernels->name;
  return plan.direct ? plan.direct_plan.kernels->name : plan.gemm.kernels->name;
}

void dense_conv_run(const DenseConvPlan& plan, const float* x, float* y, ThreadPool& pool,
                    float* scratch, int scratch_slots) {
  if (plan.winograd) {
    winograd_conv_run(plan.winograd_plan, x, y, pool, scratch, scratch_slots);
    return;
  }
  if (plan.taps) {
    tap_conv_run(plan.taps_plan, x, y, pool, scratch, scratch_slots);
    return;
  }
  if (plan.rows) {
    row_conv_run(plan.rows_plan, x, y, pool, scratch);
    return;
  }
  if (plan.direct) {
    const int64_t h = plan.axes[0].input, w = plan.axes[1].input;
    const int64_t oh = plan.axes[0].output, ow = plan.axes[1].output;
    const size_t shared = dense_conv_shared_floats(plan);
    float* copy = scratch && shared ? scratch : nullptr;
    direct_conv_run(plan.direct_plan, x, ConvStrides{h * w, w, 1}, y, ConvStrides{oh * ow, ow, 1},
                    pool, copy, scratch ? scratch + shared : nullptr, scratch_slots);
    return;
  }
  const float* phases = nullptr;
  std::vector<float> own;
  if (plan.phase_width) {
    const size_t shared = dense_conv_shared_floats(plan);
    float* split = scratch;
    if (!split) {
      own.resize(shared);
      split = own.data();
    } else {
      scratch += shared;
    }
    // Row r of x (channel-major) into its s phases; columns past W of the last phases are
    // never read (the packer copies only columns inside the row).
    const int64_t s = plan.axes[1].stride, width = plan.axes[1].input;
    const int64_t rows = plan.channels * plan.axes[0].input, pw = plan.phase_width;
    const MiscKernels& misc = cpu_kernel_table(plan.gemm.isa).misc;
    pool.parallel_for(
        rows,
        [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r)
            split_row_phases(misc, x + r * width, width, 0, s, pw, split + r * s * pw, pw);
        },
        rows * width);
    phases = split;
  }
  PatchPacker packer(plan, x, phases);
  const int64_t pixels = plan.axes[0].output * plan.axes[1].output;
  gemm_run(plan.gemm, packer, pixels, y, pixels, pool, scratch, scratch_slots);
}

CpuKernelPtr cpu_make_dense_conv_kernel(const Graph& graph, size_t index,
                                        const CpuKernelConfig& config) {
  return dense_conv_make_kernel(graph, index, config, forced_path());
}

CpuKernelPtr dense_conv_make_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config,
                                    DenseConvPath path) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_conv || node.inputs.size() < 2 || node.outputs.size() != 1)
    return nullptr;
  const GraphTensor& x = graph.tensors[size_t(node.inputs[0])];
  const GraphTensor& weight = graph.tensors[size_t(node.inputs[1])];
  if (!is_constant_f32(graph, node.inputs[1]) || weight.shape.size() != 4 ||
      x.dtype != DType::dtype_f32 || x.shape.size() != 4)
    return nullptr;
  const bool has_bias = node.inputs.size() > 2 && node.inputs[2] != kAbsentInput;
  if (has_bias && (!is_constant_f32(graph, node.inputs[2]) ||
                   graph.tensors[size_t(node.inputs[2])].shape != Shape{weight.shape[0]}))
    return nullptr;
  AttributeReader reader("conv", node.attributes);
  if (reader.get_int("group", 1) != 1 || x.shape[1] != weight.shape[1] || x.shape[1] < 1 ||
      weight.shape[0] < 1)
    return nullptr;
  const std::vector<int64_t> kernel_shape = reader.get_ints("kernel_shape", {});
  if (!kernel_shape.empty() &&
      kernel_shape != std::vector<int64_t>{weight.shape[2], weight.shape[3]})
    return nullptr;
  const int64_t input[2] = {x.shape[2], x.shape[3]};
  const int64_t kernel[2] = {weight.shape[2], weight.shape[3]};
  WindowOptions options;
  options.dilations = true;
  WindowAxis axes[2];
  if (!reader.status().ok() || !resolve_window_2d(&reader, input, kernel, options, axes).ok())
    return nullptr;
  Activation activation;
  if (!activation_from_conv_attributes(node.attributes, &activation).ok()) return nullptr;
  // Plain pointwise convs belong to cpu_make_pointwise_kernel.
  const bool pointwise = kernel[0] == 1 && kernel[1] == 1 && axes[0].stride == 1 &&
                         axes[1].stride == 1 && axes[0].pad_begin == 0 && axes[0].pad_end == 0 &&
                         axes[1].pad_begin == 0 && axes[1].pad_end == 0;
  if (pointwise) return nullptr;
  const float* bias =
      has_bias ? static_cast<const float*>(graph.tensors[size_t(node.inputs[2])].data) : nullptr;
  std::unique_ptr<DenseConvKernel> conv(new DenseConvKernel());
  dense_conv_plan(static_cast<const float*>(weight.data), bias, weight.shape[0], weight.shape[1],
                  axes, activation, config.isa, &conv->plan, path);
  conv->out_channels = weight.shape[0];
  conv->threads = std::max(1, config.threads);
  conv->label = "dense_conv_" + std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]) + "_s" +
                std::to_string(axes[0].stride);
  if (axes[0].dilation > 1 || axes[1].dilation > 1)
    conv->label += "_d" + std::to_string(axes[0].dilation);
  conv->label += std::string("/") + dense_conv_kernel_name(conv->plan);
  return conv;
}

}  // namespace atrous
