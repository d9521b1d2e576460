#include "cpu/cpu_kernel.h"

namespace atrous {

CpuKernelPtr cpu_make_kernel(const Graph& graph, size_t node, const CpuKernelConfig& config) {
  using Factory = CpuKernelPtr (*)(const Graph&, size_t, const CpuKernelConfig&);
  static const Factory factories[] = {
      cpu_make_pointwise_kernel,   cpu_make_depthwise_kernel,      cpu_make_dense_conv_kernel,
      cpu_make_elementwise_kernel, cpu_make_pool_kernel,           cpu_make_resize_kernel,
      cpu_make_concat_kernel,      cpu_make_softmax_argmax_kernel, cpu_make_fully_connected_kernel,
  };
  for (Factory factory : factories)
    if (CpuKernelPtr kernel = factory(graph, node, config)) return kernel;
  return nullptr;
}

}  // namespace atrous
