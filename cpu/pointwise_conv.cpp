#include "cpu/pointwise_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "cpu/cpu_kernel.h"

namespace atrous {

namespace {
constexpr int64_t kPackPrefetchMinDepth = 64;
// Images whose input X is at most this large are read in place (pointwise_reads_in_place).
// Measured (bench_pointwise, AVX-512, ms): MobileNetV3-Large's 24→72 @56² 0.125 → 0.080,
// 40→240 @28² 0.124 → 0.110, 672→112 @14² 0.255 → 0.233, 112→672 @14² 0.21 → 0.22; larger
// inputs lose: 960→256 @33×65 (8 MiB) 9.9 → 11.5, 120→40 @257×513 21.5 → 29.
constexpr int64_t kInPlaceMaxInputBytes = int64_t(1) << 20;
}  // namespace

int64_t PointwisePacker::pack(int64_t k0, int64_t depth, int64_t column0, int64_t count,
                              int64_t tile, float* dst, int32_t*) const {
  const int64_t tiles = (count + tile - 1) / tile;
  // With more input channels than the hardware prefetcher follows streams (one per channel
  // plane), the rows of the next column block are prefetched to L2 while this one is packed.
  // Measured (bench_pointwise, CPU time, AVX-512): 120→40 @257×513 19.2 against 23.6 ms; with
  // 40 channels prefetching made 40→240 slower (14.3 against 12.1 ms), so it stays off there.
  const bool prefetch = depth > kPackPrefetchMinDepth;
  for (int64_t k = 0; k < depth; ++k) {
    const float* src = x_ + (k0 + k) * channel_stride_ + column0;
    if (prefetch) {
      const int64_t ahead = std::min(count, channel_stride_ - column0 - count);
      for (int64_t i = 0; i < ahead; i += 16) __builtin_prefetch(src + count + i, 0, 1);
    }
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t n = std::min(tile, count - t * tile);
      float* out = dst + (t * depth + k) * tile;
      int64_t i = 0;
      for (; i < n; ++i) out[i] = src[t * tile + i];
      for (; i < tile; ++i) out[i] = 0.f;
    }
  }
  return depth;
}

bool pointwise_reads_in_place(int64_t pixels, int64_t depth) {
  const int64_t pitch = pixels * int64_t(sizeof(float));
  return pitch * depth <= kInPlaceMaxInputBytes && pitch % 4096 != 0;
}

void pointwise_plan(const float* weight, const float* bias, int64_t out_channels,
                    int64_t in_channels, const Activation& activation, CpuIsa isa,
                    PointwisePlan* plan, int64_t pixels) {
  gemm_pack_weights(weight, bias, out_channels, in_channels, activation, isa, &plan->gemm, pixels);
}

namespace {

// The GEMM's weights (panels [ceil(M/R)][K][R]) repacked as blocks of `width`
// output channels, [ceil(M/width)][K][width], and the bias as [ceil(M/width)·width], zeros past
// M: the layout of the one-pixel product and of the pixel tiles.
void repack_by_outputs(const GemmWeights& gemm, int64_t width, WeightFloats* packed,
                       std::vector<float>* bias) {
  const int64_t blocks = (gemm.rows + width - 1) / width, depth = gemm.depth;
  packed->assign(size_t(blocks * depth * width), 0.f);
  bias->assign(size_t(blocks * width), 0.f);
  for (int64_t m = 0; m < gemm.rows; ++m) {
    const int64_t r = gemm.panel_rows;
    const float* row = gemm.packed.data() + (m / r) * depth * r + m % r;
    float* dst = packed->data() + (m / width) * depth * width + m % width;
    for (int64_t k = 0; k < depth; ++k) dst[k * width] = row[k * r];
    (*bias)[size_t(m)] = gemm.bias[size_t(m)];
  }
}

}  // namespace

void pointwise_plan_single_pixel(PointwisePlan* plan) {
  const GemmWeights& gemm = plan->gemm;
  plan->gemv_packed.clear();
  plan->gemv_bias.clear();
  if (!gemm.kernels->gemv) return;
  repack_by_outputs(gemm, cpu_isa_vector_floats(gemm.isa), &plan->gemv_packed, &plan->gemv_bias);
}

bool pointwise_plan_pixel_tiles(PointwisePlan* plan, int64_t pixels) {
  const GemmWeights& gemm = plan->gemm;
  plan->pixel_packed.clear();
  plan->pixel_bias.clear();
  if (!gemm.kernels->pixels || !gemm.kernels->pixels_chosen || pixels < 2) return false;
  // Multiply-adds done, padding included, of the two tilings; a pixel tile's transposed store
  // (one float at a time) costs about as much as kPixelStoreDepth more terms of K, and the
  // pixel tiles are taken only when they come out 10 % ahead. Measured (bench_pointwise, AVX-512,
  // ms, column / pixel tiles): K = 960 (160 channels @7²) 0.160 / 0.132, K = 576 0.056 /
  // 0.048, K = 160 0.140 / 0.134, K = 96 0.053 / 0.052, K = 112 @14² 0.240 / 0.257.
  constexpr int64_t kPixelStoreDepth = 32;
  const int64_t ch = gemm.kernels->pixel_channels, tile = gemm.kernels->tile_columns;
  auto round_up = [](int64_t n, int64_t m) { return (n + m - 1) / m * m; };
  const int64_t columns =
      round_up(gemm.rows, gemm.panel_rows) * round_up(pixels, tile) * gemm.depth;
  const int64_t pixel_tiles =
      round_up(gemm.rows, ch) * round_up(pixels, kGemmPixelTile) * (gemm.depth + kPixelStoreDepth);
  if (10 * pixel_tiles > 9 * columns) return false;
  return pointwise_pack_pixel_tiles(plan);
}

bool pointwise_pack_pixel_tiles(PointwisePlan* plan) {
  const GemmWeights& gemm = plan->gemm;
  plan->pixel_packed.clear();
  plan->pixel_bias.clear();
  if (!gemm.kernels->pixels) return false;
  repack_by_outputs(gemm, gemm.kernels->pixel_channels, &plan->pixel_packed, &plan->pixel_bias);
  return true;
}

namespace {

// Tasks are a pixel tile and a group of channel panels (enough tasks for the threads; every
// tile's X columns are read in place, pixels·4 bytes between rows: copying them into a
// contiguous block first was no faster, bench_pointwise 7×7 layers 0.040–0.128 against
// 0.049–0.137 ms).
void pointwise_run_pixels(const PointwisePlan& plan, const float* x, int64_t pixels, float* y,
                          ThreadPool& pool) {
  const GemmWeights& gemm = plan.gemm;
  const int64_t ch = gemm.kernels->pixel_channels, depth = gemm.depth;
  const int64_t panels = (gemm.rows + ch - 1) / ch;
  const int64_t tiles = (pixels + kGemmPixelTile - 1) / kGemmPixelTile;
  const int64_t work = gemm.rows * depth * pixels;
  const int64_t wanted = pool.worth_splitting(work) ? 4 * pool.threads() : 1;
  const int64_t groups = std::min(panels, (wanted + tiles - 1) / tiles);
  const int64_t per_group = (panels + groups - 1) / groups;
  pool.parallel_for(
      tiles * groups,
      [&](int64_t begin, int64_t end) {
        PixelGemmBlock g;
        g.ldx = pixels;
        g.depth = depth;
        g.activation = &gemm.activation;
        g.ldy = pixels;
        for (int64_t task = begin; task < end; ++task) {
          const int64_t p0 = (task / groups) * kGemmPixelTile;
          const int64_t panel_begin = (task % groups) * per_group;
          g.pixels = std::min(kGemmPixelTile, pixels - p0);
          g.x = x + p0;
          for (int64_t panel = panel_begin; panel < std::min(panels, panel_begin + per_group);
               ++panel) {
            g.packed = plan.pixel_packed.data() + panel * depth * ch;
            g.bias = plan.pixel_bias.data() + panel * ch;
            g.channels = std::min(ch, gemm.rows - panel * ch);
            g.y = y + panel * ch * pixels + p0;
            gemm.kernels->pixels(g);
          }
        }
      },
      work);
}

}  // namespace

void pointwise_run(const PointwisePlan& plan, const float* x, int64_t pixels, float* y,
                   ThreadPool& pool, float* scratch, int scratch_slots, int64_t x_pitch) {
  if (!plan.pixel_packed.empty()) {
    pointwise_run_pixels(plan, x, pixels, y, pool);
    return;
  }
  if (pixels == 1 && x_pitch <= 1 && !plan.gemv_packed.empty()) {
    const GemmWeights& gemm = plan.gemm;
    const int64_t lanes = cpu_isa_vector_floats(gemm.isa);
    GemvBlock block;
    block.packed = plan.gemv_packed.data();
    block.x = x;
    block.bias = plan.gemv_bias.data();
    block.depth = gemm.depth;
    block.rows = gemm.rows;
    block.activation = &gemm.activation;
    block.y = y;
    const int64_t blocks = (gemm.rows + lanes - 1) / lanes;
    // Blocks of outputs split over the threads (4 blocks a task: the kernel's widest step).
    const int64_t tasks = (blocks + 3) / 4;
    pool.parallel_for(
        tasks,
        [&](int64_t begin, int64_t end) {
          GemvBlock part = block;
          part.block_begin = begin * 4;
          part.block_end = std::min(blocks, end * 4);
          gemm.kernels->gemv(part);
        },
        gemm.rows * gemm.depth);
    return;
  }
  const int64_t pitch = x_pitch > 0 ? x_pitch : pixels;
  PointwisePacker packer(x, pitch, pointwise_reads_in_place(pitch, plan.gemm.depth));
  gemm_run(plan.gemm, packer, pixels, y, pixels, pool, scratch, scratch_slots);
}

bool is_pointwise_conv(const Graph& graph, const Node& node) {
  if (node.op != OpType::op_conv || node.inputs.size() < 2) return false;
  const GraphTensor& weight = graph.tensors[size_t(node.inputs[1])];
  if (!weight.is_constant || weight.dtype != DType::dtype_f32 || weight.shape.size() != 4 ||
      weight.shape[2] != 1 || weight.shape[3] != 1)
    return false;
  if (node.inputs.size() > 2 && node.inputs[2] != kAbsentInput &&
      !graph.tensors[size_t(node.inputs[2])].is_constant)
    return false;
  const AttributeMap& a = node.attributes;
  if (a.get_int("group", 1) != 1 || a.get_ints("strides", {1, 1}) != std::vector<int64_t>{1, 1})
    return false;
  std::string auto_pad = a.get_string("auto_pad", "explicit");
  return auto_pad != "explicit" ||
         a.get_ints("pads", {0, 0, 0, 0}) == std::vector<int64_t>{0, 0, 0, 0};
}

namespace {

class PointwiseKernel : public CpuKernel {
 public:
  PointwisePlan plan;
  int threads = 1;
  std::string label;  // pointwise/<the GEMM microkernel>
  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void* scratch, ThreadPool& pool) override {
    // NCHW: each image is a [C, H·W] by [M, H·W] product.
    const TensorView& x = *inputs[0];
    TensorView& y = *outputs[0];
    const int64_t pixels = x.shape[2] * x.shape[3];
    for (int64_t b = 0; b < x.shape[0]; ++b)
      pointwise_run(plan, x.f32() + b * x.shape[1] * pixels, pixels,
                    y.f32() + b * y.shape[1] * pixels, pool, static_cast<float*>(scratch), threads);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
  size_t scratch_bytes() const override {
    return size_t(threads) * gemm_scratch_floats(plan.gemm.isa) * sizeof(float);
  }
};

}  // namespace

CpuKernelPtr cpu_make_pointwise_kernel(const Graph& graph, size_t index,
                                       const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (!is_pointwise_conv(graph, node)) return nullptr;
  Activation activation;
  if (!activation_from_conv_attributes(node.attributes, &activation).ok()) return nullptr;
  const GraphTensor& weight = graph.tensors[size_t(node.inputs[1])];
  const float* bias = node.inputs.size() > 2 && node.inputs[2] != kAbsentInput
                          ? static_cast<const float*>(graph.tensors[size_t(node.inputs[2])].data)
                          : nullptr;
  std::unique_ptr<PointwiseKernel> kernel(new PointwiseKernel());
  const GraphTensor& x = graph.tensors[size_t(node.inputs[0])];
  pointwise_plan(static_cast<const float*>(weight.data), bias, weight.shape[0], weight.shape[1],
                 activation, config.isa, &kernel->plan,
                 x.shape.size() == 4 ? x.shape[2] * x.shape[3] : 0);
  const bool single_pixel = x.shape.size() == 4 && x.shape[2] * x.shape[3] == 1;
  if (single_pixel) pointwise_plan_single_pixel(&kernel->plan);
  const bool pixel_tiles = !single_pixel && x.shape.size() == 4 &&
                           pointwise_plan_pixel_tiles(&kernel->plan, x.shape[2] * x.shape[3]);
  kernel->threads = std::max(1, config.threads);
  const GemmKernels& kernels = *kernel->plan.gemm.kernels;
  kernel->label =
      std::string("pointwise/") + (pixel_tiles                        ? kernels.pixels_name
                                   : kernel->plan.gemv_packed.empty() ? kernels.name
                                                                      : kernels.gemv_name);
  return kernel;
}

}  // namespace atrous
