// softmax and argmax over the channel axis (axis 1) of a rank-4 NCHW float32 tensor, vectorized
// over the pixels of each image: per vector of pixels, the loops walk the channels (planes
// H·W apart). Other axes run on the reference.
//
// argmax is exact: the first maximum wins ties and NaN counts as the maximum, as the reference.
// softmax computes max, exp(x − max), their sum and the quotient in float (xsimd::exp, std::exp
// in the tails) where the reference uses double; the test bounds the difference relatively.
// Pixels are split across threads in fixed blocks; each pixel's channels are one task's alone.
#include <cstdint>
#include <string>

#include "cpu/cpu_kernel.h"
#include "cpu/kernel_table.h"
#include "cpu/node_check.h"

namespace atrous {

namespace {

constexpr int64_t kPixelBlock = 1024;

class ChannelKernel : public CpuKernel {
 public:
  bool is_argmax = false;
  int64_t batch = 0, channels = 0, pixels = 0;
  const MiscKernels* loops = nullptr;
  std::string label;  // {argmax,softmax}_channels_<the loops' name>

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    const float* x = inputs[0]->f32();
    const int64_t blocks_per_image = (pixels + kPixelBlock - 1) / kPixelBlock;
    pool.parallel_for(batch * blocks_per_image, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t image = task / blocks_per_image, block = task % blocks_per_image;
        const int64_t first = block * kPixelBlock, last = std::min(pixels, first + kPixelBlock);
        const float* source = x + image * channels * pixels;
        if (is_argmax)
          loops->argmax_channels(source, outputs[0]->i32() + image * pixels, channels, pixels,
                                 first, last);
        else
          loops->softmax_channels(source, outputs[0]->f32() + image * channels * pixels, channels,
                                  pixels, first, last);
      }
    });
    return Status::success();
  }
  const char* name() const override { return label.c_str(); }
};

}  // namespace

CpuKernelPtr cpu_make_softmax_argmax_kernel(const Graph& graph, size_t index,
                                            const CpuKernelConfig& config) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_softmax && node.op != OpType::op_argmax) return nullptr;
  if (!cpu_node_shapes_check(graph, node)) return nullptr;
  const Shape& shape = graph.tensors[size_t(node.inputs[0])].shape;
  if (shape.size() != 4) return nullptr;
  const bool is_argmax = node.op == OpType::op_argmax;
  int64_t axis = node.attributes.get_int("axis", is_argmax ? 0 : -1);
  if (axis < 0) axis += 4;
  if (axis != 1) return nullptr;
  // argmax carries indices in float lanes: exact below 2^24 channels.
  if (is_argmax && shape[1] > (int64_t(1) << 24)) return nullptr;
  std::unique_ptr<ChannelKernel> kernel(new ChannelKernel());
  kernel->is_argmax = is_argmax;
  kernel->batch = shape[0];
  kernel->channels = shape[1];
  kernel->pixels = shape[2] * shape[3];
  kernel->loops = &cpu_kernel_table(config.isa).misc;
  kernel->label =
      std::string(is_argmax ? "argmax_channels_" : "softmax_channels_") + kernel->loops->name;
  return kernel;
}

}  // namespace atrous
