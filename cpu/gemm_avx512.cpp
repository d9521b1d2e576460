// AVX-512F instantiation of the GEMM microkernel (compiled with -mavx512f -mfma).
#if defined(__x86_64__)
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the broadcasts
// (the intrinsics start from an undefined vector on purpose).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "cpu/gemm_kernel.h"

namespace atrous {

void gemm_block_avx512(const GemmBlock& block) { gemm_block<xsimd::avx512f>(block); }

}  // namespace atrous
#endif
