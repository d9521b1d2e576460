// The panoptic merger's loops (cpu/panoptic_kernels.h) for every ISA this machine can run,
// against the scalar table and against a direct statement of what each loop returns, on random
// data full of ties (small integer logits, centers and points on a quarter-pixel lattice),
// with NaN and infinity mixed in, across odd counts below, at and above the vector widths.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpu/kernel_table.h"
#include "cpu/panoptic_kernels.h"
#include "cpu/panoptic_kernels_simd.h"
#include "models/panoptic_grid.h"
#include "tests/cpu_kernel_testing.h"

using namespace atrous;
using cpu_testing::runnable_isas;

namespace {

// The first index of the smallest distance, skipping NaN distances; −1 when none is finite-smaller
// than +inf.
int32_t direct_nearest(float py, float px, const std::vector<float>& cy,
                       const std::vector<float>& cx) {
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

TEST_CASE("panoptic argmax_first matches the scalar loop and the first-maximum rule",
          "[cpu][panoptic]") {
  std::mt19937 rng(7);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (CpuIsa isa : runnable_isas()) {
    const PanopticKernels& kernels = cpu_kernel_table(isa).panoptic;
    for (int64_t channels : {1, 2, 3, 7, 19}) {
      for (int64_t count : {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 65, 257}) {
        for (bool with_nan : {false, true}) {
          const int64_t stride = count + 5;
          std::vector<float> x(size_t(channels * stride));
          for (float& v : x) {
            v = float(int(rng() % 4)) - 1.5f;  // 4 values: many ties
            if (with_nan && rng() % 9 == 0) v = nan;
            if (rng() % 23 == 0)
              v = (rng() % 2) ? std::numeric_limits<float>::infinity()
                              : -std::numeric_limits<float>::infinity();
          }
          std::vector<int32_t> got(size_t(count), -7), scalar(size_t(count), -7);
          kernels.argmax_first(x.data(), got.data(), channels, stride, count);
          cpu_kernel_table(CpuIsa::cpu_isa_scalar)
              .panoptic.argmax_first(x.data(), scalar.data(), channels, stride, count);
          for (int64_t p = 0; p < count; ++p) {
            float top = x[size_t(p)];
            int32_t label = 0;
            for (int64_t c = 1; c < channels; ++c)
              if (x[size_t(c * stride + p)] > top) {
                top = x[size_t(c * stride + p)];
                label = int32_t(c);
              }
            INFO("isa " << cpu_isa_name(isa) << " channels " << channels << " count " << count
                        << " pixel " << p);
            REQUIRE(scalar[size_t(p)] == label);
            REQUIRE(got[size_t(p)] == label);
          }
        }
      }
    }
  }
}

TEST_CASE("panoptic nearest_center matches the scalar loop, first index on ties",
          "[cpu][panoptic]") {
  std::mt19937 rng(11);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  int ties = 0;
  for (CpuIsa isa : runnable_isas()) {
    const PanopticKernels& kernels = cpu_kernel_table(isa).panoptic;
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
        const int32_t scalar = cpu_kernel_table(CpuIsa::cpu_isa_scalar)
                                   .panoptic.nearest_center(py, px, cy.data(), cx.data(), count);
        const int32_t got = kernels.nearest_center(py, px, cy.data(), cx.data(), count);
        INFO("isa " << cpu_isa_name(isa) << " count " << count << " trial " << trial << " point "
                    << py << "," << px);
        REQUIRE(scalar == expected);
        REQUIRE(got == expected);
        // Padding with +inf coordinates (callers may pad lists to the vector width) changes
        // nothing.
        std::vector<float> py_pad = cy, px_pad = cx;
        const int32_t width = kernels.center_width;
        REQUIRE(width >= 1);
        while (py_pad.size() % size_t(width) != 0 || py_pad.size() == cy.size()) {
          py_pad.push_back(inf);
          px_pad.push_back(inf);
        }
        REQUIRE(kernels.nearest_center(py, px, py_pad.data(), px_pad.data(),
                                       int32_t(py_pad.size())) == expected);
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

namespace {

// The instance value a pixel must get: 0 for stuff, else 1 + the first center of the smallest
// distance over all centers (0 standing for none, NaN points).
int32_t direct_instance(bool thing, float py, float px, const std::vector<float>& cy,
                        const std::vector<float>& cx) {
  if (!thing || cy.empty()) return 0;
  return 1 + std::max(direct_nearest(py, px, cy, cx), int32_t(0));
}

// Random centers (integer pixels, some repeated: exact ties everywhere) and offsets of several
// kinds: small, on a half-pixel lattice (equal distances to several centers), on cell borders,
// far outside the image, NaN and infinite.
struct GroupingCase {
  int height, width, classes;
  std::vector<float> cy, cx, offset_y, offset_x, is_thing;
  std::vector<int32_t> labels;
};

GroupingCase grouping_case(std::mt19937& rng, int height, int width, int centers, int classes) {
  GroupingCase c{height, width, classes, {}, {}, {}, {}, {}, {}};
  for (int i = 0; i < centers; ++i) {
    if (i > 0 && rng() % 7 == 0) {
      const size_t k = rng() % size_t(i);
      c.cy.push_back(c.cy[k]);
      c.cx.push_back(c.cx[k]);
      continue;
    }
    c.cy.push_back(float(rng() % unsigned(height)));
    c.cx.push_back(float(rng() % unsigned(width)));
  }
  for (int k = 0; k < classes; ++k) c.is_thing.push_back(rng() % 3 ? 1.0f : 0.0f);
  const size_t pixels = size_t(height) * size_t(width);
  c.labels.resize(pixels);
  c.offset_y.resize(pixels);
  c.offset_x.resize(pixels);
  std::normal_distribution<float> normal(0.f, 1.f);
  const float nan = std::numeric_limits<float>::quiet_NaN(),
              inf = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < pixels; ++i) {
    // Runs of one label, as in real maps, with some noise.
    c.labels[i] = (i % size_t(width) != 0 && rng() % 6 != 0) ? c.labels[i - 1]
                                                             : int32_t(rng() % unsigned(classes));
    float& dy = c.offset_y[i];
    float& dx = c.offset_x[i];
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2:
        dy = normal(rng) * 6;
        dx = normal(rng) * 6;
        break;
      case 3:
      case 4:
      case 5:
        dy = float(int(rng() % 41) - 20) * 0.5f;
        dx = float(int(rng() % 41) - 20) * 0.5f;
        break;
      case 6:  // toward a center, landing on it or half way
        if (!c.cy.empty()) {
          const size_t k = rng() % c.cy.size();
          const float part = rng() % 2 ? 1.0f : 0.5f;
          dy = (c.cy[k] - float(i / size_t(width))) * part;
          dx = (c.cx[k] - float(i % size_t(width))) * part;
        }
        break;
      case 7:  // multiples of 4 minus the pixel: points on cell borders
        dy = float(int(rng() % unsigned(height / 4 + 3)) * 4 - 16) - float(i / size_t(width));
        dx = float(int(rng() % unsigned(width / 4 + 3)) * 4 - 16) - float(i % size_t(width));
        break;
      case 8:  // outside the image, near and far
        dy = (rng() % 2 ? 1.f : -1.f) * float(height) * (0.5f + float(rng() % 4));
        dx = (rng() % 3 == 0) ? 1e7f : normal(rng) * 3;
        break;
      default:
        dy = rng() % 2 ? nan : normal(rng);
        dx = rng() % 3 == 0 ? inf : (rng() % 2 ? -1e-7f : normal(rng));
        break;
    }
  }
  return c;
}

}  // namespace

TEST_CASE("panoptic assign_instances with the grid equals the scan of all centers",
          "[cpu][panoptic]") {
  std::mt19937 rng(23);
  struct Size {
    int height, width, centers, classes;
  };
  // 0 and 1 center; few and many centers (cells of 4, 8 and 16 pixels); more than 32 classes
  // (the thing test gathers instead of shifting a mask); widths off the vector widths.
  const Size sizes[] = {{9, 13, 0, 4},      {17, 35, 1, 3},     {40, 61, 2, 5},
                        {64, 97, 12, 7},    {77, 143, 60, 9},   {96, 160, 400, 6},
                        {57, 203, 900, 40}, {130, 70, 2500, 33}};
  for (const Size& size : sizes) {
    GroupingCase c = grouping_case(rng, size.height, size.width, size.centers, size.classes);
    PanopticGrid grid;
    if (!c.cy.empty()) panoptic_grid_build(c.cy, c.cx, c.height, c.width, &grid);
    const PanopticCenterGrid view = panoptic_grid_view(grid, c.cy, c.cx);
    const PanopticGrid none;
    const PanopticCenterGrid all = panoptic_grid_view(none, c.cy, c.cx);
    if (!c.cy.empty()) CHECK(view.rows > 0);
    int64_t several = 0;
    for (int32_t cell = 0; cell < view.rows * view.cols; ++cell) several += view.code[cell] < 0;
    if (c.cy.size() >= 12) CHECK(several > 0);  // lists of several candidates were scanned
    for (CpuIsa isa : runnable_isas()) {
      const PanopticKernels& kernels = cpu_kernel_table(isa).panoptic;
      std::vector<int32_t> got(static_cast<size_t>(c.width)), brute(static_cast<size_t>(c.width));
      for (int y = 0; y < c.height; ++y) {
        const size_t base = size_t(y) * size_t(c.width);
        kernels.assign_instances(view, y, c.width, &c.labels[base], c.is_thing.data(), c.classes,
                                 &c.offset_y[base], &c.offset_x[base], got.data());
        kernels.assign_instances(all, y, c.width, &c.labels[base], c.is_thing.data(), c.classes,
                                 &c.offset_y[base], &c.offset_x[base], brute.data());
        for (int x = 0; x < c.width; ++x) {
          const size_t i = base + size_t(x);
          const float py = float(y) + c.offset_y[i], px = float(x) + c.offset_x[i];
          const int32_t expected =
              direct_instance(c.is_thing[size_t(c.labels[i])] > 0, py, px, c.cy, c.cx);
          INFO("isa " << cpu_isa_name(isa) << " size " << c.height << "x" << c.width << " centers "
                      << c.cy.size() << " pixel " << y << "," << x << " point " << py << "," << px);
          REQUIRE(got[size_t(x)] == expected);
          REQUIRE(brute[size_t(x)] == expected);
        }
      }
    }
  }
}

TEST_CASE(
    "panoptic assign_instances breaks near ties between two candidates by the rounded distance",
    "[cpu][panoptic]") {
  // Two centers and points a few ulp off their bisector (and on it): the squared distances
  // differ by less than the vector path's 2^-20 margin, so it must fall back to the square
  // roots, and some rounded distances are equal (the first center wins) though the squares are
  // not.
  const int height = 16, width = 2048;
  const std::vector<float> cy = {3.0f, 12.0f}, cx = {100.0f, 1900.0f};
  PanopticGrid grid;
  panoptic_grid_build(cy, cx, height, width, &grid);
  const PanopticCenterGrid view = panoptic_grid_view(grid, cy, cx);
  const std::vector<float> is_thing = {1.0f};
  std::vector<int32_t> labels(static_cast<size_t>(width), 0);
  std::mt19937 rng(43);
  int wins[2] = {0, 0};
  for (int y = 0; y < height; ++y) {
    // The bisector at each point's row coordinate py: |p − a|² = |p − b|² for p = (py, px).
    std::vector<float> offset_y(static_cast<size_t>(width)), offset_x(static_cast<size_t>(width));
    for (int x = 0; x < width; ++x) {
      const float py = float(y) + float(rng() % 1024) / 1024.0f;
      const double bisector =
          (double(cx[1]) * cx[1] - double(cx[0]) * cx[0] + double(cy[1]) * cy[1] -
           double(cy[0]) * cy[0] - 2.0 * py * (double(cy[1]) - cy[0])) /
          (2.0 * (double(cx[1]) - cx[0]));
      float px = float(bisector);
      for (int step = int(rng() % 9) - 4; step != 0; step += step > 0 ? -1 : 1)
        px = std::nextafter(px, step > 0 ? 1e9f : -1e9f);
      offset_y[size_t(x)] = py - float(y);
      offset_x[size_t(x)] = px - float(x);
    }
    for (CpuIsa isa : runnable_isas()) {
      std::vector<int32_t> got(static_cast<size_t>(width));
      cpu_kernel_table(isa).panoptic.assign_instances(view, y, width, labels.data(),
                                                      is_thing.data(), 1, offset_y.data(),
                                                      offset_x.data(), got.data());
      for (int x = 0; x < width; ++x) {
        const float py = float(y) + offset_y[size_t(x)], px = float(x) + offset_x[size_t(x)];
        INFO("isa " << cpu_isa_name(isa) << " pixel " << y << "," << x << " point " << py << ","
                    << px);
        REQUIRE(got[size_t(x)] == direct_instance(true, py, px, cy, cx));
        ++wins[got[size_t(x)] - 1];
      }
    }
  }
  CHECK(wins[0] > 0);
  CHECK(wins[1] > 0);
}

TEST_CASE("panoptic runs and panoptic_values match their definitions", "[cpu][panoptic]") {
  std::mt19937 rng(29);
  for (CpuIsa isa : runnable_isas()) {
    const PanopticKernels& kernels = cpu_kernel_table(isa).panoptic;
    for (int32_t width : {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257}) {
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<int32_t> labels(static_cast<size_t>(width)),
            instance(static_cast<size_t>(width));
        const unsigned change = 1 + rng() % 8;
        for (int32_t x = 0; x < width; ++x) {
          labels[size_t(x)] =
              (x > 0 && rng() % change) ? labels[size_t(x - 1)] : int32_t(rng() % 5);
          instance[size_t(x)] =
              (x > 0 && rng() % change) ? instance[size_t(x - 1)] : int32_t(rng() % 4);
        }
        std::vector<int32_t> expected = {0};
        for (int32_t x = 1; x < width; ++x)
          if (labels[size_t(x)] != labels[size_t(x - 1)] ||
              instance[size_t(x)] != instance[size_t(x - 1)])
            expected.push_back(x);
        const size_t room = size_t(width) + 17;
        std::vector<int32_t> start(room, -7), run_label(room, -7), run_instance(room, -7);
        const int32_t count = kernels.runs(labels.data(), instance.data(), width, start.data(),
                                           run_label.data(), run_instance.data());
        INFO("isa " << cpu_isa_name(isa) << " width " << width << " trial " << trial);
        REQUIRE(count == int32_t(expected.size()));
        REQUIRE(std::vector<int32_t>(start.begin(), start.begin() + count) == expected);
        REQUIRE(start[size_t(count)] == width);
        for (int32_t r = 0; r < count; ++r) {
          REQUIRE(run_label[size_t(r)] == labels[size_t(expected[size_t(r)])]);
          REQUIRE(run_instance[size_t(r)] == instance[size_t(expected[size_t(r)])]);
        }

        const std::vector<int32_t> by_label = {-1, 2000, -1, 4000, 5000},
                                   by_instance = {255000, 11001, 12001, 11002};
        std::vector<int32_t> out(size_t(width), 0);
        kernels.panoptic_values(labels.data(), instance.data(), width, by_label.data(), 5,
                                by_instance.data(), out.data());
        for (int32_t x = 0; x < width; ++x)
          REQUIRE(out[size_t(x)] == (instance[size_t(x)] ? by_instance[size_t(instance[size_t(x)])]
                                                         : by_label[size_t(labels[size_t(x)])]));
      }
    }
  }
}

TEST_CASE("panoptic_values matches its definition for any class count, length and output alignment",
          "[cpu][panoptic]") {
  std::mt19937 rng(31);
  for (CpuIsa isa : runnable_isas()) {
    const PanopticKernels& kernels = cpu_kernel_table(isa).panoptic;
    // Class counts around the permutation's 16 and 32 entries; lengths around whole vectors;
    // output starts at every int offset within 64 bytes.
    for (int32_t classes : {1, 5, 16, 17, 19, 32, 33, 150}) {
      for (int32_t count : {0, 1, 15, 16, 17, 40, 333, 1000}) {
        for (int32_t shift = 0; shift < 16; ++shift) {
          const int32_t instances = 1 + int32_t(rng() % 300);
          std::vector<int32_t> labels(static_cast<size_t>(count)),
              instance(static_cast<size_t>(count));
          for (int32_t x = 0; x < count; ++x) {
            labels[size_t(x)] = int32_t(rng() % unsigned(classes));
            instance[size_t(x)] = rng() % 3 ? 0 : int32_t(rng() % unsigned(instances + 1));
          }
          std::vector<int32_t> by_label(static_cast<size_t>(classes)),
              by_instance(static_cast<size_t>(instances) + 1);
          for (int32_t& v : by_label) v = int32_t(rng() % 100000) - 1000;
          for (int32_t& v : by_instance) v = int32_t(rng() % 100000) + 7;
          std::vector<int32_t> storage(size_t(count) + 32, -5);
          int32_t* out = storage.data() + shift;
          kernels.panoptic_values(labels.data(), instance.data(), count, by_label.data(), classes,
                                  by_instance.data(), out);
          INFO("isa " << cpu_isa_name(isa) << " classes " << classes << " count " << count
                      << " shift " << shift);
          for (int32_t x = 0; x < count; ++x)
            REQUIRE(out[x] == (instance[size_t(x)] ? by_instance[size_t(instance[size_t(x)])]
                                                   : by_label[size_t(labels[size_t(x)])]));
          for (int32_t x = 0; x < shift; ++x) REQUIRE(storage[size_t(x)] == -5);
          for (size_t x = size_t(shift + count); x < storage.size(); ++x) REQUIRE(storage[x] == -5);
        }
      }
    }
  }
}

TEST_CASE("panoptic_exp is within 4 ulp of exp, with exp's special values", "[cpu][panoptic]") {
  std::mt19937 rng(37);
  auto ulps = [](double a, double b) {
    int64_t x, y;
    std::memcpy(&x, &a, 8);
    std::memcpy(&y, &b, 8);
    return std::abs(x - y);
  };
  std::uniform_real_distribution<double> wide(-708.0, 709.0), near_zero(-1.0, 1.0);
  int64_t worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const double x = i % 2 ? wide(rng) : near_zero(rng);
    const double got = panoptic_exp<PanopticScalarExpOps>(x), want = std::exp(x);
    worst = std::max(worst, ulps(got, want));
    INFO("x " << x << " got " << got << " exp " << want);
    REQUIRE(ulps(got, want) <= 4);
  }
  CHECK(worst >= 1);  // the bound is met by the computation, not by an identity
  CHECK(panoptic_exp<PanopticScalarExpOps>(0.0) == 1.0);
  CHECK(panoptic_exp<PanopticScalarExpOps>(-800.0) == 0.0);
  CHECK(panoptic_exp<PanopticScalarExpOps>(-std::numeric_limits<double>::infinity()) == 0.0);
  CHECK(std::isnan(panoptic_exp<PanopticScalarExpOps>(std::nan(""))));
}

TEST_CASE("panoptic instance_probability matches its definition in every ISA", "[cpu][panoptic]") {
  std::mt19937 rng(41);
  for (int64_t classes : {1, 2, 5, 19, 40}) {
    for (int32_t count : {1, 7, 16, 17, 33, 100}) {
      const int64_t stride = count + 3;  // planes apart by more than the pixels
      std::vector<float> logits(size_t(classes * stride));
      std::normal_distribution<float> logit(0.f, 3.f);
      for (float& v : logits) v = rng() % 9 == 0 ? float(int(rng() % 3)) : logit(rng);  // ties too
      if (count > 5) {
        logits[3] = std::numeric_limits<float>::quiet_NaN();  // a NaN top: no amount
        if (classes > 1) logits[size_t(stride) + 4] = -std::numeric_limits<float>::infinity();
      }
      const int32_t instances = 5;
      std::vector<int32_t> class_of(instances + 1, -1), instance(static_cast<size_t>(count));
      for (int32_t i = 1; i <= instances; ++i)
        class_of[size_t(i)] = int32_t(rng() % uint32_t(classes));
      for (int32_t& v : instance) v = rng() % 3 == 0 ? 0 : int32_t(1 + rng() % instances);
      // The definition, with the C library's exp: amounts may differ by one unit where p·2^40
      // falls within a few ulp of a half.
      std::vector<int64_t> expected(static_cast<size_t>(count));
      for (int32_t x = 0; x < count; ++x) {
        expected[size_t(x)] = 0;
        if (instance[size_t(x)] == 0) continue;
        float top = logits[size_t(x)];
        for (int64_t j = 1; j < classes; ++j) top = std::max(top, logits[size_t(j * stride + x)]);
        double sum = 0;
        for (int64_t j = 0; j < classes; ++j)
          sum += std::exp(double(logits[size_t(j * stride + x)] - top));
        const int64_t c = class_of[size_t(instance[size_t(x)])];
        const double p = std::exp(double(logits[size_t(c * stride + x)] - top)) / sum;
        if (std::isfinite(p)) expected[size_t(x)] = std::llround(p * 1099511627776.0);
      }
      std::vector<int64_t> scalar(static_cast<size_t>(count));
      cpu_kernel_table(CpuIsa::cpu_isa_scalar)
          .panoptic.instance_probability(logits.data(), classes, stride, instance.data(),
                                         class_of.data(), count, scalar.data());
      for (int32_t x = 0; x < count; ++x) {
        INFO("classes " << classes << " count " << count << " pixel " << x);
        REQUIRE(std::abs(scalar[size_t(x)] - expected[size_t(x)]) <= 1);
        if (count > 5 && x == 3) REQUIRE(scalar[size_t(x)] == 0);
      }
      for (CpuIsa isa : runnable_isas()) {
        std::vector<int64_t> got(static_cast<size_t>(count), -1);
        cpu_kernel_table(isa).panoptic.instance_probability(
            logits.data(), classes, stride, instance.data(), class_of.data(), count, got.data());
        INFO("isa " << cpu_isa_name(isa) << " classes " << classes << " count " << count);
        REQUIRE(got == scalar);  // the same operations in every ISA
      }
    }
  }
}
