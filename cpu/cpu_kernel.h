// The fast CPU backend's kernel interface. For each graph node the session asks the kernel
// families in turn (cpu_make_kernel) for a prepared kernel; a family returns nullptr for nodes
// it does not handle, and such nodes run on the reference implementation of ops/.
//
// Contract for every kernel:
//  * Layout and semantics are those of the op in docs/OPS.md (NCHW, the node's attributes);
//    shapes are the graph's static shapes, known at creation, so kernels pack weights and
//    precompute indices once.
//  * run() gets the node's inputs and outputs as op_run_reference does (an absent optional
//    input is nullptr); outputs are allocated, uninitialized and never alias an input unless
//    the kernel says supports_in_place() (then output 0 may alias input 0 of the same shape).
//  * scratch points to scratch_bytes() bytes (64-byte aligned) that only this run uses.
//  * Work is split with ThreadPool::parallel_for over output tiles only, with the same
//    arithmetic for every tile whatever the thread count: results are bitwise identical for
//    1, 2 and N threads. No reductions are split across threads.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "cpu/isa.h"
#include "graph/graph.h"
#include "graph/status.h"
#include "graph/tensor.h"
#include "graph/thread_pool.h"

namespace atrous {

class CpuKernel {
 public:
  virtual ~CpuKernel() = default;
  virtual Status run(const std::vector<const TensorView*>& inputs,
                     const std::vector<TensorView*>& outputs, void* scratch, ThreadPool& pool) = 0;
  // A short label for profiles, e.g. "depthwise_3x3_s2".
  virtual const char* name() const = 0;
  virtual size_t scratch_bytes() const { return 0; }
  virtual bool supports_in_place() const { return false; }
};

using CpuKernelPtr = std::unique_ptr<CpuKernel>;

struct CpuKernelConfig {
  CpuIsa isa = CpuIsa::cpu_isa_scalar;
  int threads = 1;  // the session's thread count (for sizing per-thread scratch)
};

// Kernel families, one per file of cpu/. Each returns nullptr when it does not handle the node.
CpuKernelPtr cpu_make_pointwise_kernel(const Graph& graph, size_t node,
                                       const CpuKernelConfig& config);
CpuKernelPtr cpu_make_depthwise_kernel(const Graph& graph, size_t node,
                                       const CpuKernelConfig& config);
CpuKernelPtr cpu_make_dense_conv_kernel(const Graph& graph, size_t node,
                                        const CpuKernelConfig& config);
CpuKernelPtr cpu_make_elementwise_kernel(const Graph& graph, size_t node,
                                         const CpuKernelConfig& config);
CpuKernelPtr cpu_make_pool_kernel(const Graph& graph, size_t node, const CpuKernelConfig& config);
CpuKernelPtr cpu_make_resize_kernel(const Graph& graph, size_t node, const CpuKernelConfig& config);
CpuKernelPtr cpu_make_concat_kernel(const Graph& graph, size_t node, const CpuKernelConfig& config);
CpuKernelPtr cpu_make_softmax_argmax_kernel(const Graph& graph, size_t node,
                                            const CpuKernelConfig& config);
CpuKernelPtr cpu_make_fully_connected_kernel(const Graph& graph, size_t node,
                                             const CpuKernelConfig& config);

// A kernel that computes a chain of nodes at once (cpu/fused_block.h). The session runs it in
// place of nodes[0], with run()'s inputs and outputs being the graph tensors `inputs` and
// `outputs`, and skips the other nodes. The chain's intermediate tensors are read by no node
// outside it and are no graph outputs, so they are never materialized.
struct CpuFusedKernel {
  CpuKernelPtr kernel;
  std::vector<size_t> nodes;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
};

// The fused chain that starts at `node`: an inverted-residual block (expand 1×1 → depthwise →
// project 1×1, + the residual add), or a squeeze-excitation's per-channel mul and the 1×1 that
// alone reads its output (scaled into scratch, then read in place); false when none does.
bool cpu_make_fused_kernel(const Graph& graph, size_t node, const CpuKernelConfig& config,
                           CpuFusedKernel* fused);

// Tries the families above in order; nullptr when none handles the node.
CpuKernelPtr cpu_make_kernel(const Graph& graph, size_t node, const CpuKernelConfig& config);

}  // namespace atrous
