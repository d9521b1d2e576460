// Each graph pass leaves the graph's outputs unchanged: constant folding and activation fusion
// bitwise (the same reference arithmetic runs), BatchNorm folding within float32 rounding of
// the reassociated weights (relative L2 ≤ 1e-6).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "graph/passes.h"
#include "ops/graph_passes.h"
#include "ops/graph_rules.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"

using namespace atrous;

namespace {

std::vector<Tensor> run_graph(const Graph& graph, const Tensor& input) {
  std::shared_ptr<const Model> model;
  REQUIRE(Model::from_graph(graph, &model).ok());
  SessionOptions options;
  options.optimize = false;
  std::unique_ptr<Session> session;
  Status status = Session::create(model, options, &session);
  INFO(status.message());
  REQUIRE(status.ok());
  std::vector<Tensor> outputs;
  status = session->run({{"image", &input.view()}}, &outputs);
  INFO(status.message());
  REQUIRE(status.ok());
  return outputs;
}

double relative_l2(const Tensor& a, const Tensor& b) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff += double(a.f32()[i] - b.f32()[i]) * double(a.f32()[i] - b.f32()[i]);
    norm += double(b.f32()[i]) * double(b.f32()[i]);
  }
  return std::sqrt(diff / norm);
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.byte_size()) == 0;
}

int count_ops(const Graph& graph, OpType op) {
  int count = 0;
  for (const Node& node : graph.nodes) count += node.op == op;
  return count;
}

Graph inferred_test_graph() {
  Graph graph = testing::make_test_graph();
  REQUIRE(graph_validate(graph).ok());
  REQUIRE(graph_infer_shapes(&graph).ok());
  return graph;
}

}  // namespace

TEST_CASE("pass_fold_constants replaces constant subgraphs and keeps outputs bitwise", "[passes]") {
  Graph graph = inferred_test_graph();
  std::mt19937 rng(3);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  std::vector<Tensor> before = run_graph(graph, input);
  Graph folded = graph;
  REQUIRE(pass_fold_constants(&folded).ok());
  REQUIRE(graph_validate(folded).ok());
  CHECK(count_ops(graph, OpType::op_add) == 1);
  CHECK(count_ops(folded, OpType::op_add) == 0);
  std::vector<Tensor> after = run_graph(folded, input);
  for (size_t o = 0; o < before.size(); ++o) CHECK(bitwise_equal(before[o], after[o]));
}

TEST_CASE("pass_fold_batch_norm merges BN into the conv", "[passes]") {
  Graph graph = inferred_test_graph();
  std::mt19937 rng(4);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  std::vector<Tensor> before = run_graph(graph, input);
  Graph folded = graph;
  REQUIRE(pass_fold_batch_norm(&folded).ok());
  REQUIRE(graph_validate(folded).ok());
  CHECK(count_ops(folded, OpType::op_batch_norm) == 0);
  std::vector<Tensor> after = run_graph(folded, input);
  for (size_t o = 0; o < before.size(); ++o) {
    REQUIRE(before[o].shape() == after[o].shape());
    CHECK(relative_l2(after[o], before[o]) <= 1e-6);
  }
}

TEST_CASE("pass_fold_batch_norm leaves a BN whose conv output has another reader", "[passes]") {
  Graph graph = inferred_test_graph();
  // Make the conv output a graph output too: folding would change it.
  graph.outputs.push_back(graph.nodes[0].outputs[0]);
  Graph folded = graph;
  REQUIRE(pass_fold_batch_norm(&folded).ok());
  CHECK(count_ops(folded, OpType::op_batch_norm) == 1);
}

TEST_CASE("pass_fuse_activations moves relu and clip into convs, bitwise", "[passes]") {
  Graph graph = inferred_test_graph();
  REQUIRE(pass_fold_batch_norm(&graph).ok());  // relu follows the conv only once BN is folded
  std::mt19937 rng(5);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng, -3.f, 3.f);
  std::vector<Tensor> before = run_graph(graph, input);
  Graph fused = graph;
  REQUIRE(pass_fuse_activations(&fused).ok());
  REQUIRE(graph_validate(fused).ok());
  CHECK(count_ops(fused, OpType::op_relu) == 0);
  CHECK(count_ops(fused, OpType::op_clip) == 0);
  CHECK(fused.nodes[0].attributes.get_string("activation", "") == "relu");
  CHECK(fused.nodes[1].attributes.get_floats("activation_params", {}) ==
        std::vector<double>{0.0, 6.0});
  std::vector<Tensor> after = run_graph(fused, input);
  for (size_t o = 0; o < before.size(); ++o) CHECK(bitwise_equal(before[o], after[o]));
}

TEST_CASE("every standalone activation fuses bitwise", "[passes]") {
  struct Case {
    OpType op;
    AttributeMap attributes;
  };
  AttributeMap hard_sigmoid;
  hard_sigmoid.set_float("alpha", 1.0 / 6.0);
  hard_sigmoid.set_float("beta", 0.5);
  AttributeMap clip;
  clip.set_float("min", -0.5);
  clip.set_float("max", 0.75);
  std::vector<Case> cases = {{OpType::op_relu, {}},
                             {OpType::op_hard_swish, {}},
                             {OpType::op_sigmoid, {}},
                             {OpType::op_tanh, {}},
                             {OpType::op_hard_sigmoid, hard_sigmoid},
                             {OpType::op_clip, clip}};
  for (const Case& c : cases) {
    std::mt19937 rng(6);
    Graph graph;
    int32_t input = graph.add_tensor("image", DType::dtype_f32, {1, 3, 7, 5});
    graph.inputs = {input};
    int32_t w = graph.add_constant("w", testing::random_tensor({5, 3, 3, 3}, rng));
    int32_t b = graph.add_constant("b", testing::random_tensor({5}, rng));
    int32_t t_conv = graph.add_tensor("conv", DType::dtype_f32, {});
    int32_t t_act = graph.add_tensor("act", DType::dtype_f32, {});
    AttributeMap conv;
    conv.set_string("auto_pad", "same_upper");
    testing::add_node(graph, OpType::op_conv, "conv", {input, w, b}, {t_conv}, conv);
    testing::add_node(graph, c.op, "act", {t_conv}, {t_act}, c.attributes);
    graph.outputs = {t_act};
    REQUIRE(graph_infer_shapes(&graph).ok());
    Tensor x = testing::random_tensor({1, 3, 7, 5}, rng, -4.f, 4.f);
    std::vector<Tensor> before = run_graph(graph, x);
    REQUIRE(pass_fuse_activations(&graph).ok());
    REQUIRE(graph.nodes.size() == 1);
    std::vector<Tensor> after = run_graph(graph, x);
    INFO(op_type_name(c.op));
    CHECK(bitwise_equal(before[0], after[0]));
  }
}

TEST_CASE("graph_optimize runs every pass and keeps the outputs", "[passes]") {
  Graph graph = inferred_test_graph();
  std::mt19937 rng(8);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  std::vector<Tensor> before = run_graph(graph, input);
  Graph optimized = graph;
  REQUIRE(graph_optimize(&optimized).ok());
  CHECK(optimized.nodes.size() == 6);  // conv, dw conv, resize, concat, gap, mul
  std::vector<Tensor> after = run_graph(optimized, input);
  for (size_t o = 0; o < before.size(); ++o) CHECK(relative_l2(after[o], before[o]) <= 1e-6);
}
