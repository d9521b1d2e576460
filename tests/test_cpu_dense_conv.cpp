// The dense (one group, not plain pointwise) convolution kernel, both paths (implicit GEMM and
// direct), against the reference conv,
// built through cpu_make_dense_conv_kernel from a one-node graph so the attributes resolve as
// in a session: random data over a table of kernels, strides, dilations (anisotropic too),
// pads (asymmetric, larger than the input, SAME_UPPER/LOWER, whole blocks of padding),
// channel and filter counts around the 6-row panel, every activation and every ISA this
// machine runs; bitwise identical results for 1, 2 and 3 threads; and nullptr for the convs
// other families own.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "cpu/cpu_kernel.h"
#include "cpu/dense_conv.h"
#include "cpu/gemm.h"
#include "ops/graph_rules.h"
#include "ops/ops.h"
#include "tests/cpu_kernel_testing.h"
#include "tests/graph_fixtures.h"

using namespace atrous;
using cpu_testing::runnable_isas;

namespace {

Tensor copy_of(const Tensor& t) {
  Tensor copy(t.dtype(), t.shape());
  std::memcpy(copy.data(), t.data(), t.view().byte_size());
  return copy;
}

struct ConvCase {
  int64_t filters, channels, height, width, kernel_h, kernel_w;
  std::vector<int64_t> strides, dilations, pads;  // empty: the attribute is absent
  std::string auto_pad;                           // empty: explicit pads
  int64_t group = 1;
};

AttributeMap conv_attributes(const ConvCase& c, const std::string& activation) {
  AttributeMap a;
  if (!c.strides.empty()) a.set_ints("strides", c.strides);
  if (!c.dilations.empty()) a.set_ints("dilations", c.dilations);
  if (!c.pads.empty()) a.set_ints("pads", c.pads);
  if (!c.auto_pad.empty()) a.set_string("auto_pad", c.auto_pad);
  if (c.group != 1) a.set_int("group", c.group);
  a.set_string("activation", activation);
  if (activation == "clip") a.set_floats("activation_params", {-0.25, 0.5});
  return a;
}

// A graph with the one conv node; x, w, b are copied into it.
Graph conv_graph(const AttributeMap& attributes, const Tensor& x, const Tensor& w,
                 const Tensor* b) {
  Graph graph;
  int32_t input = graph.add_tensor("x", DType::dtype_f32, x.shape());
  graph.inputs = {input};
  int32_t weight = graph.add_constant("w", copy_of(w));
  int32_t bias = b ? graph.add_constant("b", copy_of(*b)) : kAbsentInput;
  int32_t output = graph.add_tensor("y", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_conv, "conv", {input, weight, bias}, {output}, attributes);
  graph.outputs = {output};
  return graph;
}

const DenseConvPath kPaths[] = {
    DenseConvPath::dense_conv_path_gemm, DenseConvPath::dense_conv_path_direct,
    DenseConvPath::dense_conv_path_rows, DenseConvPath::dense_conv_path_winograd,
    DenseConvPath::dense_conv_path_taps};

const char* path_name(DenseConvPath path) {
  return path == DenseConvPath::dense_conv_path_direct     ? "direct"
         : path == DenseConvPath::dense_conv_path_rows     ? "rows"
         : path == DenseConvPath::dense_conv_path_winograd ? "winograd"
         : path == DenseConvPath::dense_conv_path_taps     ? "taps"
                                                           : "gemm";
}

// Whether the Winograd path takes the case (3×3 at stride 1; others fall back to the rule).
bool winograd_takes(const ConvCase& c) {
  return c.kernel_h == 3 && c.kernel_w == 3 &&
         (c.strides.empty() || (c.strides[0] == 1 && c.strides[1] == 1));
}

// The pads of a conv whose 5×5 window at the same dilations is centred on the 3×3 one's: each
// side's pad plus one dilation (auto_pad resolved through the graph's inferred pads is not
// needed: the Winograd cases here give explicit pads or none).
std::vector<int64_t> widened_pads(const ConvCase& c) {
  const int64_t dh = c.dilations.empty() ? 1 : c.dilations[0];
  const int64_t dw = c.dilations.empty() ? 1 : c.dilations[1];
  std::vector<int64_t> pads = c.pads.empty() ? std::vector<int64_t>{0, 0, 0, 0} : c.pads;
  return {pads[0] + dh, pads[1] + dw, pads[2] + dh, pads[3] + dw};
}

// Runs the fast kernel for `graph`'s node 0 with `threads` threads on one path.
std::vector<float> run_kernel(const Graph& graph, const Tensor& x, CpuIsa isa, int threads,
                              DenseConvPath path) {
  CpuKernelConfig config;
  config.isa = isa;
  config.threads = threads;
  CpuKernelPtr kernel = dense_conv_make_kernel(graph, 0, config, path);
  REQUIRE(kernel);
  const Shape& out_shape = graph.tensors[size_t(graph.outputs[0])].shape;
  Tensor y(DType::dtype_f32, out_shape);
  std::fill(y.f32(), y.f32() + y.numel(), NAN);
  std::vector<float> scratch(kernel->scratch_bytes() / sizeof(float) + 1);
  ThreadPool pool(threads);
  REQUIRE(kernel->run({&x.view()}, {&y.view()}, scratch.data(), pool).ok());
  return std::vector<float>(y.f32(), y.f32() + y.numel());
}

}  // namespace

TEST_CASE("dense conv kernels match the reference conv", "[cpu]") {
  const std::vector<ConvCase> cases = {
      {16, 3, 9, 11, 3, 3, {}, {}, {1, 1, 1, 1}, ""},            // 3×3 same size
      {16, 3, 17, 33, 3, 3, {2, 2}, {}, {1, 1, 1, 1}, ""},       // stem: stride 2, odd input
      {7, 16, 13, 15, 3, 3, {}, {6, 6}, {6, 6, 6, 6}, ""},       // ASPP dilation 6
      {13, 7, 9, 11, 3, 3, {}, {18, 18}, {18, 18, 18, 18}, ""},  // dilation 18, pads > input
      {6, 33, 11, 19, 3, 3, {}, {1, 6}, {1, 6, 1, 6}, ""},       // anisotropic dilation
      {5, 3, 23, 21, 7, 7, {2, 2}, {}, {3, 3, 3, 3}, ""},        // ResNet 7×7 stride 2
      {12, 16, 15, 17, 1, 1, {2, 2}, {}, {}, ""},                // 1×1 stride 2 shortcut
      {1, 1, 5, 5, 1, 1, {}, {}, {1, 1, 1, 1}, ""},              // 1×1 with padding
      {11, 7, 8, 9, 3, 2, {}, {}, {0, 2, 1, 0}, ""},             // asymmetric pads
      {18, 5, 10, 12, 3, 3, {2, 2}, {}, {}, "same_upper"},
      {7, 3, 9, 9, 4, 4, {2, 2}, {}, {}, "same_lower"},
      {20, 40, 12, 40, 3, 3, {}, {}, {1, 1, 1, 1}, ""},        // K = 360: two K blocks
      {9, 4, 13, 27, 5, 1, {1, 2}, {2, 1}, {4, 0, 4, 0}, ""},  // 5×1, stride (1, 2)
      {33, 16, 3, 3, 3, 3, {}, {}, {}, "valid"},               // one output pixel
      {6, 2, 11, 13, 2, 2, {3, 3}, {}, {0, 0, 1, 1}, ""},      // stride above the kernel
      {25, 9, 7, 70, 3, 3, {}, {2, 3}, {2, 3, 2, 3}, ""},      // several column blocks
      // Horizontal rate 36 on 100 columns: whole tiles are padding for the outer taps, so
      // column blocks are single tiles, each with its own kept rows (DeepLabV3's ASPP).
      {8, 5, 9, 100, 3, 3, {}, {4, 36}, {4, 36, 4, 36}, ""},
      // Pads 9 around a 2×2 image: whole column blocks, over both K blocks (K = 300), are
      // padding, so every tap is left out there and they are act(bias).
      {5, 300, 2, 2, 1, 1, {}, {}, {9, 9, 9, 9}, ""},
      // The direct path's tiles: output channels below, at and above its channel block (4
      // scalar, 24 AVX2, 16 NEON, 32 AVX-512) and a second block; segments narrower than a
      // tile (rows stacked), rates above the image (taps wholly in padding), 1×3, 5×5, 7×7.
      {31, 6, 9, 23, 3, 3, {}, {3, 3}, {3, 3, 3, 3}, ""},
      {32, 5, 10, 41, 3, 3, {}, {6, 6}, {6, 6, 6, 6}, ""},
      {33, 4, 11, 37, 3, 3, {}, {9, 9}, {9, 9, 9, 9}, ""},
      {65, 3, 7, 19, 3, 3, {}, {12, 12}, {12, 12, 12, 12}, ""},  // rate 12 > the 7 rows
      {16, 7, 8, 16, 3, 3, {}, {18, 18}, {18, 18, 18, 18}, ""},  // rate 18: only the center
      {17, 5, 13, 29, 3, 3, {}, {6, 3}, {6, 3, 6, 3}, ""},       // anisotropic (6, 3)
      {15, 4, 9, 31, 1, 3, {}, {1, 6}, {0, 6, 0, 6}, ""},        // 1×3, rate 6
      {34, 3, 17, 19, 5, 5, {2, 1}, {2, 3}, {4, 6, 4, 6}, ""},   // 5×5, strides (2, 1)
      {20, 3, 19, 21, 7, 7, {2, 2}, {}, {3, 3, 3, 3}, ""},       // 7×7 stride 2
      {40, 9, 12, 50, 3, 3, {1, 2}, {3, 1}, {3, 1, 3, 1}, ""},   // stride (1, 2), dilation 3
      {24, 6, 10, 27, 3, 3, {}, {5, 5}, {5, 5, 5, 5}, ""},       // AVX2's block, rate 5
      {48, 5, 7, 22, 3, 3, {}, {2, 4}, {2, 4, 2, 4}, ""},        // two AVX2 blocks
      // Enough input channels for several K blocks of the direct path (16 KiB of weights).
      {36, 70, 9, 13, 3, 3, {}, {2, 2}, {2, 2, 2, 2}, ""},
      // Rows wide enough that the direct path splits the image into bands of rows.
      {33, 5, 9, 700, 3, 3, {}, {}, {1, 1, 1, 1}, ""},
      // At least 16 input channels: stride 2 with anisotropic dilation (read in place), then the
      // direct path's interleaved input copy (16-channel blocks, the last one partial) with
      // segments narrower than a tile (stacked rows) and rates above the image.
      {26, 19, 11, 30, 3, 3, {2, 2}, {2, 1}, {2, 1, 2, 1}, ""},
      {25, 17, 7, 9, 3, 3, {}, {4, 4}, {4, 4, 4, 4}, ""},
      {30, 35, 6, 40, 3, 3, {}, {8, 24}, {8, 24, 8, 24}, ""},
      // Winograd F(2×2, 3×3): phase subgrids of odd and even sizes (last tiles half outside),
      // two K blocks of the GEMM (C = 600), output channels past a panel, one output pixel,
      // pads larger than the kernel's reach and asymmetric, no padding.
      {37, 600, 5, 7, 3, 3, {}, {2, 2}, {2, 2, 2, 2}, ""},
      {9, 5, 1, 1, 3, 3, {}, {}, {1, 1, 1, 1}, ""},
      {7, 6, 6, 8, 3, 3, {}, {}, {3, 0, 1, 2}, ""},
      {11, 8, 9, 10, 3, 3, {}, {}, {0, 0, 0, 0}, ""},
      {20, 33, 33, 65, 3, 3, {}, {9, 9}, {9, 9, 9, 9}, ""},
      {14, 12, 12, 31, 3, 3, {}, {3, 1}, {3, 1, 3, 1}, ""},
  };
  const char* activations[] = {"none", "relu", "clip", "hard_swish", "sigmoid"};
  std::mt19937 rng(31);
  for (const ConvCase& c : cases) {
    // A batch of two: the kernel runs image by image.
    Tensor x = testing::random_tensor({2, c.channels, c.height, c.width}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, c.kernel_h, c.kernel_w}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    // Σ|w·x| per output element: the reference conv of |x| and |w|, no bias or activation.
    Tensor x_abs = copy_of(x), w_abs = copy_of(w);
    for (int64_t i = 0; i < x_abs.numel(); ++i) x_abs.f32()[i] = std::fabs(x_abs.f32()[i]);
    for (int64_t i = 0; i < w_abs.numel(); ++i) w_abs.f32()[i] = std::fabs(w_abs.f32()[i]);
    for (const char* act_name : activations) {
      AttributeMap attributes = conv_attributes(c, act_name);
      Graph graph = conv_graph(attributes, x, w, &b);
      REQUIRE(graph_infer_shapes(&graph).ok());
      Tensor expected(DType::dtype_f32, graph.tensors[size_t(graph.outputs[0])].shape);
      REQUIRE(op_run_reference(OpType::op_conv, attributes, {&x.view(), &w.view(), &b.view()},
                               {&expected.view()})
                  .ok());
      Tensor magnitude(DType::dtype_f32, expected.shape());
      REQUIRE(op_run_reference(OpType::op_conv, conv_attributes(c, "none"),
                               {&x_abs.view(), &w_abs.view(), nullptr}, {&magnitude.view()})
                  .ok());
      // Winograd's bound: its transformed products mix the inputs of a tile's whole 4×4
      // patch (within the 5×5 window, at the same dilation, centred on an output's 3×3), and
      // its GEMM sums C products of transformed weights (each at most 2.25·max|w| over the
      // kernel) and transformed inputs (the 9 used by one output together at most 9 times the
      // patch's Σ|x|): so per output at most (C + 8)·2⁻²⁴·20·Σ_c max|w_c|·Σ_window |x_c|,
      // the reference conv of |x| with every 5×5 tap max|w_c|.
      const bool winograd_case = winograd_takes(c) && c.auto_pad.empty();
      Tensor patch(DType::dtype_f32, expected.shape());
      if (winograd_case) {
        Tensor w_max(DType::dtype_f32, {c.filters, c.channels, 5, 5});
        for (int64_t mc = 0; mc < c.filters * c.channels; ++mc) {
          float largest = 0;
          for (int k = 0; k < 9; ++k) largest = std::max(largest, w_abs.f32()[mc * 9 + k]);
          for (int k = 0; k < 25; ++k) w_max.f32()[mc * 25 + k] = largest;
        }
        ConvCase wide = c;
        wide.kernel_h = wide.kernel_w = 5;
        wide.pads = widened_pads(c);
        REQUIRE(op_run_reference(OpType::op_conv, conv_attributes(wide, "none"),
                                 {&x_abs.view(), &w_max.view(), nullptr}, {&patch.view()})
                    .ok());
      }
      for (CpuIsa isa : runnable_isas())
        for (DenseConvPath path : kPaths) {
          if (path == DenseConvPath::dense_conv_path_winograd && winograd_takes(c) &&
              !winograd_case)
            continue;  // a Winograd case with auto_pad: none in the table (see widened_pads)
          std::vector<float> y = run_kernel(graph, x, isa, 2, path);
          const bool winograd = path == DenseConvPath::dense_conv_path_winograd && winograd_case;
          // A float FMA chain over K = C·kH·kW terms errs by at most K·2⁻²⁴·Σ|w·x| against the
          // double-accumulating reference; the bias add adds one more rounding, and the
          // activations' slopes are at most 1.5 (hard_swish). 1e-6 covers rounding near zero.
          const double terms = double(c.channels * c.kernel_h * c.kernel_w);
          double worst_excess = -1;
          for (int64_t i = 0; i < expected.numel(); ++i) {
            const double bound =
                winograd
                    ? 1.5 * (double(c.channels) + 8) * 5.97e-8 * 20 * (patch.f32()[i] + 1.0) + 1e-6
                    : 1.5 * (terms + 2) * 5.97e-8 * (magnitude.f32()[i] + 1.0) + 1e-6;
            const double error = std::fabs(double(y[size_t(i)]) - double(expected.f32()[i]));
            worst_excess = std::max(worst_excess, error - bound);
            if (std::isnan(y[size_t(i)])) worst_excess = INFINITY;
          }
          INFO("M=" << c.filters << " C=" << c.channels << " " << c.height << "x" << c.width
                    << " k=" << c.kernel_h << "x" << c.kernel_w << " act=" << act_name
                    << " isa=" << cpu_isa_name(isa) << " path=" << path_name(path)
                    << " worst excess over the bound=" << worst_excess);
          CHECK(worst_excess <= 0);
        }
    }
  }
}

TEST_CASE("dense conv results are bitwise identical for 1, 2 and 3 threads", "[cpu]") {
  const std::vector<ConvCase> cases = {
      {29, 37, 23, 29, 3, 3, {}, {2, 2}, {2, 2, 2, 2}, ""},   // K = 333: two K blocks
      {9, 30, 7, 90, 3, 3, {}, {3, 36}, {3, 36, 3, 36}, ""},  // single-tile blocks
      {16, 3, 31, 45, 3, 3, {2, 2}, {}, {1, 1, 1, 1}, ""},
      {64, 512, 1, 1, 3, 3, {}, {}, {1, 1, 1, 1}, ""},  // one pixel: split by panels
      {64, 24, 1, 1, 3, 3, {}, {}, {1, 1, 1, 1}, ""},   // too small to split
      // The direct path: several channel blocks, bands, K blocks and stacked rows.
      {70, 80, 23, 70, 3, 3, {}, {6, 6}, {6, 6, 6, 6}, ""},
      {33, 5, 9, 700, 3, 3, {}, {1, 1}, {1, 1, 1, 1}, ""},  // bands of rows
  };
  std::mt19937 rng(32);
  for (const ConvCase& c : cases) {
    Tensor x = testing::random_tensor({1, c.channels, c.height, c.width}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, c.kernel_h, c.kernel_w}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    Graph graph = conv_graph(conv_attributes(c, "relu"), x, w, &b);
    REQUIRE(graph_infer_shapes(&graph).ok());
    for (CpuIsa isa : runnable_isas())
      for (DenseConvPath path : kPaths) {
        std::vector<float> one = run_kernel(graph, x, isa, 1, path);
        INFO("M=" << c.filters << " C=" << c.channels << " isa=" << cpu_isa_name(isa)
                  << " path=" << path_name(path));
        for (int threads : {2, 3}) {
          std::vector<float> many = run_kernel(graph, x, isa, threads, path);
          REQUIRE(many.size() == one.size());
          CHECK(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0);
        }
      }
  }
}

TEST_CASE("the dense conv family leaves depthwise, grouped and pointwise convs to others",
          "[cpu]") {
  std::mt19937 rng(33);
  struct Refused {
    ConvCase conv;
    const char* why;
  };
  const std::vector<Refused> refused = {
      {{8, 8, 9, 9, 3, 3, {}, {}, {1, 1, 1, 1}, "", 8}, "depthwise"},
      {{8, 4, 9, 9, 3, 3, {}, {}, {1, 1, 1, 1}, "", 2}, "grouped"},
      {{8, 4, 9, 9, 1, 1, {}, {}, {}, ""}, "pointwise"},
      {{8, 4, 9, 9, 1, 1, {1, 1}, {}, {}, "same_upper"}, "pointwise with auto_pad"},
  };
  CpuKernelConfig config;
  config.isa = cpu_isa_detect();
  for (const Refused& r : refused) {
    const ConvCase& c = r.conv;
    Tensor x = testing::random_tensor({1, c.channels, c.height, c.width}, rng);
    Tensor w =
        testing::random_tensor({c.filters, c.channels / c.group, c.kernel_h, c.kernel_w}, rng);
    Graph graph = conv_graph(conv_attributes(c, "none"), x, w, nullptr);
    REQUIRE(graph_infer_shapes(&graph).ok());
    INFO(r.why);
    CHECK(cpu_make_dense_conv_kernel(graph, 0, config) == nullptr);
  }
  // And it takes the 3×3 one-group conv of the same shapes.
  ConvCase dense{8, 4, 9, 9, 3, 3, {}, {}, {1, 1, 1, 1}, ""};
  Tensor x = testing::random_tensor({1, 4, 9, 9}, rng);
  Tensor w = testing::random_tensor({8, 4, 3, 3}, rng);
  Graph graph = conv_graph(conv_attributes(dense, "none"), x, w, nullptr);
  REQUIRE(graph_infer_shapes(&graph).ok());
  CHECK(cpu_make_dense_conv_kernel(graph, 0, config) != nullptr);
}

TEST_CASE("the direct, row-tile and implicit-GEMM paths compute the same sums", "[cpu]") {
  // All run, per output element, the FMA chain over (c, ky, kx) in weight order over the taps
  // inside the image (the GEMM's padding rows and the row tiles' padded reads add exact
  // zeros), then + bias: with a nonzero bias the outputs are bitwise equal, so choosing a path
  // per layer changes no model output.
  const std::vector<ConvCase> cases = {
      {40, 37, 13, 29, 3, 3, {}, {6, 6}, {6, 6, 6, 6}, ""},
      {33, 300, 7, 9, 3, 3, {}, {2, 3}, {2, 3, 2, 3}, ""},       // several K blocks on both paths
      {26, 19, 11, 30, 3, 3, {2, 2}, {2, 1}, {2, 1, 2, 1}, ""},  // stride 2: read in place
      {17, 3, 21, 33, 3, 3, {2, 2}, {}, {1, 1, 1, 1}, ""},
      {20, 5, 11, 15, 5, 5, {}, {1, 2}, {2, 4, 2, 4}, ""},
      // The row tiles' edges: output channels past a panel, output rows narrower than a tile
      // and past one, stride 3, dilation above the kernel, pads larger than the image.
      {9, 3, 19, 101, 3, 3, {2, 2}, {}, {1, 1, 1, 1}, ""},
      {16, 3, 23, 47, 7, 7, {2, 2}, {}, {3, 3, 3, 3}, ""},
      {5, 2, 8, 70, 3, 3, {3, 3}, {2, 4}, {5, 9, 3, 7}, ""},
      {1, 1, 4, 5, 3, 3, {}, {}, {6, 6, 6, 6}, ""},
      // A row's last columns on the one- and two-vector tiles (112 = 48 + 48 + 16 on AVX-512,
      // 4·24 + 16 on AVX2, 9·12 + 4 on NEON), as in the 224×224 stems.
      {16, 3, 9, 224, 3, 3, {2, 2}, {}, {1, 1, 1, 1}, ""},
  };
  std::mt19937 rng(34);
  for (const ConvCase& c : cases) {
    Tensor x = testing::random_tensor({1, c.channels, c.height, c.width}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, c.kernel_h, c.kernel_w}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    Graph graph = conv_graph(conv_attributes(c, "none"), x, w, &b);
    REQUIRE(graph_infer_shapes(&graph).ok());
    for (CpuIsa isa : runnable_isas()) {
      INFO("M=" << c.filters << " C=" << c.channels << " isa=" << cpu_isa_name(isa));
      std::vector<float> gemm = run_kernel(graph, x, isa, 1, DenseConvPath::dense_conv_path_gemm);
      std::vector<float> direct =
          run_kernel(graph, x, isa, 1, DenseConvPath::dense_conv_path_direct);
      std::vector<float> rows = run_kernel(graph, x, isa, 2, DenseConvPath::dense_conv_path_rows);
      REQUIRE(gemm.size() == direct.size());
      CHECK(std::memcmp(gemm.data(), direct.data(), gemm.size() * sizeof(float)) == 0);
      REQUIRE(gemm.size() == rows.size());
      CHECK(std::memcmp(gemm.data(), rows.data(), gemm.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("the Winograd and tap-GEMM rules take the layers their measurements gave them", "[cpu]") {
  // Same-size 3×3 layers: input, dilation (= pad), stride.
  auto axis = [](int64_t input, int64_t dilation, int64_t stride) {
    WindowAxis a;
    a.input = input;
    a.kernel = 3;
    a.stride = stride;
    a.dilation = dilation;
    a.pad_begin = a.pad_end = dilation;
    a.output = (input + 2 * dilation - 2 * dilation - 1) / stride + 1;
    return a;
  };
  struct Layer {
    int64_t m, c, h, w, dilation, stride;
    bool winograd;
    const char* what;
  };
  const Layer layers[] = {
      // 16 products per tile against 8.2, 7.4 and 6.7 in-image taps per output (of 9).
      {256, 960, 33, 65, 3, 1, true, "Panoptic-DeepLab ASPP rate 3 (ratio 0.54)"},
      {256, 960, 33, 65, 6, 1, true, "rate 6 (0.63)"},
      {256, 960, 33, 65, 9, 1, true, "rate 9 (0.73)"},
      {256, 960, 32, 64, 12, 1, false, "DeepLabV3 ASPP rate 12 (0.95)"},
      {256, 960, 32, 64, 24, 1, false, "rate 24"},
      {256, 960, 32, 64, 36, 1, false, "rate 36"},
      {256, 256, 32, 64, 1, 1, true, "DeepLabV3 head 3×3 (0.46)"},
      {128, 128, 128, 256, 1, 2, false, "stride 2"},
      {16, 960, 33, 65, 3, 1, false, "few output channels"},
      {256, 16, 33, 65, 3, 1, false, "few input channels"},
      {64, 64, 257, 513, 1, 1, false, "more than 64 MiB of transformed tiles (259 MiB)"},
      {64, 64, 64, 128, 1, 1, true, "ResNet-50's 3×3 64→64 at 256×512 (16 MiB)"},
  };
  for (const Layer& l : layers) {
    const WindowAxis axes[2] = {axis(l.h, l.dilation, l.stride), axis(l.w, l.dilation, l.stride)};
    INFO(l.what);
    CHECK(dense_conv_prefers_winograd(l.m, l.c, axes) == l.winograd);
  }
  // The tap GEMMs where few of the kernel's taps are inside the image (at most 0.7) and the
  // layer is not Winograd's.
  struct TapLayer {
    int64_t m, c, h, w, dilation, stride;
    bool taps;
    const char* what;
  };
  const TapLayer tap_layers[] = {
      {256, 960, 32, 64, 12, 1, true, "DeepLabV3 ASPP rate 12 (0.66 of the taps inside)"},
      {256, 960, 32, 64, 24, 1, true, "rate 24 (0.38)"},
      {256, 960, 32, 64, 36, 1, true, "rate 36 (0.21)"},
      {256, 960, 65, 129, 12, 1, false, "rate 12 on 65×129 (0.82)"},
      {256, 128, 32, 64, 24, 1, false, "few input channels"},
      {16, 960, 32, 64, 24, 1, false, "few output channels"},
      {256, 960, 32, 64, 24, 2, false, "stride 2"},
      {4096, 960, 32, 64, 24, 1, false, "buffers past 64 MiB (108 MiB)"},
  };
  for (const TapLayer& l : tap_layers) {
    const WindowAxis axes[2] = {axis(l.h, l.dilation, l.stride), axis(l.w, l.dilation, l.stride)};
    INFO(l.what);
    CHECK(dense_conv_prefers_taps(l.m, l.c, axes) == l.taps);
  }
  // Tiles: ceil(subgrid / 2) per phase and axis, e.g. 33 rows at rate 6 → phases of 6 and 5
  // rows, 3 tiles each, 18 tile rows; 65 columns → five phases of 11 and one of 10: 35.
  const WindowAxis aspp[2] = {axis(33, 6, 1), axis(65, 6, 1)};
  CHECK(winograd_tile_count(aspp) == 18 * 35);
  CHECK(aspp[0].taps_inside() * aspp[1].taps_inside() == (12 * 2 + 21 * 3) * (12 * 2 + 53 * 3));
}
