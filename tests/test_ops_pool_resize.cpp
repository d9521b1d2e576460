// Pools (global, average, max) and resize: hand-checked tables for every padding, rounding and
// coordinate rule of docs/OPS.md, plus shape-rule errors.
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "test_ops_helpers.h"

namespace atrous {
namespace {

using namespace ops_testing;

// ---- average_pool -----------------------------------------------------------------------------

TEST_CASE("average_pool: VALID, padded, count_include_pad", "[ops][pool]") {
  SECTION("2x2 stride 2 without padding: block means") {
    // x[r][c] = 4r + c on 4×4.
    Tensor x = iota_f32({1, 1, 4, 4});
    Tensor y = run_ok(OpType::op_average_pool,
                      Attrs().ints("kernel_shape", {2, 2}).ints("strides", {2, 2}), {&x});
    check_close(y, {1, 1, 2, 2}, {2.5f, 4.5f, 10.5f, 12.5f});
  }
  SECTION("auto_pad valid equals no padding") {
    Tensor x = iota_f32({1, 1, 4, 4});
    Tensor y = run_ok(OpType::op_average_pool,
                      Attrs().ints("kernel_shape", {3, 3}).str("auto_pad", "valid"), {&x});
    // 3×3 block means of 4r + c: centre values 5, 6, 9, 10.
    check_close(y, {1, 1, 2, 2}, {5, 6, 9, 10});
  }
  // x = 1..9 as 3×3; 3×3 window, pads 1: neighbourhood sums 12 21 16 / 27 45 33 / 24 39 28
  // over 4 6 4 / 6 9 6 / 4 6 4 cells inside the image.
  const Tensor x3 = iota_f32({1, 1, 3, 3}, 1.0f);
  const Attrs padded = Attrs().ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1});
  SECTION("count_include_pad = 0 divides by the cells inside the image") {
    Tensor y = run_ok(OpType::op_average_pool, padded, {&x3});
    check_close(y, {1, 1, 3, 3}, {3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7});
  }
  SECTION("count_include_pad = 1 divides by the whole window") {
    Attrs attributes = padded;
    attributes.integer("count_include_pad", 1);
    Tensor y = run_ok(OpType::op_average_pool, attributes, {&x3});
    check_close(
        y, {1, 1, 3, 3},
        {12 / 9.f, 21 / 9.f, 16 / 9.f, 27 / 9.f, 5, 33 / 9.f, 24 / 9.f, 39 / 9.f, 28 / 9.f});
  }
}

TEST_CASE("average_pool: ceil_mode on one row", "[ops][pool]") {
  // Rows of one pixel, kernel (1, 2), stride (1, 2).
  struct Case {
    const char* what;
    std::vector<float> x;
    std::vector<int64_t> pads;  // top, left, bottom, right
    int64_t ceil_mode, count_include_pad;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      // W 5: floor gives 2 windows.
      {"floor", {1, 2, 3, 4, 5}, {0, 0, 0, 0}, 0, 0, {1.5f, 3.5f}},
      // ceil adds a window starting at 4 (inside the input) that holds only x4.
      {"ceil, overhang", {1, 2, 3, 4, 5}, {0, 0, 0, 0}, 1, 0, {1.5f, 3.5f, 5}},
      // The overhang beyond the padded input is never counted (PyTorch).
      {"ceil, overhang, include pad", {1, 2, 3, 4, 5}, {0, 0, 0, 0}, 1, 1, {1.5f, 3.5f, 5}},
      // Right pad 1: floor gives 3 windows, the last one half padding.
      {"right pad", {1, 2, 3, 4, 5}, {0, 0, 0, 1}, 0, 0, {1.5f, 3.5f, 5}},
      {"right pad, include pad", {1, 2, 3, 4, 5}, {0, 0, 0, 1}, 0, 1, {1.5f, 3.5f, 2.5f}},
      // W 6, right pad 1: ceil would start a 4th window at 6, inside the right padding only:
      // dropped, so ceil equals floor.
      {"ceil, no window in right pad", {1, 2, 3, 4, 5, 6}, {0, 0, 0, 1}, 1, 0, {1.5f, 3.5f, 5.5f}},
      // W 6, left pad 1: windows start at −1, 1, 3 and with ceil also at 5 (inside the input).
      {"left pad", {1, 2, 3, 4, 5, 6}, {0, 1, 0, 0}, 0, 1, {0.5f, 2.5f, 4.5f}},
      {"ceil, left pad, include pad",
       {1, 2, 3, 4, 5, 6},
       {0, 1, 0, 0},
       1,
       1,
       {0.5f, 2.5f, 4.5f, 6}},
      {"ceil, left pad", {1, 2, 3, 4, 5, 6}, {0, 1, 0, 0}, 1, 0, {1, 2.5f, 4.5f, 6}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Tensor x = make_f32({1, 1, 1, int64_t(c.x.size())}, c.x);
    Attrs attributes = Attrs()
                           .ints("kernel_shape", {1, 2})
                           .ints("strides", {1, 2})
                           .ints("pads", c.pads)
                           .integer("ceil_mode", c.ceil_mode)
                           .integer("count_include_pad", c.count_include_pad);
    check_close(run_ok(OpType::op_average_pool, attributes, {&x}),
                {1, 1, 1, int64_t(c.expected.size())}, c.expected);
  }
}

TEST_CASE("average_pool: TF SAME excludes the padding by default", "[ops][pool]") {
  // W 5, kernel 2, stride 2: out 3, total pad 1 at the end (same_upper).
  Tensor x = make_f32({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  Attrs attributes =
      Attrs().ints("kernel_shape", {1, 2}).ints("strides", {1, 2}).str("auto_pad", "same_upper");
  check_close(run_ok(OpType::op_average_pool, attributes, {&x}), {1, 1, 1, 3}, {1.5f, 3.5f, 5});
  attributes.integer("count_include_pad", 1);
  check_close(run_ok(OpType::op_average_pool, attributes, {&x}), {1, 1, 1, 3}, {1.5f, 3.5f, 2.5f});
}

// ---- max_pool ---------------------------------------------------------------------------------

TEST_CASE("max_pool: padding never wins", "[ops][pool]") {
  // All values negative: a zero from the padding would win if padding were read.
  Tensor x = make_f32({1, 1, 2, 2}, {-1, -2, -3, -4});
  Tensor y = run_ok(OpType::op_max_pool,
                    Attrs().ints("kernel_shape", {2, 2}).ints("pads", {1, 1, 1, 1}), {&x});
  check_close(y, {1, 1, 3, 3}, {-1, -1, -2, -1, -1, -2, -3, -3, -4});
}

TEST_CASE("max_pool: strides, dilation, SAME, ceil_mode", "[ops][pool]") {
  struct Case {
    const char* what;
    std::vector<float> x;
    Attrs attributes;
    std::vector<float> expected;
  };
  const std::vector<float> row = {3, 1, 4, 1, 5};
  const std::vector<Case> cases = {
      {"kernel 2 stride 1", row, Attrs().ints("kernel_shape", {1, 2}), {3, 4, 4, 5}},
      // Dilation 2: pairs (0,2), (1,3), (2,4).
      {"dilation 2",
       row,
       Attrs().ints("kernel_shape", {1, 2}).ints("dilations", {1, 2}),
       {4, 1, 5}},
      // same_upper, W 5, k 2, s 2: windows [0,1], [2,3], [4, pad].
      {"same_upper",
       {1, 5, 2, 4, 3},
       Attrs().ints("kernel_shape", {1, 2}).ints("strides", {1, 2}).str("auto_pad", "same_upper"),
       {5, 4, 3}},
      {"floor",
       {1, 2, 3, 4, 5},
       Attrs().ints("kernel_shape", {1, 2}).ints("strides", {1, 2}),
       {2, 4}},
      {"ceil",
       {1, 2, 3, 4, 5},
       Attrs().ints("kernel_shape", {1, 2}).ints("strides", {1, 2}).integer("ceil_mode", 1),
       {2, 4, 5}},
      // Dilation 3 (extent 4), pads left 1 / right 3 on W 2: windows start at −1, 0, 1 and read
      // (−1, 2): both outside, −inf (PyTorch); (0, 3): 7; (1, 4): 8.
      {"dilated window outside the input",
       {7, 8},
       Attrs().ints("kernel_shape", {1, 2}).ints("dilations", {1, 3}).ints("pads", {0, 1, 0, 3}),
       {-std::numeric_limits<float>::infinity(), 7, 8}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Tensor x = make_f32({1, 1, 1, int64_t(c.x.size())}, c.x);
    Tensor y = run_ok(OpType::op_max_pool, c.attributes, {&x});
    REQUIRE(y.shape() == Shape{1, 1, 1, int64_t(c.expected.size())});
    CHECK(values_of(y) == c.expected);
  }
}

TEST_CASE("global_average_pool: per-plane means in double", "[ops][pool]") {
  Tensor x = make_f32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -1, 5, 1});
  check_close(run_ok(OpType::op_global_average_pool, Attrs(), {&x}), {1, 2, 1, 1}, {2.5f, 1});
}

TEST_CASE("pools: invalid attributes are errors", "[ops][pool]") {
  const TensorDesc x = f32_desc({1, 2, 6, 6});
  struct Case {
    const char* what;
    OpType op;
    Attrs attributes;
  };
  const std::vector<Case> cases = {
      {"missing kernel_shape", OpType::op_average_pool, Attrs()},
      {"kernel 0", OpType::op_average_pool, Attrs().ints("kernel_shape", {0, 2})},
      {"kernel of one value", OpType::op_max_pool, Attrs().ints("kernel_shape", {2})},
      {"stride 0", OpType::op_max_pool,
       Attrs().ints("kernel_shape", {2, 2}).ints("strides", {1, 0})},
      {"negative pad", OpType::op_average_pool,
       Attrs().ints("kernel_shape", {2, 2}).ints("pads", {0, 0, -1, 0})},
      {"pad as large as the kernel", OpType::op_max_pool,
       Attrs().ints("kernel_shape", {2, 2}).ints("pads", {2, 0, 0, 0})},
      {"count_include_pad 2", OpType::op_average_pool,
       Attrs().ints("kernel_shape", {2, 2}).integer("count_include_pad", 2)},
      {"ceil_mode as float", OpType::op_max_pool,
       Attrs().ints("kernel_shape", {2, 2}).real("ceil_mode", 1.0)},
      {"dilated average_pool", OpType::op_average_pool,
       Attrs().ints("kernel_shape", {2, 2}).ints("dilations", {2, 2})},
      {"kernel larger than the input", OpType::op_max_pool, Attrs().ints("kernel_shape", {7, 7})},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Status status = infer_only(c.op, c.attributes, {x});
    INFO(status.message());
    CHECK_FALSE(status.ok());
  }
  CHECK_FALSE(infer_only(OpType::op_global_average_pool, Attrs(), {f32_desc({1, 2, 6})}).ok());
  CHECK_FALSE(infer_only(OpType::op_max_pool, Attrs().ints("kernel_shape", {1, 1}),
                         {f32_desc({1, 2, 0, 3})})
                  .ok());
}

// ---- resize -----------------------------------------------------------------------------------

// Resizes one row (H stays 1) from `x` to `out` values.
Tensor resize_row(const std::vector<float>& x, int64_t out, Attrs attributes) {
  Tensor input = make_f32({1, 1, 1, int64_t(x.size())}, x);
  attributes.ints("sizes", {1, out});
  return run_ok(OpType::op_resize, attributes, {&input});
}

TEST_CASE("resize: bilinear coordinate modes", "[ops][resize]") {
  struct Case {
    const char* what;
    std::vector<float> x;
    int64_t out;
    Attrs attributes;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      // half_pixel, r = 1/2: x' = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
      {"half_pixel", {0, 10}, 4, Attrs(), {0, 2.5f, 7.5f, 10}},
      // align_corners, 2 → 5: x' = x/4.
      {"align_corners",
       {0, 10},
       5,
       Attrs().str("coordinate_mode", "align_corners"),
       {0, 2.5f, 5, 7.5f, 10}},
      // align_corners to one output reads the first pixel.
      {"align_corners out 1", {4, 10, 20}, 1, Attrs().str("coordinate_mode", "align_corners"), {4}},
      // asymmetric, r = 1/2: x' = 0, 0.5, 1, 1.5 (clamped to 1).
      {"asymmetric", {0, 10}, 4, Attrs().str("coordinate_mode", "asymmetric"), {0, 5, 10, 10}},
      // pytorch_half_pixel to one output reads pixel 0; half_pixel reads x' = 0.5·3 − 0.5 = 1.
      {"pytorch_half_pixel out 1",
       {4, 10, 20},
       1,
       Attrs().str("coordinate_mode", "pytorch_half_pixel"),
       {4}},
      {"half_pixel out 1", {4, 10, 20}, 1, Attrs(), {10}},
      // pytorch_half_pixel equals half_pixel when out > 1.
      {"pytorch_half_pixel",
       {0, 10},
       4,
       Attrs().str("coordinate_mode", "pytorch_half_pixel"),
       {0, 2.5f, 7.5f, 10}},
      // 3 → 5 with r = in/out = 0.6: x' = −0.2, 0.4, 1.0, 1.6, 2.2 → 0, 4, 10, 16, 20.
      {"half_pixel 3 to 5", {0, 10, 20}, 5, Attrs(), {0, 4, 10, 16, 20}},
      // Same sizes, scales (1, 2) given: r = 1/2, x' = −0.25, 0.25, 0.75, 1.25, 1.75.
      {"scales override the size ratio",
       {0, 10, 20},
       5,
       Attrs().reals("scales", {1.0, 2.0}),
       {0, 2.5f, 7.5f, 12.5f, 17.5f}},
      // Downsampling 4 → 2 half_pixel: x' = 0.5, 2.5.
      {"downsample", {0, 10, 20, 30}, 2, Attrs(), {5, 25}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    check_close(resize_row(c.x, c.out, c.attributes), {1, 1, 1, c.out}, c.expected);
  }
}

TEST_CASE("resize: bilinear in 2-D interpolates both axes", "[ops][resize]") {
  // [[0,1],[2,3]] → 3×3 align_corners: the bilinear surface 2r + c at half steps.
  Tensor x = make_f32({1, 1, 2, 2}, {0, 1, 2, 3});
  Tensor y = run_ok(OpType::op_resize,
                    Attrs().ints("sizes", {3, 3}).str("coordinate_mode", "align_corners"), {&x});
  check_close(y, {1, 1, 3, 3}, {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
}

TEST_CASE("resize: nearest rounding modes", "[ops][resize]") {
  const std::vector<float> x = {0, 10, 20, 30};
  struct Case {
    const char* coordinate_mode;
    const char* nearest_mode;
    int64_t out;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      // asymmetric 4 → 8: x' = 0, .5, 1, 1.5, 2, 2.5, 3, 3.5 (ties at every other output).
      {"asymmetric", "round_prefer_floor", 8, {0, 0, 10, 10, 20, 20, 30, 30}},
      {"asymmetric", "round_prefer_ceil", 8, {0, 10, 10, 20, 20, 30, 30, 30}},  // 4 → clamp 3
      {"asymmetric", "floor", 8, {0, 0, 10, 10, 20, 20, 30, 30}},
      {"asymmetric", "ceil", 8, {0, 10, 10, 20, 20, 30, 30, 30}},
      // asymmetric 4 → 3: x' = 0, 1.333, 2.667 (no ties): floor and round differ.
      {"asymmetric", "round_prefer_floor", 3, {0, 10, 30}},
      {"asymmetric", "round_prefer_ceil", 3, {0, 10, 30}},
      {"asymmetric", "floor", 3, {0, 10, 20}},
      {"asymmetric", "ceil", 3, {0, 20, 30}},
      // half_pixel 4 → 8: x' = −0.25, 0.25, 0.75, ..., 3.25.
      {"half_pixel", "round_prefer_floor", 8, {0, 0, 10, 10, 20, 20, 30, 30}},
      // align_corners 4 → 7: x' = x/2, ties at odd outputs.
      {"align_corners", "round_prefer_floor", 7, {0, 0, 10, 10, 20, 20, 30}},
      {"align_corners", "round_prefer_ceil", 7, {0, 10, 10, 20, 20, 30, 30}},
  };
  for (const Case& c : cases) {
    INFO(c.coordinate_mode << " " << c.nearest_mode << " out " << c.out);
    Tensor y = resize_row(x, c.out,
                          Attrs()
                              .str("mode", "nearest")
                              .str("coordinate_mode", c.coordinate_mode)
                              .str("nearest_mode", c.nearest_mode));
    CHECK(values_of(y) == c.expected);
  }
}

TEST_CASE("resize: cubic, antialias, exclude_outside, crops", "[ops][resize]") {
  // Keys' cubic reproduces a linear ramp inside the input (weights sum to 1, first moment x').
  const std::vector<float> ramp = {0, 1, 2, 3, 4, 5, 6, 7};
  Tensor cubic =
      resize_row(ramp, 4, Attrs().str("mode", "cubic").str("coordinate_mode", "asymmetric"));
  check_close(cubic, {1, 1, 1, 4}, {0, 2, 4, 6});
  // x' = 0.5 between 10 and 20 with a = −0.5: taps at −1 (edge: 10), 0, 1, 2 weigh
  // −0.0625, 0.5625, 0.5625, −0.0625; without the outside tap they are renormalised.
  const std::vector<float> x = {10, 20, 40, 80};
  const Attrs half = Attrs()
                         .str("mode", "cubic")
                         .real("cubic_coeff_a", -0.5)
                         .str("coordinate_mode", "asymmetric")
                         .reals("scales", {1.0, 2.0});
  Tensor edge = resize_row(x, 8, half);
  CHECK(values_of(edge)[1] == Approx(-0.0625 * 10 + 0.5625 * 10 + 0.5625 * 20 - 0.0625 * 40));
  Tensor excluded = resize_row(x, 8, Attrs(half).integer("exclude_outside", 1));
  CHECK(values_of(excluded)[1] == Approx((0.5625 * 10 + 0.5625 * 20 - 0.0625 * 40) / 1.0625));
  // Antialiased linear downscale by 2 (half_pixel): the tent widens to 4 taps, weights
  // 1/8, 3/8, 3/8, 1/8 around x' = 0.5 + 2k.
  Tensor aa = resize_row(ramp, 4, Attrs().integer("antialias", 1));
  CHECK(values_of(aa)[1] == Approx((1 * 1 + 3 * 2 + 3 * 3 + 1 * 4) / 8.0));
  // tf_crop_and_resize: W from 0.5 to 1.5 of [0, 3]: x' = 1.5, 3, 4.5 (outside: extrapolated).
  Tensor crop = resize_row(x, 3,
                           Attrs()
                               .str("coordinate_mode", "tf_crop_and_resize")
                               .reals("roi", {0, 0.5, 1, 1.5})
                               .real("extrapolation_value", -1));
  check_close(crop, {1, 1, 1, 3}, {30, 80, -1});
}

TEST_CASE("resize: invalid attributes are errors", "[ops][resize]") {
  const TensorDesc x = f32_desc({1, 1, 4, 4});
  const std::vector<std::pair<const char*, Attrs>> cases = {
      {"missing sizes", Attrs()},
      {"size 0", Attrs().ints("sizes", {0, 4})},
      {"one size", Attrs().ints("sizes", {4})},
      {"huge size", Attrs().ints("sizes", {int64_t(1) << 40, 4})},
      {"sizes as floats", Attrs().reals("sizes", {4, 4})},
      {"one scale", Attrs().ints("sizes", {4, 4}).reals("scales", {2})},
      {"zero scale", Attrs().ints("sizes", {4, 4}).reals("scales", {0, 2})},
      {"unknown mode", Attrs().ints("sizes", {4, 4}).str("mode", "bicubic")},
      {"roi of 3", Attrs().ints("sizes", {4, 4}).reals("roi", {0, 0, 1})},
      {"infinite roi", Attrs().ints("sizes", {4, 4}).reals("roi", {0, 0, 1, INFINITY})},
      {"exclude_outside 2", Attrs().ints("sizes", {4, 4}).integer("exclude_outside", 2)},
      {"NaN extrapolation", Attrs().ints("sizes", {4, 4}).real("extrapolation_value", NAN)},
      {"antialias by 2^20",
       Attrs().ints("sizes", {4, 4}).reals("scales", {1.0 / 1048576, 1}).integer("antialias", 1)},
      {"unknown coordinate mode", Attrs().ints("sizes", {4, 4}).str("coordinate_mode", "tf")},
      {"unknown nearest mode", Attrs().ints("sizes", {4, 4}).str("nearest_mode", "round")},
  };
  for (const auto& c : cases) {
    INFO(c.first);
    Status status = infer_only(OpType::op_resize, c.second, {x});
    INFO(status.message());
    CHECK_FALSE(status.ok());
    CHECK(status.message().rfind("resize: ", 0) == 0);
  }
  CHECK_FALSE(
      infer_only(OpType::op_resize, Attrs().ints("sizes", {2, 2}), {f32_desc({4, 4})}).ok());
}

}  // namespace
}  // namespace atrous
