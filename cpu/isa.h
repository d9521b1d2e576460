// The CPU's SIMD level, detected from the CPU; cpu_kernel_table (cpu/kernel_table.h) maps it to
// every kernel family's entry points. ATROUS_ISA=scalar|avx2|avx512 (or neon on aarch64) forces a
// lower level, so tests can cover every path on one machine.
#pragma once

namespace atrous {

enum class CpuIsa { cpu_isa_scalar, cpu_isa_avx2, cpu_isa_avx512, cpu_isa_neon };

CpuIsa cpu_isa_detect();
const char* cpu_isa_name(CpuIsa isa);
// Floats per SIMD vector of the ISA's kernels (1 for scalar).
int cpu_isa_vector_floats(CpuIsa isa);

}  // namespace atrous
