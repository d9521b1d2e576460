// The CPU resize and average-pool kernels against the reference ops, for every ISA this machine
// runs, on random data across channel counts, odd sizes, up- and downsampling factors (integer
// and not), every coordinate and rounding mode; bitwise identical for 1, 2 and 3 threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernel_table.h"
#include "tests/cpu_kernel_testing.h"

using namespace atrous;
using namespace atrous::cpu_testing;

namespace {

// Runs the family's kernel for every ISA and thread count; checks each run against `expected`
// with `close` and that all thread counts agree bitwise.
template <class Close>
void check_kernel(Factory factory, const Graph& graph, const std::vector<Tensor>& inputs,
                  const Tensor& expected, Close close) {
  for (CpuIsa isa : runnable_isas()) {
    CpuKernelConfig config;
    config.isa = isa;
    CpuKernelPtr kernel = factory(graph, 0, config);
    INFO("isa=" << cpu_isa_name(isa));
    REQUIRE(kernel);
    Tensor first = run_kernel(*kernel, graph, inputs, 1);
    close(first, expected);
    for (int threads : {2, 3})
      CHECK(bitwise_equal(run_kernel(*kernel, graph, inputs, threads), first));
  }
}

// Bilinear: float interpolation with fused multiply-adds against the reference's double. Each
// of the two interpolations rounds the weights, one product and one fma (a few half-epsilons
// of the largest |input| M each); 8·FLT_EPSILON·M bounds their sum.
void check_bilinear(const Tensor& y, const Tensor& expected, double largest) {
  const double bound = 8.0 * FLT_EPSILON * largest;
  double worst = 0;
  for (int64_t i = 0; i < y.numel(); ++i)
    worst = std::max(worst, std::fabs(double(y.f32()[i]) - double(expected.f32()[i])));
  INFO("worst=" << worst << " bound=" << bound);
  CHECK(worst <= bound);
}

// Averages: the same double sum in another order is within a tiny fraction of a float rounding
// step, so the float result equals the reference's or is the adjacent float: |Δ| ≤ ulp ≤
// FLT_EPSILON·|expected| (plus a margin far below any float result of these inputs).
void check_average(const Tensor& y, const Tensor& expected) {
  int64_t bad = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const double e = expected.f32()[i];
    if (!(std::fabs(double(y.f32()[i]) - e) <= FLT_EPSILON * std::fabs(e) + 1e-12)) ++bad;
  }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("resize kernels match the reference in every mode", "[cpu]") {
  struct Case {
    Shape input;
    int64_t out_h, out_w;
  };
  // Up 4× and 4×−3 (1025×2049 style odd targets), non-integer factors, downsampling, identity,
  // 1×1 inputs and outputs.
  const std::vector<Case> cases = {
      {{1, 3, 7, 9}, 29, 37}, {{1, 1, 33, 65}, 129, 257}, {{1, 17, 9, 17}, 33, 65},
      {{2, 8, 7, 9}, 10, 13}, {{1, 64, 5, 6}, 5, 6},      {{1, 3, 33, 65}, 7, 9},
      {{1, 3, 1, 1}, 5, 7},   {{1, 8, 7, 9}, 1, 1},       {{1, 1, 65, 129}, 257, 513},
  };
  const char* coordinates[] = {"align_corners", "half_pixel", "pytorch_half_pixel", "asymmetric"};
  const char* nearest_modes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  std::mt19937 rng(51);
  for (const Case& c : cases) {
    std::vector<Tensor> inputs;
    inputs.push_back(testing::random_tensor(c.input, rng));
    const double largest = max_abs(inputs[0]);
    for (const char* coordinate : coordinates) {
      for (bool with_scales : {false, true}) {
        AttributeMap attributes;
        attributes.set_ints("sizes", {c.out_h, c.out_w});
        attributes.set_string("coordinate_mode", coordinate);
        // A scale a little off the size ratio, so the ratio comes from it.
        if (with_scales)
          attributes.set_floats("scales", {double(c.out_h) / double(c.input[2]) * 1.03,
                                           double(c.out_w) / double(c.input[3]) * 0.97});
        INFO(shape_to_string(c.input) << " -> " << c.out_h << "x" << c.out_w << " " << coordinate
                                      << (with_scales ? " scales" : ""));
        {
          attributes.set_string("mode", "linear");
          Graph graph = single_node_graph(OpType::op_resize, attributes, {c.input});
          Tensor expected = run_reference(graph, inputs);
          check_kernel(cpu_make_resize_kernel, graph, inputs, expected,
                       [&](const Tensor& y, const Tensor& e) { check_bilinear(y, e, largest); });
        }
        for (const char* nearest : nearest_modes) {
          attributes.set_string("mode", "nearest");
          attributes.set_string("nearest_mode", nearest);
          Graph graph = single_node_graph(OpType::op_resize, attributes, {c.input});
          Tensor expected = run_reference(graph, inputs);
          INFO(nearest);
          check_kernel(cpu_make_resize_kernel, graph, inputs, expected,
                       [](const Tensor& y, const Tensor& e) { CHECK(bitwise_equal(y, e)); });
        }
      }
    }
  }
}

TEST_CASE("the resize kernel matches the reference on a 1025x2049 align_corners target", "[cpu]") {
  std::mt19937 rng(52);
  std::vector<Tensor> inputs;
  inputs.push_back(testing::random_tensor({1, 1, 65, 129}, rng));
  AttributeMap attributes;
  attributes.set_ints("sizes", {1025, 2049});
  attributes.set_string("coordinate_mode", "align_corners");
  Graph graph = single_node_graph(OpType::op_resize, attributes, {{1, 1, 65, 129}});
  Tensor expected = run_reference(graph, inputs);
  CpuKernelConfig config;
  config.isa = cpu_isa_detect();
  CpuKernelPtr kernel = cpu_make_resize_kernel(graph, 0, config);
  REQUIRE(kernel);
  check_bilinear(run_kernel(*kernel, graph, inputs, 2), expected, max_abs(inputs[0]));
}

// The SIMD row loop reads upsampling windows with one masked load and permutes, and gathers
// elsewhere; either way every output is the scalar loop's fma(w1, r[i1], w0·r[i0]), bitwise.
// Rows of exactly `length` floats (windows at the row's end), upsampling index patterns
// (factors 1.3 to 8, both coordinate conventions' clamping at the edges) and non-monotone
// ones (the gather fallback).
TEST_CASE("the resize row loop is bitwise the scalar loop on every ISA", "[cpu]") {
  std::mt19937 rng(58);
  std::uniform_real_distribution<float> value(-3.f, 3.f), fraction(0.f, 1.f);
  const CpuKernelTable& scalar = cpu_kernel_table(CpuIsa::cpu_isa_scalar);
  for (int64_t length : {1, 2, 7, 16, 17, 33, 100}) {
    for (double factor : {1.0, 1.3, 2.0, 4.0, 8.0, -1.0}) {
      const int64_t count = factor > 0 ? int64_t(length * factor) + 5 : 3 * length + 7;
      std::vector<float> row(static_cast<size_t>(length)), w0(static_cast<size_t>(count)),
          w1(static_cast<size_t>(count));
      std::vector<int32_t> i0(static_cast<size_t>(count)), i1(static_cast<size_t>(count));
      for (float& v : row) v = value(rng);
      for (int64_t o = 0; o < count; ++o) {
        int64_t a;
        if (factor > 0) {
          const double x = (double(o) + 0.5) / factor - 0.5;  // half-pixel, then clamped
          a = std::min<int64_t>(length - 1, std::max<int64_t>(0, int64_t(std::floor(x))));
        } else {
          a = int64_t(rng() % uint32_t(length));  // no window: the gather path
        }
        i0[size_t(o)] = int32_t(a);
        i1[size_t(o)] = int32_t(std::min<int64_t>(length - 1, a + 1));
        w1[size_t(o)] = fraction(rng);
        w0[size_t(o)] = 1.f - w1[size_t(o)];
      }
      std::vector<float> expected(static_cast<size_t>(count));
      scalar.misc.resize_linear_row(row.data(), length, i0.data(), i1.data(), w0.data(), w1.data(),
                                    expected.data(), count);
      for (CpuIsa isa : cpu_testing::runnable_isas()) {
        INFO("isa=" << cpu_isa_name(isa) << " length=" << length << " factor=" << factor);
        std::vector<float> y(size_t(count), NAN);
        cpu_kernel_table(isa).misc.resize_linear_row(row.data(), length, i0.data(), i1.data(),
                                                     w0.data(), w1.data(), y.data(), count);
        CHECK(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)) == 0);
      }
    }
  }
}

// The global mean's double sums run in 16 lanes on every ISA: bitwise the scalar loop, and
// within a float rounding of the sequential double sum, for counts around and past the lanes.
TEST_CASE("the plane mean is the same on every ISA and within a rounding of the exact mean",
          "[cpu]") {
  std::mt19937 rng(59);
  std::uniform_real_distribution<float> value(-3.f, 5.f);
  const CpuKernelTable& scalar = cpu_kernel_table(CpuIsa::cpu_isa_scalar);
  for (int64_t count : {1, 15, 16, 17, 31, 49, 196, 1000, 8193}) {
    std::vector<float> x(static_cast<size_t>(count));
    for (float& v : x) v = value(rng);
    double exact = 0.0;
    for (float v : x) exact += double(v);
    exact /= double(count);
    const float expected = scalar.misc.plane_mean(x.data(), count);
    CHECK(std::fabs(double(expected) - exact) <= 1e-6 * std::fabs(exact) + 1e-12);
    for (CpuIsa isa : cpu_testing::runnable_isas()) {
      INFO("isa=" << cpu_isa_name(isa) << " count=" << count);
      const float mean = cpu_kernel_table(isa).misc.plane_mean(x.data(), count);
      CHECK(std::memcmp(&mean, &expected, sizeof(float)) == 0);
    }
  }
}

TEST_CASE("average pool kernels match the reference", "[cpu]") {
  std::mt19937 rng(53);
  const std::vector<Shape> shapes = {{1, 1, 1, 1}, {1, 3, 7, 9}, {2, 17, 33, 65}, {1, 64, 9, 13}};
  for (const Shape& shape : shapes) {
    std::vector<Tensor> inputs;
    inputs.push_back(testing::random_tensor(shape, rng));
    INFO(shape_to_string(shape));
    {
      Graph graph = single_node_graph(OpType::op_global_average_pool, AttributeMap(), {shape});
      check_kernel(cpu_make_pool_kernel, graph, inputs, run_reference(graph, inputs),
                   check_average);
    }
    for (const std::vector<int64_t>& axes : std::vector<std::vector<int64_t>>{{2, 3}, {-1, -2}}) {
      for (int64_t keepdims : {0, 1}) {
        AttributeMap attributes;
        attributes.set_ints("axes", axes);
        attributes.set_int("keepdims", keepdims);
        Graph graph = single_node_graph(OpType::op_reduce_mean, attributes, {shape});
        check_kernel(cpu_make_pool_kernel, graph, inputs, run_reference(graph, inputs),
                     check_average);
      }
    }
  }
  struct PoolCase {
    Shape input;
    std::vector<int64_t> kernel, strides, pads;
    int64_t count_include_pad, ceil_mode;
  };
  // LR-ASPP / DeepLab2 ASPP pooling windows (49×97 at stride 16×20), 3×3 with padding, 2×2 on
  // odd sizes with ceil_mode, windows hanging over the padding.
  const std::vector<PoolCase> pools = {
      {{1, 8, 65, 129}, {49, 97}, {16, 20}, {0, 0, 0, 0}, 0, 0},
      {{1, 3, 65, 129}, {49, 97}, {16, 20}, {0, 0, 0, 0}, 0, 1},
      {{1, 17, 7, 9}, {3, 3}, {1, 1}, {1, 1, 1, 1}, 0, 0},
      {{1, 17, 7, 9}, {3, 3}, {1, 1}, {1, 1, 1, 1}, 1, 0},
      {{2, 3, 33, 65}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 0, 1},
      {{1, 3, 33, 65}, {3, 5}, {2, 3}, {1, 2, 1, 2}, 1, 1},
      {{1, 1, 7, 9}, {7, 9}, {1, 1}, {0, 0, 0, 0}, 0, 0},
  };
  for (const PoolCase& c : pools) {
    AttributeMap attributes;
    attributes.set_ints("kernel_shape", c.kernel);
    attributes.set_ints("strides", c.strides);
    attributes.set_ints("pads", c.pads);
    attributes.set_int("count_include_pad", c.count_include_pad);
    attributes.set_int("ceil_mode", c.ceil_mode);
    std::vector<Tensor> inputs;
    inputs.push_back(testing::random_tensor(c.input, rng));
    Graph graph = single_node_graph(OpType::op_average_pool, attributes, {c.input});
    INFO(shape_to_string(c.input) << " kernel " << c.kernel[0] << "x" << c.kernel[1]
                                  << " include_pad " << c.count_include_pad << " ceil "
                                  << c.ceil_mode);
    check_kernel(cpu_make_pool_kernel, graph, inputs, run_reference(graph, inputs), check_average);
  }
}

TEST_CASE("max pool kernels equal the reference bitwise", "[cpu]") {
  struct PoolCase {
    Shape input;
    std::vector<int64_t> kernel, strides, pads;
    int64_t ceil_mode;
  };
  const std::vector<PoolCase> pools = {
      {{1, 17, 7, 9}, {3, 3}, {1, 1}, {1, 1, 1, 1}, 0},
      {{2, 3, 33, 65}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 1},
      {{1, 8, 33, 65}, {7, 7}, {1, 1}, {3, 3, 3, 3}, 0},
      {{1, 1, 1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 0},
      {{1, 3, 9, 13}, {3, 5}, {2, 3}, {1, 2, 1, 2}, 1},
  };
  std::mt19937 rng(54);
  for (const PoolCase& c : pools) {
    AttributeMap attributes;
    attributes.set_ints("kernel_shape", c.kernel);
    attributes.set_ints("strides", c.strides);
    attributes.set_ints("pads", c.pads);
    attributes.set_int("ceil_mode", c.ceil_mode);
    std::vector<Tensor> inputs;
    inputs.push_back(testing::random_tensor(c.input, rng, -4.f, 4.f));
    // A coarse grid for ties, and NaNs, which win.
    Tensor& x = inputs[0];
    for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = std::round(x.f32()[i]) + 0.5f;
    for (int64_t i = 5; i < x.numel(); i += 41) x.f32()[i] = NAN;
    Graph graph = single_node_graph(OpType::op_max_pool, attributes, {c.input});
    INFO(shape_to_string(c.input) << " kernel " << c.kernel[0] << "x" << c.kernel[1]);
    check_kernel(cpu_make_pool_kernel, graph, inputs, run_reference(graph, inputs),
                 [](const Tensor& y, const Tensor& e) { CHECK(bitwise_equal(y, e)); });
  }
}

TEST_CASE("the pool factory leaves dilated max_pool and other reductions to the reference",
          "[cpu]") {
  AttributeMap max_attributes;
  max_attributes.set_ints("kernel_shape", {3, 3});
  max_attributes.set_ints("dilations", {2, 2});
  Graph max_pool = single_node_graph(OpType::op_max_pool, max_attributes, {{1, 3, 7, 9}});
  CHECK_FALSE(cpu_make_pool_kernel(max_pool, 0, CpuKernelConfig()));
  AttributeMap channel_mean;
  channel_mean.set_ints("axes", {1});
  Graph reduce = single_node_graph(OpType::op_reduce_mean, channel_mean, {{1, 3, 7, 9}});
  CHECK_FALSE(cpu_make_pool_kernel(reduce, 0, CpuKernelConfig()));
  Graph all = single_node_graph(OpType::op_reduce_mean, AttributeMap(), {{1, 3, 7, 9}});
  CHECK_FALSE(cpu_make_pool_kernel(all, 0, CpuKernelConfig()));
  Graph relu = single_node_graph(OpType::op_relu, AttributeMap(), {{1, 3, 7, 9}});
  CHECK_FALSE(cpu_make_pool_kernel(relu, 0, CpuKernelConfig()));
  CHECK_FALSE(cpu_make_resize_kernel(relu, 0, CpuKernelConfig()));
}
