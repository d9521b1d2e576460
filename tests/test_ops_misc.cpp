// The registry, activations, element-wise ops, batch_norm, reductions and matrix products:
// hand-checked values and shape-rule errors. Data movement ops: tests/test_ops_shape.cpp.
#include <cstdint>
#include <limits>
#include <utility>

#include "ops/activation.h"
#include "test_ops_helpers.h"

namespace atrous {
namespace {

using namespace ops_testing;

// ---- registry ---------------------------------------------------------------------------------

TEST_CASE("registry: every op has a definition in enum order and a unique name", "[ops]") {
  for (int i = 0; i < int(OpType::op_count); ++i) {
    const OpType type = OpType(i);
    const OpDefinition& definition = op_definition(type);
    INFO(op_type_name(definition.type));
    CHECK(definition.type == type);
    CHECK(definition.infer != nullptr);
    CHECK(definition.run_reference != nullptr);
    CHECK(definition.num_outputs == 1);
    OpType parsed = OpType::op_count;
    REQUIRE(op_type_from_name(op_type_name(type), &parsed));
    CHECK(parsed == type);
  }
  OpType parsed = OpType::op_relu;
  CHECK_FALSE(op_type_from_name("Conv", &parsed));
  CHECK_FALSE(op_type_from_name("", &parsed));
  CHECK(std::string(op_type_name(OpType::op_count)) == "unknown");
  CHECK(op_definition(OpType::op_conv).multiply_adds != nullptr);
  CHECK(op_definition(OpType::op_relu).multiply_adds == nullptr);
}

TEST_CASE("registry: arity and output checks", "[ops]") {
  const TensorDesc x = f32_desc({1, 2, 4, 4});
  const TensorDesc w = f32_desc({2, 2, 3, 3});
  std::vector<TensorDesc> outputs;
  // conv takes 2 or 3 inputs; W is required, B optional.
  CHECK_FALSE(op_infer(OpType::op_conv, Attrs(), {&x}, &outputs).ok());
  CHECK_FALSE(op_infer(OpType::op_conv, Attrs(), {&x, &w, &x, &x}, &outputs).ok());
  CHECK_FALSE(op_infer(OpType::op_conv, Attrs(), {&x, nullptr}, &outputs).ok());
  CHECK(op_infer(OpType::op_conv, Attrs(), {&x, &w, nullptr}, &outputs).ok());
  CHECK_FALSE(op_infer(OpType::op_concat, Attrs().integer("axis", 0), {}, &outputs).ok());
  CHECK_FALSE(
      op_infer(OpType::op_concat, Attrs().integer("axis", 0), {&x, nullptr}, &outputs).ok());
  CHECK_FALSE(op_infer(OpType::op_count, Attrs(), {&x}, &outputs).ok());
  // Input descs are validated: negative dims and absurd sizes are errors.
  const TensorDesc negative = f32_desc({1, -2});
  const TensorDesc huge = f32_desc({int64_t(1) << 30, int64_t(1) << 30});
  CHECK_FALSE(op_infer(OpType::op_relu, Attrs(), {&negative}, &outputs).ok());
  CHECK_FALSE(op_infer(OpType::op_relu, Attrs(), {&huge}, &outputs).ok());

  // op_run_reference refuses outputs that do not match the shape rule.
  Tensor input = iota_f32({2, 3});
  Tensor wrong(DType::dtype_f32, {3, 2});
  Status status = op_run_reference(OpType::op_relu, Attrs(), {&input.view()}, {&wrong.view()});
  CHECK_FALSE(status.ok());
  Tensor wrong_type(DType::dtype_i32, {2, 3});
  CHECK_FALSE(
      op_run_reference(OpType::op_relu, Attrs(), {&input.view()}, {&wrong_type.view()}).ok());
  CHECK_FALSE(op_run_reference(OpType::op_relu, Attrs(), {&input.view()}, {}).ok());
}

// ---- activations ------------------------------------------------------------------------------

TEST_CASE("activations: standalone ops", "[ops][activation]") {
  const Tensor x = make_f32({7}, {-4, -3, -1, 0, 1, 3, 4});
  struct Case {
    const char* what;
    OpType op;
    Attrs attributes;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {"relu", OpType::op_relu, Attrs(), {0, 0, 0, 0, 1, 3, 4}},
      {"relu6 as clip 0..6",
       OpType::op_clip,
       Attrs().real("min", 0).real("max", 6),
       {0, 0, 0, 0, 1, 3, 4}},
      {"clip -1..2",
       OpType::op_clip,
       Attrs().real("min", -1).real("max", 2),
       {-1, -1, -1, 0, 1, 2, 2}},
      {"clip without bounds is the identity", OpType::op_clip, Attrs(), {-4, -3, -1, 0, 1, 3, 4}},
      // x · min(max(x + 3, 0), 6) / 6: −1 → −1·2/6, 1 → 1·4/6, 3 → 3·6/6.
      {"hard_swish", OpType::op_hard_swish, Attrs(), {0, 0, -1.0f / 3.0f, 0, 2.0f / 3.0f, 3, 4}},
      // PyTorch: alpha 1/6: −4 → 0, −1 → 1/3, 1 → 2/3, 3 → 1.
      {"hard_sigmoid 1/6",
       OpType::op_hard_sigmoid,
       Attrs().real("alpha", 1.0 / 6.0).real("beta", 0.5),
       {0, 0, 1.0f / 3.0f, 0.5f, 2.0f / 3.0f, 1, 1}},
      // TF: alpha 0.16667: −3 → −0.00001 → 0, 3 → 1.00001 → 1, 1 → 0.66667.
      {"hard_sigmoid 0.16667",
       OpType::op_hard_sigmoid,
       Attrs().real("alpha", 0.16667).real("beta", 0.5),
       {0, 0, 0.33333f, 0.5f, 0.66667f, 1, 1}},
      // Default alpha 0.2, beta 0.5: −1 → 0.3, 1 → 0.7, 3 → 1.1 → 1.
      {"hard_sigmoid default", OpType::op_hard_sigmoid, Attrs(), {0, 0, 0.3f, 0.5f, 0.7f, 1, 1}},
      {"sigmoid",
       OpType::op_sigmoid,
       Attrs(),
       {0.01798621f, 0.04742587f, 0.26894142f, 0.5f, 0.73105858f, 0.95257413f, 0.98201379f}},
      {"tanh",
       OpType::op_tanh,
       Attrs(),
       {-0.99932930f, -0.99505475f, -0.76159416f, 0, 0.76159416f, 0.99505475f, 0.99932930f}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    check_close(run_ok(c.op, c.attributes, {&x}), {7}, c.expected, 2e-7);
  }
}

TEST_CASE("activations: the shared definition", "[ops][activation]") {
  Activation activation;
  REQUIRE(activation_from_conv_attributes(Attrs(), &activation).ok());
  CHECK(activation.kind == ActivationKind::activation_none);
  REQUIRE(activation_from_conv_attributes(
              Attrs().str("activation", "clip").reals("activation_params", {0, 6}), &activation)
              .ok());
  CHECK(activation_apply(activation, 7.5f) == 6.0f);
  CHECK(activation_apply(activation, -1.0f) == 0.0f);
  // Empty params mean the standalone defaults: hard_sigmoid alpha 0.2, beta 0.5.
  REQUIRE(
      activation_from_conv_attributes(Attrs().str("activation", "hard_sigmoid"), &activation).ok());
  CHECK(activation.param0 == 0.2f);
  CHECK(activation.param1 == 0.5f);
  // Infinite clip bounds (what the fusion pass writes for an unbounded clip) are fine.
  REQUIRE(activation_from_op(OpType::op_clip, Attrs().real("min", 0), &activation).ok());
  CHECK(activation_apply(activation, 1e30f) == 1e30f);
  CHECK_FALSE(activation_from_op(OpType::op_conv, Attrs(), &activation).ok());
  CHECK_FALSE(activation_from_op(OpType::op_clip, Attrs().integer("min", 0), &activation).ok());
  CHECK_FALSE(activation_from_op(OpType::op_clip,
                                 Attrs().real("min", std::numeric_limits<double>::quiet_NaN()),
                                 &activation)
                  .ok());
  CHECK_FALSE(activation_from_op(OpType::op_hard_sigmoid,
                                 Attrs().real("alpha", std::numeric_limits<double>::infinity()),
                                 &activation)
                  .ok());
  CHECK_FALSE(infer_only(OpType::op_relu, Attrs(), {TensorDesc{DType::dtype_i32, {2}}}).ok());
}

// ---- element-wise -----------------------------------------------------------------------------

TEST_CASE("element-wise: NumPy broadcasting", "[ops][elementwise]") {
  SECTION("[1,C,H,W] · [1,C,1,1] scales each channel") {
    Tensor x = iota_f32({1, 2, 2, 2});
    Tensor s = make_f32({1, 2, 1, 1}, {10, -1});
    check_close(run_ok(OpType::op_mul, Attrs(), {&x, &s}), {1, 2, 2, 2},
                {0, 10, 20, 30, -4, -5, -6, -7});
  }
  SECTION("[2,1] + [1,3] gives [2,3]") {
    Tensor a = make_f32({2, 1}, {1, 2});
    Tensor b = make_f32({1, 3}, {10, 20, 30});
    check_close(run_ok(OpType::op_add, Attrs(), {&a, &b}), {2, 3}, {11, 21, 31, 12, 22, 32});
  }
  SECTION("lower rank broadcasts from the right; scalars broadcast everywhere") {
    Tensor a = iota_f32({2, 3});
    Tensor row = make_f32({3}, {1, 2, 4});
    check_close(run_ok(OpType::op_div, Attrs(), {&a, &row}), {2, 3}, {0, 0.5f, 0.5f, 3, 2, 1.25f});
    Tensor scalar = make_f32({}, {1});
    check_close(run_ok(OpType::op_sub, Attrs(), {&scalar, &a}), {2, 3}, {1, 0, -1, -2, -3, -4});
    check_close(run_ok(OpType::op_add, Attrs(), {&scalar, &scalar}), {}, {2});
  }
  SECTION("division by zero follows IEEE-754") {
    Tensor a = make_f32({2}, {1, -1});
    Tensor zero = make_f32({1}, {0});
    Tensor y = run_ok(OpType::op_div, Attrs(), {&a, &zero});
    CHECK(y.f32()[0] == std::numeric_limits<float>::infinity());
    CHECK(y.f32()[1] == -std::numeric_limits<float>::infinity());
  }
  SECTION("errors") {
    CHECK_FALSE(infer_only(OpType::op_add, Attrs(), {f32_desc({2, 3}), f32_desc({4})}).ok());
    CHECK_FALSE(
        infer_only(OpType::op_mul, Attrs(), {f32_desc({2}), TensorDesc{DType::dtype_i32, {2}}})
            .ok());
    CHECK(infer_only(OpType::op_add, Attrs(), {f32_desc({2}), f32_desc({2})}).ok());
  }
}

// ---- batch_norm -------------------------------------------------------------------------------

TEST_CASE("batch_norm: (x − mean) / sqrt(var + eps) · scale + bias", "[ops]") {
  Tensor x = make_f32({1, 2, 1, 2}, {3, 5, 1, -1});
  Tensor scale = make_f32({2}, {1, 2});
  Tensor bias = make_f32({2}, {0, 1});
  Tensor mean = make_f32({2}, {1, 0});
  Tensor var = make_f32({2}, {3, 0});
  // eps 1: channel 0 divides by 2, channel 1 by 1.
  Tensor y =
      run_ok(OpType::op_batch_norm, Attrs().real("epsilon", 1.0), {&x, &scale, &bias, &mean, &var});
  check_close(y, {1, 2, 1, 2}, {1, 2, 3, -1});
  CHECK_FALSE(
      infer_only(OpType::op_batch_norm, Attrs(),
                 {f32_desc({1, 2, 2}), f32_desc({3}), f32_desc({2}), f32_desc({2}), f32_desc({2})})
          .ok());
  CHECK_FALSE(
      infer_only(OpType::op_batch_norm, Attrs().real("epsilon", -1),
                 {f32_desc({1, 2}), f32_desc({2}), f32_desc({2}), f32_desc({2}), f32_desc({2})})
          .ok());
}

// ---- reductions -------------------------------------------------------------------------------

TEST_CASE("argmax: int32 output, the first maximum wins", "[ops][reduce]") {
  Tensor x = make_f32({2, 4}, {1, 3, 3, 2, 5, 5, 5, 5});
  Tensor y = run_ok(OpType::op_argmax, Attrs().integer("axis", 1), {&x});
  REQUIRE(y.dtype() == DType::dtype_i32);
  REQUIRE(y.shape() == Shape{2, 1});
  CHECK(y.i32()[0] == 1);
  CHECK(y.i32()[1] == 0);
  Tensor z = run_ok(OpType::op_argmax, Attrs().integer("axis", -2).integer("keepdims", 0), {&x});
  REQUIRE(z.shape() == Shape{4});
  CHECK(std::vector<int32_t>(z.i32(), z.i32() + 4) == std::vector<int32_t>{1, 1, 1, 1});
  // Per-pixel class over channels of [1, C, H, W] (the segmentation use).
  Tensor logits = make_f32({1, 3, 1, 2}, {0, 9, 7, 9, 7, 1});
  Tensor classes = run_ok(OpType::op_argmax, Attrs().integer("axis", 1), {&logits});
  REQUIRE(classes.shape() == Shape{1, 1, 1, 2});
  CHECK(classes.i32()[0] == 1);
  CHECK(classes.i32()[1] == 0);
  CHECK_FALSE(infer_only(OpType::op_argmax, Attrs().integer("axis", 2), {f32_desc({2, 4})}).ok());
  CHECK_FALSE(infer_only(OpType::op_argmax, Attrs(), {f32_desc({0, 4})}).ok());
}

TEST_CASE("softmax: stable, along one axis", "[ops][reduce]") {
  Tensor x = make_f32({1, 3}, {1, 2, 3});
  // e^(i−3) / (e^−2 + e^−1 + 1)
  check_close(run_ok(OpType::op_softmax, Attrs(), {&x}), {1, 3},
              {0.09003057f, 0.24472847f, 0.66524096f}, 1e-6);
  Tensor big = make_f32({2}, {1000, 1000});  // exp(1000) overflows without the max shift
  check_close(run_ok(OpType::op_softmax, Attrs(), {&big}), {2}, {0.5f, 0.5f});
  Tensor columns = make_f32({2, 2}, {0, 5, std::log(3.0f), 5});
  check_close(run_ok(OpType::op_softmax, Attrs().integer("axis", 0), {&columns}), {2, 2},
              {0.25f, 0.5f, 0.75f, 0.5f}, 1e-6);
  CHECK_FALSE(infer_only(OpType::op_softmax, Attrs().integer("axis", 2), {f32_desc({2, 2})}).ok());
}

TEST_CASE("reduce_mean: axes and keepdims", "[ops][reduce]") {
  Tensor x = iota_f32({1, 2, 2, 2});
  check_close(run_ok(OpType::op_reduce_mean, Attrs().ints("axes", {2, 3}), {&x}), {1, 2, 1, 1},
              {1.5f, 5.5f});
  check_close(
      run_ok(OpType::op_reduce_mean, Attrs().ints("axes", {-1}).integer("keepdims", 0), {&x}),
      {1, 2, 2}, {0.5f, 2.5f, 4.5f, 6.5f});
  check_close(run_ok(OpType::op_reduce_mean, Attrs().ints("axes", {1}), {&x}), {1, 1, 2, 2},
              {2, 3, 4, 5});
  check_close(run_ok(OpType::op_reduce_mean, Attrs().integer("keepdims", 0), {&x}), {}, {3.5f});
  CHECK_FALSE(
      infer_only(OpType::op_reduce_mean, Attrs().ints("axes", {1, 1}), {f32_desc({2, 2})}).ok());
  CHECK_FALSE(
      infer_only(OpType::op_reduce_mean, Attrs().ints("axes", {4}), {f32_desc({2, 2})}).ok());
  CHECK_FALSE(
      infer_only(OpType::op_reduce_mean, Attrs().ints("axes", {0}), {f32_desc({0, 2})}).ok());
  CHECK_FALSE(
      infer_only(OpType::op_reduce_mean, Attrs().integer("keepdims", 2), {f32_desc({2, 2})}).ok());
}

// ---- matrix products --------------------------------------------------------------------------

TEST_CASE("gemm: transposes, alpha, beta, broadcast C", "[ops][matmul]") {
  Tensor a = make_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = make_f32({2, 3}, {1, 0, 1, 0, 1, 0});  // [N, K], used with trans_b
  Tensor c = make_f32({2}, {10, 20});
  // A·Bᵀ = [[4, 2], [10, 5]]; 2·that + 0.5·[10, 20] per row.
  Tensor y = run_ok(OpType::op_gemm,
                    Attrs().integer("trans_b", 1).real("alpha", 2).real("beta", 0.5), {&a, &b, &c});
  check_close(y, {2, 2}, {13, 14, 25, 20});
  // trans_a: Aᵀ [3, 2] · A [2, 3] is the Gram matrix of A's columns.
  Tensor gram = run_ok(OpType::op_gemm, Attrs().integer("trans_a", 1), {&a, &a});
  check_close(gram, {3, 3}, {17, 22, 27, 22, 29, 36, 27, 36, 45});
  std::vector<TensorDesc> inputs = {f32_desc({2, 3}), f32_desc({2, 3})};
  std::vector<TensorDesc> outputs;
  AttributeMap trans_b = Attrs().integer("trans_b", 1);
  REQUIRE(infer_only(OpType::op_gemm, trans_b, inputs, &outputs).ok());
  CHECK(op_multiply_adds(OpType::op_gemm, trans_b, {&inputs[0], &inputs[1]}, outputs) == 12);
  CHECK_FALSE(infer_only(OpType::op_gemm, Attrs(), inputs).ok());  // K mismatch
  CHECK_FALSE(
      infer_only(OpType::op_gemm, trans_b, {f32_desc({2, 3}), f32_desc({2, 3}), f32_desc({3})})
          .ok());
  CHECK_FALSE(infer_only(OpType::op_gemm, Attrs().integer("trans_b", 2), inputs).ok());
}

TEST_CASE("matmul: NumPy semantics with batch broadcasting", "[ops][matmul]") {
  Tensor a = make_f32({2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0});
  Tensor b = make_f32({3, 2}, {1, 2, 3, 4, 5, 6});
  check_close(run_ok(OpType::op_matmul, Attrs(), {&a, &b}), {2, 2, 2},
              {22, 28, 49, 64, 1, 2, 3, 4});
  Tensor v = make_f32({3}, {1, 2, 3});
  check_close(run_ok(OpType::op_matmul, Attrs(), {&v, &b}), {2}, {22, 28});
  Tensor m = make_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  check_close(run_ok(OpType::op_matmul, Attrs(), {&m, &v}), {2}, {14, 32});
  // [2,1,2,2] @ [3,2,2] → [2,3,2,2]: batch (i, j) multiplies A[i] by B[j].
  Tensor a4 = iota_f32({2, 1, 2, 2});
  Tensor b3 = make_f32({3, 2, 2}, {1, 0, 0, 1, 0, 1, 1, 0, 2, 0, 0, 2});
  Tensor y = run_ok(OpType::op_matmul, Attrs(), {&a4, &b3});
  // A0 = [[0,1],[2,3]], A1 = [[4,5],[6,7]]; B = identity, swap columns, 2·identity.
  check_close(y, {2, 3, 2, 2},
              {0, 1, 2, 3, 1, 0, 3, 2, 0, 2, 4, 6, 4, 5, 6, 7, 5, 4, 7, 6, 8, 10, 12, 14});
  std::vector<TensorDesc> inputs = {f32_desc({2, 1, 2, 2}), f32_desc({3, 2, 2})};
  std::vector<TensorDesc> outputs;
  REQUIRE(infer_only(OpType::op_matmul, Attrs(), inputs, &outputs).ok());
  CHECK(op_multiply_adds(OpType::op_matmul, Attrs(), {&inputs[0], &inputs[1]}, outputs) ==
        6 * 2 * 2 * 2);
  CHECK_FALSE(infer_only(OpType::op_matmul, Attrs(), {f32_desc({2, 3}), f32_desc({2, 3})}).ok());
  CHECK_FALSE(
      infer_only(OpType::op_matmul, Attrs(), {f32_desc({2, 2, 3}), f32_desc({3, 3, 2})}).ok());
  CHECK_FALSE(infer_only(OpType::op_matmul, Attrs(), {f32_desc({}), f32_desc({3})}).ok());
}

}  // namespace
}  // namespace atrous
