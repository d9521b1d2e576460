// The CPU depthwise convolution kernels against the reference conv, for every ISA this machine
// can run: a table of geometries (odd sizes, kernels 3/5/7 and others, strides 1/2/3, atrous
// and anisotropic dilations, symmetric, asymmetric and oversized pads, SAME padding) times every
// fused activation, on random data. Also: bitwise identical results for 1, 2 and 3 threads,
// borders bitwise equal to the same kernel on an explicitly zero-padded input, and the factory
// refusing convs that are not depthwise.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>

#include "cpu/cpu_kernel.h"
#include "cpu/depthwise_conv.h"
#include "cpu/kernel_table.h"
#include "ops/graph_rules.h"
#include "ops/ops.h"
#include "tests/cpu_kernel_testing.h"
#include "tests/graph_fixtures.h"

using namespace atrous;
using cpu_testing::absolute;
using cpu_testing::runnable_isas;

namespace {

struct Geometry {
  int64_t batch, channels, height, width;
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t dilation_h, dilation_w;
  std::vector<int64_t> pads;  // top, left, bottom, right (explicit padding)
  std::string auto_pad;       // "explicit", "valid", "same_upper", "same_lower"
  bool bias;
};

std::string describe(const Geometry& g) {
  std::ostringstream out;
  out << g.batch << "x" << g.channels << "x" << g.height << "x" << g.width << " k" << g.kernel_h
      << "x" << g.kernel_w << " s" << g.stride_h << "," << g.stride_w << " d" << g.dilation_h << ","
      << g.dilation_w << " pads";
  for (int64_t p : g.pads) out << " " << p;
  out << " " << g.auto_pad << (g.bias ? " bias" : " no-bias");
  return out.str();
}

AttributeMap conv_attributes(const Geometry& g, const std::string& activation) {
  AttributeMap a;
  a.set_int("group", g.channels);
  a.set_ints("strides", {g.stride_h, g.stride_w});
  a.set_ints("dilations", {g.dilation_h, g.dilation_w});
  a.set_string("auto_pad", g.auto_pad);
  if (g.auto_pad == "explicit") a.set_ints("pads", g.pads);
  a.set_string("activation", activation);
  if (activation == "clip") a.set_floats("activation_params", {-0.25, 0.5});
  if (activation == "hard_sigmoid") a.set_floats("activation_params", {0.3, 0.4});
  return a;
}

// A one-node graph: input x, constant weights (and bias), conv with `attributes`, shapes inferred.
Graph conv_graph(const Tensor& x, const Tensor& w, const Tensor* b,
                 const AttributeMap& attributes) {
  Graph graph;
  int32_t input = graph.add_tensor("x", DType::dtype_f32, x.shape());
  graph.inputs.push_back(input);
  Tensor w_copy(DType::dtype_f32, w.shape());
  std::memcpy(w_copy.f32(), w.f32(), size_t(w.numel()) * sizeof(float));
  int32_t weight = graph.add_constant("w", std::move(w_copy));
  int32_t bias = kAbsentInput;
  if (b) {
    Tensor b_copy(DType::dtype_f32, b->shape());
    std::memcpy(b_copy.f32(), b->f32(), size_t(b->numel()) * sizeof(float));
    bias = graph.add_constant("b", std::move(b_copy));
  }
  int32_t output = graph.add_tensor("y", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_conv, "dw", {input, weight, bias}, {output}, attributes);
  graph.outputs.push_back(output);
  Status status = graph_infer_shapes(&graph);
  INFO(status.message());
  REQUIRE(status.ok());
  return graph;
}

// Runs the fast kernel for node 0 of `graph` on x with `threads` threads.
std::vector<float> run_kernel(const Graph& graph, const Tensor& x, CpuIsa isa, int threads) {
  CpuKernelConfig config;
  config.isa = isa;
  config.threads = threads;
  CpuKernelPtr kernel = cpu_make_depthwise_kernel(graph, 0, config);
  REQUIRE(kernel);
  TensorView y_view;
  y_view.shape = graph.tensors[size_t(graph.outputs[0])].shape;
  std::vector<float> y(size_t(shape_numel(y_view.shape)), NAN);
  y_view.data = y.data();
  std::vector<uint8_t> scratch(kernel->scratch_bytes() + 64);
  ThreadPool pool(threads);
  Status status = kernel->run({&x.view()}, {&y_view}, scratch.data(), pool);
  REQUIRE(status.ok());
  return y;
}

Tensor reference_conv(const Tensor& x, const Tensor& w, const Tensor* b,
                      const AttributeMap& attributes, const Shape& output_shape) {
  Tensor y(DType::dtype_f32, output_shape);
  std::vector<const TensorView*> inputs = {&x.view(), &w.view()};
  if (b) inputs.push_back(&b->view());
  Status status = op_run_reference(OpType::op_conv, attributes, inputs, {&y.view()});
  INFO(status.message());
  REQUIRE(status.ok());
  return y;
}

const std::vector<Geometry>& geometries() {
  static const std::vector<Geometry> table = {
      // 1×1 images, tiny and odd sizes, channel counts 1, 3, 8, 17, 72, batch 2.
      {1, 1, 1, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 3, 7, 9, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 8, 33, 65, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", false},
      {2, 17, 33, 65, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
      {1, 8, 33, 65, 7, 7, 1, 1, 1, 1, {3, 3, 3, 3}, "explicit", true},
      {1, 72, 9, 13, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 3, 1, 300, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      // Stride 2 (and 3, and per axis) on odd inputs.
      {1, 3, 7, 9, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 17, 33, 65, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 8, 33, 65, 5, 5, 2, 2, 1, 1, {2, 2, 2, 2}, "explicit", false},
      {1, 3, 35, 131, 7, 7, 2, 2, 1, 1, {3, 3, 3, 3}, "explicit", true},
      {1, 3, 33, 65, 3, 3, 3, 3, 2, 2, {2, 2, 2, 2}, "explicit", true},
      {1, 3, 33, 65, 3, 3, 1, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 3, 33, 65, 3, 3, 2, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      // Atrous: dilations 2, 6, 12, 18 (the last larger than the image), anisotropic.
      {1, 8, 33, 65, 3, 3, 1, 1, 2, 2, {2, 2, 2, 2}, "explicit", true},
      {1, 8, 33, 65, 3, 3, 1, 1, 6, 6, {6, 6, 6, 6}, "explicit", true},
      {1, 3, 33, 65, 3, 3, 1, 1, 12, 12, {12, 12, 12, 12}, "explicit", true},
      {1, 3, 33, 65, 3, 3, 1, 1, 18, 18, {18, 18, 18, 18}, "explicit", true},
      {1, 8, 33, 65, 3, 3, 1, 1, 1, 6, {1, 6, 1, 6}, "explicit", true},
      {1, 8, 33, 65, 3, 3, 1, 1, 6, 1, {6, 1, 6, 1}, "explicit", true},
      {1, 3, 33, 65, 5, 5, 2, 2, 3, 2, {6, 4, 6, 4}, "explicit", true},
      // Pads 0, asymmetric, larger than the input.
      {1, 3, 7, 9, 5, 5, 1, 1, 1, 1, {0, 0, 0, 0}, "explicit", true},
      {1, 8, 17, 40, 3, 3, 1, 1, 1, 1, {0, 1, 2, 3}, "explicit", true},
      {1, 3, 17, 41, 3, 3, 2, 2, 1, 1, {3, 0, 1, 2}, "explicit", true},
      {1, 3, 7, 9, 3, 3, 1, 1, 1, 1, {10, 12, 9, 11}, "explicit", true},
      {1, 3, 5, 6, 3, 3, 2, 2, 4, 4, {9, 9, 9, 9}, "explicit", true},
      // Auto padding.
      {1, 3, 33, 65, 3, 3, 2, 2, 1, 1, {}, "same_upper", true},
      {1, 3, 7, 9, 3, 3, 2, 2, 2, 2, {}, "same_lower", true},
      {1, 8, 33, 65, 5, 5, 1, 1, 1, 1, {}, "same_upper", true},
      {1, 3, 16, 34, 3, 3, 1, 1, 1, 1, {}, "valid", true},
      // Other kernel shapes: 1×7, 7×1, 2×2, 1×1.
      {1, 3, 33, 65, 1, 7, 1, 1, 1, 1, {0, 3, 0, 3}, "explicit", true},
      {1, 3, 33, 65, 7, 1, 1, 1, 1, 1, {3, 0, 3, 0}, "explicit", true},
      {1, 3, 33, 65, 2, 2, 1, 1, 1, 1, {1, 0, 0, 1}, "explicit", true},
      {1, 3, 9, 70, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0}, "explicit", true},
      // Wide planes (the row-by-row path) with stride 1 and vertical dilation 1, which take the
      // several-rows interior: 3×3 and 5×5, output heights below, at and past a row block with
      // remainders, interiors not a multiple of the vector, horizontal dilation, asymmetric and
      // zero pads, SAME padding, batch 2.
      {1, 3, 21, 203, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
      {1, 2, 9, 257, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 2, 11, 180, 5, 5, 1, 1, 1, 2, {0, 4, 3, 1}, "explicit", false},
      {1, 2, 6, 161, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, "explicit", true},
      {1, 2, 3, 190, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {2, 3, 13, 170, 5, 5, 1, 1, 1, 1, {}, "same_upper", true},
      // Small planes with at least a vector of channels, which take the channel-lanes path:
      // partial last group, batch 2, stride 2, anisotropic dilation, asymmetric pads, a kernel
      // as large as the plane, SAME padding.
      {2, 20, 7, 7, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
      {1, 33, 14, 14, 3, 3, 2, 2, 1, 1, {0, 1, 1, 0}, "explicit", true},
      {1, 17, 12, 9, 3, 3, 1, 1, 2, 3, {2, 3, 2, 3}, "explicit", false},
      {1, 16, 5, 6, 7, 7, 1, 1, 1, 1, {3, 3, 3, 3}, "explicit", true},
      {1, 24, 28, 28, 5, 5, 2, 2, 1, 1, {}, "same_upper", true},
  };
  return table;
}

}  // namespace

TEST_CASE("depthwise conv kernels match the reference conv", "[cpu][depthwise]") {
  const char* activations[] = {"none",         "relu",    "clip", "hard_swish",
                               "hard_sigmoid", "sigmoid", "tanh"};
  std::mt19937 rng(41);
  for (const Geometry& g : geometries()) {
    Tensor x = testing::random_tensor({g.batch, g.channels, g.height, g.width}, rng);
    Tensor w = testing::random_tensor({g.channels, 1, g.kernel_h, g.kernel_w}, rng);
    Tensor b = testing::random_tensor({g.channels}, rng);
    const Tensor* bias = g.bias ? &b : nullptr;
    // Σ|w·x| + |b| per output element: the reference conv on absolute values.
    Tensor abs_x = absolute(x), abs_w = absolute(w), abs_b = absolute(b);
    Graph plain = conv_graph(x, w, bias, conv_attributes(g, "none"));
    const Shape output_shape = plain.tensors[size_t(plain.outputs[0])].shape;
    Tensor magnitude = reference_conv(abs_x, abs_w, g.bias ? &abs_b : nullptr,
                                      conv_attributes(g, "none"), output_shape);
    for (const char* act : activations) {
      AttributeMap attributes = conv_attributes(g, act);
      Graph graph = conv_graph(x, w, bias, attributes);
      Tensor expected = reference_conv(x, w, bias, attributes, output_shape);
      for (CpuIsa isa : runnable_isas()) {
        std::vector<float> y = run_kernel(graph, x, isa, 2);
        // Float accumulation of n = kH·kW taps plus the bias against the double reference:
        // |error| <= (n + 1)·2⁻²⁴·(Σ|w·x| + |b|) <= 3·10⁻⁶·(Σ|w·x| + |b|) for n <= 49; the
        // activations have slope <= 1.5, so 10⁻⁵ relative holds, and 10⁻⁶ absolute covers the
        // few ulps by which the activation's own float rounding can differ between two inputs.
        int64_t failures = 0;
        double worst = 0;
        for (int64_t i = 0; i < expected.numel(); ++i) {
          const double error = std::fabs(double(y[size_t(i)]) - double(expected.f32()[i]));
          const double bound = 1e-5 * double(magnitude.f32()[i]) + 1e-6;
          if (!(error <= bound)) ++failures;  // NaN (an unwritten output) fails too
          worst = std::max(worst, error);
        }
        INFO(describe(g) << " act=" << act << " isa=" << cpu_isa_name(isa) << " worst=" << worst);
        CHECK(failures == 0);
      }
    }
  }
}

TEST_CASE("depthwise conv results are bitwise identical for 1, 2 and 3 threads",
          "[cpu][depthwise]") {
  const std::vector<Geometry> cases = {
      {2, 17, 23, 41, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 5, 37, 71, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 7, 29, 300, 3, 3, 1, 1, 1, 6, {1, 6, 1, 6}, "explicit", true},
      {1, 1, 45, 33, 5, 5, 1, 1, 6, 6, {12, 12, 12, 12}, "explicit", true},
      {1, 3, 37, 211, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
  };
  std::mt19937 rng(42);
  for (const Geometry& g : cases) {
    Tensor x = testing::random_tensor({g.batch, g.channels, g.height, g.width}, rng);
    Tensor w = testing::random_tensor({g.channels, 1, g.kernel_h, g.kernel_w}, rng);
    Tensor b = testing::random_tensor({g.channels}, rng);
    Graph graph = conv_graph(x, w, &b, conv_attributes(g, "hard_swish"));
    for (CpuIsa isa : runnable_isas()) {
      std::vector<float> one = run_kernel(graph, x, isa, 1);
      std::vector<float> two = run_kernel(graph, x, isa, 2);
      std::vector<float> three = run_kernel(graph, x, isa, 3);
      INFO(describe(g) << " isa=" << cpu_isa_name(isa));
      CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0);
    }
  }
}

// The border path skips the taps in padding; the interior would have added w·0 = 0 for them.
// So a padded conv must give exactly the result of the unpadded conv on the zero-padded image,
// where every column is computed by the interior path (this is what makes results independent
// of where a border falls).
TEST_CASE("depthwise conv borders are bitwise equal to the interior on a zero-padded image",
          "[cpu][depthwise]") {
  const std::vector<Geometry> cases = {
      {1, 3, 19, 45, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 3, 19, 45, 5, 5, 2, 2, 1, 1, {2, 1, 3, 4}, "explicit", true},
      {1, 3, 19, 71, 3, 3, 1, 1, 2, 6, {2, 6, 2, 6}, "explicit", true},
  };
  std::mt19937 rng(43);
  for (const Geometry& g : cases) {
    Tensor x = testing::random_tensor({g.batch, g.channels, g.height, g.width}, rng);
    Tensor w = testing::random_tensor({g.channels, 1, g.kernel_h, g.kernel_w}, rng);
    Tensor b = testing::random_tensor({g.channels}, rng);
    const int64_t height = g.height + g.pads[0] + g.pads[2],
                  width = g.width + g.pads[1] + g.pads[3];
    Tensor padded(DType::dtype_f32, {g.batch, g.channels, height, width});
    std::fill(padded.f32(), padded.f32() + padded.numel(), 0.f);
    for (int64_t c = 0; c < g.batch * g.channels; ++c)
      for (int64_t h = 0; h < g.height; ++h)
        std::memcpy(padded.f32() + (c * height + h + g.pads[0]) * width + g.pads[1],
                    x.f32() + (c * g.height + h) * g.width, size_t(g.width) * sizeof(float));
    Geometry unpadded = g;
    unpadded.pads = {0, 0, 0, 0};
    Graph graph = conv_graph(x, w, &b, conv_attributes(g, "none"));
    Graph padded_graph = conv_graph(padded, w, &b, conv_attributes(unpadded, "none"));
    REQUIRE(graph.tensors[size_t(graph.outputs[0])].shape ==
            padded_graph.tensors[size_t(padded_graph.outputs[0])].shape);
    for (CpuIsa isa : runnable_isas()) {
      std::vector<float> direct = run_kernel(graph, x, isa, 1);
      std::vector<float> via_padding = run_kernel(padded_graph, padded, isa, 1);
      INFO(describe(g) << " isa=" << cpu_isa_name(isa));
      CHECK(std::memcmp(direct.data(), via_padding.data(), direct.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("the depthwise factory refuses convs that are not depthwise", "[cpu][depthwise]") {
  std::mt19937 rng(44);
  Tensor x = testing::random_tensor({1, 4, 9, 11}, rng);
  CpuKernelConfig config;
  config.isa = cpu_isa_detect();
  auto make = [&](const Tensor& w, int64_t group) {
    AttributeMap a;
    a.set_int("group", group);
    a.set_ints("pads", {1, 1, 1, 1});
    Graph graph = conv_graph(x, w, nullptr, a);
    return cpu_make_depthwise_kernel(graph, 0, config);
  };
  // The accepted case, so the refusals below are about the one property each changes.
  CpuKernelPtr depthwise = make(testing::random_tensor({4, 1, 3, 3}, rng), 4);
  REQUIRE(depthwise);
  // A 9×11 plane of 4 channels takes the banded path: the several-rows kernel where a vector
  // fits in a row of 11 (NEON), else the channel-lanes path where 4 channels fill a vector
  // (none of the x86 ISAs), else the band function. The name ends with the microkernel's.
  const DepthwiseKernels& kernels = cpu_kernel_table(config.isa).depthwise;
  const int64_t lanes = cpu_isa_vector_floats(config.isa);
  const char* expected = kernels.rows && lanes <= 11   ? kernels.rows_name
                         : kernels.lanes && lanes <= 4 ? kernels.lanes_name
                                                       : kernels.band_name;
  CHECK(std::string(depthwise->name()) == std::string("depthwise_3x3/") + expected);
  CHECK_FALSE(make(testing::random_tensor({4, 4, 3, 3}, rng), 1));  // dense
  CHECK_FALSE(make(testing::random_tensor({4, 2, 3, 3}, rng), 2));  // grouped, 2 channels per group
  CHECK_FALSE(make(testing::random_tensor({8, 1, 3, 3}, rng), 4));  // channel multiplier 2

  // Weights computed at run time (a graph input) are not packed: refused.
  Graph graph;
  int32_t input = graph.add_tensor("x", DType::dtype_f32, {1, 4, 9, 11});
  int32_t weight = graph.add_tensor("w", DType::dtype_f32, {4, 1, 3, 3});
  graph.inputs = {input, weight};
  int32_t output = graph.add_tensor("y", DType::dtype_f32, {});
  AttributeMap a;
  a.set_int("group", 4);
  testing::add_node(graph, OpType::op_conv, "dw", {input, weight, kAbsentInput}, {output}, a);
  int32_t relu = graph.add_tensor("r", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_relu, "relu", {output}, {relu});
  graph.outputs = {relu};
  REQUIRE(graph_infer_shapes(&graph).ok());
  CHECK_FALSE(cpu_make_depthwise_kernel(graph, 0, config));
  CHECK_FALSE(cpu_make_depthwise_kernel(graph, 1, config));  // not a conv
}

TEST_CASE("the depthwise kernel rejects tensors of other shapes with an error",
          "[cpu][depthwise]") {
  std::mt19937 rng(45);
  Tensor x = testing::random_tensor({1, 4, 9, 11}, rng);
  Tensor w = testing::random_tensor({4, 1, 3, 3}, rng);
  Geometry g = {1, 4, 9, 11, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", false};
  Graph graph = conv_graph(x, w, nullptr, conv_attributes(g, "none"));
  CpuKernelConfig config;
  CpuKernelPtr kernel = cpu_make_depthwise_kernel(graph, 0, config);
  REQUIRE(kernel);
  Tensor other = testing::random_tensor({1, 4, 9, 12}, rng);
  std::vector<float> y(4 * 9 * 12);
  TensorView y_view;
  y_view.shape = {1, 4, 9, 12};
  y_view.data = y.data();
  ThreadPool pool(1);
  CHECK_FALSE(kernel->run({&other.view()}, {&y_view}, nullptr, pool).ok());
}

namespace {

struct KeepPlan {
  void operator()(DepthwisePlan*) const {}
};

// Runs each case's plan (after `prepare`, which may re-tile it), and the same plan with
// `fallback` applied (a faster path switched off), on every ISA and several activations, and
// checks the two results bit for bit; `uses_path` says whether the plan took the path under
// test (every SIMD ISA must, the scalar one has none).
template <class UsesPath, class Fallback, class Prepare = KeepPlan>
void check_path_bitwise(const std::vector<Geometry>& cases, uint32_t seed, UsesPath uses_path,
                        Fallback fallback, Prepare prepare = Prepare()) {
  const char* activations[] = {"none", "relu", "hard_swish", "sigmoid"};
  std::mt19937 rng(seed);
  for (const Geometry& g : cases) {
    Tensor x = testing::random_tensor({g.batch, g.channels, g.height, g.width}, rng);
    Tensor w = testing::random_tensor({g.channels, 1, g.kernel_h, g.kernel_w}, rng);
    Tensor b = testing::random_tensor({g.channels}, rng);
    for (const char* act : activations) {
      Graph graph = conv_graph(x, w, &b, conv_attributes(g, act));
      const Shape y_shape = graph.tensors[size_t(graph.outputs[0])].shape;
      for (CpuIsa isa : runnable_isas()) {
        DepthwisePlan plan;
        std::string label;
        REQUIRE(depthwise_plan_node(graph, 0, isa, &plan, &label));
        INFO(describe(g) << " act=" << act << " isa=" << cpu_isa_name(isa));
        CHECK(uses_path(plan) == (isa != CpuIsa::cpu_isa_scalar));
        DepthwisePlan other = plan;
        fallback(&other);
        prepare(&plan);
        std::vector<float> fast(size_t(shape_numel(y_shape)), NAN),
            slow(size_t(shape_numel(y_shape)), NAN);
        ThreadPool pool(2);
        depthwise_run(plan, x.f32(), g.batch, fast.data(), pool);
        depthwise_run(other, x.f32(), g.batch, slow.data(), pool);
        size_t first = 0;
        while (first < fast.size() && std::memcmp(&fast[first], &slow[first], sizeof(float)) == 0)
          ++first;
        INFO("first difference at " << first << " of " << fast.size() << " (column "
                                    << (first < fast.size() ? int64_t(first) % y_shape[3] : -1)
                                    << ")");
        CHECK(first == fast.size());
      }
    }
  }
}

}  // namespace

// The several-rows kernel (3×3 and 5×5, stride 1 on wide planes, strides 2 on planes at least
// a vector wide) loads each input vector once for every row it feeds; each output must still be
// the one-row path's sum, bit for bit. The stride-2 cases: both parities of the input width
// (an odd width leaves the last output's tap one float short of the row's end, so it goes to
// the border strip), pads 0/1/2 and TF's SAME (0 before, 1 after), output heights past a row
// block with remainders, planes one or two vectors wide, batch 2.
TEST_CASE("depthwise several-rows interior is bitwise equal to the one-row path",
          "[cpu][depthwise]") {
  check_path_bitwise(
      {
          {1, 3, 23, 203, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
          {1, 3, 17, 257, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
          {1, 2, 14, 181, 5, 5, 1, 1, 1, 3, {1, 5, 3, 7}, "explicit", true},
          {1, 3, 23, 112, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
          {2, 2, 19, 113, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
          {1, 3, 21, 114, 3, 3, 2, 2, 1, 1, {0, 0, 1, 1}, "explicit", true},
          {1, 2, 17, 75, 3, 3, 2, 2, 1, 1, {0, 0, 0, 0}, "explicit", true},
          {1, 3, 24, 56, 5, 5, 2, 2, 1, 1, {2, 2, 2, 2}, "explicit", true},
          {1, 2, 27, 97, 5, 5, 2, 2, 1, 1, {1, 2, 2, 1}, "explicit", true},
          {1, 2, 16, 66, 5, 5, 2, 2, 1, 1, {}, "same_upper", true},
          {1, 2, 9, 35, 3, 3, 2, 2, 1, 1, {}, "same_lower", true},
          // Wider than the zero-padded row copies take: the interior and border strips.
          {1, 2, 11, 341, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
          {1, 2, 9, 331, 3, 3, 2, 2, 1, 1, {0, 0, 1, 1}, "explicit", true},
          {1, 2, 13, 400, 5, 5, 2, 2, 1, 1, {2, 1, 1, 2}, "explicit", true},
          {1, 2, 10, 333, 5, 5, 2, 2, 1, 1, {2, 2, 2, 2}, "explicit", true},
      },
      44, [](const DepthwisePlan& plan) { return plan.rows != nullptr; },
      [](DepthwisePlan* plan) { plan->rows = nullptr; });
}

// The channel-lanes path (small planes the several-rows kernel does not take) adds each pixel's
// in-bounds taps in (ky, kx) order, a vector of channels at a time: bitwise the planes' own paths.
// Output rows of 7, 6, 20 and 9 pixels: blocks of 8 and 4 and a last block of 3, 2 or 1.
TEST_CASE("depthwise channel-lanes path is bitwise equal to the per-plane paths",
          "[cpu][depthwise]") {
  check_path_bitwise(
      {
          {2, 37, 9, 7, 5, 5, 1, 1, 2, 1, {4, 2, 4, 2}, "explicit", true},
          {1, 40, 15, 13, 3, 3, 2, 2, 1, 1, {1, 0, 1, 1}, "explicit", true},
          {1, 19, 20, 20, 3, 3, 1, 1, 2, 2, {2, 2, 2, 2}, "explicit", true},
          {1, 17, 11, 9, 3, 3, 1, 1, 2, 1, {2, 1, 2, 1}, "explicit", true},
      },
      45, [](const DepthwisePlan& plan) { return plan.lanes != nullptr; },
      [](DepthwisePlan* plan) {
        plan->lanes = nullptr;
        plan->rows = nullptr;
      });
}

namespace {

// Geometries for the channel-lanes window and two-row blocks (see the test below).
std::vector<Geometry> lanes_window_cases() {
  return {
      {1, 17, 3, 14, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
      {1, 16, 3, 15, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {2, 24, 2, 21, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
      {1, 20, 3, 12, 3, 3, 1, 1, 1, 1, {0, 1, 1, 0}, "explicit", true},
      {1, 16, 3, 9, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 16, 1, 10, 5, 5, 1, 1, 1, 1, {2, 2, 2, 2}, "explicit", true},
      {1, 16, 3, 13, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 19, 3, 6, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, "explicit", true},
      {1, 17, 19, 22, 5, 5, 2, 2, 1, 1, {2, 2, 2, 2}, "explicit", true},
      {1, 16, 28, 28, 3, 3, 2, 2, 1, 1, {0, 1, 0, 1}, "explicit", true},
      {1, 18, 13, 27, 5, 5, 2, 2, 1, 1, {1, 2, 2, 1}, "explicit", true},
      {1, 16, 9, 10, 3, 3, 1, 1, 2, 2, {2, 2, 2, 2}, "explicit", true},
      {1, 16, 8, 13, 5, 5, 1, 1, 2, 1, {4, 2, 4, 2}, "explicit", true},
  };
}

}  // namespace

// The channel-lanes path's sliding window (square 3×3 and 5×5 kernels, stride 1 or 2 in both
// axes, dilation 1: each input pixel of a kernel row loaded once for every tap that reads it)
// and its blocks of two rows (the other geometries): every output the (ky, kx)-ordered chain,
// bitwise the per-plane paths. Output widths that run blocks of 7 (14, 21) or of 8 and every
// last block of 1 to 7 pixels; stride-1 planes at most 3 rows high, which take the lanes path on
// every ISA (the several-rows kernel wants 4 rows); at least 16 channels (AVX-512's vector)
// with a partial last group; batch 2; asymmetric pads; odd output heights for the two-row blocks.
TEST_CASE("depthwise channel-lanes window and row pairs are bitwise the per-plane paths",
          "[cpu][depthwise]") {
  check_path_bitwise(
      lanes_window_cases(), 46, [](const DepthwisePlan& plan) { return plan.lanes != nullptr; },
      [](DepthwisePlan* plan) {
        plan->lanes = nullptr;
        plan->rows = nullptr;
      });
}

// The lanes path in bands of output rows (planes whose padded plane passes the band budget,
// DepthwisePlan::lane_band_rows): each band's input rows transposed straight into its padded
// rows, rows in the padding zeroed, the band's outputs transposed back. Budgets of one padded
// row (bands of one output row) and of a few rows (a short last band), on the geometries of the
// window and two-row blocks above: bitwise the per-plane paths.
TEST_CASE("depthwise channel-lanes bands are bitwise the per-plane paths", "[cpu][depthwise]") {
  const std::vector<Geometry> cases = lanes_window_cases();
  for (int64_t budget_rows : {1, 7}) {
    INFO("band budget of " << budget_rows << " padded rows");
    check_path_bitwise(
        cases, 47, [](const DepthwisePlan& plan) { return plan.lanes != nullptr; },
        [](DepthwisePlan* plan) {
          plan->lanes = nullptr;
          plan->rows = nullptr;
        },
        [budget_rows](DepthwisePlan* plan) {
          if (!plan->lanes) return;
          const int64_t row_bytes = plan->lane_columns * plan->lane_width * int64_t(sizeof(float));
          depthwise_lanes_bands(plan, budget_rows * row_bytes);
          if (budget_rows == 1)
            CHECK(plan->lane_band_rows == std::min<int64_t>(1, plan->axes[0].output));
        });
  }
}

// 3×3 and 5×5 stride-2 layers on planes past kDepthwiseLanesMaxPlane take the channel-lanes
// path where the ISA's table says (DepthwiseKernels::lanes_max_plane_s2, AVX2: up to 64×64), and
// only there; either way the result is bitwise the per-plane paths'. Planes of 41×50 and 56×56
// (inside AVX2's limit, with a partial last channel group and asymmetric pads; past the lanes
// band budget, so in bands) and 65×66 (past it).
TEST_CASE("depthwise stride-2 planes take the lanes path as the ISA's table says",
          "[cpu][depthwise]") {
  auto as_table_says = [](const DepthwisePlan& plan) {
    const int64_t plane = plan.axes[0].input * plan.axes[1].input;
    const int64_t limit =
        std::max(kDepthwiseLanesMaxPlane, cpu_kernel_table(plan.isa).depthwise.lanes_max_plane_s2);
    return plan.isa != CpuIsa::cpu_isa_scalar && (plan.lanes != nullptr) == (plane <= limit);
  };
  check_path_bitwise(
      {
          {1, 19, 41, 50, 5, 5, 2, 2, 1, 1, {2, 1, 2, 2}, "explicit", true},
          {1, 9, 65, 66, 5, 5, 2, 2, 1, 1, {2, 2, 2, 2}, "explicit", true},
          {1, 17, 56, 56, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
          {1, 10, 41, 50, 3, 3, 2, 2, 1, 1, {0, 1, 1, 0}, "explicit", true},
          {1, 9, 65, 66, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, "explicit", true},
      },
      46, as_table_says, [](DepthwisePlan* plan) {
        plan->lanes = nullptr;
        plan->rows = nullptr;
      });
  // Where AVX2 runs, the first case must exercise the extended limit.
  for (CpuIsa isa : runnable_isas())
    if (isa == CpuIsa::cpu_isa_avx2)
      CHECK(cpu_kernel_table(isa).depthwise.lanes_max_plane_s2 >= 56 * 56);
}

// The block transpose the channel-lanes path moves channels with: every element lands where it
// belongs, with source and destination strides wider than the block (random data, never zeros;
// the destination's padding between rows stays untouched).
TEST_CASE("the depthwise lanes transpose moves a block exactly", "[cpu][depthwise]") {
  std::mt19937 rng(46);
  std::uniform_real_distribution<float> value(-4.f, 4.f);
  for (CpuIsa isa : runnable_isas()) {
    const DepthwiseKernels& kernels = cpu_kernel_table(isa).depthwise;
    INFO("isa=" << cpu_isa_name(isa));
    CHECK((kernels.transpose != nullptr) == (kernels.lanes != nullptr));
    if (!kernels.transpose) continue;
    const int64_t lanes = cpu_isa_vector_floats(isa);
    for (int64_t src_stride : {lanes, lanes + 3, 3 * lanes + 1}) {
      const int64_t dst_stride = src_stride + 5;
      std::vector<float> src(size_t(lanes * src_stride)), dst(size_t(lanes * dst_stride), -0.5f);
      for (float& v : src) v = value(rng);
      kernels.transpose(src.data(), src_stride, dst.data(), dst_stride);
      for (int64_t i = 0; i < lanes; ++i)
        for (int64_t j = 0; j < dst_stride; ++j) {
          INFO("src_stride=" << src_stride << " row " << i << " column " << j);
          const float expected = j < lanes ? src[size_t(j * src_stride + i)] : -0.5f;
          CHECK(dst[size_t(i * dst_stride + j)] == expected);
        }
    }
  }
}

// The stride-2 gather the convolutions split column phases with: every count (below, at and
// past the vector widths), from an allocation of exactly 2·count − 1 floats, so a read past
// the contract shows under AddressSanitizer; nothing past count written.
TEST_CASE("the stride-2 gather copies every even float and reads no further", "[cpu][depthwise]") {
  std::mt19937 rng(47);
  std::uniform_real_distribution<float> value(-4.f, 4.f);
  for (CpuIsa isa : runnable_isas()) {
    const MiscKernels& misc = cpu_kernel_table(isa).misc;
    for (int64_t count = 1; count <= 70; ++count) {
      INFO("isa=" << cpu_isa_name(isa) << " count=" << count);
      std::unique_ptr<float[]> src(new float[size_t(2 * count - 1)]);
      for (int64_t i = 0; i < 2 * count - 1; ++i) src[size_t(i)] = value(rng);
      std::vector<float> dst(size_t(count + 3), -0.5f);
      misc.gather_even(src.get(), count, dst.data());
      bool same = true;
      for (int64_t i = 0; i < count; ++i) same = same && dst[size_t(i)] == src[size_t(2 * i)];
      CHECK(same);
      CHECK(dst[size_t(count)] == -0.5f);
    }
  }
}
