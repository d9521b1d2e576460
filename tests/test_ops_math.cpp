// The element-wise math ops, the extra reductions, expand and normalize of docs/OPS.md, on values
// worked out by hand; the converter tests compare the same ops with ONNX Runtime on random data.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "test_ops_helpers.h"

namespace atrous {
namespace {

using namespace ops_testing;

TEST_CASE("unary math ops give their formulas", "[ops][math]") {
  const Tensor x = make_f32({5}, {-2, -0.5f, 0, 0.5f, 4});
  struct Case {
    const char* name;
    OpType op;
    AttributeMap attributes;
    std::vector<float> expected;
  };
  const double e2 = std::exp(-2.0), e05 = std::exp(-0.5);
  const double selu_a = 1.67326319217681884765625, selu_g = 1.05070102214813232421875;
  auto gelu = [](double v) { return float(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))); };
  const Case cases[] = {
      {"leaky_relu default 0.01", OpType::op_leaky_relu, Attrs(), {-0.02f, -0.005f, 0, 0.5f, 4}},
      {"leaky_relu 0.2",
       OpType::op_leaky_relu,
       Attrs().real("alpha", 0.2),
       {-0.4f, -0.1f, 0, 0.5f, 4}},
      {"elu", OpType::op_elu, Attrs(), {float(e2 - 1), float(e05 - 1), 0, 0.5f, 4}},
      {"selu",
       OpType::op_selu,
       Attrs(),
       {float(selu_g * selu_a * (e2 - 1)), float(selu_g * selu_a * (e05 - 1)), 0,
        float(selu_g * 0.5), float(selu_g * 4)}},
      {"gelu", OpType::op_gelu, Attrs(), {gelu(-2), gelu(-0.5), 0, gelu(0.5), gelu(4)}},
      {"erf",
       OpType::op_erf,
       Attrs(),
       {float(std::erf(-2.0)), float(std::erf(-0.5)), 0, float(std::erf(0.5)),
        float(std::erf(4.0))}},
      {"exp",
       OpType::op_exp,
       Attrs(),
       {float(e2), float(e05), 1, float(std::exp(0.5)), float(std::exp(4.0))}},
      {"abs", OpType::op_abs, Attrs(), {2, 0.5f, 0, 0.5f, 4}},
      {"neg", OpType::op_neg, Attrs(), {2, 0.5f, 0, -0.5f, -4}},
      {"softplus",
       OpType::op_softplus,
       Attrs(),
       {float(std::log1p(e2)), float(std::log1p(e05)), float(std::log(2.0)),
        float(std::log1p(std::exp(0.5))), float(std::log1p(std::exp(4.0)))}},
      {"softsign", OpType::op_softsign, Attrs(), {-2.0f / 3, -0.5f / 1.5f, 0, 0.5f / 1.5f, 0.8f}},
      {"celu 2",
       OpType::op_celu,
       Attrs().real("alpha", 2.0),
       {float(2 * std::expm1(-1.0)), float(2 * std::expm1(-0.25)), 0, 0.5f, 4}},
      {"thresholded_relu 0.5",
       OpType::op_thresholded_relu,
       Attrs().real("alpha", 0.5),
       {0, 0, 0, 0, 4}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    check_close(run_ok(c.op, c.attributes, {&x}), {5}, c.expected);
  }
  const Tensor positive = make_f32({3}, {0.25f, 1, 4});
  check_close(run_ok(OpType::op_sqrt, Attrs(), {&positive}), {3}, {0.5f, 1, 2});
  check_close(run_ok(OpType::op_log, Attrs(), {&positive}), {3},
              {float(std::log(0.25)), 0, float(std::log(4.0))});
  check_close(run_ok(OpType::op_reciprocal, Attrs(), {&positive}), {3}, {4, 1, 0.25f});
}

TEST_CASE("unary math ops refuse bad attributes", "[ops][math]") {
  const TensorDesc x = f32_desc({2});
  CHECK(infer_only(OpType::op_gelu, Attrs().str("approximate", "erf"), {x}).message() ==
        "gelu: approximate must be 'none' or 'tanh', got 'erf'");
  CHECK_FALSE(infer_only(OpType::op_leaky_relu, Attrs().real("alpha", NAN), {x}).ok());
  CHECK_FALSE(infer_only(OpType::op_elu, Attrs().integer("alpha", 1), {x}).ok());
  CHECK_FALSE(infer_only(OpType::op_exp, Attrs(), {TensorDesc{DType::dtype_i32, {2}}}).ok());
}

TEST_CASE("pow, min, max, prelu broadcast; min and max propagate NaN", "[ops][math]") {
  const Tensor a = make_f32({2, 3}, {-2, -1, 0, 1, 2, NAN});
  const Tensor b = make_f32({3}, {0.5f, 2, 3});
  const Tensor minimum = run_ok(OpType::op_min, Attrs(), {&a, &b});
  const std::vector<float> low = {-2, -1, 0, 0.5f, 2};
  CHECK(std::vector<float>(minimum.f32(), minimum.f32() + 5) == low);
  CHECK(std::isnan(minimum.f32()[5]));
  const Tensor maximum = run_ok(OpType::op_max, Attrs(), {&b, &a});
  CHECK(values_of(maximum)[0] == 0.5f);
  CHECK(values_of(maximum)[4] == 2.0f);
  CHECK(std::isnan(maximum.f32()[5]));
  const Tensor two = make_f32({}, {2});
  const Tensor squares = run_ok(OpType::op_pow, Attrs(), {&b, &two});
  check_close(squares, {3}, {0.25f, 4, 9});
  const Tensor prelu = run_ok(OpType::op_prelu, Attrs(), {&a, &b});
  CHECK(values_of(prelu)[0] == -1.0f);
  CHECK(values_of(prelu)[1] == -2.0f);
  CHECK(values_of(prelu)[3] == 1.0f);
  // The slope broadcasts to X, never X to the slope.
  CHECK(infer_only(OpType::op_prelu, Attrs(), {f32_desc({3}), f32_desc({2, 3})}).message() ==
        "prelu: slope [2,3] must broadcast to X [3]");
}

TEST_CASE("expand broadcasts both ways and copies any dtype", "[ops][math]") {
  const Tensor x = make_f32({3, 1}, {1, 2, 3});
  const Tensor y = run_ok(OpType::op_expand, Attrs().ints("shape", {2, 1, 2}), {&x});
  check_close(y, {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  const Tensor same = run_ok(OpType::op_expand, Attrs().ints("shape", {1}), {&x});
  CHECK(same.shape() == Shape{3, 1});
  CHECK_FALSE(infer_only(OpType::op_expand, Attrs().ints("shape", {2}), {f32_desc({3})}).ok());
  CHECK_FALSE(infer_only(OpType::op_expand, Attrs().ints("shape", {-1}), {f32_desc({1})}).ok());
  CHECK_FALSE(infer_only(OpType::op_expand, Attrs(), {f32_desc({1})}).ok());
  Tensor ints(DType::dtype_i32, {2});
  ints.i32()[0] = 7;
  ints.i32()[1] = -9;
  const Tensor tiled = run_ok(OpType::op_expand, Attrs().ints("shape", {2, 2}), {&ints});
  CHECK(tiled.dtype() == DType::dtype_i32);
  CHECK(tiled.i32()[2] == 7);
  CHECK(tiled.i32()[3] == -9);
}

TEST_CASE("reductions: sum, prod, l2, max, min", "[ops][math]") {
  const Tensor x = make_f32({2, 3}, {1, -2, 3, 4, 5, -6});
  check_close(run_ok(OpType::op_reduce_sum, Attrs().ints("axes", {1}), {&x}), {2, 1}, {2, 3});
  check_close(
      run_ok(OpType::op_reduce_prod, Attrs().ints("axes", {0}).integer("keepdims", 0), {&x}), {3},
      {4, -10, -18});
  check_close(run_ok(OpType::op_reduce_l2, Attrs().ints("axes", {1}).integer("keepdims", 0), {&x}),
              {2}, {float(std::sqrt(14.0)), float(std::sqrt(77.0))});
  check_close(run_ok(OpType::op_reduce_max, Attrs(), {&x}), {1, 1}, {5});
  check_close(run_ok(OpType::op_reduce_min, Attrs().ints("axes", {-1}), {&x}), {2, 1}, {-2, -6});
  const Tensor with_nan = make_f32({3}, {1, NAN, 2});
  CHECK(std::isnan(run_ok(OpType::op_reduce_max, Attrs(), {&with_nan}).f32()[0]));
  CHECK(std::isnan(run_ok(OpType::op_reduce_min, Attrs(), {&with_nan}).f32()[0]));
}

TEST_CASE("normalize: zero mean, unit variance over the trailing axes", "[ops][math]") {
  const Tensor x = make_f32({2, 2, 2}, {1, 2, 3, 4, 0, 2, 0, 2});
  const Tensor y =
      run_ok(OpType::op_normalize, Attrs().integer("axis", 1).real("epsilon", 0), {&x});
  const float s = float(1.0 / std::sqrt(1.25));
  check_close(y, {2, 2, 2}, {-1.5f * s, -0.5f * s, 0.5f * s, 1.5f * s, -1, 1, -1, 1});
  CHECK_FALSE(infer_only(OpType::op_normalize, Attrs(), {f32_desc({2})}).ok());
  CHECK_FALSE(
      infer_only(OpType::op_normalize, Attrs().integer("axis", 3), {f32_desc({2, 2})}).ok());
  CHECK_FALSE(infer_only(OpType::op_normalize, Attrs().integer("axis", 0).real("epsilon", -1),
                         {f32_desc({2})})
                  .ok());
}

TEST_CASE("equal, less, greater give uint8 0/1; where selects; NaN compares false", "[ops][math]") {
  const Tensor a = make_f32({2, 2}, {1, 2, NAN, 4});
  const Tensor b = make_f32({2}, {2, 2});
  const std::vector<uint8_t> equal = {0, 1, 0, 0}, less = {1, 0, 0, 0}, greater = {0, 0, 0, 1};
  for (auto [op, expected] : {std::pair{OpType::op_equal, equal}, std::pair{OpType::op_less, less},
                              std::pair{OpType::op_greater, greater}}) {
    INFO(op_type_name(op));
    const Tensor y = run_ok(op, Attrs(), {&a, &b});
    REQUIRE(y.dtype() == DType::dtype_u8);
    CHECK(std::vector<uint8_t>(y.view().u8(), y.view().u8() + 4) == expected);
  }
  const Tensor condition = run_ok(OpType::op_less, Attrs(), {&a, &b});
  const Tensor other = make_f32({1}, {-7});
  const Tensor y = run_ok(OpType::op_where, Attrs(), {&condition, &a, &other});
  CHECK(values_of(y) == std::vector<float>{1, -7, -7, -7});
  CHECK(infer_only(OpType::op_where, Attrs(), {f32_desc({2}), f32_desc({2}), f32_desc({2})})
            .message() == "where: input condition must be uint8, got float32");
}

TEST_CASE("less_or_equal, greater_or_equal: NaN compares false; logical ops read non-zero as true",
          "[ops][math]") {
  const Tensor a = make_f32({2, 2}, {1, 2, NAN, 4});
  const Tensor b = make_f32({2}, {2, 2});
  const Tensor le = run_ok(OpType::op_less_or_equal, Attrs(), {&a, &b});
  const Tensor ge = run_ok(OpType::op_greater_or_equal, Attrs(), {&a, &b});
  CHECK(std::vector<uint8_t>(le.view().u8(), le.view().u8() + 4) ==
        std::vector<uint8_t>{1, 1, 0, 0});
  CHECK(std::vector<uint8_t>(ge.view().u8(), ge.view().u8() + 4) ==
        std::vector<uint8_t>{0, 1, 0, 1});
  Tensor p(DType::dtype_u8, {2, 2}), q(DType::dtype_u8, {2});
  const uint8_t p_values[] = {0, 7, 3, 0}, q_values[] = {255, 0};
  std::copy(p_values, p_values + 4, p.view().u8());
  std::copy(q_values, q_values + 2, q.view().u8());
  const std::pair<OpType, std::vector<uint8_t>> cases[] = {
      {OpType::op_logical_and, {0, 0, 1, 0}},
      {OpType::op_logical_or, {1, 1, 1, 0}},
      {OpType::op_logical_xor, {1, 1, 0, 0}},
  };
  for (const auto& [op, expected] : cases) {
    INFO(op_type_name(op));
    const Tensor y = run_ok(op, Attrs(), {&p, &q});
    CHECK(std::vector<uint8_t>(y.view().u8(), y.view().u8() + 4) == expected);
  }
  const Tensor inverted = run_ok(OpType::op_logical_not, Attrs(), {&p});
  CHECK(std::vector<uint8_t>(inverted.view().u8(), inverted.view().u8() + 4) ==
        std::vector<uint8_t>{1, 0, 0, 1});
  CHECK(infer_only(OpType::op_logical_and, Attrs(), {f32_desc({2}), f32_desc({2})}).message() ==
        "logical_and: input A must be uint8, got float32");
}

TEST_CASE("cast truncates toward zero, saturates, and maps NaN to 0", "[ops][math]") {
  const Tensor x = make_f32({6}, {-1.7f, 2.9f, NAN, 1e20f, -1e20f, 300.5f});
  const Tensor i32 = run_ok(OpType::op_cast, Attrs().str("to", "int32"), {&x});
  CHECK(std::vector<int32_t>(i32.i32(), i32.i32() + 6) ==
        std::vector<int32_t>{-1, 2, 0, INT32_MAX, INT32_MIN, 300});
  const Tensor u8 = run_ok(OpType::op_cast, Attrs().str("to", "uint8"), {&x});
  CHECK(std::vector<uint8_t>(u8.view().u8(), u8.view().u8() + 6) ==
        std::vector<uint8_t>{0, 2, 0, 255, 0, 255});
  const Tensor back = run_ok(OpType::op_cast, Attrs().str("to", "float32"), {&u8});
  CHECK(values_of(back) == std::vector<float>{0, 2, 0, 255, 0, 255});
  CHECK(infer_only(OpType::op_cast, Attrs().str("to", "float16"), {f32_desc({1})}).message() ==
        "cast: to must be float32, int32, int64 or uint8, got 'float16'");
}

}  // namespace
}  // namespace atrous
