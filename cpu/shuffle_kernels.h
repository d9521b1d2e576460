// Data movement in SIMD registers, per ISA (compiled in that ISA's kernels_<isa>.cpp); pure
// copies, so exact.
//  * transpose_block_<n>x<n>: one square block of `lanes` × `lanes` floats (lanes: the ISA's
//    vector of floats), dst[j · dst_stride + i] = src[i · src_stride + j] for i, j < lanes. The
//    channel-lanes depthwise path (cpu/depthwise_conv.h) moves its channels in and out of the
//    lanes with it; as scalar loads and strided stores that move cost ~1 ns a float, 20× the
//    arithmetic of a 3×3 depthwise layer at 14×14 (docs/CPU.md).
//  * gather_even_<isa>: dst[i] = src[2i] for i < count (MiscKernels::gather_even), reading only
//    src[0, 2·count − 1): the stride-2 column phases of the convolutions.
//  * load_deinterleaved<Arch>: the even and odd floats of p[0, 2·lanes) as two vectors, the
//    stride-2 depthwise rows kernel's column taps (two loads and two permutes; NEON's vld2q).
//  * window_pair: row[i0[0..W)] and row[i1[0..W)] as two vectors (W lanes) when every index
//    lies in [i0[0], i0[0] + W), one masked load of that window (never past the row's
//    `length` floats) and two permutes; false otherwise, and then the caller gathers. The
//    bilinear resize's upsampling rows read such windows; a gather costs a load per lane.
#pragma once

#include <algorithm>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace atrous {

#if defined(__AVX512F__)
// Three stages: 32-bit interleave of row pairs, 64-bit interleave of those (each 128-bit lane
// then holds a column of four rows), then a 4 × 4 transpose of the 128-bit lanes.
inline void transpose_block_16x16(const float* src, int64_t src_stride, float* dst,
                                  int64_t dst_stride) {
  __m512 a[16], b[16];
  for (int i = 0; i < 16; i += 2) {
    const __m512 r0 = _mm512_loadu_ps(src + i * src_stride);
    const __m512 r1 = _mm512_loadu_ps(src + (i + 1) * src_stride);
    a[i] = _mm512_unpacklo_ps(r0, r1);      // lane L: r0[4L] r1[4L] r0[4L+1] r1[4L+1]
    a[i + 1] = _mm512_unpackhi_ps(r0, r1);  // lane L: r0[4L+2] r1[4L+2] r0[4L+3] r1[4L+3]
  }
  for (int m = 0; m < 16; m += 4) {
    // b[m + q], lane L: column 4L + q of rows m … m + 3.
    const __m512d lo0 = _mm512_castps_pd(a[m]), hi0 = _mm512_castps_pd(a[m + 1]);
    const __m512d lo1 = _mm512_castps_pd(a[m + 2]), hi1 = _mm512_castps_pd(a[m + 3]);
    b[m] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    b[m + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    b[m + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    b[m + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  for (int q = 0; q < 4; ++q) {
    // Column 4L + q is lane L of b[q], b[4 + q], b[8 + q], b[12 + q] in turn.
    const __m512 c0 = _mm512_shuffle_f32x4(b[q], b[4 + q], 0x88);  // b[q].0 .2 b[4+q].0 .2
    const __m512 c1 = _mm512_shuffle_f32x4(b[q], b[4 + q], 0xdd);  // .1 .3 .1 .3
    const __m512 c2 = _mm512_shuffle_f32x4(b[8 + q], b[12 + q], 0x88);
    const __m512 c3 = _mm512_shuffle_f32x4(b[8 + q], b[12 + q], 0xdd);
    _mm512_storeu_ps(dst + q * dst_stride, _mm512_shuffle_f32x4(c0, c2, 0x88));
    _mm512_storeu_ps(dst + (8 + q) * dst_stride, _mm512_shuffle_f32x4(c0, c2, 0xdd));
    _mm512_storeu_ps(dst + (4 + q) * dst_stride, _mm512_shuffle_f32x4(c1, c3, 0x88));
    _mm512_storeu_ps(dst + (12 + q) * dst_stride, _mm512_shuffle_f32x4(c1, c3, 0xdd));
  }
}
#endif

#if defined(__AVX2__)
// 32-bit then 64-bit interleaves (each 128-bit lane then holds a column of four rows), then the
// two lanes of row groups 0–3 and 4–7 joined.
inline void transpose_block_8x8(const float* src, int64_t src_stride, float* dst,
                                int64_t dst_stride) {
  __m256 a[8], b[8];
  for (int i = 0; i < 8; i += 2) {
    const __m256 r0 = _mm256_loadu_ps(src + i * src_stride);
    const __m256 r1 = _mm256_loadu_ps(src + (i + 1) * src_stride);
    a[i] = _mm256_unpacklo_ps(r0, r1);
    a[i + 1] = _mm256_unpackhi_ps(r0, r1);
  }
  for (int m = 0; m < 8; m += 4) {
    const __m256d lo0 = _mm256_castps_pd(a[m]), hi0 = _mm256_castps_pd(a[m + 1]);
    const __m256d lo1 = _mm256_castps_pd(a[m + 2]), hi1 = _mm256_castps_pd(a[m + 3]);
    b[m] = _mm256_castpd_ps(_mm256_unpacklo_pd(lo0, lo1));
    b[m + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(lo0, lo1));
    b[m + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(hi0, hi1));
    b[m + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(hi0, hi1));
  }
  for (int q = 0; q < 4; ++q) {
    _mm256_storeu_ps(dst + q * dst_stride, _mm256_permute2f128_ps(b[q], b[4 + q], 0x20));
    _mm256_storeu_ps(dst + (4 + q) * dst_stride, _mm256_permute2f128_ps(b[q], b[4 + q], 0x31));
  }
}
#endif

#if defined(__aarch64__)
inline void transpose_block_4x4(const float* src, int64_t src_stride, float* dst,
                                int64_t dst_stride) {
  const float32x4x2_t t01 = vtrnq_f32(vld1q_f32(src), vld1q_f32(src + src_stride));
  const float32x4x2_t t23 =
      vtrnq_f32(vld1q_f32(src + 2 * src_stride), vld1q_f32(src + 3 * src_stride));
  vst1q_f32(dst, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
  vst1q_f32(dst + dst_stride, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
  vst1q_f32(dst + 2 * dst_stride,
            vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
  vst1q_f32(dst + 3 * dst_stride,
            vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
}
#endif

#if defined(__AVX512F__)
inline void gather_even_avx512(const float* src, int64_t count, float* dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t i = 0;
  for (; i + 16 < count; i += 16)  // reads src[2i, 2i + 32), all below 2·count − 1
    _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * i), even,
                                                     _mm512_loadu_ps(src + 2 * i + 16)));
  // The last 1 to 16 outputs: masked loads of the 2·left − 1 floats they read (masked-off lanes
  // are not read), a masked store of `left` floats.
  const int64_t left = count - i;
  if (left > 0) {
    const int64_t reads = 2 * left - 1;
    const __mmask16 low = reads >= 16 ? __mmask16(0xffff) : __mmask16((1u << reads) - 1);
    const __mmask16 high = reads > 16 ? __mmask16((1u << (reads - 16)) - 1) : __mmask16(0);
    const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(low, src + 2 * i), even,
                                            _mm512_maskz_loadu_ps(high, src + 2 * i + 16));
    _mm512_mask_storeu_ps(dst + i, __mmask16((1u << left) - 1), v);
  }
}
#endif

#if defined(__AVX2__)
inline void gather_even_avx2(const float* src, int64_t count, float* dst) {
  int64_t i = 0;
  for (; i + 8 < count; i += 8) {
    // Per 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit quarters put in order.
    const __m256 pairs = _mm256_shuffle_ps(
        _mm256_loadu_ps(src + 2 * i), _mm256_loadu_ps(src + 2 * i + 8), _MM_SHUFFLE(2, 0, 2, 0));
    _mm256_storeu_ps(dst + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs),
                                                                     _MM_SHUFFLE(3, 1, 2, 0))));
  }
  for (; i < count; ++i) dst[i] = src[2 * i];
}
#endif

#if defined(__aarch64__)
inline void gather_even_neon(const float* src, int64_t count, float* dst) {
  int64_t i = 0;
  for (; i + 4 < count; i += 4) vst1q_f32(dst + i, vld2q_f32(src + 2 * i).val[0]);
  for (; i < count; ++i) dst[i] = src[2 * i];
}
#endif

// even[j] = p[2j], odd[j] = p[2j + 1] for j < lanes; reads p[0, 2·lanes). The ISAs with a
// stride-2 depthwise rows kernel have their own below; this one is for any other.
template <class Arch>
inline void load_deinterleaved(const float* p, xsimd::batch<float, Arch>* even,
                               xsimd::batch<float, Arch>* odd) {
  constexpr size_t lanes = xsimd::batch<float, Arch>::size;
  alignas(64) float e[lanes], o[lanes];
  for (size_t j = 0; j < lanes; ++j) {
    e[j] = p[2 * j];
    o[j] = p[2 * j + 1];
  }
  *even = xsimd::batch<float, Arch>::load_aligned(e);
  *odd = xsimd::batch<float, Arch>::load_aligned(o);
}

#if defined(__AVX512F__)
template <>
inline void load_deinterleaved<xsimd::avx512f>(const float* p,
                                               xsimd::batch<float, xsimd::avx512f>* even,
                                               xsimd::batch<float, xsimd::avx512f>* odd) {
  const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i o = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16);
  *even = _mm512_permutex2var_ps(lo, e, hi);
  *odd = _mm512_permutex2var_ps(lo, o, hi);
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
template <>
inline void load_deinterleaved<xsimd::fma3<xsimd::avx2>>(
    const float* p, xsimd::batch<float, xsimd::fma3<xsimd::avx2>>* even,
    xsimd::batch<float, xsimd::fma3<xsimd::avx2>>* odd) {
  // Per 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6 (and the odd ones), then the 64-bit quarters in
  // order.
  const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
  const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}
#endif

#if defined(__aarch64__)
template <>
inline void load_deinterleaved<xsimd::neon64>(const float* p,
                                              xsimd::batch<float, xsimd::neon64>* even,
                                              xsimd::batch<float, xsimd::neon64>* odd) {
  const float32x4x2_t pair = vld2q_f32(p);
  *even = pair.val[0];
  *odd = pair.val[1];
}
#endif

template <class Arch>
inline bool window_pair(const float*, int64_t, const int32_t*, const int32_t*,
                        xsimd::batch<float, Arch>*, xsimd::batch<float, Arch>*) {
  return false;
}

#if defined(__AVX512F__)
inline bool window_pair(const float* row, int64_t length, const int32_t* i0, const int32_t* i1,
                        xsimd::batch<float, xsimd::avx512f>* a,
                        xsimd::batch<float, xsimd::avx512f>* b) {
  const int32_t base = i0[0];
  const __m512i first = _mm512_set1_epi32(base), lanes = _mm512_set1_epi32(16);
  const __m512i r0 = _mm512_sub_epi32(_mm512_loadu_si512(i0), first);
  const __m512i r1 = _mm512_sub_epi32(_mm512_loadu_si512(i1), first);
  if (_mm512_cmpge_epu32_mask(r0, lanes) | _mm512_cmpge_epu32_mask(r1, lanes)) return false;
  const int64_t readable = std::min<int64_t>(16, length - base);
  const __mmask16 mask = readable >= 16 ? __mmask16(0xffff) : __mmask16((1u << readable) - 1);
  const __m512 window = _mm512_maskz_loadu_ps(mask, row + base);
  *a = _mm512_permutexvar_ps(r0, window);
  *b = _mm512_permutexvar_ps(r1, window);
  return true;
}
#endif

#if defined(__AVX2__)
inline bool window_pair(const float* row, int64_t length, const int32_t* i0, const int32_t* i1,
                        xsimd::batch<float, xsimd::avx2>* a, xsimd::batch<float, xsimd::avx2>* b) {
  const int32_t base = i0[0];
  const __m256i first = _mm256_set1_epi32(base), last = _mm256_set1_epi32(7);
  const __m256i r0 =
      _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(i0)), first);
  const __m256i r1 =
      _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(i1)), first);
  // Outside [0, 8): below zero, or above 7.
  const __m256i zero = _mm256_setzero_si256();
  const __m256i outside =
      _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi32(zero, r0), _mm256_cmpgt_epi32(r0, last)),
                      _mm256_or_si256(_mm256_cmpgt_epi32(zero, r1), _mm256_cmpgt_epi32(r1, last)));
  if (!_mm256_testz_si256(outside, outside)) return false;
  const int64_t readable = std::min<int64_t>(8, length - base);
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(readable)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 window = _mm256_maskload_ps(row + base, mask);
  *a = _mm256_permutevar8x32_ps(window, r0);
  *b = _mm256_permutevar8x32_ps(window, r1);
  return true;
}
#endif

}  // namespace atrous
