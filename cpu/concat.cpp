// concat along any axis, for any dtype: the output is `outer` blocks (the product of the dims
// before the axis), and block o is the o-th contiguous slice of each input in turn, so the
// whole op is memcpys (channel concat of one NCHW image is one memcpy per input). The copies
// are cut at creation into pieces of at most kPieceBytes, spread over the threads.
#include <cstdint>
#include <cstring>

#include "cpu/cpu_kernel.h"
#include "cpu/node_check.h"

namespace atrous {

namespace {

constexpr size_t kPieceBytes = size_t(1) << 18;

struct CopyPiece {
  size_t input = 0;
  size_t source_offset = 0, target_offset = 0, bytes = 0;
};

class ConcatKernel : public CpuKernel {
 public:
  std::vector<CopyPiece> pieces;

  Status run(const std::vector<const TensorView*>& inputs, const std::vector<TensorView*>& outputs,
             void*, ThreadPool& pool) override {
    uint8_t* target = static_cast<uint8_t*>(outputs[0]->data);
    pool.parallel_for(int64_t(pieces.size()), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const CopyPiece& piece = pieces[size_t(i)];
        std::memcpy(target + piece.target_offset,
                    static_cast<const uint8_t*>(inputs[piece.input]->data) + piece.source_offset,
                    piece.bytes);
      }
    });
    return Status::success();
  }
  const char* name() const override { return "concat"; }
};

}  // namespace

CpuKernelPtr cpu_make_concat_kernel(const Graph& graph, size_t index, const CpuKernelConfig&) {
  const Node& node = graph.nodes[index];
  if (node.op != OpType::op_concat || !cpu_node_shapes_check(graph, node)) return nullptr;
  const GraphTensor& output = graph.tensors[size_t(node.outputs[0])];
  const int64_t rank = int64_t(output.shape.size());
  int64_t axis = node.attributes.get_int("axis", 0);
  if (axis < 0) axis += rank;  // op_infer checked the range
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= output.shape[size_t(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= output.shape[size_t(d)];
  const size_t element = dtype_size(output.dtype);
  std::unique_ptr<ConcatKernel> kernel(new ConcatKernel());
  size_t target = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const GraphTensor& input = graph.tensors[size_t(node.inputs[i])];
      const size_t block = size_t(input.shape[size_t(axis)] * inner) * element;
      for (size_t done = 0; done < block; done += kPieceBytes) {
        CopyPiece piece;
        piece.input = i;
        piece.source_offset = size_t(o) * block + done;
        piece.target_offset = target + done;
        piece.bytes = std::min(kPieceBytes, block - done);
        kernel->pieces.push_back(piece);
      }
      target += block;
    }
  }
  return kernel;
}

}  // namespace atrous
