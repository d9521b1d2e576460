// The ISA-neutral loops of cpu/panoptic_kernels.h, instantiated in panoptic_kernels_<isa>.cpp.
// Every file of this family is compiled with -ffp-contract=off (CMakeLists.txt), so the squared
// distance is two rounded products and a rounded sum in every ISA, as in the reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cpu/panoptic_kernels.h"

namespace atrous {

// (dy² + dx²) in float32; shared by the scalar loop and the vector tails.
inline float panoptic_square(float dy, float dx) { return dy * dy + dx * dx; }

// The scalar nearest-center scan (cpu/panoptic_kernels.h: nearest_center). The squared distance
// decides first; sqrt is taken only when it improves, and an equal sqrt of a larger square keeps
// the earlier index (two different squares can round to the same distance). The result is the
// first index of the smallest distance.
inline int32_t panoptic_nearest_scan(float py, float px, const float* cy, const float* cx,
                                     int32_t count) {
  float best_square = std::numeric_limits<float>::infinity();
  float best_distance = std::numeric_limits<float>::infinity();
  int32_t best = -1;
  for (int32_t j = 0; j < count; ++j) {
    const float square = panoptic_square(cy[j] - py, cx[j] - px);
    if (square < best_square) {
      const float distance = std::sqrt(square);
      if (distance < best_distance) {
        best_distance = distance;
        best = j;
      }
      best_square = square;
    }
  }
  return best;
}

// The grid cell holding the point, or −1 outside the grid (NaN included). floor, not a
// truncation, for the points in [−margin, 0); no rounding anywhere, so the point lies in the
// cell's box exactly.
inline int32_t panoptic_grid_cell(const PanopticCenterGrid& grid, float py, float px) {
  const float low = -float(grid.margin);
  const float y_high = float((grid.rows << grid.shift) - grid.margin);
  const float x_high = float((grid.cols << grid.shift) - grid.margin);
  if (!(py >= low && py < y_high && px >= low && px < x_high)) return -1;
  const int32_t row = (int32_t(std::floor(py)) + grid.margin) >> grid.shift;
  const int32_t col = (int32_t(std::floor(px)) + grid.margin) >> grid.shift;
  return row * grid.cols + col;
}

// One point: its cell's only candidate, the scan of its cell's list, or the scan of all centers.
template <int32_t (*scan)(float, float, const float*, const float*, int32_t)>
inline int32_t panoptic_grid_nearest(const PanopticCenterGrid& grid, float py, float px) {
  const int32_t cell = panoptic_grid_cell(grid, py, px);
  if (cell < 0)
    return std::max(scan(py, px, grid.center_y, grid.center_x, grid.centers), int32_t(0));
  if (grid.code[cell] >= 0) return grid.code[cell];
  const int32_t begin = grid.start[cell];
  const int32_t j =
      scan(py, px, grid.member_y + begin, grid.member_x + begin, grid.start[cell + 1] - begin);
  return grid.members[begin + std::max(j, int32_t(0))];
}

// copy_labels (cpu/panoptic_kernels.h) for one label type. `Tag` is the ISA (xsimd's arch, or
// a scalar tag) only so that each ISA's file gets its own instantiation: the compilers
// vectorize this loop with that file's flags (__restrict: the input and output do not overlap).
template <class Tag, class T>
void panoptic_copy_labels_as(const T* __restrict labels, int32_t* __restrict out, int32_t count,
                             int64_t* low, int64_t* high) {
  if (count <= 0) return;
  T lo = labels[0], hi = labels[0];
  for (int32_t x = 0; x < count; ++x) {
    const T v = labels[x];  // conditional expressions, not std::min/max: GCC vectorizes these
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    out[x] = int32_t(v);
  }
  *low = std::min(*low, int64_t(lo));
  *high = std::max(*high, int64_t(hi));
}

template <class Tag>
void panoptic_copy_labels(const void* labels, int32_t label_bytes, int32_t* out, int32_t count,
                          int64_t* low, int64_t* high) {
  if (label_bytes == 8)
    panoptic_copy_labels_as<Tag>(static_cast<const int64_t*>(labels), out, count, low, high);
  else if (label_bytes == 1)
    panoptic_copy_labels_as<Tag>(static_cast<const uint8_t*>(labels), out, count, low, high);
  else
    panoptic_copy_labels_as<Tag>(static_cast<const int32_t*>(labels), out, count, low, high);
}

// exp(x) in double for x ≤ 709 (NaN gives NaN, x < −708 gives 0: those results are below
// 2^-1021), within a few ulp (the tests bound it by 4): x = n·ln 2 + r with |r| ≤ ln 2 / 2
// (Cody–Waite, ln 2 in two parts so that n·ln2_high is exact), exp(r) by its Taylor series to
// degree 13 (the rest is below 2^-57 relative) in Estrin's form (a short dependency chain), times
// 2^n built in the exponent bits. `Ops` gives the arithmetic of D (double or a vector of
// doubles) so that the scalar loop and every vector run the same operations (these files are
// compiled without contraction into fused multiply-adds), hence the same results.
template <class Ops, class D>
__attribute__((always_inline)) inline D panoptic_exp(D x) {
  constexpr double log2e = 0x1.71547652b82fep0, ln2_high = 0x1.62e42fefa3800p-1,
                   ln2_low = 0x1.ef35793c76730p-45, magic = 0x1.8p52;
  const D shifted = x * D(log2e) + D(magic);  // round(x / ln 2) in the low mantissa bits
  const D n = shifted - D(magic);
  const D r = (x - n * D(ln2_high)) - n * D(ln2_low);
  // c_k = 1/k!
  const D r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const D p01 = D(1.0) + r, p23 = D(1.0 / 2) + r * D(1.0 / 6), p45 = D(1.0 / 24) + r * D(1.0 / 120),
          p67 = D(1.0 / 720) + r * D(1.0 / 5040), p89 = D(1.0 / 40320) + r * D(1.0 / 362880),
          p1011 = D(1.0 / 3628800) + r * D(1.0 / 39916800),
          p1213 = D(1.0 / 479001600) + r * D(1.0 / 6227020800.0);
  const D p03 = p01 + r2 * p23, p47 = p45 + r2 * p67, p811 = p89 + r2 * p1011;
  const D p = (p03 + r4 * p47) + r8 * (p811 + r4 * p1213);
  const D scale = Ops::power_of_two(shifted, magic);
  return Ops::select(x < D(-708.0), D(0.0), p * scale);
}

struct PanopticScalarExpOps {
  // 2^n for shifted = n + magic (magic = 1.5·2^52: n sits in the low bits of the mantissa).
  static double power_of_two(double shifted, double magic) {
    // Unsigned: outside the range used (x < −708, NaN) the bits wrap instead of overflowing.
    uint64_t bits, magic_bits;
    std::memcpy(&bits, &shifted, 8);
    std::memcpy(&magic_bits, &magic, 8);
    const uint64_t exponent = (bits - magic_bits + 1023) << 52;
    double out;
    std::memcpy(&out, &exponent, 8);
    return out;
  }
  static double select(bool c, double a, double b) { return c ? a : b; }
};

// instance_probability's amount for one pixel from its p (0 when p is not finite): p·2^40 lies
// in [0, 2^40], where v + 0.5 is exact, so floor(v + 0.5) rounds halves away from 0.
inline int64_t panoptic_fixed_probability(double p) {
  if (!(p >= 0.0 && p <= 1.0)) return 0;
  return int64_t(std::floor(p * kPanopticProbabilityScale + 0.5));
}

namespace panoptic_scalar {

// Compiled once without ISA flags (panoptic_kernels.cpp).
void argmax_first(const float* x, int32_t* labels, int64_t channels, int64_t stride, int64_t count);
int32_t nearest_center(float py, float px, const float* cy, const float* cx, int32_t count);
void assign_instances(const PanopticCenterGrid& grid, int32_t y, int32_t width,
                      const int32_t* labels, const float* is_thing, int32_t classes,
                      const float* offset_y, const float* offset_x, int32_t* instance);
int32_t runs(const int32_t* labels, const int32_t* instance, int32_t width, int32_t* start,
             int32_t* run_label, int32_t* run_instance);
void panoptic_values(const int32_t* labels, const int32_t* instance, int32_t count,
                     const int32_t* value_by_label, int32_t classes,
                     const int32_t* value_by_instance, int32_t* out);
// candidate_chunks for the row part [0, width) whose x = 0 is column `column` of the row (the
// starts written are columns).
int32_t candidate_chunks(const float* row, int32_t width, float limit, int32_t* chunks,
                         int32_t column);
void instance_probability(const float* logits, int64_t classes, int64_t stride,
                          const int32_t* instance, const int32_t* class_of, int32_t count,
                          int64_t* amount);

}  // namespace panoptic_scalar
}  // namespace atrous

#if defined(ATROUS_PANOPTIC_KERNELS_SIMD)
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <xsimd/xsimd.hpp>

namespace atrous {
namespace panoptic_simd {

// Correctly rounded square root. xsimd 8's NEON float sqrt is a refined reciprocal-sqrt
// estimate, so aarch64 uses the instruction directly.
template <class Arch>
xsimd::batch<float, Arch> exact_sqrt(const xsimd::batch<float, Arch>& x) {
  return xsimd::sqrt(x);
}
#if defined(__aarch64__)
inline xsimd::batch<float, xsimd::neon64> exact_sqrt(const xsimd::batch<float, xsimd::neon64>& x) {
  return vsqrtq_f32(x);
}
#endif

// table[index] per lane. xsimd 8's gather takes its generic, element-by-element path for these
// types, so the x86 gather instructions are called directly.
template <class Arch>
xsimd::batch<float, Arch> gather_floats(const float* table,
                                        const xsimd::batch<int32_t, Arch>& index) {
#if defined(__AVX512F__)
  // The masked form: the plain one reads an uninitialized register (GCC warns).
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value)
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), __mmask16(0xffff), index, table, 4);
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value)
    return _mm256_i32gather_ps(table, index, 4);
#endif
  constexpr size_t width = xsimd::batch<float, Arch>::size;
  alignas(64) int32_t lanes[width];
  alignas(64) float values[width];
  index.store_aligned(lanes);
  for (size_t l = 0; l < width; ++l) values[l] = table[lanes[l]];
  return xsimd::batch<float, Arch>::load_aligned(values);
}

template <class Arch>
xsimd::batch<int32_t, Arch> gather_ints(const int32_t* table,
                                        const xsimd::batch<int32_t, Arch>& index) {
#if defined(__AVX512F__)
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value)
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), __mmask16(0xffff), index, table, 4);
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value)
    return _mm256_i32gather_epi32(table, index, 4);
#endif
  constexpr size_t width = xsimd::batch<int32_t, Arch>::size;
  alignas(64) int32_t lanes[width], values[width];
  index.store_aligned(lanes);
  for (size_t l = 0; l < width; ++l) values[l] = table[lanes[l]];
  return xsimd::batch<int32_t, Arch>::load_aligned(values);
}

// Stores v at `out`, aligned to the vector, with a streaming store where the ISA has one (the
// maps are written once and not read back soon: no read for ownership); stream_fence orders
// them before what follows.
template <class Arch>
void stream_store(int32_t* out, const xsimd::batch<int32_t, Arch>& v) {
#if defined(__AVX512F__)
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(out), v);
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(out), v);
    return;
  }
#endif
  v.store_aligned(out);
}

inline void stream_fence() {
#if defined(__x86_64__)
  _mm_sfence();
#endif
}

// The first x ≥ 0 at which out + x is aligned to the vector of Arch (at most count).
template <class Arch>
int32_t aligned_start(const int32_t* out, int32_t count) {
  constexpr uintptr_t bytes = sizeof(xsimd::batch<int32_t, Arch>);
  const uintptr_t misaligned = reinterpret_cast<uintptr_t>(out) % bytes;
  const int32_t skip = misaligned == 0 ? 0 : int32_t((bytes - misaligned) / sizeof(int32_t));
  return std::min(skip, count);
}

// Per lane, strict `>` replaces the best, as the scalar loop; labels are carried as floats
// (exact below 2^24 channels; the merger allows at most 2^20).
template <class Arch>
void argmax_first(const float* x, int32_t* labels, int64_t channels, int64_t stride,
                  int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  for (int64_t p = 0; p < body; p += width) {
    batch top = batch::load_unaligned(x + p);
    batch label(0.0f);
    for (int64_t c = 1; c < channels; ++c) {
      const batch v = batch::load_unaligned(x + c * stride + p);
      const auto greater = v > top;
      top = xsimd::select(greater, v, top);
      label = xsimd::select(greater, batch(float(c)), label);
    }
    xsimd::to_int(label).store_unaligned(labels + p);
  }
  panoptic_scalar::argmax_first(x + body, labels + body, channels, stride, count - body);
}

// The scalar loop returns the first index of the smallest distance (distances that are NaN
// never compare). Each lane keeps its own smallest distance and the first index reaching it
// (indices grow along a lane, so strict `<` keeps the first); the lanes then reduce to the
// smallest distance and, among equal ones, the smallest index; the tail continues with
// strict `<`, its indices being larger than every lane's. Indices are carried as floats, so
// lists of 2^24 or more centers take the scalar loop, as do lists shorter than 4 vectors.
template <class Arch>
int32_t nearest_center(float py, float px, const float* cy, const float* cx, int32_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int32_t width = int32_t(batch::size);
  // Short lists (the merger's grid cells) are faster without the lane reduction.
  if (count < 4 * width || count >= (int32_t(1) << 24))
    return panoptic_nearest_scan(py, px, cy, cx, count);
  const int32_t body = count - count % width;
  float best_distance = std::numeric_limits<float>::infinity();
  int32_t best = -1;
  if (body > 0) {
    const batch vy(py), vx(px);
    batch lane_distance(std::numeric_limits<float>::infinity());
    batch lane_index(-1.0f);
    alignas(64) static const float offsets[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                  8, 9, 10, 11, 12, 13, 14, 15};
    static_assert(width <= 16, "nearest_center: vector wider than 16 floats");
    batch index = batch::load_aligned(offsets);
    const batch step = batch(static_cast<float>(width));
    for (int32_t j = 0; j < body; j += width) {
      const batch dy = batch::load_unaligned(cy + j) - vy;
      const batch dx = batch::load_unaligned(cx + j) - vx;
      const batch distance = exact_sqrt(dy * dy + dx * dx);
      const auto closer = distance < lane_distance;
      lane_distance = xsimd::select(closer, distance, lane_distance);
      lane_index = xsimd::select(closer, index, lane_index);
      index = index + step;
    }
    alignas(64) float distances[width], indices[width];
    lane_distance.store_aligned(distances);
    lane_index.store_aligned(indices);
    // Lane distances are never NaN (only smaller values replace +inf).
    float smallest = distances[0];
    for (int32_t l = 1; l < width; ++l) smallest = std::min(smallest, distances[l]);
    if (smallest < best_distance) {
      float first = float(count);
      for (int32_t l = 0; l < width; ++l)
        if (distances[l] == smallest) first = std::min(first, indices[l]);
      best_distance = smallest;
      best = int32_t(first);
    }
  }
  for (int32_t j = body; j < count; ++j) {
    const float distance = std::sqrt(panoptic_square(cy[j] - py, cx[j] - px));
    if (distance < best_distance) {
      best_distance = distance;
      best = j;
    }
  }
  return best;
}

// Bit l set for the true lanes of a comparison of int32 vectors.
template <class Arch>
uint32_t lane_bits(const xsimd::batch_bool<int32_t, Arch>& b) {
#if defined(__AVX512F__)
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) return uint32_t(b.data);
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value)
    return uint32_t(_mm256_movemask_ps(_mm256_castsi256_ps(b.data)));
#endif
  using int_batch = xsimd::batch<int32_t, Arch>;
  alignas(64) int32_t lanes[int_batch::size];
  xsimd::select(b, int_batch(1), int_batch(0)).store_aligned(lanes);
  uint32_t bits = 0;
  for (size_t l = 0; l < int_batch::size; ++l) bits |= uint32_t(lanes[l]) << l;
  return bits;
}

// A vector without thing pixels stores zeros. Otherwise, when every thing pixel's point lies
// in the grid, one gather reads the cells' codes: lanes in cells with one candidate take it, and
// the lanes in cells with several scan their cell's list, one distinct cell at a time. A vector
// with a point outside the grid goes pixel by pixel as the scalar loop. The cell index is
// computed as in panoptic_grid_cell (floor, exact integer arithmetic), so a lane's cell is the
// scalar one.
template <class Arch>
void assign_instances(const PanopticCenterGrid& grid, int32_t y, int32_t width,
                      const int32_t* labels, const float* is_thing, int32_t classes,
                      const float* offset_y, const float* offset_x, int32_t* instance) {
  using batch = xsimd::batch<float, Arch>;
  using int_batch = xsimd::batch<int32_t, Arch>;
  constexpr int32_t width_lanes = int32_t(batch::size);
  auto one = [&](int32_t x) {
    if (!(is_thing[labels[x]] > 0)) return int32_t(0);
    const float py = float(y) + offset_y[x], px = float(x) + offset_x[x];
    return 1 + panoptic_grid_nearest<nearest_center<Arch>>(grid, py, px);
  };
  if (grid.centers == 0) {
    std::fill(instance, instance + width, 0);
    return;
  }
  int32_t x = 0;
  if (grid.rows > 0 && grid.centers < (int32_t(1) << 24)) {
    alignas(64) static const float offsets[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                  8, 9, 10, 11, 12, 13, 14, 15};
    static_assert(width_lanes <= 16, "assign_instances: vector wider than 16 floats");
    const batch lane = batch::load_aligned(offsets);
    const batch low(-float(grid.margin));
    const batch y_high(float((grid.rows << grid.shift) - grid.margin));
    const batch x_high(float((grid.cols << grid.shift) - grid.margin));
    const batch row_y = batch(float(y));
    const batch zero(0.0f);
    const int_batch margin(grid.margin), cols(grid.cols);
    // Up to 32 classes the thing test is a shift of a bit mask, not a gather.
    uint32_t mask = 0;
    for (int32_t c = 0; c < std::min(classes, int32_t(32)); ++c)
      mask |= is_thing[c] > 0 ? uint32_t(1) << c : 0;
    const int_batch bits = int_batch(int32_t(mask));
    for (; x + width_lanes <= width; x += width_lanes) {
      // The offsets are read only under thing pixels, a pattern the hardware prefetcher misses.
      __builtin_prefetch(offset_y + x + 256);
      __builtin_prefetch(offset_x + x + 256);
      const int_batch label = int_batch::load_unaligned(labels + x);
      const int_batch thing01 = classes <= 32 ? (bits >> label) & int_batch(1)
                                              : xsimd::to_int(gather_floats<Arch>(is_thing, label));
      const auto thing_int = thing01 != int_batch(0);
      if (!xsimd::any(thing_int)) {
        int_batch(0).store_unaligned(instance + x);
        continue;
      }
      const auto thing = xsimd::to_float(thing01) > zero;
      // Stuff lanes take the point (low, low), the first cell: any cell would do.
      const batch py = xsimd::select(thing, row_y + batch::load_unaligned(offset_y + x), low);
      const batch px =
          xsimd::select(thing, (batch(float(x)) + lane) + batch::load_unaligned(offset_x + x), low);
      const auto inside = (py >= low) & (py < y_high) & (px >= low) & (px < x_high);
      if (xsimd::all(inside)) {
        int_batch row = xsimd::to_int(xsimd::floor(py)) + margin;
        int_batch col = xsimd::to_int(xsimd::floor(px)) + margin;
        row >>= grid.shift;
        col >>= grid.shift;
        const int_batch cell = row * cols + col;
        const int_batch code = gather_ints<Arch>(grid.code, cell);
        const int_batch sole_value = xsimd::select(thing_int, code + int_batch(1), int_batch(0));
        const auto several = thing_int & (code < int_batch(0));
        if (!xsimd::any(several)) {
          sole_value.store_unaligned(instance + x);
          continue;
        }
        // Lanes whose cell lists several candidates: one cell at a time (a vector's points fall
        // in few cells), its candidates broadcast in ascending index order; per lane the first
        // candidate of the smallest distance (strict <), the scalar scan's answer (the points
        // are finite here).
        alignas(64) int32_t cell_of[16];
        cell.store_aligned(cell_of);
        uint32_t pending = lane_bits<Arch>(several);
        int_batch chosen = sole_value;
        while (pending != 0) {
          const int32_t c = cell_of[__builtin_ctz(pending)];
          const auto same = several & (cell == int_batch(c));
          pending &= ~lane_bits<Arch>(same);
          const int32_t begin = grid.start[c];
          const int32_t listed = grid.start[c + 1] - begin;
          batch best(std::numeric_limits<float>::infinity());
          int_batch choice(0);
          for (int32_t k = 0; k < listed; ++k) {
            const int32_t j = begin + k;
            const batch dy = batch(grid.member_y[j]) - py;
            const batch dx = batch(grid.member_x[j]) - px;
            const batch distance = exact_sqrt(dy * dy + dx * dx);
            const auto closer = distance < best;
            best = xsimd::select(closer, distance, best);
            choice =
                xsimd::select(xsimd::bool_cast(closer), int_batch(grid.members[j] + 1), choice);
          }
          chosen = xsimd::select(same, choice, chosen);
        }
        chosen.store_unaligned(instance + x);
        continue;
      }
      for (int32_t l = 0; l < width_lanes; ++l) instance[x + l] = one(x + l);
    }
  }
  for (; x < width; ++x) instance[x] = one(x);
}

// Each vector compares pixels x.. with x − 1..; the set bits of the difference are the starts,
// and the lanes there hold the runs' labels and instances.
template <class Arch>
int32_t runs(const int32_t* labels, const int32_t* instance, int32_t width, int32_t* start,
             int32_t* run_label, int32_t* run_instance) {
  using int_batch = xsimd::batch<int32_t, Arch>;
  constexpr int32_t lanes = int32_t(int_batch::size);
  start[0] = 0;
  run_label[0] = labels[0];
  run_instance[0] = instance[0];
  int32_t count = 1, x = 1;
  for (; x + lanes <= width; x += lanes) {
    const int_batch label = int_batch::load_unaligned(labels + x);
    const int_batch owner = int_batch::load_unaligned(instance + x);
    const auto differ = (label != int_batch::load_unaligned(labels + x - 1)) |
                        (owner != int_batch::load_unaligned(instance + x - 1));
    uint32_t bits = lane_bits<Arch>(differ);
#if defined(__AVX512F__)
    if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
      // Compress in registers, then full stores (the slack past the count is overwritten later).
      const __mmask16 mask = __mmask16(bits);
      const __m512i positions =
          _mm512_add_epi32(_mm512_set1_epi32(x),
                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
      _mm512_storeu_si512(start + count, _mm512_maskz_compress_epi32(mask, positions));
      _mm512_storeu_si512(run_label + count, _mm512_maskz_compress_epi32(mask, label));
      _mm512_storeu_si512(run_instance + count, _mm512_maskz_compress_epi32(mask, owner));
      count += __builtin_popcount(bits);
      continue;
    }
#endif
    while (bits) {
      const int32_t at = x + __builtin_ctz(bits);
      start[count] = at;
      run_label[count] = labels[at];
      run_instance[count++] = instance[at];
      bits &= bits - 1;
    }
  }
  for (; x < width; ++x)
    if (labels[x] != labels[x - 1] || instance[x] != instance[x - 1]) {
      start[count] = x;
      run_label[count] = labels[x];
      run_instance[count++] = instance[x];
    }
  start[count] = width;
  return count;
}

// The map is written once and not read back by the merger, so whole vectors go out with
// streaming stores where the ISA has them (no read for ownership): a scalar head aligns the
// output first. The label look-up is a permutation of two registers for up to 32 classes
// (AVX-512), a gather otherwise; the instance look-up a gather of the thing lanes only.
template <class Arch>
void panoptic_values(const int32_t* labels, const int32_t* instance, int32_t count,
                     const int32_t* value_by_label, int32_t classes,
                     const int32_t* value_by_instance, int32_t* out) {
  using int_batch = xsimd::batch<int32_t, Arch>;
  constexpr int32_t lanes = int32_t(int_batch::size);
  auto one = [&](int32_t x) {
    return instance[x] ? value_by_instance[instance[x]] : value_by_label[labels[x]];
  };
  (void)classes;  // read by the AVX-512 path only
  int32_t x = 0;
  for (const int32_t head = aligned_start<Arch>(out, count); x < head; ++x) out[x] = one(x);
#if defined(__AVX512F__)
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    if (classes <= 32) {
      alignas(64) int32_t table[32] = {};
      std::copy(value_by_label, value_by_label + classes, table);
      const __m512i low = _mm512_load_si512(table), high = _mm512_load_si512(table + 16);
      for (; x + lanes <= count; x += lanes) {
        const __m512i owner = _mm512_loadu_si512(instance + x);
        __m512i value = _mm512_permutex2var_epi32(low, _mm512_loadu_si512(labels + x), high);
        const __mmask16 thing = _mm512_test_epi32_mask(owner, owner);
        if (thing) value = _mm512_mask_i32gather_epi32(value, thing, owner, value_by_instance, 4);
        _mm512_stream_si512(reinterpret_cast<__m512i*>(out + x), value);
      }
    }
  }
#endif
  for (; x + lanes <= count; x += lanes) {
    const int_batch owner = int_batch::load_unaligned(instance + x);
    int_batch value = gather_ints<Arch>(value_by_label, int_batch::load_unaligned(labels + x));
    const auto thing = owner != int_batch(0);
    if (xsimd::any(thing))
      value = xsimd::select(thing, gather_ints<Arch>(value_by_instance, owner), value);
    stream_store<Arch>(out + x, value);
  }
  for (; x < count; ++x) out[x] = one(x);
  stream_fence();
}

// Each chunk is whole vectors (the vector width divides kPanopticCenterChunk); the last,
// partial chunk goes through the scalar loop.
template <class Arch>
int32_t candidate_chunks(const float* row, int32_t width, float limit, int32_t* chunks) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int32_t lanes = int32_t(batch::size);
  static_assert(kPanopticCenterChunk % lanes == 0,
                "candidate_chunks: the chunk is not whole vectors");
  const batch bound(limit);
  int32_t found = 0, x0 = 0;
  for (; x0 + kPanopticCenterChunk <= width; x0 += kPanopticCenterChunk) {
    auto above = batch::load_unaligned(row + x0) > bound;
    for (int32_t k = lanes; k < kPanopticCenterChunk; k += lanes)
      above = above | (batch::load_unaligned(row + x0 + k) > bound);
    chunks[found] = x0;
    found += xsimd::any(above) ? 1 : 0;
  }
  return found + panoptic_scalar::candidate_chunks(row + x0, width - x0, limit, chunks + found, x0);
}

// copy_labels: int32 labels as whole vectors with streaming stores, other types by the
// compiler's vectorization of panoptic_copy_labels_as.
template <class Arch>
void copy_labels(const void* labels, int32_t label_bytes, int32_t* out, int32_t count, int64_t* low,
                 int64_t* high) {
  if (label_bytes != 4 || count <= 0) {
    panoptic_copy_labels<Arch>(labels, label_bytes, out, count, low, high);
    return;
  }
  using int_batch = xsimd::batch<int32_t, Arch>;
  constexpr int32_t lanes = int32_t(int_batch::size);
  const int32_t* in = static_cast<const int32_t*>(labels);
  const int32_t head = aligned_start<Arch>(out, count);
  panoptic_copy_labels_as<Arch>(in, out, head, low, high);
  int32_t x = head;
  if (x + lanes <= count) {
    int_batch lo = int_batch::load_unaligned(in + x), hi = lo;
    for (; x + lanes <= count; x += lanes) {
      const int_batch v = int_batch::load_unaligned(in + x);
      lo = xsimd::min(lo, v);
      hi = xsimd::max(hi, v);
      stream_store<Arch>(out + x, v);
    }
    alignas(64) int32_t lane_lo[lanes], lane_hi[lanes];
    lo.store_aligned(lane_lo);
    hi.store_aligned(lane_hi);
    for (int32_t l = 0; l < lanes; ++l) {
      *low = std::min(*low, int64_t(lane_lo[l]));
      *high = std::max(*high, int64_t(lane_hi[l]));
    }
  }
  panoptic_copy_labels_as<Arch>(in + x, out + x, count - x, low, high);
  stream_fence();
}

// The two halves of a float vector as double vectors.
template <class Arch>
void widen(const xsimd::batch<float, Arch>& v, xsimd::batch<double, Arch>* low,
           xsimd::batch<double, Arch>* high) {
#if defined(__AVX512F__)
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    *low = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    *high = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value) {
    *low = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    *high = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    return;
  }
#endif
#if defined(__aarch64__)
  if constexpr (std::is_same<Arch, xsimd::neon64>::value) {
    *low = vcvt_f64_f32(vget_low_f32(v));
    *high = vcvt_high_f64_f32(v);
    return;
  }
#endif
  constexpr size_t lanes = xsimd::batch<float, Arch>::size, half = lanes / 2;
  alignas(64) float f[lanes];
  alignas(64) double d[lanes];
  v.store_aligned(f);
  for (size_t l = 0; l < lanes; ++l) d[l] = double(f[l]);
  *low = xsimd::batch<double, Arch>::load_aligned(d);
  *high = xsimd::batch<double, Arch>::load_aligned(d + half);
}

template <class Arch>
struct PanopticVectorExpOps {
  using D = xsimd::batch<double, Arch>;
  using I = xsimd::batch<int64_t, Arch>;
  static D power_of_two(const D& shifted, double magic) {
    const I bits = xsimd::bitwise_cast<I>(shifted);
    const I magic_bits = xsimd::bitwise_cast<I>(D(magic));
    return xsimd::bitwise_cast<D>((bits - magic_bits + I(1023)) << 52);
  }
  static D select(const xsimd::batch_bool<double, Arch>& c, const D& a, const D& b) {
    return xsimd::select(c, a, b);
  }
};

// Vectors of float lanes (two double vectors each); a vector without an instance writes zeros
// and reads no logits. The per-lane class goes through a small array (no gather).
template <class Arch>
void instance_probability(const float* logits, int64_t classes, int64_t stride,
                          const int32_t* instance, const int32_t* class_of, int32_t count,
                          int64_t* amount) {
  using batch = xsimd::batch<float, Arch>;
  using int_batch = xsimd::batch<int32_t, Arch>;
  using dbatch = xsimd::batch<double, Arch>;
  using ibatch = xsimd::batch<int64_t, Arch>;
  constexpr int32_t lanes = int32_t(batch::size), half = lanes / 2;
  static_assert(int32_t(dbatch::size) == half,
                "instance_probability: a float vector is two double vectors");
  int32_t x = 0;
  for (; x + lanes <= count; x += lanes) {
    const int_batch owner = int_batch::load_unaligned(instance + x);
    if (!xsimd::any(owner > int_batch(0))) {
      std::fill(amount + x, amount + x + lanes, int64_t(0));
      continue;
    }
    // One stream per class, more than the hardware prefetchers follow: each is prefetched
    // four vectors ahead.
    const float* l = logits + x;
    __builtin_prefetch(l + 4 * lanes);
    batch top = batch::load_unaligned(l);
    for (int64_t j = 1; j < classes; ++j) {
      __builtin_prefetch(l + j * stride + 4 * lanes);
      const batch v = batch::load_unaligned(l + j * stride);
      top = xsimd::select(top < v, v, top);
    }
    alignas(64) int32_t owners[lanes];
    alignas(64) double wanted[lanes];
    owner.store_aligned(owners);
    for (int32_t k = 0; k < lanes; ++k)
      wanted[k] = owners[k] > 0 ? double(class_of[owners[k]]) : -1.0;
    const dbatch wanted_low = dbatch::load_aligned(wanted),
                 wanted_high = dbatch::load_aligned(wanted + half);
    dbatch sum_low(0.0), sum_high(0.0), chosen_low(0.0), chosen_high(0.0);
    for (int64_t j = 0; j < classes; ++j) {
      dbatch low, high;
      widen<Arch>(batch::load_unaligned(l + j * stride) - top, &low, &high);
      const dbatch e_low = panoptic_exp<PanopticVectorExpOps<Arch>>(low);
      const dbatch e_high = panoptic_exp<PanopticVectorExpOps<Arch>>(high);
      sum_low = sum_low + e_low;
      sum_high = sum_high + e_high;
      chosen_low = xsimd::select(wanted_low == dbatch(double(j)), e_low, chosen_low);
      chosen_high = xsimd::select(wanted_high == dbatch(double(j)), e_high, chosen_high);
    }
    // As panoptic_fixed_probability: 0 unless p is in [0, 1] (NaN and infinities fail), then
    // floor(p·2^40 + 0.5) through the bits of (that + 2^52).
    const dbatch two52(0x1p52);
    const ibatch two52_bits = xsimd::bitwise_cast<ibatch>(two52);
    auto fixed = [&](const dbatch& p, const dbatch& wanted_class) {
      const auto valid = (p >= dbatch(0.0)) & (p <= dbatch(1.0)) & (wanted_class >= dbatch(0.0));
      const dbatch rounded = xsimd::floor(p * dbatch(kPanopticProbabilityScale) + dbatch(0.5));
      const ibatch value = xsimd::bitwise_cast<ibatch>(rounded + two52) - two52_bits;
      return xsimd::select(xsimd::bool_cast(valid), value, ibatch(int64_t(0)));
    };
    fixed(chosen_low / sum_low, wanted_low).store_unaligned(amount + x);
    fixed(chosen_high / sum_high, wanted_high).store_unaligned(amount + x + half);
  }
  panoptic_scalar::instance_probability(logits + x, classes, stride, instance + x, class_of,
                                        count - x, amount + x);
}

template <class Arch>
PanopticKernels make_panoptic_kernels() {
  PanopticKernels table;
  table.argmax_first = argmax_first<Arch>;
  table.nearest_center = nearest_center<Arch>;
  table.assign_instances = assign_instances<Arch>;
  table.runs = runs<Arch>;
  table.panoptic_values = panoptic_values<Arch>;
  table.copy_labels = copy_labels<Arch>;
  table.instance_probability = instance_probability<Arch>;
  table.candidate_chunks = candidate_chunks<Arch>;
  table.center_width = int32_t(xsimd::batch<float, Arch>::size);
  return table;
}

}  // namespace panoptic_simd
}  // namespace atrous
#endif
