// Small graphs and random data built in C++ for the tests (loader, passes, planner, hostile files,
// CUDA against the reference) and the benchmarks that build their own graphs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"

namespace atrous {
namespace testing {

inline Tensor random_tensor(const Shape& shape, std::mt19937& rng, float low = -1.f,
                            float high = 1.f) {
  Tensor tensor(DType::dtype_f32, shape);
  std::uniform_real_distribution<float> dist(low, high);
  for (int64_t i = 0; i < tensor.numel(); ++i) tensor.f32()[i] = dist(rng);
  return tensor;
}

// ‖expected − actual‖₂ / ‖expected‖₂ over float32 tensors of the same size.
inline double relative_l2(const Tensor& expected, const Tensor& actual) {
  double difference = 0.0, norm = 0.0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double e = expected.f32()[i], a = actual.f32()[i];
    difference += (e - a) * (e - a);
    norm += e * e;
  }
  return std::sqrt(difference) / std::max(std::sqrt(norm), 1e-30);
}

inline void add_node(Graph& graph, OpType op, const std::string& name, std::vector<int32_t> inputs,
                     std::vector<int32_t> outputs, AttributeMap attributes = AttributeMap()) {
  Node node;
  node.op = op;
  node.name = name;
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  node.attributes = std::move(attributes);
  graph.nodes.push_back(std::move(node));
}

// The same, named "n<index>": for graphs made in bulk (tests/test_memory_planner.cpp,
// bench/bench_planner.cpp).
inline void add_node(Graph& graph, OpType op, std::vector<int32_t> inputs,
                     std::vector<int32_t> outputs, AttributeMap attributes = AttributeMap()) {
  add_node(graph, op, "n" + std::to_string(graph.nodes.size()), std::move(inputs),
           std::move(outputs), std::move(attributes));
}

// One node on random data, for the CUDA-against-reference tests and bench_cuda: graph input "x",
// then constant inputs (absent where the shape is empty), one output "y".
struct OpCase {
  std::string label;
  OpType op;
  Shape input;
  std::vector<Shape> constants;
  AttributeMap attributes;
  float low = -1.0f, high = 1.0f;  // the range a test draws "x" from
};

// The graph of `c`; its constants are random in [-1, 1], divisors in [0.5, 2] (away from 0).
inline Graph op_case_graph(const OpCase& c, std::mt19937& rng) {
  Graph graph;
  const int32_t x = graph.add_tensor("x", DType::dtype_f32, c.input);
  graph.inputs.push_back(x);
  std::vector<int32_t> inputs = {x};
  for (size_t i = 0; i < c.constants.size(); ++i) {
    if (c.constants[i].empty()) {
      inputs.push_back(kAbsentInput);
      continue;
    }
    const bool divisor = c.op == OpType::op_div;
    inputs.push_back(graph.add_constant(
        "c" + std::to_string(i),
        random_tensor(c.constants[i], rng, divisor ? 0.5f : -1.f, divisor ? 2.f : 1.f)));
  }
  const int32_t y = graph.add_tensor("y", DType::dtype_f32, {});
  add_node(graph, c.op, "node", inputs, {y}, c.attributes);
  graph.outputs = {y};
  return graph;
}

// input [1,3,9,11] → conv 3×3 (3→4, pad 1) → batch_norm → relu → depthwise conv 3×3 stride 2
// dilation (1,2) TF-SAME (clip 0..6) → concat with (resize of the input to the same size) →
// global_average_pool + (constant folded branch: add(c1, c2)) → outputs "logits" and "pooled".
// Metadata carries labels, thing classes, input normalization and panoptic parameters.
inline Graph make_test_graph(uint32_t seed = 1) {
  std::mt19937 rng(seed);
  Graph graph;
  graph.metadata.set_string("producer", "atrous tests");
  graph.metadata.set_string("task", "semantic");
  graph.metadata.set_strings("labels",
                             {"background", "person", "cat", "dog", "bird", "car", "sky"});
  graph.metadata.set_ints("thing_classes", {1, 2, 3, 4, 5});
  graph.metadata.set_floats("input_mean", {127.5, 127.5, 127.5});
  graph.metadata.set_floats("input_std", {127.5, 127.5, 127.5});
  graph.metadata.set_ints("input_size", {9, 11});
  graph.metadata.set_int("label_divisor", 1000);
  graph.metadata.set_float("center_threshold", 0.1);

  int32_t input = graph.add_tensor("image", DType::dtype_f32, {1, 3, 9, 11});
  graph.inputs.push_back(input);
  int32_t w1 = graph.add_constant("conv1.weight", random_tensor({4, 3, 3, 3}, rng));
  int32_t b1 = graph.add_constant("conv1.bias", random_tensor({4}, rng));
  int32_t gamma = graph.add_constant("bn.gamma", random_tensor({4}, rng, 0.5f, 1.5f));
  int32_t beta = graph.add_constant("bn.beta", random_tensor({4}, rng));
  int32_t mean = graph.add_constant("bn.mean", random_tensor({4}, rng, -0.2f, 0.2f));
  int32_t var = graph.add_constant("bn.var", random_tensor({4}, rng, 0.5f, 2.f));
  int32_t t_conv1 = graph.add_tensor("conv1", DType::dtype_f32, {});
  int32_t t_bn = graph.add_tensor("bn", DType::dtype_f32, {});
  int32_t t_relu = graph.add_tensor("relu", DType::dtype_f32, {});
  AttributeMap conv1;
  conv1.set_ints("pads", {1, 1, 1, 1});
  add_node(graph, OpType::op_conv, "conv1", {input, w1, b1}, {t_conv1}, conv1);
  AttributeMap bn;
  bn.set_float("epsilon", 1e-3);
  add_node(graph, OpType::op_batch_norm, "bn", {t_conv1, gamma, beta, mean, var}, {t_bn}, bn);
  add_node(graph, OpType::op_relu, "relu", {t_bn}, {t_relu});

  int32_t w2 = graph.add_constant("dw.weight", random_tensor({4, 1, 3, 3}, rng));
  int32_t t_dw = graph.add_tensor("dw", DType::dtype_f32, {});
  int32_t t_clip = graph.add_tensor("clip", DType::dtype_f32, {});
  AttributeMap dw;
  dw.set_int("group", 4);
  dw.set_ints("strides", {2, 2});
  dw.set_ints("dilations", {1, 2});
  dw.set_string("auto_pad", "same_upper");
  add_node(graph, OpType::op_conv, "dw", {t_relu, w2, kAbsentInput}, {t_dw}, dw);
  AttributeMap clip;
  clip.set_float("min", 0.0);
  clip.set_float("max", 6.0);
  add_node(graph, OpType::op_clip, "relu6", {t_dw}, {t_clip}, clip);

  int32_t t_resized = graph.add_tensor("resized", DType::dtype_f32, {});
  AttributeMap resize;
  resize.set_ints("sizes", {5, 6});
  resize.set_string("mode", "linear");
  resize.set_string("coordinate_mode", "align_corners");
  add_node(graph, OpType::op_resize, "resize", {input}, {t_resized}, resize);
  int32_t t_concat = graph.add_tensor("logits", DType::dtype_f32, {});
  AttributeMap concat;
  concat.set_int("axis", 1);
  add_node(graph, OpType::op_concat, "concat", {t_clip, t_resized}, {t_concat}, concat);

  int32_t t_pool = graph.add_tensor("pool", DType::dtype_f32, {});
  add_node(graph, OpType::op_global_average_pool, "gap", {t_concat}, {t_pool});
  int32_t c1 = graph.add_constant("c1", random_tensor({1, 7, 1, 1}, rng));
  int32_t c2 = graph.add_constant("c2", random_tensor({1, 7, 1, 1}, rng));
  int32_t t_c = graph.add_tensor("c_sum", DType::dtype_f32, {});
  add_node(graph, OpType::op_add, "const_add", {c1, c2}, {t_c});
  int32_t t_out = graph.add_tensor("pooled", DType::dtype_f32, {});
  add_node(graph, OpType::op_mul, "scale", {t_pool, t_c}, {t_out});

  graph.outputs = {t_concat, t_out};
  return graph;
}

}  // namespace testing
}  // namespace atrous
