#include "cpu/isa.h"

#include <cstdlib>
#include <cstring>

#include "cpu/kernel_table.h"

namespace atrous {

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::cpu_isa_scalar:
      return "scalar";
    case CpuIsa::cpu_isa_avx2:
      return "avx2";
    case CpuIsa::cpu_isa_avx512:
      return "avx512";
    case CpuIsa::cpu_isa_neon:
      return "neon";
  }
  return "unknown";
}

namespace {

CpuIsa hardware_isa() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return CpuIsa::cpu_isa_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::cpu_isa_avx2;
  return CpuIsa::cpu_isa_scalar;
#elif defined(__aarch64__)
  return CpuIsa::cpu_isa_neon;
#else
  return CpuIsa::cpu_isa_scalar;
#endif
}

}  // namespace

CpuIsa cpu_isa_detect() {
  CpuIsa isa = hardware_isa();
  const char* forced = std::getenv("ATROUS_ISA");
  if (!forced) return isa;
  // Only ever lower the level: a forced ISA the CPU lacks would crash.
  if (std::strcmp(forced, "scalar") == 0) return CpuIsa::cpu_isa_scalar;
  if (std::strcmp(forced, "avx2") == 0 && isa == CpuIsa::cpu_isa_avx512)
    return CpuIsa::cpu_isa_avx2;
  return isa;
}

int cpu_isa_vector_floats(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::cpu_isa_avx512:
      return 16;
    case CpuIsa::cpu_isa_avx2:
      return 8;
    case CpuIsa::cpu_isa_neon:
      return 4;
    case CpuIsa::cpu_isa_scalar:
      return 1;
  }
  return 1;
}

// The one switch on the ISA: every kernel family's entry points come from the table it returns.
const CpuKernelTable& cpu_kernel_table(CpuIsa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case CpuIsa::cpu_isa_avx512:
      return cpu_kernel_table_avx512();
    case CpuIsa::cpu_isa_avx2:
      return cpu_kernel_table_avx2();
#endif
#if defined(__aarch64__)
    case CpuIsa::cpu_isa_neon:
      return cpu_kernel_table_neon();
#endif
    default:
      return cpu_kernel_table_scalar();
  }
}

const CpuKernelTable& cpu_kernel_table() {
  static const CpuKernelTable& detected = cpu_kernel_table(cpu_isa_detect());
  return detected;
}

}  // namespace atrous
