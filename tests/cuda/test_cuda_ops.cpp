// The CUDA backend against the reference backend: every op with a CUDA kernel on random data
// over a table of shapes and attributes (odd sizes, strides, dilations, pads, every resize
// mode), the host fallback, a whole graph through the session, and CUDA graph replay.
// FP32 (no TF32): relative L2 error ≤ 1e-5 for float outputs, exact equality for int32 outputs.
// Without a CUDA device (or in a build without CUDA) each test says so and is reported skipped
// (tests/cuda/cuda_testing.h).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "runtime/session.h"
#include "tests/cuda/cuda_testing.h"
#include "tests/graph_fixtures.h"

using namespace atrous;
using atrous::testing::cuda_ready;
using atrous::testing::OpCase;
using atrous::testing::relative_l2;

namespace {

constexpr double kTolerance = 1e-5;

// Compares every output of two runs of the same graph.
void compare_outputs(const std::string& label, const std::vector<Tensor>& expected,
                     const std::vector<Tensor>& actual) {
  INFO(label);
  REQUIRE(expected.size() == actual.size());
  for (size_t o = 0; o < expected.size(); ++o) {
    REQUIRE(expected[o].dtype() == actual[o].dtype());
    REQUIRE(expected[o].shape() == actual[o].shape());
    REQUIRE(expected[o].numel() > 0);
    if (expected[o].dtype() == DType::dtype_f32) {
      CHECK(relative_l2(expected[o], actual[o]) <= kTolerance);
    } else {
      int64_t mismatches = 0;
      for (int64_t i = 0; i < expected[o].numel(); ++i)
        mismatches += expected[o].i32()[i] != actual[o].i32()[i];
      CHECK(mismatches == 0);
    }
  }
}

std::vector<Tensor> run_session(const std::shared_ptr<const Model>& model, Backend backend,
                                const std::vector<NamedInput>& inputs) {
  SessionOptions options;
  options.backend = backend;
  options.optimize = false;
  std::unique_ptr<Session> session;
  Status status = Session::create(model, options, &session);
  INFO(status.message());
  REQUIRE(status.ok());
  REQUIRE(session->options().backend == backend);
  std::vector<Tensor> outputs;
  status = session->run(inputs, &outputs);
  INFO(status.message());
  REQUIRE(status.ok());
  return outputs;
}

void check_op(const OpCase& c, std::mt19937& rng) {
  std::shared_ptr<const Model> model;
  Status status = Model::from_graph(testing::op_case_graph(c, rng), &model);
  INFO(c.label << ": " << status.message());
  REQUIRE(status.ok());
  Tensor input = testing::random_tensor(c.input, rng, c.low, c.high);
  std::vector<NamedInput> named = {{"x", &input.view()}};
  compare_outputs(c.label, run_session(model, Backend::backend_reference, named),
                  run_session(model, Backend::backend_cuda, named));
}

AttributeMap conv_attributes(std::vector<int64_t> strides, std::vector<int64_t> dilations,
                             std::vector<int64_t> pads, int64_t group,
                             const std::string& activation,
                             const std::string& auto_pad = "explicit") {
  AttributeMap a;
  a.set_ints("strides", strides);
  a.set_ints("dilations", dilations);
  a.set_ints("pads", pads);
  a.set_int("group", group);
  a.set_string("auto_pad", auto_pad);
  a.set_string("activation", activation);
  if (activation == "clip") a.set_floats("activation_params", {-0.25, 0.5});
  if (activation == "hard_sigmoid") a.set_floats("activation_params", {1.0 / 6.0, 0.5});
  return a;
}

}  // namespace

TEST_CASE("cuda depthwise conv matches the reference", "[cuda]") {
  if (!cuda_ready()) return;
  std::mt19937 rng(7);
  std::vector<OpCase> cases;
  const char* activations[] = {"none", "relu", "clip", "hard_swish", "hard_sigmoid", "sigmoid"};
  struct Geometry {
    std::vector<int64_t> strides, dilations, pads;
    int64_t kernel;
    std::string auto_pad;
  };
  const std::vector<Geometry> geometries = {{{1, 1}, {1, 1}, {1, 1, 1, 1}, 3, "explicit"},
                                            {{2, 2}, {1, 1}, {1, 1, 1, 1}, 3, "explicit"},
                                            {{1, 2}, {2, 3}, {0, 2, 1, 0}, 3, "explicit"},
                                            {{2, 1}, {1, 1}, {2, 2, 2, 2}, 5, "explicit"},
                                            {{2, 2}, {1, 2}, {0, 0, 0, 0}, 3, "same_upper"},
                                            {{1, 1}, {4, 4}, {4, 4, 4, 4}, 3, "explicit"},
                                            {{2, 2}, {1, 1}, {0, 0, 0, 0}, 5, "same_lower"}};
  size_t index = 0;
  for (const Geometry& g : geometries) {
    for (const char* activation : activations) {
      const bool bias = index % 2 == 0;
      const int64_t multiplier = index % 3 == 0 ? 2 : 1;
      const Shape input = {int64_t(1 + index % 2), 5, int64_t(7 + index % 5),
                           int64_t(9 + index % 4)};
      cases.push_back(
          {"depthwise #" + std::to_string(index) + " " + activation,
           OpType::op_conv,
           input,
           {{5 * multiplier, 1, g.kernel, g.kernel}, bias ? Shape{5 * multiplier} : Shape{}},
           conv_attributes(g.strides, g.dilations, g.pads, 5, activation, g.auto_pad),
           -3.f,
           3.f});
      ++index;
    }
  }
  for (const OpCase& c : cases) check_op(c, rng);
}

TEST_CASE("cuda pointwise and dense conv match the reference", "[cuda]") {
  if (!cuda_ready()) return;
  std::mt19937 rng(11);
  const std::vector<OpCase> cases = {
      {"1x1 16->24 hard_swish",
       OpType::op_conv,
       {2, 16, 9, 11},
       {{24, 16, 1, 1}, {24}},
       conv_attributes({1, 1}, {1, 1}, {0, 0, 0, 0}, 1, "hard_swish")},
      {"1x1 1->1",
       OpType::op_conv,
       {1, 1, 1, 1},
       {{1, 1, 1, 1}, {1}},
       conv_attributes({1, 1}, {1, 1}, {0, 0, 0, 0}, 1, "none")},
      {"1x1 96->576 relu",
       OpType::op_conv,
       {1, 96, 7, 7},
       {{576, 96, 1, 1}, {576}},
       conv_attributes({1, 1}, {1, 1}, {0, 0, 0, 0}, 1, "relu")},
      {"1x1 grouped",
       OpType::op_conv,
       {1, 12, 5, 6},
       {{9, 4, 1, 1}, {9}},
       conv_attributes({1, 1}, {1, 1}, {0, 0, 0, 0}, 3, "clip")},
      {"1x1 stride 2",
       OpType::op_conv,
       {1, 8, 9, 9},
       {{4, 8, 1, 1}, {}},
       conv_attributes({2, 2}, {1, 1}, {0, 0, 0, 0}, 1, "none")},
      {"1x1 padded",
       OpType::op_conv,
       {1, 3, 4, 5},
       {{2, 3, 1, 1}, {2}},
       conv_attributes({1, 1}, {1, 1}, {1, 0, 0, 1}, 1, "none")},
      {"3x3 s2 stem",
       OpType::op_conv,
       {1, 3, 17, 19},
       {{16, 3, 3, 3}, {16}},
       conv_attributes({2, 2}, {1, 1}, {1, 1, 1, 1}, 1, "hard_swish")},
      {"3x3 dilated 2",
       OpType::op_conv,
       {1, 8, 9, 10},
       {{5, 8, 3, 3}, {5}},
       conv_attributes({1, 1}, {2, 2}, {2, 2, 2, 2}, 1, "relu")},
      {"3x3 dilated (1,3)",
       OpType::op_conv,
       {2, 4, 11, 13},
       {{6, 4, 3, 3}, {}},
       conv_attributes({1, 1}, {1, 3}, {1, 3, 1, 3}, 1, "sigmoid")},
      {"3x3 grouped",
       OpType::op_conv,
       {1, 8, 7, 9},
       {{6, 4, 3, 3}, {6}},
       conv_attributes({1, 1}, {1, 1}, {1, 1, 1, 1}, 2, "none")},
      {"5x5 same_upper s2",
       OpType::op_conv,
       {2, 4, 7, 6},
       {{3, 4, 5, 5}, {3}},
       conv_attributes({2, 2}, {1, 1}, {0, 0, 0, 0}, 1, "hard_sigmoid", "same_upper")},
      {"3x3 256 channels",
       OpType::op_conv,
       {1, 256, 13, 15},
       {{19, 256, 3, 3}, {19}},
       conv_attributes({1, 1}, {1, 1}, {1, 1, 1, 1}, 1, "none")},
  };
  for (const OpCase& c : cases) check_op(c, rng);
}

TEST_CASE("cuda element-wise ops and activations match the reference", "[cuda]") {
  if (!cuda_ready()) return;
  std::mt19937 rng(13);
  std::vector<OpCase> cases;
  const OpType activations[] = {OpType::op_relu, OpType::op_hard_swish, OpType::op_sigmoid,
                                OpType::op_tanh};
  for (OpType op : activations)
    cases.push_back({op_type_name(op), op, {2, 3, 5, 7}, {}, {}, -5.f, 5.f});
  AttributeMap clip;
  clip.set_float("min", 0.0);
  clip.set_float("max", 6.0);
  cases.push_back({"clip", OpType::op_clip, {1, 4, 9, 3}, {}, clip, -8.f, 8.f});
  AttributeMap hard_sigmoid;
  hard_sigmoid.set_float("alpha", 1.0 / 6.0);
  hard_sigmoid.set_float("beta", 0.5);
  cases.push_back(
      {"hard_sigmoid", OpType::op_hard_sigmoid, {1, 4, 9, 3}, {}, hard_sigmoid, -5.f, 5.f});
  cases.push_back({"add same shape", OpType::op_add, {2, 3, 5, 7}, {{2, 3, 5, 7}}, {}});
  cases.push_back({"mul squeeze-excite", OpType::op_mul, {1, 8, 5, 7}, {{1, 8, 1, 1}}, {}});
  cases.push_back({"sub row broadcast", OpType::op_sub, {2, 3, 5, 7}, {{1, 1, 5, 7}}, {}});
  cases.push_back({"div rank 2 vs 4", OpType::op_div, {2, 3, 5, 7}, {{5, 1}}, {}});
  cases.push_back({"add scalar", OpType::op_add, {3, 1, 4}, {{}}, {}});
  for (const OpCase& c : cases) {
    if (c.op == OpType::op_add && c.label == "add scalar") {
      // A rank-0 constant: build it explicitly (an empty shape means "absent" in OpCase).
      Graph graph;
      const int32_t x = graph.add_tensor("x", DType::dtype_f32, c.input);
      graph.inputs.push_back(x);
      const int32_t s = graph.add_constant("s", testing::random_tensor({}, rng));
      const int32_t y = graph.add_tensor("y", DType::dtype_f32, {});
      testing::add_node(graph, OpType::op_add, "node", {x, s}, {y});
      graph.outputs = {y};
      std::shared_ptr<const Model> model;
      REQUIRE(Model::from_graph(std::move(graph), &model).ok());
      Tensor input = testing::random_tensor(c.input, rng);
      std::vector<NamedInput> named = {{"x", &input.view()}};
      compare_outputs(c.label, run_session(model, Backend::backend_reference, named),
                      run_session(model, Backend::backend_cuda, named));
      continue;
    }
    check_op(c, rng);
  }
}

TEST_CASE("cuda pools, resize, concat, softmax and argmax match the reference", "[cuda]") {
  if (!cuda_ready()) return;
  std::mt19937 rng(17);
  std::vector<OpCase> cases;
  cases.push_back({"global_average_pool", OpType::op_global_average_pool, {2, 5, 13, 17}, {}, {}});
  cases.push_back(
      {"global_average_pool large", OpType::op_global_average_pool, {1, 3, 129, 257}, {}, {}});
  for (int64_t include_pad : {0, 1}) {
    for (int64_t ceil_mode : {0, 1}) {
      AttributeMap a;
      a.set_ints("kernel_shape", {3, 3});
      a.set_ints("strides", {2, 2});
      a.set_ints("pads", {1, 1, 1, 1});
      a.set_int("count_include_pad", include_pad);
      a.set_int("ceil_mode", ceil_mode);
      cases.push_back(
          {"average_pool pad " + std::to_string(include_pad) + " ceil " + std::to_string(ceil_mode),
           OpType::op_average_pool,
           {1, 3, 10, 13},
           {},
           a});
      AttributeMap m;
      m.set_ints("kernel_shape", {3, 2});
      m.set_ints("strides", {2, 1});
      m.set_ints("pads", {1, 0, 1, 1});
      m.set_ints("dilations", {include_pad + 1, 1});
      m.set_int("ceil_mode", ceil_mode);
      cases.push_back({"max_pool #" + std::to_string(include_pad * 2 + ceil_mode),
                       OpType::op_max_pool,
                       {2, 2, 9, 8},
                       {},
                       m});
    }
  }
  const char* coordinate_modes[] = {"align_corners", "half_pixel", "pytorch_half_pixel",
                                    "asymmetric"};
  const std::vector<std::vector<int64_t>> sizes = {{17, 29}, {4, 3}, {1, 1}, {33, 9}};
  for (const char* coordinate : coordinate_modes) {
    for (const auto& size : sizes) {
      AttributeMap a;
      a.set_ints("sizes", size);
      a.set_string("mode", "linear");
      a.set_string("coordinate_mode", coordinate);
      cases.push_back({std::string("resize linear ") + coordinate + " " + std::to_string(size[0]),
                       OpType::op_resize,
                       {1, 3, 9, 15},
                       {},
                       a});
    }
  }
  AttributeMap scaled;
  scaled.set_ints("sizes", {18, 30});
  scaled.set_floats("scales", {2.0, 2.0});
  scaled.set_string("coordinate_mode", "pytorch_half_pixel");
  cases.push_back({"resize with scales", OpType::op_resize, {2, 2, 9, 15}, {}, scaled});
  const char* nearest_modes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  for (const char* nearest : nearest_modes) {
    for (const char* coordinate : {"asymmetric", "half_pixel"}) {
      AttributeMap a;
      a.set_ints("sizes", {19, 7});
      a.set_string("mode", "nearest");
      a.set_string("coordinate_mode", coordinate);
      a.set_string("nearest_mode", nearest);
      cases.push_back({std::string("resize nearest ") + nearest + " " + coordinate,
                       OpType::op_resize,
                       {1, 2, 8, 13},
                       {},
                       a});
    }
  }
  for (int64_t axis : {0, 1, 3, -2}) {
    AttributeMap a;
    a.set_int("axis", axis);
    Shape other = {2, 3, 4, 5};
    other[size_t(axis < 0 ? axis + 4 : axis)] = 3;
    cases.push_back({"concat axis " + std::to_string(axis),
                     OpType::op_concat,
                     {2, 3, 4, 5},
                     {other, other},
                     a});
  }
  for (int64_t axis : {1, -1}) {
    AttributeMap a;
    a.set_int("axis", axis);
    cases.push_back({"softmax axis " + std::to_string(axis),
                     OpType::op_softmax,
                     {2, 19, 5, 7},
                     {},
                     a,
                     -4.f,
                     4.f});
  }
  for (int64_t keepdims : {0, 1}) {
    AttributeMap a;
    a.set_int("axis", 1);
    a.set_int("keepdims", keepdims);
    cases.push_back(
        {"argmax keepdims " + std::to_string(keepdims), OpType::op_argmax, {2, 19, 9, 11}, {}, a});
  }
  AttributeMap reshape;
  reshape.set_ints("shape", {2, -1});
  cases.push_back({"reshape", OpType::op_reshape, {2, 3, 4, 5}, {}, reshape});
  const std::vector<std::pair<std::vector<int64_t>, int64_t>> reductions = {
      {{2, 3}, 1}, {{-2, -1}, 0}, {{3}, 1}, {{}, 1}, {{1, 2, 3}, 0}, {{1}, 1} /* host */};
  for (const auto& reduction : reductions) {
    AttributeMap a;
    if (!reduction.first.empty()) a.set_ints("axes", reduction.first);
    a.set_int("keepdims", reduction.second);
    cases.push_back({"reduce_mean " + std::to_string(reduction.first.size()) + " axes keepdims " +
                         std::to_string(reduction.second),
                     OpType::op_reduce_mean,
                     {2, 6, 9, 13},
                     {},
                     a});
  }
  const std::vector<std::pair<std::string, std::vector<int64_t>>> pads = {
      {"constant", {0, 0, 1, 2, 0, 0, 3, 1}},
      {"edge", {0, 1, 2, 0, 1, 0, 0, 3}},
      {"reflect", {0, 0, 2, 3, 0, 0, 3, 2}},
      {"constant", {0, -1, 1, -2, 0, 0, -2, 2}},
      {"reflect", {0, 0, -1, 2, 0, 0, 2, -3}}};
  for (const auto& pad : pads) {
    AttributeMap a;
    a.set_ints("pads", pad.second);
    a.set_string("mode", pad.first);
    a.set_float("value", 0.75);
    cases.push_back({"pad " + pad.first, OpType::op_pad, {1, 3, 6, 7}, {}, a});
  }
  AttributeMap transpose;  // no kernel: the host fallback
  transpose.set_ints("perm", {0, 2, 3, 1});
  cases.push_back({"transpose (host fallback)", OpType::op_transpose, {1, 3, 4, 5}, {}, transpose});
  for (const OpCase& c : cases) check_op(c, rng);
}

TEST_CASE("cuda sessions run a whole graph as the reference does", "[cuda]") {
  if (!cuda_ready()) return;
  std::shared_ptr<const Model> model;
  REQUIRE(Model::from_graph(testing::make_test_graph(3), &model).ok());
  std::mt19937 rng(5);
  Tensor image = testing::random_tensor({1, 3, 9, 11}, rng, -2.f, 2.f);
  std::vector<NamedInput> named = {{"image", &image.view()}};
  std::vector<Tensor> expected = run_session(model, Backend::backend_reference, named);
  compare_outputs("test graph", expected, run_session(model, Backend::backend_cuda, named));
  // With graph optimization (batch_norm folded, activations fused) and profiling on.
  SessionOptions options;
  options.backend = Backend::backend_cuda;
  options.profile = true;
  std::unique_ptr<Session> session;
  REQUIRE(Session::create(model, options, &session).ok());
  std::vector<Tensor> outputs;
  REQUIRE(session->run(named, &outputs).ok());
  compare_outputs("test graph, optimized", expected, outputs);
  REQUIRE(!session->profile().empty());
  CHECK(session->profile()[0].runs == 1);
}

#ifdef ATROUS_HAVE_CUDA
TEST_CASE("cuda graph replay gives the same outputs for new inputs", "[cuda]") {
  if (!cuda_ready()) return;
  std::shared_ptr<const Model> model;
  REQUIRE(Model::from_graph(testing::make_test_graph(4), &model).ok());
  CudaOptions options;
  options.use_cuda_graph = true;
  std::unique_ptr<CudaExecutor> executor;
  Status status = CudaExecutor::create(model->graph(), options, &executor);
  INFO(status.message());
  REQUIRE(status.ok());
  CHECK(executor->host_fallback_nodes() == 1);  // the unfolded batch_norm: replay is off
  std::mt19937 rng(9);
  for (int run = 0; run < 3; ++run) {
    Tensor image = testing::random_tensor({1, 3, 9, 11}, rng, -2.f, 2.f);
    std::vector<NamedInput> named = {{"image", &image.view()}};
    std::vector<Tensor> outputs;
    REQUIRE(executor->run({&image.view()}, &outputs).ok());
    compare_outputs("replay run " + std::to_string(run),
                    run_session(model, Backend::backend_reference, named), outputs);
  }
  // A graph without host nodes is captured once and replayed.
  SessionOptions session_options;
  session_options.backend = Backend::backend_cuda;
  std::unique_ptr<Session> session;
  REQUIRE(Session::create(model, session_options, &session).ok());
  std::unique_ptr<CudaExecutor> replaying;
  REQUIRE(CudaExecutor::create(session->graph(), options, &replaying).ok());
  CHECK(replaying->host_fallback_nodes() == 0);
  for (int run = 0; run < 3; ++run) {
    Tensor image = testing::random_tensor({1, 3, 9, 11}, rng, -2.f, 2.f);
    std::vector<NamedInput> named = {{"image", &image.view()}};
    std::vector<Tensor> outputs;
    REQUIRE(replaying->run({&image.view()}, &outputs).ok());
    compare_outputs("captured run " + std::to_string(run),
                    run_session(model, Backend::backend_reference, named), outputs);
  }
}
#endif
