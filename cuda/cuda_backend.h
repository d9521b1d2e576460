// The CUDA backend's host-side interface. It includes no CUDA header, so code built by the host
// compiler (the session, the CLI, the tests) can use it; it exists only in builds with
// ATROUS_HAVE_CUDA (CMake found nvcc and the CUDA toolkit).
//
// A CudaExecutor runs one graph on one device:
//  * weights (all constant tensors) are uploaded once, when the executor is created;
//  * every intermediate tensor and graph output lives in one device arena planned from tensor
//    liveness (the same greedy-by-size placement as the CPU session);
//  * work is queued on the executor's own CUDA stream; run() copies the inputs in, runs every
//    node and copies the outputs back;
//  * conv runs as a hand-written depthwise kernel (group = C, any stride, dilation and padding)
//    or as cuBLAS SGEMM (1×1 convolutions directly, others after im2col, per group), followed
//    by a fused bias + activation epilogue; the activations, add/sub/mul/div with broadcasting,
//    global_average_pool, average_pool, max_pool, resize (bilinear and nearest, every coordinate
//    mode), concat, softmax, argmax, reshape and flatten have kernels of their own;
//  * any other op (batch_norm that was not folded, transpose, pad, slice, gemm, ...) runs on the
//    reference implementation on the host, with its inputs copied back and its output copied up
//    (counted in host_fallback_nodes()).
// FP32 throughout; TF32 tensor-core math in cuBLAS only when CudaOptions::allow_tf32 is set.
//
// The panoptic merger on the device (models/panoptic_merger_cuda.h) takes the network's outputs
// where they are (CudaExecutor::run_on_device); its kernels are cuda/panoptic_merge_kernels.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

// True when a CUDA device can be used; otherwise false with `reason` (driver or device missing).
bool cuda_device_available(std::string* reason);

struct CudaOptions {
  int device = 0;
  bool allow_tf32 = false;      // cuBLAS may use TF32 tensor cores (about 1e-3 relative error)
  bool use_cuda_graph = false;  // capture the node sequence once, replay it on later runs
  bool profile = false;         // time every node with CUDA events (CudaExecutor::node_seconds)
};

// A tensor in device memory (an executor's arena): valid until the executor's next run.
struct CudaDeviceTensor {
  DType dtype = DType::dtype_f32;
  Shape shape;
  const void* data = nullptr;
};

class CudaExecutor {
 public:
  virtual ~CudaExecutor() = default;
  // `graph` must have inferred shapes; the executor keeps its own copy (sharing constant storage).
  static Status create(const Graph& graph, const CudaOptions& options,
                       std::unique_ptr<CudaExecutor>* executor);
  // `inputs` in the order of graph.inputs, with the graph's dtypes and shapes (the caller checks).
  // Returns the graph outputs in graph order, on the host.
  virtual Status run(const std::vector<const TensorView*>& inputs,
                     std::vector<Tensor>* outputs) = 0;
  // Like run(), but the outputs stay on the device: `outputs` gets their addresses in the arena
  // (valid until the next run). The work is finished (the stream synchronized) on return.
  virtual Status run_on_device(const std::vector<const TensorView*>& inputs,
                               std::vector<CudaDeviceTensor>* outputs) = 0;
  virtual size_t arena_bytes() const = 0;
  virtual size_t weight_bytes() const = 0;
  // Nodes that run on the host reference implementation (ops without a CUDA kernel).
  virtual size_t host_fallback_nodes() const = 0;
  // With CudaOptions::profile: per node, the device time of the last run (seconds), and the
  // name of the kernel path that ran it ("depthwise", "gemm_1x1", "im2col_gemm", "host", ...).
  virtual const std::vector<double>& node_seconds() const = 0;
  virtual const std::vector<std::string>& node_kernels() const = 0;
};

// Device roofline measurements for the benchmarks: device-to-device copy bandwidth in bytes/s
// (bytes read + written), and FP32 FMA throughput in FLOP/s (2 per FMA), each timed with events.
Status cuda_measure_bandwidth(double* bytes_per_second);
Status cuda_measure_fp32_peak(double* flops_per_second);

}  // namespace atrous
