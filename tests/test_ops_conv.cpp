// conv: hand-checked cases for every geometry rule of docs/OPS.md, the fused activation against
// the standalone ops, a brute-force comparison on random configurations, and shape-rule errors.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "test_ops_helpers.h"

namespace atrous {
namespace {

using namespace ops_testing;

Tensor conv(const Tensor& x, const Tensor& w, const AttributeMap& attributes,
            const Tensor* bias = nullptr) {
  return run_ok(OpType::op_conv, attributes, {&x, &w, bias});
}

TEST_CASE("conv: hand-checked geometry", "[ops][conv]") {
  // x = 1..9 as a 3×3 image: [[1,2,3],[4,5,6],[7,8,9]].
  const Tensor x3 = iota_f32({1, 1, 3, 3}, 1.0f);

  SECTION("2x2 box filter, no padding: sums of 2x2 blocks") {
    Tensor w = make_f32({1, 1, 2, 2}, {1, 1, 1, 1});
    // 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9
    check_close(conv(x3, w, Attrs()), {1, 1, 2, 2}, {12, 16, 24, 28});
  }
  SECTION("3x3 box filter, pads 1: neighbourhood sums, zero padding") {
    Tensor w = make_f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
    check_close(conv(x3, w, Attrs().ints("pads", {1, 1, 1, 1})), {1, 1, 3, 3},
                {12, 21, 16, 27, 45, 33, 24, 39, 28});
  }
  SECTION("output size 1: the full dot product, plus bias") {
    Tensor w = iota_f32({1, 1, 3, 3}, 1.0f);
    Tensor b = make_f32({1}, {0.5f});
    // Σ i² for i = 1..9 = 285
    check_close(conv(x3, w, Attrs(), &b), {1, 1, 1, 1}, {285.5f});
  }
  SECTION("stride 2 on an odd size (5x5, 3x3 kernel) gives 2x2") {
    // x[r][c] = 5r + c; a 3×3 block at (r, c) sums to 9·(5(r+1) + (c+1)).
    Tensor x = iota_f32({1, 1, 5, 5});
    Tensor w = make_f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
    check_close(conv(x, w, Attrs().ints("strides", {2, 2})), {1, 1, 2, 2}, {54, 72, 144, 162});
  }
  SECTION("dilation larger than the input, with padding: only the centre tap is inside") {
    // Dilation 4, pads 4: extent 9, output 3×3; taps read rows oh−4, oh, oh+4, of which only
    // oh is inside the 3×3 image, so the output equals the input.
    Tensor w = make_f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
    check_close(conv(x3, w, Attrs().ints("dilations", {4, 4}).ints("pads", {4, 4, 4, 4})),
                {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  }
  SECTION("asymmetric explicit padding (top 1, left 0, bottom 0, right 1)") {
    // x = [[1,2],[3,4]], 2×2 ones: windows rows {−1,0} / {0,1}, cols {0,1} / {1,2}.
    Tensor x = make_f32({1, 1, 2, 2}, {1, 2, 3, 4});
    Tensor w = make_f32({1, 1, 2, 2}, {1, 1, 1, 1});
    check_close(conv(x, w, Attrs().ints("pads", {1, 0, 0, 1})), {1, 1, 2, 2}, {3, 2, 10, 6});
  }
  SECTION("asymmetric padding with a 1x1 kernel places the image inside zeros") {
    Tensor x = make_f32({1, 1, 2, 2}, {1, 2, 3, 4});
    Tensor w = make_f32({1, 1, 1, 1}, {1});
    check_close(conv(x, w, Attrs().ints("pads", {1, 0, 0, 2})), {1, 1, 3, 4},
                {0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0});
  }
}

TEST_CASE("conv: TF SAME padding on even and odd sizes", "[ops][conv]") {
  // One-row images; place-value weights show which inputs each output read.
  struct Case {
    std::vector<float> x;
    std::vector<float> w;
    const char* auto_pad;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      // W = 4, k = 3, s = 2: out 2, total pad 1 → same_upper (0, 1), same_lower (1, 0).
      // upper: 1·1 + 2·10 + 3·100 = 321, 3 + 40 + 0 = 43.
      {{1, 2, 3, 4}, {1, 10, 100}, "same_upper", {321, 43}},
      // lower: 0 + 1·10 + 2·100 = 210, 2 + 30 + 400 = 432.
      {{1, 2, 3, 4}, {1, 10, 100}, "same_lower", {210, 432}},
      // W = 5, k = 3, s = 2: out 3, total 2 → (1, 1) either way.
      {{1, 2, 3, 4, 5}, {1, 10, 100}, "same_upper", {210, 432, 54}},
      {{1, 2, 3, 4, 5}, {1, 10, 100}, "same_lower", {210, 432, 54}},
      // W = 5, k = 4, s = 2: out 3, total 3 → upper (1, 2): windows start −1, 1, 3.
      {{1, 2, 3, 4, 5}, {1, 10, 100, 1000}, "same_upper", {3210, 5432, 54}},
      // lower (2, 1): windows start −2, 0, 2.
      {{1, 2, 3, 4, 5}, {1, 10, 100, 1000}, "same_lower", {2100, 4321, 543}},
      // W = 6, k = 1, s = 4: out 2, total max(4 + 1 − 6, 0) = 0.
      {{1, 2, 3, 4, 5, 6}, {1}, "same_upper", {1, 5}},
      // valid ignores pads: W = 5, k = 3, s = 2 → 2 outputs.
      {{1, 2, 3, 4, 5}, {1, 10, 100}, "valid", {321, 543}},
  };
  for (const Case& c : cases) {
    INFO("x size " << c.x.size() << ", k " << c.w.size() << ", " << c.auto_pad);
    Tensor x = make_f32({1, 1, 1, int64_t(c.x.size())}, c.x);
    Tensor w = make_f32({1, 1, 1, int64_t(c.w.size())}, c.w);
    int64_t stride = c.w.size() == 1 ? 4 : 2;
    Attrs attributes = Attrs().ints("strides", {1, stride}).str("auto_pad", c.auto_pad);
    attributes.ints("pads", {5, 5, 5, 5});  // must be ignored unless auto_pad is explicit
    check_close(conv(x, w, attributes), {1, 1, 1, int64_t(c.expected.size())}, c.expected);
  }
}

TEST_CASE("conv: groups, depthwise, anisotropic dilation", "[ops][conv]") {
  SECTION("depthwise (group = C) with bias") {
    Tensor x = make_f32({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    Tensor w = make_f32({2, 1, 1, 1}, {2, -1});
    Tensor b = make_f32({2}, {0.5f, 1.0f});
    check_close(conv(x, w, Attrs().integer("group", 2), &b), {1, 2, 2, 2},
                {2.5f, 4.5f, 6.5f, 8.5f, -4, -5, -6, -7});
  }
  SECTION("group 2: each filter sees only its half of the channels") {
    Tensor x = make_f32({1, 4, 1, 1}, {1, 2, 3, 4});
    Tensor w = make_f32({2, 2, 1, 1}, {1, 10, 100, 1000});
    // filter 0: 1·1 + 2·10 = 21; filter 1: 3·100 + 4·1000 = 4300
    check_close(conv(x, w, Attrs().integer("group", 2)), {1, 2, 1, 1}, {21, 4300});
  }
  SECTION("dilation (1, 6)") {
    // x[r][c] = 8r + c on 2×8; taps (0,0), (0,6), (1,0), (1,6) weighted 1, 10, 100, 1000.
    Tensor x = iota_f32({1, 1, 2, 8});
    Tensor w = make_f32({1, 1, 2, 2}, {1, 10, 100, 1000});
    // ow = 0: 0 + 60 + 800 + 14000; ow = 1: 1 + 70 + 900 + 15000
    check_close(conv(x, w, Attrs().ints("dilations", {1, 6})), {1, 1, 1, 2}, {14860, 15971});
  }
}

// ---- brute force --------------------------------------------------------------------------

struct ConvConfig {
  int64_t n, c, h, w, m, kh, kw, group;
  int64_t stride_h, stride_w, dilation_h, dilation_w;
  std::string auto_pad;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  bool bias;
};

// A deliberately naive convolution written independently of ops/conv.cpp: output sizes are found
// by counting windows, SAME padding by searching the smallest covering output, and every tap is
// bounds-checked. Returns false when no output position exists.
bool naive_conv(const ConvConfig& cfg, const Tensor& x, const Tensor& w, const Tensor* b,
                std::vector<float>* y, Shape* shape) {
  const int64_t in[2] = {cfg.h, cfg.w}, k[2] = {cfg.kh, cfg.kw};
  const int64_t s[2] = {cfg.stride_h, cfg.stride_w}, d[2] = {cfg.dilation_h, cfg.dilation_w};
  int64_t begin[2] = {cfg.pad_top, cfg.pad_left}, end[2] = {cfg.pad_bottom, cfg.pad_right};
  int64_t out[2] = {0, 0};
  for (int a = 0; a < 2; ++a) {
    const int64_t extent = d[a] * (k[a] - 1) + 1;
    if (cfg.auto_pad == "valid") begin[a] = end[a] = 0;
    if (cfg.auto_pad == "same_upper" || cfg.auto_pad == "same_lower") {
      while (out[a] * s[a] < in[a]) ++out[a];  // smallest count of strides covering the input
      const int64_t needed = (out[a] - 1) * s[a] + extent - in[a];
      const int64_t total = needed > 0 ? needed : 0;
      begin[a] = cfg.auto_pad == "same_upper" ? total / 2 : total - total / 2;
      end[a] = total - begin[a];
    } else {
      while (out[a] * s[a] + extent <= in[a] + begin[a] + end[a]) ++out[a];
    }
    if (out[a] == 0) return false;
  }
  *shape = {cfg.n, cfg.m, out[0], out[1]};
  y->assign(size_t(cfg.n * cfg.m * out[0] * out[1]), 0.0f);
  const int64_t cg = cfg.c / cfg.group, mg = cfg.m / cfg.group;
  for (int64_t n = 0; n < cfg.n; ++n)
    for (int64_t m = 0; m < cfg.m; ++m)
      for (int64_t oh = 0; oh < out[0]; ++oh)
        for (int64_t ow = 0; ow < out[1]; ++ow) {
          double acc = b ? double(b->f32()[m]) : 0.0;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < cfg.kh; ++i)
              for (int64_t j = 0; j < cfg.kw; ++j) {
                const int64_t ih = oh * s[0] - begin[0] + i * d[0];
                const int64_t iw = ow * s[1] - begin[1] + j * d[1];
                if (ih < 0 || ih >= cfg.h || iw < 0 || iw >= cfg.w) continue;
                const int64_t channel = (m / mg) * cg + c;
                const float xv = x.f32()[((n * cfg.c + channel) * cfg.h + ih) * cfg.w + iw];
                const float wv = w.f32()[((m * cg + c) * cfg.kh + i) * cfg.kw + j];
                acc += double(xv) * double(wv);
              }
          (*y)[size_t(((n * cfg.m + m) * out[0] + oh) * out[1] + ow)] = float(acc);
        }
  return true;
}

// Runs one configuration through both implementations. Both sum the same products in double in
// different orders, so their double sums differ by far less than a float ulp and the float
// outputs agree to about 1 ulp (6e-8 relative); 1e-6 of max(1, |y|) leaves margin while a
// missing or misplaced tap (a change of |w·x|, typically 0.1) cannot pass.
void compare_with_naive(const ConvConfig& cfg, std::mt19937& rng) {
  INFO("N" << cfg.n << " C" << cfg.c << " H" << cfg.h << " W" << cfg.w << " M" << cfg.m << " k"
           << cfg.kh << "x" << cfg.kw << " g" << cfg.group << " s" << cfg.stride_h << ","
           << cfg.stride_w << " d" << cfg.dilation_h << "," << cfg.dilation_w << " " << cfg.auto_pad
           << " pads " << cfg.pad_top << "," << cfg.pad_left << "," << cfg.pad_bottom << ","
           << cfg.pad_right << (cfg.bias ? " bias" : ""));
  Tensor x = random_f32({cfg.n, cfg.c, cfg.h, cfg.w}, rng);
  Tensor w = random_f32({cfg.m, cfg.c / cfg.group, cfg.kh, cfg.kw}, rng);
  Tensor b = random_f32({cfg.m}, rng);
  Attrs attributes = Attrs()
                         .ints("strides", {cfg.stride_h, cfg.stride_w})
                         .ints("dilations", {cfg.dilation_h, cfg.dilation_w})
                         .ints("pads", {cfg.pad_top, cfg.pad_left, cfg.pad_bottom, cfg.pad_right})
                         .str("auto_pad", cfg.auto_pad)
                         .integer("group", cfg.group);
  std::vector<float> expected;
  Shape shape;
  const bool exists = naive_conv(cfg, x, w, cfg.bias ? &b : nullptr, &expected, &shape);
  OpRun run = run_op(OpType::op_conv, attributes, {&x, &w, cfg.bias ? &b : nullptr});
  REQUIRE(run.status.ok() == exists);
  if (exists) check_close(run.outputs[0], shape, expected, 1e-6);
}

TEST_CASE("conv: matches a naive implementation on a table of geometries", "[ops][conv]") {
  // clang-format off
  const std::vector<ConvConfig> table = {
      // n c  h  w  m kh kw g  sh sw dh dw auto_pad      pads        bias
      {1, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, "explicit", 1, 1, 1, 1, true},
      {2, 4, 11, 10, 6, 3, 3, 2, 2, 2, 1, 1, "explicit", 1, 1, 1, 1, false},
      {1, 6, 9, 9, 6, 3, 3, 6, 1, 1, 2, 2, "explicit", 2, 2, 2, 2, true},     // depthwise atrous
      {1, 4, 13, 13, 4, 3, 3, 4, 1, 1, 1, 6, "same_upper", 0, 0, 0, 0, true},  // anisotropic
      {1, 3, 5, 5, 2, 3, 3, 1, 1, 1, 4, 4, "explicit", 4, 4, 4, 4, true},     // dilation > input
      {1, 2, 8, 8, 3, 3, 3, 1, 2, 2, 1, 1, "same_upper", 0, 0, 0, 0, true},   // SAME, even
      {1, 2, 9, 7, 3, 3, 3, 1, 2, 2, 1, 1, "same_upper", 0, 0, 0, 0, true},   // SAME, odd
      {1, 2, 8, 9, 3, 4, 2, 1, 3, 2, 1, 1, "same_lower", 0, 0, 0, 0, false},
      {1, 2, 6, 7, 2, 2, 3, 1, 3, 2, 2, 1, "valid", 9, 9, 9, 9, true},
      {1, 3, 7, 6, 2, 1, 1, 1, 2, 3, 1, 1, "explicit", 0, 2, 1, 0, true},     // 1x1, asym pads
      {1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, "explicit", 1, 1, 1, 1, true},     // 1x1 image
      {1, 8, 5, 5, 4, 3, 3, 4, 1, 2, 3, 1, "explicit", 0, 3, 2, 1, true},
  };
  // clang-format on
  std::mt19937 rng(1234);
  for (const ConvConfig& cfg : table) compare_with_naive(cfg, rng);
}

TEST_CASE("conv: matches a naive implementation on random geometries", "[ops][conv]") {
  std::mt19937 rng(20240611);
  auto pick = [&rng](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(rng);
  };
  const char* const modes[4] = {"explicit", "valid", "same_upper", "same_lower"};
  for (int trial = 0; trial < 300; ++trial) {
    ConvConfig cfg;
    cfg.group = pick(1, 3);
    cfg.c = cfg.group * pick(1, 3);
    cfg.m = cfg.group * pick(1, 3);
    cfg.n = pick(1, 2);
    cfg.h = pick(1, 12);
    cfg.w = pick(1, 12);
    cfg.kh = pick(1, 4);
    cfg.kw = pick(1, 4);
    cfg.stride_h = pick(1, 3);
    cfg.stride_w = pick(1, 3);
    cfg.dilation_h = pick(1, 4);
    cfg.dilation_w = pick(1, 4);
    cfg.auto_pad = modes[pick(0, 3)];
    cfg.pad_top = pick(0, 3);
    cfg.pad_left = pick(0, 3);
    cfg.pad_bottom = pick(0, 3);
    cfg.pad_right = pick(0, 3);
    cfg.bias = pick(0, 1) == 1;
    compare_with_naive(cfg, rng);  // also checks that conv rejects exactly the empty outputs
  }
}

// ---- fused activation -----------------------------------------------------------------------

TEST_CASE("conv: a fused activation is bitwise equal to conv + the standalone op",
          "[ops][conv][activation]") {
  struct Case {
    const char* name;
    OpType op;
    std::vector<double> params;
    Attrs standalone;
  };
  const std::vector<Case> cases = {
      {"relu", OpType::op_relu, {}, Attrs()},
      {"clip", OpType::op_clip, {0.0, 6.0}, Attrs().real("min", 0.0).real("max", 6.0)},
      {"hard_swish", OpType::op_hard_swish, {}, Attrs()},
      {"hard_sigmoid",
       OpType::op_hard_sigmoid,
       {1.0 / 6.0, 0.5},
       Attrs().real("alpha", 1.0 / 6.0).real("beta", 0.5)},
      {"hard_sigmoid",
       OpType::op_hard_sigmoid,
       {0.16667, 0.5},
       Attrs().real("alpha", 0.16667).real("beta", 0.5)},
      {"sigmoid", OpType::op_sigmoid, {}, Attrs()},
      {"tanh", OpType::op_tanh, {}, Attrs()},
  };
  std::mt19937 rng(7);
  // Values around ±4 so every saturating branch of hard_swish / clip / hard_sigmoid is hit.
  Tensor x = random_f32({2, 4, 9, 8}, rng, -2.0f, 2.0f);
  Tensor w = random_f32({6, 2, 3, 3}, rng, -1.0f, 1.0f);
  Tensor b = random_f32({6}, rng, -1.0f, 1.0f);
  Attrs geometry =
      Attrs().integer("group", 2).ints("strides", {2, 1}).str("auto_pad", "same_upper");
  Tensor plain = conv(x, w, geometry, &b);
  for (const Case& c : cases) {
    INFO(c.name);
    Attrs fused = geometry;
    fused.str("activation", c.name);
    if (!c.params.empty()) fused.reals("activation_params", c.params);
    Tensor fused_out = conv(x, w, fused, &b);
    Tensor separate = run_ok(c.op, c.standalone, {&plain});
    CHECK(bitwise_equal(fused_out, separate));
  }
}

// ---- counts and errors ----------------------------------------------------------------------

TEST_CASE("conv: multiply-adds are N·M·oH·oW·(C/group)·kH·kW", "[ops][conv]") {
  std::vector<TensorDesc> inputs = {f32_desc({2, 4, 8, 8}), f32_desc({6, 2, 3, 3})};
  std::vector<TensorDesc> outputs;
  AttributeMap attributes = Attrs().integer("group", 2).ints("pads", {1, 1, 1, 1});
  REQUIRE(infer_only(OpType::op_conv, attributes, inputs, &outputs).ok());
  REQUIRE(outputs[0].shape == Shape{2, 6, 8, 8});
  std::vector<const TensorDesc*> pointers = {&inputs[0], &inputs[1]};
  CHECK(op_multiply_adds(OpType::op_conv, attributes, pointers, outputs) == 2 * 6 * 64 * 2 * 9);
}

TEST_CASE("conv: invalid attributes and shapes are errors, not crashes", "[ops][conv]") {
  struct Case {
    const char* what;
    Attrs attributes;
    Shape x, w;
    Shape bias;  // empty: no bias
    DType x_dtype;
  };
  const Shape x = {1, 4, 8, 8}, w = {4, 4, 3, 3};
  const int64_t huge = int64_t(1) << 40;
  const std::vector<Case> cases = {
      {"stride 0", Attrs().ints("strides", {0, 1}), x, w, {}, DType::dtype_f32},
      {"one stride", Attrs().ints("strides", {1}), x, w, {}, DType::dtype_f32},
      {"huge stride", Attrs().ints("strides", {huge, 1}), x, w, {}, DType::dtype_f32},
      {"dilation 0", Attrs().ints("dilations", {0, 1}), x, w, {}, DType::dtype_f32},
      {"negative pad", Attrs().ints("pads", {0, -1, 0, 0}), x, w, {}, DType::dtype_f32},
      {"three pads", Attrs().ints("pads", {1, 1, 1}), x, w, {}, DType::dtype_f32},
      {"huge pad", Attrs().ints("pads", {huge, 0, 0, 0}), x, w, {}, DType::dtype_f32},
      {"group 0", Attrs().integer("group", 0), x, w, {}, DType::dtype_f32},
      {"group not dividing C", Attrs().integer("group", 3), x, {3, 1, 3, 3}, {}, DType::dtype_f32},
      {"group not dividing M", Attrs().integer("group", 2), x, {3, 2, 3, 3}, {}, DType::dtype_f32},
      {"W channels != C/group", Attrs().integer("group", 2), x, w, {}, DType::dtype_f32},
      {"rank-3 input", Attrs(), {4, 8, 8}, w, {}, DType::dtype_f32},
      {"rank-2 weight", Attrs(), x, {4, 36}, {}, DType::dtype_f32},
      {"int32 input", Attrs(), x, w, {}, DType::dtype_i32},
      {"bias of the wrong size", Attrs(), x, w, {3}, DType::dtype_f32},
      {"kernel larger than the input", Attrs(), {1, 4, 2, 2}, w, {}, DType::dtype_f32},
      {"huge dilation",
       Attrs().ints("dilations", {int64_t(1) << 31, 1}),
       x,
       {4, 4, 1 << 12, 1},
       {},
       DType::dtype_f32},
      {"strides of the wrong type", Attrs().integer("strides", 2), x, w, {}, DType::dtype_f32},
      {"group of the wrong type", Attrs().real("group", 1.0), x, w, {}, DType::dtype_f32},
      {"auto_pad of the wrong type", Attrs().integer("auto_pad", 1), x, w, {}, DType::dtype_f32},
      {"unknown auto_pad", Attrs().str("auto_pad", "SAME"), x, w, {}, DType::dtype_f32},
      {"unknown activation", Attrs().str("activation", "gelu"), x, w, {}, DType::dtype_f32},
      {"clip with one param",
       Attrs().str("activation", "clip").reals("activation_params", {0}),
       x,
       w,
       {},
       DType::dtype_f32},
      {"relu with params",
       Attrs().str("activation", "relu").reals("activation_params", {0}),
       x,
       w,
       {},
       DType::dtype_f32},
      {"activation_params as ints",
       Attrs().str("activation", "clip").ints("activation_params", {0, 6}),
       x,
       w,
       {},
       DType::dtype_f32},
      {"kernel_shape disagreeing with W",
       Attrs().ints("kernel_shape", {5, 5}),
       x,
       w,
       {},
       DType::dtype_f32},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    std::vector<TensorDesc> inputs = {TensorDesc{c.x_dtype, c.x}, f32_desc(c.w)};
    if (!c.bias.empty()) inputs.push_back(f32_desc(c.bias));
    Status status = infer_only(OpType::op_conv, c.attributes, inputs);
    INFO(status.message());
    CHECK_FALSE(status.ok());
    CHECK(status.message().rfind("conv: ", 0) == 0);
    CHECK(status.message().find('\n') == std::string::npos);
  }
}

TEST_CASE("conv: error messages name the attribute and the values", "[ops][conv]") {
  std::vector<TensorDesc> inputs = {f32_desc({1, 4, 8, 8}), f32_desc({4, 4, 3, 3})};
  CHECK(infer_only(OpType::op_conv, Attrs().ints("dilations", {0, 1}), inputs).message() ==
        "conv: dilations must be >= 1, got [0,1]");
  CHECK(infer_only(OpType::op_conv, Attrs().integer("strides", 2), inputs).message() ==
        "conv: attribute 'strides' must be ints, got int");
}

}  // namespace
}  // namespace atrous
