// The panoptic merger's loops (cpu/panoptic_kernels.h) for every ISA this machine can run,
// against the scalar table and against a direct statement of what each loop returns, on random
// data full of ties (small integer logits, centers and points on a quarter-pixel lattice),
// with NaN and infinity mixed in, across odd counts below, at and above the vector widths.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "cpu/panoptic_kernels.h"

using namespace atrous;

namespace {

std::vector<CpuIsa> runnable_isas() {
  std::vector<CpuIsa> isas = {CpuIsa::cpu_isa_scalar};
  CpuIsa best = cpu_isa_detect();
  if (best == CpuIsa::cpu_isa_avx512) isas.push_back(CpuIsa::cpu_isa_avx2);
  if (best != CpuIsa::cpu_isa_scalar) isas.push_back(best);
  return isas;
}

// The first index of the smallest distance, skipping NaN distances; −1 when none is finite-smaller
// than +inf.
int32_t direct_nearest(float py, float px, const std::vector<float>& cy, const std::vector<float>& cx) {
  int32_t best = -1;
  float best_distance = std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < cy.size(); ++j) {
    volatile float a = (cy[j] - py) * (cy[j] - py);  // rounded separately: no fused multiply-add
    volatile float b = (cx[j] - px) * (cx[j] - px);
    const float distance = std::sqrt(a + b);
    if (distance < best_distance) {
      best_distance = distance;
      best = int32_t(j);
    }
  }
  return best;
}

}  // namespace

TEST_CASE("panoptic argmax_first matches the scalar loop and the first-maximum rule", "[cpu][panoptic]") {
  std::mt19937 rng(7);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (CpuIsa isa : runnable_isas()) {
    const PanopticKernels& kernels = panoptic_kernels(isa);
    for (int64_t channels : {1, 2, 3, 7, 19}) {
      for (int64_t count : {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 65, 257}) {
        for (bool with_nan : {false, true}) {
          const int64_t stride = count + 5;
          std::vector<float> x(size_t(channels * stride));
          for (float& v : x) {
            v = float(int(rng() % 4)) - 1.5f;  // 4 values: many ties
            if (with_nan && rng() % 9 == 0) v = nan;
            if (rng() % 23 == 0) v = (rng() % 2) ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
          }
          std::vector<int32_t> got(size_t(count), -7), scalar(size_t(count), -7);
          kernels.argmax_first(x.data(), got.data(), channels, stride, count);
          panoptic_kernels_scalar().argmax_first(x.data(), scalar.data(), channels, stride, count);
          for (int64_t p = 0; p < count; ++p) {
            float top = x[size_t(p)];
            int32_t label = 0;
            for (int64_t c = 1; c < channels; ++c)
              if (x[size_t(c * stride + p)] > top) {
                top = x[size_t(c * stride + p)];
                label = int32_t(c);
              }
            INFO("isa " << cpu_isa_name(isa) << " channels " << channels << " count " << count << " pixel " << p);
            REQUIRE(scalar[size_t(p)] == label);
            REQUIRE(got[size_t(p)] == label);
          }
        }
      }
    }
  }
}

TEST_CASE("panoptic nearest_center matches the scalar loop, first index on ties", "[cpu][panoptic]") {
  std::mt19937 rng(11);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  int ties = 0;
  for (CpuIsa isa : runnable_isas()) {
    const PanopticKernels& kernels = panoptic_kernels(isa);
    for (int32_t count : {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 47, 65, 130}) {
      for (int trial = 0; trial < 60; ++trial) {
        std::vector<float> cy(static_cast<size_t>(count)), cx(static_cast<size_t>(count));
        const int span = 2 + int(rng() % 12);  // small spans: many equal distances
        for (int32_t j = 0; j < count; ++j) {
          cy[size_t(j)] = float(int(rng() % unsigned(span)));
          cx[size_t(j)] = float(int(rng() % unsigned(span)));
          // Repeated centers: exact ties at every point.
          if (j > 0 && rng() % 5 == 0) {
            const size_t k = rng() % size_t(j);
            cy[size_t(j)] = cy[k];
            cx[size_t(j)] = cx[k];
          }
        }
        float py = float(int(rng() % unsigned(4 * span))) * 0.25f;
        float px = float(int(rng() % unsigned(4 * span))) * 0.25f;
        if (trial % 17 == 3) py = nan;
        if (trial % 19 == 4) px = inf;
        if (trial % 13 == 5) py = 1e30f;  // squares overflow to +inf
        const int32_t expected = direct_nearest(py, px, cy, cx);
        const int32_t scalar = panoptic_kernels_scalar().nearest_center(py, px, cy.data(), cx.data(), count);
        const int32_t got = kernels.nearest_center(py, px, cy.data(), cx.data(), count);
        INFO("isa " << cpu_isa_name(isa) << " count " << count << " trial " << trial << " point " << py << ","
                    << px);
        REQUIRE(scalar == expected);
        REQUIRE(got == expected);
        // Padding with +inf coordinates (as the merger's grid does) changes nothing.
        std::vector<float> py_pad = cy, px_pad = cx;
        const int32_t width = kernels.center_width;
        REQUIRE(width >= 1);
        while (py_pad.size() % size_t(width) != 0 || py_pad.size() == cy.size()) {
          py_pad.push_back(inf);
          px_pad.push_back(inf);
        }
        REQUIRE(kernels.nearest_center(py, px, py_pad.data(), px_pad.data(), int32_t(py_pad.size())) == expected);
        if (expected >= 0)
          for (int32_t j = expected + 1; j < count; ++j)
            if (cy[size_t(j)] == cy[size_t(expected)] && cx[size_t(j)] == cx[size_t(expected)]) {
              ++ties;
              break;
            }
      }
    }
  }
  CHECK(ties > 100);  // the data exercised the tie rule
}
