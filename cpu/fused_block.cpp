// Fused inverted-residual blocks (design in fused_block.h): the row loop, the thread split and
// the factory that recognizes the chains expand → depthwise → project (→ add) and depthwise →
// project (→ add) in a graph.
#include "cpu/fused_block.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "cpu/pointwise_conv.h"

namespace atrous {

namespace {

// The project GEMM gets at least this many columns per call where the output has that many
// rows (narrow planes group several output rows: a tile is up to 32 columns).
constexpr int64_t kProjectMinColumns = 512;
// Output rows per stripe (a parallel chunk) at least: each stripe expands the input rows at its
// start again, (kernel − stride) rows of the halo.
constexpr int64_t kStripeMinRows = 16;
// Blocks whose expanded tensor (per image) is smaller than this run unfused: it fits in the
// caches anyway, and the per-row GEMM calls of the fused loop would cost more than they save.
constexpr int64_t kFusedMinExpandedBytes = int64_t(1) << 20;
// Depthwise → project chains (no expansion) whose depthwise output is smaller than this run
// unfused: it stays in the caches anyway.
constexpr int64_t kFusedMinDepthwiseBytes = int64_t(1) << 20;
// A thread's ring, depthwise output and packed weights stay within this (about one core's
// L2): groups get fewer rows to fit, and blocks that do not fit with one row per group run
// unfused (LR-ASPP's 960-channel dilated 5×5 at 65×129 needs 4.5 MB; with this limit raised
// to 8 MiB it ran fused in 50.8 ms against 43.8 ms unfused, CPU time, 1 thread).
constexpr int64_t kFusedMaxScratchBytes = int64_t(2) << 20;
// Blocks with fewer multiply-adds per image than this run on the calling thread.
constexpr int64_t kFusedParallelMinWork = int64_t(1) << 18;

// Floats rounded up to whole 64-byte lines: the parts of a thread's scratch, and the band's
// channel rows, start on a line (a vector load or store that straddles two lines costs about two).
int64_t whole_lines(int64_t floats) { return (floats + 15) / 16 * 16; }

// The block's input channels C and the depthwise's channels E (C without an expansion).
int64_t input_channels(const FusedBlockPlan& plan) {
  return plan.has_expand ? plan.expand.depth : plan.depthwise.channels;
}
int64_t expanded_channels(const FusedBlockPlan& plan) { return plan.depthwise.channels; }

// The ISA of the block's GEMMs (for their packing scratch).
CpuIsa gemm_isa(const FusedBlockPlan& plan) {
  return plan.has_expand ? plan.expand.isa : plan.project.isa;
}

int64_t ring_floats(const FusedBlockPlan& plan) {
  if (!plan.has_expand) return 0;
  return whole_lines(plan.expand.rows * plan.ring_rows * plan.depthwise.axes[1].input);
}

// Floats between two channels of the depthwise band (the project GEMM's B rows).
int64_t band_pitch(const FusedBlockPlan& plan) {
  return whole_lines(plan.group_rows * plan.depthwise.axes[1].output);
}

int64_t band_floats(const FusedBlockPlan& plan) {
  if (!plan.has_project) return 0;
  return expanded_channels(plan) * band_pitch(plan);
}

// One thread's share: output rows [begin, end) of the flattened [batch · outH] rows, in its
// scratch slot.
void run_rows(const FusedBlockPlan& plan, const float* x, float* y, int64_t begin, int64_t end,
              float* slot) {
  const WindowAxis& ah = plan.depthwise.axes[0];
  const WindowAxis& aw = plan.depthwise.axes[1];
  const int64_t channels = input_channels(plan), expanded = expanded_channels(plan);
  const int64_t out_channels = plan.has_project ? plan.project.rows : expanded;
  const int64_t in_h = ah.input, in_w = aw.input, out_h = ah.output, out_w = aw.output;
  const int64_t ring_rows = plan.ring_rows, group_rows = plan.group_rows;
  float* ring = slot;
  float* band = ring + ring_floats(plan);
  float* gemm_scratch = band + band_floats(plan);
  DepthwiseRowsRunner depthwise(plan.depthwise);
  // The GEMMs read whole column tiles in place by pointwise_run's rule (pointwise_conv.h: at
  // most 1 MiB, a row pitch that does not map every row to one L1 set), applied to the
  // block's input and to the depthwise band. Measured (bench_fused_block, docs/CPU.md):
  // 16→64→24 @112² 0.50 → 0.43 ms, 24→72→24 @257×513 15.5 → 12.6 ms.
  const bool expand_in_place = plan.has_expand && pointwise_reads_in_place(in_h * in_w, channels);
  const int64_t pitch = band_pitch(plan);
  const bool project_in_place = plan.has_project && pointwise_reads_in_place(pitch, expanded);
  std::vector<int64_t> held(static_cast<size_t>(ring_rows));
  for (int64_t r = begin; r < end;) {
    const int64_t image = r / out_h;
    const int64_t stripe_begin = r % out_h;
    const int64_t stripe_end = std::min(out_h, stripe_begin + (end - r));
    r += stripe_end - stripe_begin;
    const float* xb = x + image * channels * in_h * in_w;
    float* yb = y + image * out_channels * out_h * out_w;
    std::fill(held.begin(), held.end(), int64_t(-1));
    for (int64_t g0 = stripe_begin; g0 < stripe_end; g0 += group_rows) {
      const int64_t g1 = std::min(stripe_end, g0 + group_rows);
      // Without an expansion there is no ring: the depthwise reads the input rows where they are.
      if (plan.has_expand) {
        // The input rows the group's taps read, distinct modulo ring_rows (the ring holds the
        // group's whole input span), so expanding one never evicts another the group needs.
        // Consecutive missing rows in consecutive slots are expanded by one GEMM (x's rows are
        // contiguous): fewer partial column tiles and calls.
        int64_t run_begin = -1, run_end = -1;
        auto expand_run = [&]() {
          if (run_begin < 0) return;
          PointwisePacker packer(xb + run_begin * in_w, in_h * in_w, expand_in_place);
          gemm_run_serial(plan.expand, packer, (run_end - run_begin) * in_w,
                          ring + (run_begin % ring_rows) * in_w, ring_rows * in_w, gemm_scratch);
          run_begin = run_end = -1;
        };
        const int64_t first = std::max<int64_t>(0, g0 * ah.stride - ah.pad_begin);
        const int64_t last =
            std::min(in_h - 1, (g1 - 1) * ah.stride - ah.pad_begin + (ah.kernel - 1) * ah.dilation);
        for (int64_t ih = first; ih <= last; ++ih) {
          bool needed = false;
          for (int64_t ky = 0; ky < ah.kernel && !needed; ++ky) {
            const int64_t o = ih + ah.pad_begin - ky * ah.dilation;  // oh · stride
            needed = o >= g0 * ah.stride && o < g1 * ah.stride && o % ah.stride == 0;
          }
          if (!needed || held[size_t(ih % ring_rows)] == ih) {
            expand_run();
            continue;
          }
          held[size_t(ih % ring_rows)] = ih;
          if (run_begin >= 0 && ih % ring_rows == 0) expand_run();  // the ring wraps
          if (run_begin < 0) run_begin = ih;
          run_end = ih + 1;
        }
        expand_run();
      }
      const int64_t rows = g1 - g0;
      for (int64_t c = 0; c < expanded; ++c) {
        DepthwiseRows input;
        input.base = plan.has_expand ? ring + c * ring_rows * in_w : xb + c * in_h * in_w;
        input.row_stride = in_w;
        input.ring = plan.has_expand ? ring_rows : 0;
        depthwise.run(input, c, g0, rows,
                      plan.has_project ? band + c * pitch : yb + (c * out_h + g0) * out_w);
      }
      if (!plan.has_project) continue;
      PointwisePacker packer(band, pitch, project_in_place);
      float* out = yb + g0 * out_w;
      gemm_run_serial(plan.project, packer, rows * out_w, out, out_h * out_w, gemm_scratch);
      if (plan.residual)
        for (int64_t m = 0; m < out_channels; ++m) {
          float* dst = out + m * out_h * out_w;
          const float* src = xb + m * in_h * in_w + g0 * in_w;
          for (int64_t i = 0; i < rows * out_w; ++i) dst[i] = dst[i] + src[i];
        }
    }
  }
}

}  // namespace

namespace {

// What a thread touches per group: its scratch and the packed expand and project weights.
int64_t working_set_bytes(const FusedBlockPlan& plan) {
  return int64_t(fused_block_scratch_floats(plan) +
                 (plan.has_expand ? plan.expand.packed.size() : 0) +
                 (plan.has_project ? plan.project.packed.size() : 0)) *
         int64_t(sizeof(float));
}

}  // namespace

void fused_block_plan_rows(FusedBlockPlan* plan) {
  const WindowAxis& ah = plan->depthwise.axes[0];
  const int64_t out_w = std::max<int64_t>(1, plan->depthwise.axes[1].output);
  int64_t rows =
      std::max<int64_t>(1, std::min(ah.output, (kProjectMinColumns + out_w - 1) / out_w));
  // Whole blocks of the several-rows depthwise kernel: the rows past a block go one at a time.
  if (plan->depthwise.rows)
    rows = std::min(ah.output,
                    (rows + kDepthwiseRowBlock - 1) / kDepthwiseRowBlock * kDepthwiseRowBlock);
  for (;; --rows) {
    plan->group_rows = rows;
    plan->ring_rows = (rows - 1) * ah.stride + (ah.kernel - 1) * ah.dilation + 1;
    if (rows == 1 || working_set_bytes(*plan) <= kFusedMaxScratchBytes) break;
  }
}

size_t fused_block_scratch_floats(const FusedBlockPlan& plan) {
  return size_t(ring_floats(plan) + band_floats(plan)) + gemm_scratch_floats(gemm_isa(plan));
}

void fused_block_run(const FusedBlockPlan& plan, const float* x, int64_t batch, float* y,
                     ThreadPool& pool, float* scratch, int scratch_slots) {
  const WindowAxis& ah = plan.depthwise.axes[0];
  const WindowAxis& aw = plan.depthwise.axes[1];
  const int64_t rows = batch * ah.output;
  if (rows <= 0) return;
  const int64_t work = ((plan.has_expand ? input_channels(plan) : 0) + ah.kernel * aw.kernel +
                        (plan.has_project ? plan.project.rows : 0)) *
                       expanded_channels(plan) * ah.input * aw.input;
  const bool parallel = pool.threads() > 1 && work >= kFusedParallelMinWork;
  const int slots = parallel ? pool.threads() : 1;
  const size_t slot_floats = fused_block_scratch_floats(plan);
  std::vector<float> own;
  if (!scratch || scratch_slots < slots) {
    own.resize(size_t(slots) * slot_floats);
    scratch = own.data();
  }
  if (!parallel) {
    run_rows(plan, x, y, 0, rows, scratch);
    return;
  }
  // Chunks run concurrently on at most `slots` threads; each takes a free slot for its run.
  std::unique_ptr<std::atomic<bool>[]> busy(new std::atomic<bool>[size_t(slots)]);
  for (int s = 0; s < slots; ++s) busy[size_t(s)] = false;
  // Stripes of at least kStripeMinRows rows, two per thread at most (fewer halos), a multiple
  // of the thread count where there are that many (56 rows made 3 stripes, 2 on one thread),
  // claimed in chunks so a late worker's stripes are taken over. Stripes start on whole
  // blocks of the several-rows depthwise kernel.
  int64_t stripes = std::max<int64_t>(1, std::min<int64_t>(2 * slots, rows / kStripeMinRows));
  if (stripes > slots) stripes -= stripes % slots;
  auto boundary = [&](int64_t i) {
    return i == stripes ? rows : i * rows / stripes / kDepthwiseRowBlock * kDepthwiseRowBlock;
  };
  pool.parallel_for(stripes, [&](int64_t begin, int64_t end) {
    int slot = 0;
    for (bool expected = false;; slot = (slot + 1) % slots, expected = false)
      if (busy[size_t(slot)].compare_exchange_strong(expected, true)) break;
    run_rows(plan, x, y, boundary(begin), boundary(end), scratch + size_t(slot) * slot_floats);
    busy[size_t(slot)] = false;
  });
}

namespace {

class FusedBlockKernel : public CpuKernel {
 public:
  FusedBlockPlan plan;
  Shape input_shape, output_shape;
  int threads = 1;
  std::string label;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void* scratch, ThreadPool& pool) override {
    if (inputs.size() != 1 || !inputs[0] || outputs.size() != 1 || !outputs[0] ||
        inputs[0]->dtype != DType::dtype_f32 || outputs[0]->dtype != DType::dtype_f32 ||
        inputs[0]->shape != input_shape || outputs[0]->shape != output_shape)
      return Status::error("fused block kernel: tensors do not match the shapes it was made for (" +
                           shape_to_string(input_shape) + " -> " + shape_to_string(output_shape) +
                           ")");
    fused_block_run(plan, inputs[0]->f32(), input_shape[0], outputs[0]->f32(), pool,
                    static_cast<float*>(scratch), threads);
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
  size_t scratch_bytes() const override {
    return size_t(threads) * fused_block_scratch_floats(plan) * sizeof(float);
  }
};

// The nodes reading each tensor.
std::vector<int> consumer_counts(const Graph& graph) {
  std::vector<int> counts(graph.tensors.size(), 0);
  for (const Node& node : graph.nodes)
    for (int32_t index : node.inputs)
      if (index != kAbsentInput) counts[size_t(index)] += 1;
  for (int32_t index : graph.outputs) counts[size_t(index)] += 1 << 16;  // never "only one"
  return counts;
}

// The one node after `after` reading tensor t, or -1.
int64_t only_consumer(const Graph& graph, const std::vector<int>& counts, int32_t t, size_t after) {
  if (counts[size_t(t)] != 1) return -1;
  for (size_t n = after + 1; n < graph.nodes.size(); ++n)
    for (int32_t index : graph.nodes[n].inputs)
      if (index == t) return int64_t(n);
  return -1;
}

// A pointwise conv node on a 4-D f32 activation, packed into `weights`.
bool pack_pointwise(const Graph& graph, size_t index, CpuIsa isa, GemmWeights* weights) {
  const Node& node = graph.nodes[index];
  if (!is_pointwise_conv(graph, node) || node.outputs.size() != 1) return false;
  const GraphTensor& x = graph.tensors[size_t(node.inputs[0])];
  const GraphTensor& w = graph.tensors[size_t(node.inputs[1])];
  const GraphTensor& y = graph.tensors[size_t(node.outputs[0])];
  if (x.is_constant || x.dtype != DType::dtype_f32 || x.shape.size() != 4 ||
      y.dtype != DType::dtype_f32 || w.shape[1] != x.shape[1] ||
      y.shape != Shape{x.shape[0], w.shape[0], x.shape[2], x.shape[3]})
    return false;
  const float* bias = nullptr;
  if (node.inputs.size() > 2 && node.inputs[2] != kAbsentInput) {
    const GraphTensor& b = graph.tensors[size_t(node.inputs[2])];
    if (b.dtype != DType::dtype_f32 || b.shape != Shape{w.shape[0]}) return false;
    bias = static_cast<const float*>(b.data);
  }
  Activation activation;
  if (!activation_from_conv_attributes(node.attributes, &activation).ok()) return false;
  gemm_pack_weights(static_cast<const float*>(w.data), bias, w.shape[0], w.shape[1], activation,
                    isa, weights, x.shape[2] * x.shape[3]);
  return true;
}

}  // namespace

namespace {

// Columns [p0, p0 + n) of channels [c0, c1) of x ([C][pixels]) times their scale s[c] (the mul
// node's own float products), into dst with `pitch` floats between channel rows.
void scale_columns(const float* x, const float* s, int64_t pixels, int64_t c0, int64_t c1,
                   int64_t p0, int64_t n, float* dst, int64_t pitch) {
  for (int64_t c = c0; c < c1; ++c) {
    const float* src = x + c * pixels + p0;
    float* row = dst + (c - c0) * pitch;
    const float sc = s[c];
    for (int64_t p = 0; p < n; ++p) row[p] = src[p] * sc;
  }
}

// A squeeze-excitation's scaling and the 1×1 that reads it: y = conv1×1(x · s), s one float per
// channel and image. The kernel scales x into its scratch (the mul's own float products: the
// whole image where it is at most 1 MiB, else column chunks of it, one per thread at a time)
// and runs the 1×1 on the scaled copy in place, so the scaled tensor never goes through DRAM;
// bitwise the two nodes.
class ScaledPointwiseKernel : public CpuKernel {
 public:
  PointwisePlan plan;
  Shape x_shape, s_shape, y_shape;
  int threads = 1;
  std::string label;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void* scratch, ThreadPool& pool) override {
    if (inputs.size() != 2 || !inputs[0] || !inputs[1] || outputs.size() != 1 || !outputs[0] ||
        inputs[0]->shape != x_shape || inputs[1]->shape != s_shape ||
        outputs[0]->shape != y_shape || inputs[0]->dtype != DType::dtype_f32 ||
        inputs[1]->dtype != DType::dtype_f32 || outputs[0]->dtype != DType::dtype_f32)
      return Status::error(
          "scaled pointwise kernel: tensors do not match the shapes it was made for");
    const int64_t channels = x_shape[1], pixels = x_shape[2] * x_shape[3];
    const int64_t out_channels = y_shape[1];
    for (int64_t b = 0; b < x_shape[0]; ++b) {
      const float* x = inputs[0]->f32() + b * channels * pixels;
      const float* s = inputs[1]->f32() + b * channels;
      float* y = outputs[0]->f32() + b * out_channels * pixels;
      if (prescaled()) {
        // The whole image scaled into the scratch first (the mul's own products), then read in
        // place by the pixel or column tiles (channel rows on whole lines: prescaled_pitch).
        float* scaled = static_cast<float*>(scratch);
        const int64_t pitch = prescaled_pitch();
        pool.parallel_for(
            channels,
            [&](int64_t begin, int64_t end) {
              scale_columns(x, s, pixels, begin, end, 0, pixels, scaled + begin * pitch, pitch);
            },
            channels * pixels);
        pointwise_run(plan, scaled, pixels, y, pool, scaled + channels * pitch, threads, pitch);
        continue;
      }
      // Larger images in column chunks: each thread scales a chunk of every channel into its
      // scratch slot (long contiguous runs of each channel row, which the hardware prefetcher
      // follows) and runs the 1×1 on it in place (in L2). A packer that scaled per column
      // block read 8 cache lines of each of K channel rows at a time (docs/CPU.md).
      const int64_t chunks = (pixels + chunk_columns_ - 1) / chunk_columns_;
      const size_t slot_floats = chunk_slot_floats();
      float* slots = static_cast<float*>(scratch);
      pool.parallel_for_indexed(
          chunks,
          [&](int64_t begin, int64_t end, int index) {
            float* chunk = slots + size_t(index) * slot_floats;
            float* gemm_scratch = chunk + channels * chunk_pitch_;
            for (int64_t i = begin; i < end; ++i) {
              const int64_t p0 = i * chunk_columns_;
              const int64_t n = std::min(chunk_columns_, pixels - p0);
              scale_columns(x, s, pixels, 0, channels, p0, n, chunk, chunk_pitch_);
              PointwisePacker packer(chunk, chunk_pitch_, true);
              gemm_run_serial(plan.gemm, packer, n, y + p0, pixels, gemm_scratch);
            }
          },
          out_channels * channels * pixels);
    }
    return Status::success();
  }
  // Sets the column chunks of images too large to prescale whole (see run).
  void plan_chunks() {
    const int64_t channels = x_shape[1];
    const int64_t tile = plan.gemm.kernels->tile_columns;
    chunk_columns_ = std::max<int64_t>(
        tile, kScaledChunkBytes / (channels * int64_t(sizeof(float))) / tile * tile);
    chunk_columns_ = std::min(chunk_columns_, (x_shape[2] * x_shape[3] + tile - 1) / tile * tile);
    // A pitch that is a multiple of 4 KiB maps every channel row to one L1 set.
    chunk_pitch_ =
        chunk_columns_ + ((chunk_columns_ * int64_t(sizeof(float))) % 4096 == 0 ? 16 : 0);
  }
  const char* name() const override { return label.c_str(); }
  size_t scratch_bytes() const override {
    if (prescaled())
      return (size_t(x_shape[1] * prescaled_pitch()) +
              size_t(threads) * gemm_scratch_floats(plan.gemm.isa)) *
             sizeof(float);
    return size_t(threads) * chunk_slot_floats() * sizeof(float);
  }

 private:
  // Bytes of scaled floats per column chunk, at most (a quarter of a 2 MiB L2, beside the
  // weights), unless one column tile of all the channels is more: then one tile.
  static constexpr int64_t kScaledChunkBytes = int64_t(512) << 10;
  int64_t chunk_columns_ = 0, chunk_pitch_ = 0;
  size_t chunk_slot_floats() const {
    return size_t(x_shape[1] * chunk_pitch_) + gemm_scratch_floats(plan.gemm.isa);
  }

  // Floats between two channels of the prescaled copy: the pixels, rounded up to whole 64-byte
  // lines for the column tiles (the pixel tiles broadcast single floats and take `pixels`).
  int64_t prescaled_pitch() const {
    const int64_t pixels = x_shape[2] * x_shape[3];
    return plan.pixel_packed.empty() ? whole_lines(pixels) : pixels;
  }

  // Images the pointwise kernel reads in place (pixel tiles, or inputs of at most 1 MiB).
  bool prescaled() const {
    return !plan.pixel_packed.empty() ||
           pointwise_reads_in_place(x_shape[2] * x_shape[3], x_shape[1]);
  }
};

bool make_scaled_pointwise_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config,
                                  CpuFusedKernel* fused) {
  const Node& mul = graph.nodes[index];
  if (mul.op != OpType::op_mul || mul.inputs.size() != 2 || mul.outputs.size() != 1 ||
      mul.attributes.size() != 0)
    return false;
  const GraphTensor& a = graph.tensors[size_t(mul.inputs[0])];
  const GraphTensor& b = graph.tensors[size_t(mul.inputs[1])];
  const bool a_is_x = a.shape.size() == 4 && b.shape.size() == 4 && b.shape[2] == 1 &&
                      b.shape[3] == 1 && a.shape[2] * a.shape[3] > 1;
  const int32_t x_index = a_is_x ? mul.inputs[0] : mul.inputs[1];
  const int32_t s_index = a_is_x ? mul.inputs[1] : mul.inputs[0];
  const GraphTensor& x = graph.tensors[size_t(x_index)];
  const GraphTensor& s = graph.tensors[size_t(s_index)];
  const GraphTensor& scaled = graph.tensors[size_t(mul.outputs[0])];
  if (x.shape.size() != 4 || x.dtype != DType::dtype_f32 || s.dtype != DType::dtype_f32 ||
      x.is_constant || s.shape != Shape{x.shape[0], x.shape[1], 1, 1} ||
      x.shape[2] * x.shape[3] < 2 || scaled.dtype != DType::dtype_f32 || scaled.shape != x.shape)
    return false;
  const std::vector<int> counts = consumer_counts(graph);
  const int64_t conv = only_consumer(graph, counts, mul.outputs[0], index);
  if (conv < 0 || graph.nodes[size_t(conv)].inputs[0] != mul.outputs[0]) return false;
  std::unique_ptr<ScaledPointwiseKernel> kernel(new ScaledPointwiseKernel());
  if (!pack_pointwise(graph, size_t(conv), config.isa, &kernel->plan.gemm)) return false;
  const int32_t output = graph.nodes[size_t(conv)].outputs[0];
  kernel->x_shape = x.shape;
  kernel->s_shape = s.shape;
  kernel->y_shape = graph.tensors[size_t(output)].shape;
  kernel->threads = std::max(1, config.threads);
  const bool pixel_tiles = pointwise_plan_pixel_tiles(&kernel->plan, x.shape[2] * x.shape[3]);
  kernel->plan_chunks();
  kernel->label = std::string("mul_1x1/") + (pixel_tiles ? kernel->plan.gemm.kernels->pixels_name
                                                         : kernel->plan.gemm.kernels->name);
  fused->kernel = std::move(kernel);
  fused->nodes = {index, size_t(conv)};
  fused->inputs = {x_index, s_index};
  fused->outputs = {output};
  return true;
}

}  // namespace

namespace {

// The rest of a chain whose depthwise is node `dw` (plan.depthwise filled, plan.has_expand and
// plan.expand set), the block input being tensor x_index and its first node `first`: the
// projection that alone reads the depthwise output, the residual add, the row plan and the
// kernel. False where the chain does not fuse (then nothing is made).
bool finish_fused_block(const Graph& graph, size_t first, int64_t dw, int32_t x_index,
                        const std::string& geometry, const CpuKernelConfig& config,
                        std::unique_ptr<FusedBlockKernel> kernel, CpuFusedKernel* fused) {
  FusedBlockPlan& plan = kernel->plan;
  const GraphTensor& x = graph.tensors[size_t(x_index)];
  const std::vector<int> counts = consumer_counts(graph);
  const int32_t d = graph.nodes[size_t(dw)].outputs[0];
  // Without a projection of its own (a squeeze-excitation block, or a depthwise output that
  // other nodes read too, as Panoptic-DeepLab's decoders read the stride-4 features), the
  // chain stops at the depthwise, which writes its output tensor; a chain without an
  // expansion needs the projection (alone, the depthwise is the unfused kernel).
  const int64_t project = only_consumer(graph, counts, d, size_t(dw));
  plan.has_project =
      project >= 0 && pack_pointwise(graph, size_t(project), config.isa, &plan.project);
  if (!plan.has_project && !plan.has_expand) return false;
  int32_t output = plan.has_project ? graph.nodes[size_t(project)].outputs[0] : d;
  std::vector<size_t> nodes = {first};
  if (plan.has_expand) nodes.push_back(size_t(dw));
  if (plan.has_project) nodes.push_back(size_t(project));
  // The residual: an add of the projection and the block input, same shapes.
  const int64_t add = plan.has_project ? only_consumer(graph, counts, output, size_t(project)) : -1;
  if (add >= 0) {
    const Node& node = graph.nodes[size_t(add)];
    const bool plain_add = node.op == OpType::op_add && node.inputs.size() == 2 &&
                           node.outputs.size() == 1 && node.attributes.size() == 0;
    if (plain_add) {
      const int32_t other = node.inputs[0] == output ? node.inputs[1] : node.inputs[0];
      const GraphTensor& sum = graph.tensors[size_t(node.outputs[0])];
      if (other == x_index && x.shape == graph.tensors[size_t(output)].shape &&
          sum.shape == x.shape && sum.dtype == DType::dtype_f32) {
        plan.residual = true;
        output = node.outputs[0];
        nodes.push_back(size_t(add));
      }
    }
  }
  fused_block_plan_rows(&plan);
  // The banded depthwise copies a group's input rows into its padded buffer: with one output
  // row per group it copies k rows per output row. Measured (CPU time, 1 thread): 112→672
  // dw 5×5 at 65×129, one row per group, 39.1 ms fused against 23.4 ms unfused; 160→960 dw 5×5
  // at 33×65 (3 rows, with 0.6 MB of expand weights beside the ring) 13.2 against 11.0 ms.
  // Without an expansion the depthwise reads a group's input rows of every channel from the
  // block input; the next group reads most of them again, which only stays cheap while they
  // are still in L2 beside the band. Measured at 1025×2049 (Panoptic-DeepLab, 1 thread): the
  // decoders' 288-channel dw 5×5 → 1×1 at 257×513, two rows per group and 3.5 MB of input rows
  // per group, ran fused in 237 ms against 35 + 138 ms unfused (with 4, 8 and 16 rows per group,
  // past L2, 196–200 ms); MobileNetV3's first block (16 channels at 513×1025) in 10.1–10.6 ms
  // against 6.7 + 7.0 + 3.6 ms.
  const int64_t input_window = plan.has_expand
                                   ? 0
                                   : input_channels(plan) * plan.ring_rows *
                                         plan.depthwise.axes[1].input * int64_t(sizeof(float));
  if (working_set_bytes(plan) + input_window > kFusedMaxScratchBytes ||
      (plan.depthwise.banded && plan.group_rows < 2 && plan.depthwise.axes[0].output > 1))
    return false;

  kernel->input_shape = x.shape;
  kernel->output_shape = graph.tensors[size_t(output)].shape;
  kernel->threads = std::max(1, config.threads);
  const GemmWeights& gemm = plan.has_expand ? plan.expand : plan.project;
  kernel->label = std::string("fused_block_") + (plan.has_expand ? "1x1_" : "") + "dw" + geometry +
                  (plan.has_project ? "_1x1" : "") + (plan.residual ? "_add" : "") + "/" +
                  gemm.kernels->name + "+" + plan.depthwise.kernel_name;
  fused->kernel = std::move(kernel);
  fused->nodes = std::move(nodes);
  fused->inputs = {x_index};
  fused->outputs = {output};
  return true;
}

// Depthwise k×k → project 1×1 (→ add) without an expansion, node `index` the depthwise.
bool make_depthwise_project_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config,
                                   CpuFusedKernel* fused) {
  const Node& node = graph.nodes[index];
  if (node.inputs.empty() || node.outputs.size() != 1) return false;
  const GraphTensor& x = graph.tensors[size_t(node.inputs[0])];
  const GraphTensor& d = graph.tensors[size_t(node.outputs[0])];
  if (x.is_constant || x.dtype != DType::dtype_f32 || x.shape.size() != 4 || d.shape.size() != 4)
    return false;
  // Only depthwise outputs that would go through DRAM unfused (see kFusedMinDepthwiseBytes).
  int64_t bytes = 4;
  for (int64_t dim : {d.shape[1], d.shape[2], d.shape[3]}) bytes *= dim;
  if (bytes < kFusedMinDepthwiseBytes) return false;
  std::unique_ptr<FusedBlockKernel> kernel(new FusedBlockKernel());
  kernel->plan.has_expand = false;
  std::string geometry;
  if (!depthwise_plan_node(graph, index, config.isa, &kernel->plan.depthwise, &geometry))
    return false;
  return finish_fused_block(graph, index, int64_t(index), node.inputs[0], geometry, config,
                            std::move(kernel), fused);
}

}  // namespace

bool cpu_make_fused_kernel(const Graph& graph, size_t index, const CpuKernelConfig& config,
                           CpuFusedKernel* fused) {
  if (graph.nodes[index].op == OpType::op_mul)
    return make_scaled_pointwise_kernel(graph, index, config, fused);
  if (graph.nodes[index].op != OpType::op_conv) return false;
  if (make_depthwise_project_kernel(graph, index, config, fused)) return true;
  std::unique_ptr<FusedBlockKernel> kernel(new FusedBlockKernel());
  FusedBlockPlan& plan = kernel->plan;
  if (!pack_pointwise(graph, index, config.isa, &plan.expand)) return false;
  const Node& expand = graph.nodes[index];
  const GraphTensor& x = graph.tensors[size_t(expand.inputs[0])];
  const GraphTensor& e = graph.tensors[size_t(expand.outputs[0])];
  // Only expansions (E > C), where the expanded tensor dominates the block's memory traffic and
  // the 1×1s are cheap per byte; a chain that keeps or narrows the width (the decoders' 288→256
  // → dw 5×5 → 256→256) is compute bound and gains nothing from fusion (measured: 1009 ms
  // unfused, 1051 ms fused at 1025×2049).
  int64_t bytes = 4;
  for (int64_t d : {e.shape[1], e.shape[2], e.shape[3]}) bytes *= d;
  if (e.shape[1] <= x.shape[1] || bytes < kFusedMinExpandedBytes) return false;

  const std::vector<int> counts = consumer_counts(graph);
  const int64_t dw = only_consumer(graph, counts, expand.outputs[0], index);
  std::string geometry;
  if (dw < 0 || !depthwise_plan_node(graph, size_t(dw), config.isa, &plan.depthwise, &geometry))
    return false;
  return finish_fused_block(graph, index, dw, expand.inputs[0], geometry, config, std::move(kernel),
                            fused);
}

}  // namespace atrous
