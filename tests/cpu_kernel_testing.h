// Helpers for the CPU kernel-family tests: a one-node graph, the family's kernel for it on a
// given ISA, and runs of the kernel and of the reference on the same inputs.
#pragma once

#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "cpu/cpu_kernel.h"
#include "ops/ops.h"
#include "tests/graph_fixtures.h"

namespace atrous {
namespace cpu_testing {

// The ISAs whose CpuKernelTable this machine can run (cpu_isa_detect(), so ATROUS_ISA lowers
// the list): scalar, avx2 and avx512 on an AVX-512 CPU. The families' kernels take their entry
// points from cpu_kernel_table(config.isa), so a test over these ISAs covers every table.
inline std::vector<CpuIsa> runnable_isas() {
  std::vector<CpuIsa> isas = {CpuIsa::cpu_isa_scalar};
  CpuIsa best = cpu_isa_detect();
  if (best == CpuIsa::cpu_isa_avx512) isas.push_back(CpuIsa::cpu_isa_avx2);
  if (best != CpuIsa::cpu_isa_scalar) isas.push_back(best);
  return isas;
}

using Factory = CpuKernelPtr (*)(const Graph&, size_t, const CpuKernelConfig&);

// A graph with one node of `op` over inputs of the given shapes (float32 unless dtypes says
// otherwise); the outputs get the shapes op_infer gives. REQUIREs that inference succeeds.
inline Graph single_node_graph(OpType op, const AttributeMap& attributes,
                               const std::vector<Shape>& shapes,
                               const std::vector<DType>& dtypes = {}) {
  Graph graph;
  std::vector<int32_t> inputs;
  std::vector<TensorDesc> descs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const DType dtype = i < dtypes.size() ? dtypes[i] : DType::dtype_f32;
    inputs.push_back(graph.add_tensor("x" + std::to_string(i), dtype, shapes[i]));
    descs.push_back(TensorDesc{dtype, shapes[i]});
  }
  std::vector<const TensorDesc*> pointers;
  for (const TensorDesc& desc : descs) pointers.push_back(&desc);
  std::vector<TensorDesc> outputs;
  Status status = op_infer(op, attributes, pointers, &outputs);
  INFO(status.message());
  REQUIRE(status.ok());
  std::vector<int32_t> output_indices;
  for (size_t i = 0; i < outputs.size(); ++i)
    output_indices.push_back(
        graph.add_tensor("y" + std::to_string(i), outputs[i].dtype, outputs[i].shape));
  testing::add_node(graph, op, "node", inputs, output_indices, attributes);
  graph.inputs = inputs;
  graph.outputs = output_indices;
  return graph;
}

inline Tensor output_tensor(const Graph& graph) {
  const GraphTensor& tensor = graph.tensors[size_t(graph.nodes[0].outputs[0])];
  return Tensor(tensor.dtype, tensor.shape);
}

inline std::vector<const TensorView*> views(const std::vector<Tensor>& tensors) {
  std::vector<const TensorView*> result;
  for (const Tensor& tensor : tensors) result.push_back(&tensor.view());
  return result;
}

// The reference's output for the graph's node.
inline Tensor run_reference(const Graph& graph, const std::vector<Tensor>& inputs) {
  Tensor y = output_tensor(graph);
  const Node& node = graph.nodes[0];
  Status status = op_run_reference(node.op, node.attributes, views(inputs), {&y.view()});
  REQUIRE(status.ok());
  return y;
}

// The kernel's output (NaN-filled before the run, so unwritten elements show).
inline Tensor run_kernel(CpuKernel& kernel, const Graph& graph, const std::vector<Tensor>& inputs,
                         int threads) {
  Tensor y = output_tensor(graph);
  if (y.dtype() == DType::dtype_f32)
    for (int64_t i = 0; i < y.numel(); ++i) y.f32()[i] = NAN;
  else
    std::memset(y.data(), 0xA5, y.byte_size());
  std::vector<uint8_t> scratch(kernel.scratch_bytes() + 64);
  ThreadPool pool(threads);
  Status status = kernel.run(views(inputs), {&y.view()}, scratch.data(), pool);
  REQUIRE(status.ok());
  return y;
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.data(), b.data(), a.byte_size()) == 0;
}

// |t| element-wise (for the reference run on magnitudes that scales an error bound).
inline Tensor absolute(const Tensor& t) {
  Tensor result(DType::dtype_f32, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) result.f32()[i] = std::fabs(t.f32()[i]);
  return result;
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(double(t.f32()[i])));
  return m;
}

}  // namespace cpu_testing
}  // namespace atrous
