// Placeholder: no fast kernel yet for this family; its nodes run on the reference backend.
#include "cpu/cpu_kernel.h"

namespace atrous {

CpuKernelPtr cpu_make_pool_kernel(const Graph&, size_t, const CpuKernelConfig&) { return nullptr; }

}  // namespace atrous
