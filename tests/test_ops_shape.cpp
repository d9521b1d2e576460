// Data movement ops (concat, reshape, flatten, transpose, pad, slice, depth_to_space,
// space_to_depth): hand-checked tables, other dtypes, round trips and shape-rule errors.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "test_ops_helpers.h"

namespace atrous {
namespace {

using namespace ops_testing;

Tensor make_i32(const Shape& shape, const std::vector<int32_t>& values) {
  Tensor tensor(DType::dtype_i32, shape);
  REQUIRE(int64_t(values.size()) == tensor.numel());
  std::copy(values.begin(), values.end(), tensor.i32());
  return tensor;
}

std::string ints_to_string_for_test(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t value : values) text += std::to_string(value) + " ";
  return text;
}

std::vector<int32_t> i32_values(const Tensor& tensor) {
  return std::vector<int32_t>(tensor.i32(), tensor.i32() + tensor.numel());
}

// ---- concat -----------------------------------------------------------------------------------

TEST_CASE("concat: axis 1, negative axis, other dtypes", "[ops][shape]") {
  Tensor a = iota_f32({1, 1, 2, 2});
  Tensor b = iota_f32({1, 2, 2, 2}, 10.0f);
  check_close(run_ok(OpType::op_concat, Attrs().integer("axis", 1), {&a, &b}), {1, 3, 2, 2},
              {0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17});
  Tensor c = make_f32({2, 1}, {7, 8});
  Tensor d = make_f32({2, 2}, {1, 2, 3, 4});
  check_close(run_ok(OpType::op_concat, Attrs().integer("axis", -1), {&c, &d, &c}), {2, 4},
              {7, 1, 2, 7, 8, 3, 4, 8});
  Tensor i = make_i32({2}, {1, 2});
  Tensor j = make_i32({1}, {3});
  Tensor k = run_ok(OpType::op_concat, Attrs().integer("axis", 0), {&i, &j});
  CHECK(k.dtype() == DType::dtype_i32);
  CHECK(i32_values(k) == std::vector<int32_t>{1, 2, 3});
  Tensor single = run_ok(OpType::op_concat, Attrs().integer("axis", 0), {&i});
  CHECK(i32_values(single) == std::vector<int32_t>{1, 2});

  CHECK_FALSE(infer_only(OpType::op_concat, Attrs(), {f32_desc({2})}).ok());  // axis required
  CHECK_FALSE(infer_only(OpType::op_concat, Attrs().integer("axis", 2),
                         {f32_desc({2, 2}), f32_desc({2, 2})})
                  .ok());
  CHECK_FALSE(infer_only(OpType::op_concat, Attrs().integer("axis", 1),
                         {f32_desc({2, 2}), f32_desc({3, 2})})
                  .ok());
  CHECK_FALSE(infer_only(OpType::op_concat, Attrs().integer("axis", 0),
                         {f32_desc({2}), TensorDesc{DType::dtype_i32, {2}}})
                  .ok());
  CHECK_FALSE(
      infer_only(OpType::op_concat, Attrs().integer("axis", 0), {f32_desc({2, 2}), f32_desc({2})})
          .ok());
  CHECK_FALSE(infer_only(OpType::op_concat, Attrs().integer("axis", 0), {f32_desc({})}).ok());
}

// ---- reshape, flatten, transpose --------------------------------------------------------------

TEST_CASE("reshape: 0 copies a dim, -1 is inferred", "[ops][shape]") {
  const TensorDesc x = f32_desc({2, 3, 4});
  const std::vector<std::pair<std::vector<int64_t>, Shape>> good = {
      {{0, -1}, {2, 12}}, {{-1, 4}, {6, 4}},        {{0, 0, 2, 2}, {2, 3, 2, 2}},
      {{24}, {24}},       {{1, -1, 1}, {1, 24, 1}},
  };
  for (const auto& c : good) {
    INFO(ints_to_string_for_test(c.first));
    std::vector<TensorDesc> outputs;
    REQUIRE(infer_only(OpType::op_reshape, Attrs().ints("shape", c.first), {x}, &outputs).ok());
    CHECK(outputs[0].shape == c.second);
  }
  const std::vector<std::vector<int64_t>> bad = {
      {5, -1},      {-1, -1}, {2, 3, 5},
      {0, 0, 0, 0}, {-2, 12}, {std::numeric_limits<int64_t>::max(), 2},
  };
  for (const auto& shape : bad) {
    INFO(ints_to_string_for_test(shape));
    Status status = infer_only(OpType::op_reshape, Attrs().ints("shape", shape), {x});
    INFO(status.message());
    CHECK_FALSE(status.ok());
  }
  CHECK_FALSE(infer_only(OpType::op_reshape, Attrs(), {x}).ok());
  CHECK_FALSE(infer_only(OpType::op_reshape, Attrs().reals("shape", {24}), {x}).ok());
  CHECK_FALSE(infer_only(OpType::op_reshape, Attrs().ints("shape", {0, -1}), {f32_desc({0, 3})})
                  .ok());  // -1 next to an empty dim is ambiguous
  Tensor data = iota_f32({2, 3});
  check_close(run_ok(OpType::op_reshape, Attrs().ints("shape", {3, -1}), {&data}), {3, 2},
              {0, 1, 2, 3, 4, 5});
}

TEST_CASE("flatten: [∏ dims < axis, ∏ dims ≥ axis]", "[ops][shape]") {
  const TensorDesc x = f32_desc({2, 3, 4, 5});
  const std::vector<std::pair<int64_t, Shape>> cases = {
      {1, {2, 60}}, {0, {1, 120}}, {4, {120, 1}}, {-1, {24, 5}}, {-4, {1, 120}}};
  for (const auto& c : cases) {
    INFO("axis " << c.first);
    std::vector<TensorDesc> outputs;
    REQUIRE(infer_only(OpType::op_flatten, Attrs().integer("axis", c.first), {x}, &outputs).ok());
    CHECK(outputs[0].shape == c.second);
  }
  std::vector<TensorDesc> outputs;
  REQUIRE(infer_only(OpType::op_flatten, Attrs(), {x}, &outputs).ok());
  CHECK(outputs[0].shape == Shape{2, 60});
  CHECK_FALSE(infer_only(OpType::op_flatten, Attrs().integer("axis", 5), {x}).ok());
  CHECK_FALSE(infer_only(OpType::op_flatten, Attrs().integer("axis", -5), {x}).ok());
}

TEST_CASE("transpose: permutations, default reverse, any dtype", "[ops][shape]") {
  Tensor x = iota_f32({2, 3});
  check_close(run_ok(OpType::op_transpose, Attrs(), {&x}), {3, 2}, {0, 3, 1, 4, 2, 5});
  // [1,2,3] with perm [0,2,1]: y[0][k][j] = x[0][j][k].
  Tensor y = iota_f32({1, 2, 3});
  check_close(run_ok(OpType::op_transpose, Attrs().ints("perm", {0, 2, 1}), {&y}), {1, 3, 2},
              {0, 3, 1, 4, 2, 5});
  // NCHW → NHWC on int32.
  Tensor z = make_i32({1, 2, 2, 2}, {0, 1, 2, 3, 10, 11, 12, 13});
  Tensor nhwc = run_ok(OpType::op_transpose, Attrs().ints("perm", {0, 2, 3, 1}), {&z});
  CHECK(nhwc.shape() == Shape{1, 2, 2, 2});
  CHECK(i32_values(nhwc) == std::vector<int32_t>{0, 10, 1, 11, 2, 12, 3, 13});
  const TensorDesc d = f32_desc({2, 3, 4});
  for (const std::vector<int64_t>& perm :
       std::vector<std::vector<int64_t>>{{0, 1}, {0, 1, 1}, {0, 1, 3}, {-1, 0, 1}, {0, 1, 2, 3}}) {
    INFO(ints_to_string_for_test(perm));
    CHECK_FALSE(infer_only(OpType::op_transpose, Attrs().ints("perm", perm), {d}).ok());
  }
}

// ---- pad, slice -------------------------------------------------------------------------------

TEST_CASE("pad: constant, reflect, edge and negative pads", "[ops][shape]") {
  const Tensor x = make_f32({3}, {1, 2, 3});
  struct Case {
    const char* what;
    Attrs attributes;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {"constant", Attrs().ints("pads", {2, 2}).real("value", 9), {9, 9, 1, 2, 3, 9, 9}},
      {"constant default 0", Attrs().ints("pads", {1, 0}), {0, 1, 2, 3}},
      {"reflect", Attrs().ints("pads", {2, 2}).str("mode", "reflect"), {3, 2, 1, 2, 3, 2, 1}},
      {"edge", Attrs().ints("pads", {2, 2}).str("mode", "edge"), {1, 1, 1, 2, 3, 3, 3}},
      {"crop both", Attrs().ints("pads", {-1, -1}), {2}},
      // Crop one at the start, pad one at the end: reflection is about the whole input.
      {"crop + constant", Attrs().ints("pads", {-1, 1}), {2, 3, 0}},
      {"crop + reflect", Attrs().ints("pads", {-1, 1}).str("mode", "reflect"), {2, 3, 2}},
      {"crop + edge", Attrs().ints("pads", {-2, 2}).str("mode", "edge"), {3, 3, 3}},
      {"crop everything", Attrs().ints("pads", {-2, -1}), {}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Tensor y = run_ok(OpType::op_pad, c.attributes, {&x});
    CHECK(y.shape() == Shape{int64_t(c.expected.size())});
    CHECK(values_of(y) == c.expected);
  }
  // 2-D: pad the top and the right of [[1,2],[3,4]].
  Tensor m = make_f32({2, 2}, {1, 2, 3, 4});
  check_close(run_ok(OpType::op_pad, Attrs().ints("pads", {1, 0, 0, 1}), {&m}), {3, 3},
              {0, 0, 0, 1, 2, 0, 3, 4, 0});
  check_close(
      run_ok(OpType::op_pad, Attrs().ints("pads", {1, 1, 1, 1}).str("mode", "reflect"), {&m}),
      {4, 4}, {4, 3, 4, 3, 2, 1, 2, 1, 4, 3, 4, 3, 2, 1, 2, 1});
  // Integer tensors take an integer value.
  Tensor labels = make_i32({2}, {5, 6});
  Tensor padded =
      run_ok(OpType::op_pad, Attrs().ints("pads", {1, 1}).real("value", 255), {&labels});
  CHECK(i32_values(padded) == std::vector<int32_t>{255, 5, 6, 255});

  const TensorDesc d = f32_desc({3});
  const std::vector<std::pair<const char*, Attrs>> bad = {
      {"missing pads", Attrs()},
      {"pads of the wrong length", Attrs().ints("pads", {1})},
      {"crop beyond the axis", Attrs().ints("pads", {-2, -2})},
      {"reflect pad >= dim", Attrs().ints("pads", {3, 0}).str("mode", "reflect")},
      {"unknown mode", Attrs().ints("pads", {1, 1}).str("mode", "wrap")},
      {"huge pad", Attrs().ints("pads", {int64_t(1) << 40, 0})},
      {"value of the wrong type", Attrs().ints("pads", {1, 1}).integer("value", 1)},
  };
  for (const auto& c : bad) {
    INFO(c.first);
    CHECK_FALSE(infer_only(OpType::op_pad, c.second, {d}).ok());
  }
  CHECK_FALSE(infer_only(OpType::op_pad, Attrs().ints("pads", {1, 1}).real("value", 0.5),
                         {TensorDesc{DType::dtype_i32, {3}}})
                  .ok());
  CHECK_FALSE(
      infer_only(OpType::op_pad, Attrs().ints("pads", {1, 0}).str("mode", "edge"), {f32_desc({0})})
          .ok());
}

TEST_CASE("slice: ONNX clamping, negative indices and steps", "[ops][shape]") {
  const Tensor x = iota_f32({10});
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  struct Case {
    const char* what;
    Attrs attributes;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {"plain", Attrs().ints("starts", {2}).ints("ends", {5}), {2, 3, 4}},
      {"negative start, end INT64_MAX",
       Attrs().ints("starts", {-3}).ints("ends", {max}),
       {7, 8, 9}},
      {"negative end", Attrs().ints("starts", {0}).ints("ends", {-8}), {0, 1}},
      {"step 3", Attrs().ints("starts", {1}).ints("ends", {10}).ints("steps", {3}), {1, 4, 7}},
      {"reverse everything",
       Attrs().ints("starts", {-1}).ints("ends", {min}).ints("steps", {-1}),
       {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
      {"negative step 3",
       Attrs().ints("starts", {8}).ints("ends", {1}).ints("steps", {-3}),
       {8, 5, 2}},
      {"start beyond the end is clamped",
       Attrs().ints("starts", {20}).ints("ends", {-20}).ints("steps", {-4}),
       {9, 5, 1}},
      {"empty", Attrs().ints("starts", {5}).ints("ends", {2}), {}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Tensor y = run_ok(OpType::op_slice, c.attributes, {&x});
    CHECK(y.shape() == Shape{int64_t(c.expected.size())});
    CHECK(values_of(y) == c.expected);
  }
  // 2-D with explicit axes: columns 1..−1 of every row, rows reversed.
  Tensor m = iota_f32({3, 4});
  check_close(run_ok(OpType::op_slice,
                     Attrs()
                         .ints("starts", {1, -1})
                         .ints("ends", {-1, min})
                         .ints("axes", {-1, 0})
                         .ints("steps", {1, -1}),
                     {&m}),
              {3, 2}, {9, 10, 5, 6, 1, 2});

  const TensorDesc d = f32_desc({3, 4});
  const std::vector<std::pair<const char*, Attrs>> bad = {
      {"missing ends", Attrs().ints("starts", {0})},
      {"lengths differ", Attrs().ints("starts", {0}).ints("ends", {1, 2})},
      {"step 0", Attrs().ints("starts", {0}).ints("ends", {1}).ints("steps", {0})},
      {"step INT64_MIN", Attrs().ints("starts", {0}).ints("ends", {1}).ints("steps", {min})},
      {"axis out of range", Attrs().ints("starts", {0}).ints("ends", {1}).ints("axes", {2})},
      {"repeated axis", Attrs().ints("starts", {0, 0}).ints("ends", {1, 1}).ints("axes", {1, -1})},
  };
  for (const auto& c : bad) {
    INFO(c.first);
    CHECK_FALSE(infer_only(OpType::op_slice, c.second, {d}).ok());
  }
}

// ---- depth_to_space, space_to_depth -----------------------------------------------------------

TEST_CASE("depth_to_space: DCR and CRD", "[ops][shape]") {
  // C = 8, b = 2, C' = 2; one pixel holding channels 0..7.
  Tensor x = iota_f32({1, 8, 1, 1});
  // DCR: y[c][i][j] = x[(i·2 + j)·2 + c].
  check_close(run_ok(OpType::op_depth_to_space, Attrs().integer("blocksize", 2), {&x}),
              {1, 2, 2, 2}, {0, 2, 4, 6, 1, 3, 5, 7});
  // CRD: y[c][i][j] = x[c·4 + i·2 + j].
  check_close(
      run_ok(OpType::op_depth_to_space, Attrs().integer("blocksize", 2).str("mode", "CRD"), {&x}),
      {1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  // 2×1 pixels, C = 4, b = 2: each pixel becomes a 2×2 block.
  Tensor wide = make_f32({1, 4, 1, 2}, {0, 10, 1, 11, 2, 12, 3, 13});
  check_close(run_ok(OpType::op_depth_to_space, Attrs().integer("blocksize", 2), {&wide}),
              {1, 1, 2, 4}, {0, 1, 10, 11, 2, 3, 12, 13});
}

TEST_CASE("space_to_depth: hand case and round trip with depth_to_space DCR", "[ops][shape]") {
  Tensor x = make_f32({1, 1, 2, 2}, {0, 1, 2, 3});
  check_close(run_ok(OpType::op_space_to_depth, Attrs().integer("blocksize", 2), {&x}),
              {1, 4, 1, 1}, {0, 1, 2, 3});
  std::mt19937 rng(99);
  Tensor original = random_f32({2, 18, 3, 5}, rng);
  Tensor spread = run_ok(OpType::op_depth_to_space, Attrs().integer("blocksize", 3), {&original});
  REQUIRE(spread.shape() == Shape{2, 2, 9, 15});
  Tensor back = run_ok(OpType::op_space_to_depth, Attrs().integer("blocksize", 3), {&spread});
  CHECK(bitwise_equal(back, original));
  // uint8 data moves too.
  Tensor bytes(DType::dtype_u8, {1, 1, 2, 2});
  for (int i = 0; i < 4; ++i) bytes.view().u8()[i] = uint8_t(200 + i);
  Tensor packed = run_ok(OpType::op_space_to_depth, Attrs().integer("blocksize", 2), {&bytes});
  CHECK(packed.view().u8()[3] == 203);

  CHECK_FALSE(infer_only(OpType::op_depth_to_space, Attrs().integer("blocksize", 3),
                         {f32_desc({1, 8, 2, 2})})
                  .ok());
  CHECK_FALSE(infer_only(OpType::op_depth_to_space, Attrs().integer("blocksize", 0),
                         {f32_desc({1, 8, 2, 2})})
                  .ok());
  CHECK_FALSE(infer_only(OpType::op_depth_to_space,
                         Attrs().integer("blocksize", 2).str("mode", "DRC"),
                         {f32_desc({1, 8, 2, 2})})
                  .ok());
  CHECK_FALSE(infer_only(OpType::op_depth_to_space, Attrs(), {f32_desc({1, 8, 2, 2})}).ok());
  CHECK_FALSE(infer_only(OpType::op_space_to_depth, Attrs().integer("blocksize", 2),
                         {f32_desc({1, 1, 3, 2})})
                  .ok());
  CHECK_FALSE(
      infer_only(OpType::op_space_to_depth, Attrs().integer("blocksize", 2), {f32_desc({1, 4, 4})})
          .ok());
}

}  // namespace
}  // namespace atrous
