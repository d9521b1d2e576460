// conv_transpose: hand-checked cases for the scatter semantics and output size of docs/OPS.md,
// a brute-force comparison with an independent gather formulation on random configurations,
// the adjoint identity with conv, the multiply-add count, and shape-rule errors.
#include <algorithm>
#include <cstdint>

#include "test_ops_helpers.h"

namespace atrous {
namespace {

using namespace ops_testing;

Tensor conv_transpose(const Tensor& x, const Tensor& w, const AttributeMap& attributes,
                      const Tensor* bias = nullptr) {
  return run_ok(OpType::op_conv_transpose, attributes, {&x, &w, bias});
}

TEST_CASE("conv_transpose: hand-checked geometry", "[ops][conv_transpose]") {
  // x = [[1,2],[3,4]]
  const Tensor x2 = make_f32({1, 1, 2, 2}, {1, 2, 3, 4});

  SECTION("2x2 kernel, stride 2: each input pixel paints its own 2x2 block") {
    Tensor w = make_f32({1, 1, 2, 2}, {1, 10, 100, 1000});
    check_close(conv_transpose(x2, w, Attrs().ints("strides", {2, 2})), {1, 1, 4, 4},
                {1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000});
  }
  SECTION("2x2 ones, stride 1: blocks overlap and add (the 'full' correlation)") {
    Tensor w = make_f32({1, 1, 2, 2}, {1, 1, 1, 1});
    check_close(conv_transpose(x2, w, Attrs()), {1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4});
  }
  SECTION("3x3, stride 2, pads 1, output_padding 1: the classic 2x upsample, plus bias") {
    // Uncropped, pixel (h, w) paints rows 2h..2h+2 and columns 2w..2w+2 of a 5×5 plane (plus
    // one output_padding row/column, reached by no tap); pads 1 crop one row/column at each
    // side, so output row r (column c) is plane row r + 1: rows 1, 2, 3, 4 are reached by
    // h ∈ {0}, {0,1}, {1}, {1}. oH = (2−1)·2 − 2 + 2 + 1 + 1 = 4 = 2·H.
    Tensor w = make_f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
    Tensor b = make_f32({1}, {0.5f});
    Attrs attributes =
        Attrs().ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1}).ints("output_padding", {1, 1});
    check_close(conv_transpose(x2, w, attributes, &b), {1, 1, 4, 4},
                {1.5f, 3.5f, 2.5f, 2.5f, 4.5f, 10.5f, 6.5f, 6.5f,  //
                 3.5f, 7.5f, 4.5f, 4.5f, 3.5f, 7.5f, 4.5f, 4.5f});
    // Without output_padding the last row and column are not there.
    check_close(conv_transpose(x2, w, Attrs().ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1})),
                {1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4});
  }
  SECTION("output_padding with pad_end: it adds back a cropped column, taps included") {
    // One row x = [1, 2], kernel [1, 10, 100], stride 2: uncropped [1, 10, 102, 20, 200].
    // pads right 2 crop to [1, 10, 102]; output_padding 1 restores the 20.
    Tensor x = make_f32({1, 1, 1, 2}, {1, 2});
    Tensor w = make_f32({1, 1, 1, 3}, {1, 10, 100});
    check_close(conv_transpose(x, w, Attrs().ints("strides", {1, 2}).ints("pads", {0, 0, 0, 2})),
                {1, 1, 1, 3}, {1, 10, 102});
    check_close(conv_transpose(x, w,
                               Attrs()
                                   .ints("strides", {1, 2})
                                   .ints("pads", {0, 0, 0, 2})
                                   .ints("output_padding", {0, 1})),
                {1, 1, 1, 4}, {1, 10, 102, 20});
  }
  SECTION("dilation 2: taps land two apart") {
    // x = [1, 2], kernel [1, 10]: pixel w paints w (·1) and w + 2 (·10). oW = 1 + 2 + 1 = 4.
    Tensor x = make_f32({1, 1, 1, 2}, {1, 2});
    Tensor w = make_f32({1, 1, 1, 2}, {1, 10});
    check_close(conv_transpose(x, w, Attrs().ints("dilations", {1, 2})), {1, 1, 1, 4},
                {1, 2, 10, 20});
  }
  SECTION("output_padding may reach up to dilation - 1 when the stride is 1") {
    Tensor x = make_f32({1, 1, 1, 2}, {1, 2});
    Tensor w = make_f32({1, 1, 1, 2}, {1, 10});
    check_close(
        conv_transpose(x, w, Attrs().ints("dilations", {1, 3}).ints("output_padding", {0, 2})),
        {1, 1, 1, 7}, {1, 2, 0, 10, 20, 0, 0});
  }
  SECTION("asymmetric pads crop the start only") {
    // x = [1, 2, 3], kernel [1, 10, 100]: uncropped [1, 12, 123, 230, 300]; pad left 2.
    Tensor x = make_f32({1, 1, 1, 3}, {1, 2, 3});
    Tensor w = make_f32({1, 1, 1, 3}, {1, 10, 100});
    check_close(conv_transpose(x, w, Attrs().ints("pads", {0, 2, 0, 0})), {1, 1, 1, 3},
                {123, 230, 300});
  }
}

TEST_CASE("conv_transpose: weight layout [C, M/group, kH, kW] and groups",
          "[ops][conv_transpose]") {
  const Tensor x = make_f32({1, 2, 1, 1}, {1, 2});
  const Tensor w = make_f32({2, 2, 1, 1}, {1, 10, 100, 1000});
  SECTION("group 1: W[c, m] mixes every input channel into every output channel") {
    // m0 = 1·1 + 2·100, m1 = 1·10 + 2·1000
    check_close(conv_transpose(x, w, Attrs()), {1, 2, 1, 1}, {201, 2010});
  }
  SECTION("group 2: M = 2·2, input channel c feeds only its group's outputs, plus bias") {
    Tensor b = make_f32({4}, {0.25f, 0.5f, 0.75f, 1.0f});
    check_close(conv_transpose(x, w, Attrs().integer("group", 2), &b), {1, 4, 1, 1},
                {1.25f, 10.5f, 200.75f, 2001.0f});
  }
}

// ---- brute force --------------------------------------------------------------------------

struct TransposeConfig {
  int64_t n, c, h, w, m, kh, kw, group;
  int64_t stride_h, stride_w, dilation_h, dilation_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  int64_t output_padding_h, output_padding_w;
  bool bias;
};

// The gather form, written independently of ops/conv_transpose.cpp (which scatters): output
// (oh, ow) receives tap (i, j) of input channel c from the input pixel
// ((oh + pad_top − i·dH) / sH, (ow + pad_left − j·dW) / sW) when both divisions are exact and
// the pixel exists. Returns false when the output would be empty.
bool naive_conv_transpose(const TransposeConfig& cfg, const Tensor& x, const Tensor& w,
                          const Tensor* b, std::vector<float>* y, Shape* shape) {
  const int64_t out_h = (cfg.h - 1) * cfg.stride_h + cfg.dilation_h * (cfg.kh - 1) + 1 -
                        cfg.pad_top - cfg.pad_bottom + cfg.output_padding_h;
  const int64_t out_w = (cfg.w - 1) * cfg.stride_w + cfg.dilation_w * (cfg.kw - 1) + 1 -
                        cfg.pad_left - cfg.pad_right + cfg.output_padding_w;
  if (out_h < 1 || out_w < 1) return false;
  *shape = {cfg.n, cfg.m, out_h, out_w};
  y->assign(size_t(cfg.n * cfg.m * out_h * out_w), 0.0f);
  const int64_t cg = cfg.c / cfg.group, mg = cfg.m / cfg.group;
  for (int64_t n = 0; n < cfg.n; ++n)
    for (int64_t m = 0; m < cfg.m; ++m)
      for (int64_t oh = 0; oh < out_h; ++oh)
        for (int64_t ow = 0; ow < out_w; ++ow) {
          double acc = b ? double(b->f32()[m]) : 0.0;
          for (int64_t cl = 0; cl < cg; ++cl)
            for (int64_t i = 0; i < cfg.kh; ++i)
              for (int64_t j = 0; j < cfg.kw; ++j) {
                const int64_t th = oh + cfg.pad_top - i * cfg.dilation_h;
                const int64_t tw = ow + cfg.pad_left - j * cfg.dilation_w;
                if (th < 0 || tw < 0 || th % cfg.stride_h != 0 || tw % cfg.stride_w != 0) continue;
                const int64_t ih = th / cfg.stride_h, iw = tw / cfg.stride_w;
                if (ih >= cfg.h || iw >= cfg.w) continue;
                const int64_t c = (m / mg) * cg + cl;
                const float xv = x.f32()[((n * cfg.c + c) * cfg.h + ih) * cfg.w + iw];
                const float wv = w.f32()[((c * mg + m % mg) * cfg.kh + i) * cfg.kw + j];
                acc += double(xv) * double(wv);
              }
          (*y)[size_t(((n * cfg.m + m) * out_h + oh) * out_w + ow)] = float(acc);
        }
  return true;
}

AttributeMap attributes_of(const TransposeConfig& cfg) {
  return Attrs()
      .integer("group", cfg.group)
      .ints("strides", {cfg.stride_h, cfg.stride_w})
      .ints("dilations", {cfg.dilation_h, cfg.dilation_w})
      .ints("pads", {cfg.pad_top, cfg.pad_left, cfg.pad_bottom, cfg.pad_right})
      .ints("output_padding", {cfg.output_padding_h, cfg.output_padding_w})
      .map;
}

// Both implementations sum the same products in double, in different orders, so their double
// sums differ by far less than a float ulp and the float outputs agree to about 1 ulp (6e-8
// relative); 1e-6 of max(1, |y|) leaves margin while a missing or misplaced tap (a change of
// |w·x|, typically 0.1) cannot pass. Returns false when the configuration has no output, after
// checking that the shape rule rejects it too.
bool compare_with_naive(const TransposeConfig& cfg, std::mt19937& rng) {
  INFO("N" << cfg.n << " C" << cfg.c << " H" << cfg.h << " W" << cfg.w << " M" << cfg.m << " k"
           << cfg.kh << "x" << cfg.kw << " g" << cfg.group << " s" << cfg.stride_h << ","
           << cfg.stride_w << " d" << cfg.dilation_h << "," << cfg.dilation_w << " pads "
           << cfg.pad_top << "," << cfg.pad_left << "," << cfg.pad_bottom << "," << cfg.pad_right
           << " output_padding " << cfg.output_padding_h << "," << cfg.output_padding_w
           << (cfg.bias ? " bias" : ""));
  Tensor x = random_f32({cfg.n, cfg.c, cfg.h, cfg.w}, rng);
  Tensor w = random_f32({cfg.c, cfg.m / cfg.group, cfg.kh, cfg.kw}, rng);
  Tensor b = random_f32({cfg.m}, rng);
  const Tensor* bias = cfg.bias ? &b : nullptr;
  std::vector<float> expected;
  Shape shape;
  if (!naive_conv_transpose(cfg, x, w, bias, &expected, &shape)) {
    CHECK_FALSE(run_op(OpType::op_conv_transpose, attributes_of(cfg), {&x, &w, bias}).status.ok());
    return false;
  }
  check_close(conv_transpose(x, w, attributes_of(cfg), bias), shape, expected, 1e-6);
  return true;
}

TEST_CASE("conv_transpose: named configurations match the gather form", "[ops][conv_transpose]") {
  std::mt19937 rng(11);
  // n c h w m kh kw group | s s d d | pads t l b r | output_padding | bias
  const std::vector<TransposeConfig> configs = {
      {1, 3, 5, 7, 4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, true},   // 2× upsample, odd sizes
      {2, 4, 4, 4, 4, 4, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, true},   // depthwise 4×4 s2 p1
      {1, 6, 3, 5, 9, 3, 2, 3, 3, 1, 2, 3, 0, 2, 1, 0, 2, 2, false},  // groups, dilation
      {1, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 4, 4, 0, 0, 0, 0, true},   // pads crop past the kernel
      {1, 1, 1, 1, 1, 5, 1, 1, 3, 1, 3, 1, 0, 0, 0, 0, 2, 0, true},   // one pixel, one tap row
      {1, 2, 4, 3, 6, 2, 3, 2, 3, 2, 2, 3, 1, 0, 2, 3, 2, 1, true},   // stride 3 with gaps
  };
  for (const TransposeConfig& cfg : configs) CHECK(compare_with_naive(cfg, rng));
}

TEST_CASE("conv_transpose: random configurations match the gather form", "[ops][conv_transpose]") {
  std::mt19937 rng(20240611);
  auto pick = [&rng](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(rng);
  };
  int compared = 0;
  for (int trial = 0; trial < 400; ++trial) {
    TransposeConfig cfg{};
    const int64_t kind = pick(0, 3);  // group 1, 2, 3, or depthwise-style (group = C)
    int64_t group_channels = pick(1, 3), group_filters = pick(1, 3);
    if (kind < 3) {
      cfg.group = kind + 1;
    } else {
      cfg.group = pick(2, 5);
      group_channels = 1;
      group_filters = pick(1, 2);
    }
    cfg.c = group_channels * cfg.group;
    cfg.m = group_filters * cfg.group;
    cfg.n = pick(1, 2);
    cfg.h = pick(1, 7);
    cfg.w = pick(1, 7);
    cfg.kh = pick(1, 4);
    cfg.kw = pick(1, 4);
    cfg.stride_h = pick(1, 3);
    cfg.stride_w = pick(1, 3);
    cfg.dilation_h = pick(1, 3);
    cfg.dilation_w = pick(1, 3);
    cfg.pad_top = pick(0, 3);
    cfg.pad_left = pick(0, 3);
    cfg.pad_bottom = pick(0, 3);
    cfg.pad_right = pick(0, 3);
    cfg.output_padding_h = pick(0, std::max(cfg.stride_h, cfg.dilation_h) - 1);
    cfg.output_padding_w = pick(0, std::max(cfg.stride_w, cfg.dilation_w) - 1);
    cfg.bias = pick(0, 1) == 1;
    if (compare_with_naive(cfg, rng)) ++compared;
  }
  CHECK(compared >= 300);  // most configurations have an output
}

// <conv(x, W), y> = <x, conv_transpose(y, W)>: conv_transpose is the adjoint of conv with the
// same weight tensor ([M, C/group, kH, kW] read as [C', M'/group, kH, kW]) and geometry, when
// output_padding restores conv's input size. This ties the weight layout and group mapping to
// conv's. Each float output is within 2^-24 of its exact value, so each side is within
// 2^-24 · Σ|terms| of the exact common value; 1e-6 of that sum leaves margin.
TEST_CASE("conv_transpose: adjoint of conv", "[ops][conv_transpose]") {
  std::mt19937 rng(5);
  struct Case {
    Shape x, w;
    int64_t group, stride, dilation, pad_begin, pad_end;
  };
  const std::vector<Case> cases = {
      {{1, 3, 7, 6}, {4, 3, 3, 3}, 1, 2, 1, 1, 1},
      {{2, 4, 9, 8}, {6, 2, 3, 2}, 2, 3, 2, 2, 0},
      {{1, 5, 6, 6}, {5, 1, 3, 3}, 5, 2, 1, 1, 2},
      {{1, 2, 5, 5}, {2, 2, 1, 1}, 1, 1, 1, 0, 0},
  };
  for (const Case& c : cases) {
    INFO("x " << shape_to_string(c.x) << " w " << shape_to_string(c.w) << " g" << c.group << " s"
              << c.stride << " d" << c.dilation << " pads " << c.pad_begin << "+" << c.pad_end);
    Tensor x = random_f32(c.x, rng);
    Tensor w = random_f32(c.w, rng);
    Attrs geometry = Attrs()
                         .integer("group", c.group)
                         .ints("strides", {c.stride, c.stride})
                         .ints("dilations", {c.dilation, c.dilation})
                         .ints("pads", {c.pad_begin, c.pad_begin, c.pad_end, c.pad_end});
    Tensor forward = run_ok(OpType::op_conv, geometry, {&x, &w});
    Tensor y = random_f32(forward.shape(), rng);
    int64_t output_padding[2];
    for (size_t a = 0; a < 2; ++a) {
      const int64_t extent = c.dilation * (c.w[a + 2] - 1) + 1;
      output_padding[a] = (c.x[a + 2] + c.pad_begin + c.pad_end - extent) % c.stride;
    }
    Attrs transpose_geometry = geometry;
    transpose_geometry.ints("output_padding", {output_padding[0], output_padding[1]});
    Tensor backward = conv_transpose(y, w, transpose_geometry);
    REQUIRE(backward.shape() == x.shape());
    double lhs = 0, rhs = 0, scale = 0;
    for (int64_t i = 0; i < forward.numel(); ++i) {
      lhs += double(forward.f32()[i]) * double(y.f32()[i]);
      scale += std::fabs(double(forward.f32()[i]) * double(y.f32()[i]));
    }
    for (int64_t i = 0; i < x.numel(); ++i) {
      rhs += double(x.f32()[i]) * double(backward.f32()[i]);
      scale += std::fabs(double(x.f32()[i]) * double(backward.f32()[i]));
    }
    INFO("lhs " << lhs << " rhs " << rhs);
    CHECK(std::fabs(lhs - rhs) <= 1e-6 * scale);
  }
}

// ---- counts and errors ----------------------------------------------------------------------

TEST_CASE("conv_transpose: multiply-adds are N·C·H·W·(M/group)·kH·kW", "[ops][conv_transpose]") {
  std::vector<TensorDesc> inputs = {f32_desc({2, 4, 5, 5}), f32_desc({4, 3, 3, 3})};
  std::vector<TensorDesc> outputs;
  AttributeMap attributes = Attrs().integer("group", 2).ints("strides", {2, 2}).map;
  REQUIRE(infer_only(OpType::op_conv_transpose, attributes, inputs, &outputs).ok());
  REQUIRE(outputs[0].shape == Shape{2, 6, 11, 11});
  std::vector<const TensorDesc*> pointers = {&inputs[0], &inputs[1]};
  CHECK(op_multiply_adds(OpType::op_conv_transpose, attributes, pointers, outputs) ==
        2 * 4 * 25 * 3 * 9);
}

TEST_CASE("conv_transpose: invalid attributes and shapes are errors, not crashes",
          "[ops][conv_transpose]") {
  struct Case {
    const char* what;
    Attrs attributes;
    Shape x, w;
    Shape bias;  // empty: no bias
    DType x_dtype = DType::dtype_f32;
    DType w_dtype = DType::dtype_f32;
  };
  const Shape x = {1, 4, 3, 3}, w = {4, 2, 3, 3};
  const int64_t huge = int64_t(1) << 40;
  const int64_t big = int64_t(1) << 31;  // allowed as a value, too large as a size
  const std::vector<Case> cases = {
      {"stride 0", Attrs().ints("strides", {0, 1}), x, w, {}},
      {"one stride", Attrs().ints("strides", {1}), x, w, {}},
      {"huge stride", Attrs().ints("strides", {huge, 1}), x, w, {}},
      {"dilation 0", Attrs().ints("dilations", {1, 0}), x, w, {}},
      {"huge dilation", Attrs().ints("dilations", {huge, 1}), x, w, {}},
      {"negative pad", Attrs().ints("pads", {0, -1, 0, 0}), x, w, {}},
      {"three pads", Attrs().ints("pads", {1, 1, 1}), x, w, {}},
      {"huge pad", Attrs().ints("pads", {huge, 0, 0, 0}), x, w, {}},
      {"group 0", Attrs().integer("group", 0), x, w, {}},
      {"huge group", Attrs().integer("group", huge), x, w, {}},
      {"group not dividing C", Attrs().integer("group", 3), x, w, {}},
      {"negative output_padding", Attrs().ints("output_padding", {-1, 0}), x, w, {}},
      {"output_padding 1 with stride and dilation 1",
       Attrs().ints("output_padding", {0, 1}),
       x,
       w,
       {}},
      {"output_padding equal to the stride",
       Attrs().ints("strides", {2, 2}).ints("output_padding", {2, 0}),
       x,
       w,
       {}},
      {"output_padding equal to the dilation",
       Attrs().ints("strides", {2, 2}).ints("dilations", {1, 3}).ints("output_padding", {0, 3}),
       x,
       w,
       {}},
      {"one output_padding", Attrs().ints("strides", {2, 2}).ints("output_padding", {1}), x, w, {}},
      {"huge output_padding", Attrs().ints("output_padding", {huge, 0}), x, w, {}},
      {"output_padding of the wrong type", Attrs().integer("output_padding", 0), x, w, {}},
      {"strides of the wrong type", Attrs().integer("strides", 2), x, w, {}},
      {"pads as floats", Attrs().reals("pads", {0, 0, 0, 0}), x, w, {}},
      {"group of the wrong type", Attrs().real("group", 1.0), x, w, {}},
      {"W first dim != C", Attrs(), x, {3, 2, 3, 3}, {}},
      {"M/group 0", Attrs(), x, {4, 0, 3, 3}, {}},
      {"kernel height 0", Attrs(), x, {4, 2, 0, 3}, {}},
      {"C 0", Attrs(), {1, 0, 3, 3}, {0, 2, 3, 3}, {}},
      {"H 0", Attrs(), {1, 4, 0, 3}, w, {}},
      {"rank-3 input", Attrs(), {4, 3, 3}, w, {}},
      {"rank-2 weight", Attrs(), x, {4, 18}, {}},
      {"int32 input", Attrs(), x, w, {}, DType::dtype_i32},
      {"int32 weight", Attrs(), x, w, {}, DType::dtype_f32, DType::dtype_i32},
      {"bias of the wrong size (M = 2)", Attrs(), x, w, {4}},
      {"bias of size M/group", Attrs().integer("group", 2), x, w, {2}},
      {"bias of rank 2", Attrs(), x, w, {1, 2}},
      {"pads crop the whole output", Attrs().ints("pads", {3, 0, 2, 0}), x, w, {}},
      {"output too large", Attrs().ints("strides", {big, big}), x, w, {}},
      {"dilated kernel too large", Attrs().ints("dilations", {big, 1}), x, {4, 2, 1 << 12, 1}, {}},
      {"(H - 1) * stride too large",
       Attrs().ints("strides", {big, 1}),
       {1, 1, 1 << 20, 1},
       {1, 1, 1, 1},
       {}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    std::vector<TensorDesc> inputs = {TensorDesc{c.x_dtype, c.x}, TensorDesc{c.w_dtype, c.w}};
    if (!c.bias.empty()) inputs.push_back(f32_desc(c.bias));
    Status status = infer_only(OpType::op_conv_transpose, c.attributes, inputs);
    INFO(status.message());
    CHECK_FALSE(status.ok());
    CHECK(status.message().rfind("conv_transpose: ", 0) == 0);
    CHECK(status.message().find('\n') == std::string::npos);
  }
}

TEST_CASE("conv_transpose: error messages name the attribute and the values",
          "[ops][conv_transpose]") {
  std::vector<TensorDesc> inputs = {f32_desc({1, 4, 3, 3}), f32_desc({4, 2, 3, 3})};
  CHECK(infer_only(OpType::op_conv_transpose,
                   Attrs().ints("strides", {2, 2}).ints("output_padding", {2, 0}), inputs)
            .message() ==
        "conv_transpose: output_padding must be < max(stride, dilation) per axis, got [2,0] "
        "with strides [2,2] and dilations [1,1]");
  CHECK(infer_only(OpType::op_conv_transpose, Attrs().integer("output_padding", 1), inputs)
            .message() == "conv_transpose: attribute 'output_padding' must be ints, got int");
  CHECK(infer_only(OpType::op_conv_transpose, Attrs().ints("pads", {0, -1, 0, 0}), inputs)
            .message() == "conv_transpose: pads must be >= 0, got [0,-1,0,0]");
}

}  // namespace
}  // namespace atrous
