// NEON (aarch64) instantiation of the GEMM microkernel.
#if defined(__aarch64__)
#include "cpu/gemm_kernel.h"

namespace atrous {

void gemm_block_neon(const GemmBlock& block) { gemm_block<xsimd::neon64>(block); }

}  // namespace atrous
#endif
