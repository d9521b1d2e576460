// AVX2 + FMA instantiation of the GEMM microkernel (compiled with -mavx2 -mfma).
#if defined(__x86_64__)
#include "cpu/gemm_kernel.h"

namespace atrous {

void gemm_block_avx2(const GemmBlock& block) { gemm_block<xsimd::fma3<xsimd::avx2>>(block); }

}  // namespace atrous
#endif
