// The CPU elementwise kernels (add/sub/mul/div with the models' broadcasts, and the standalone
// activations) against the reference ops, for every ISA this machine runs: bitwise equal, in
// place too, and for 1, 2 and 3 threads; and the broadcasts the factory must refuse.
#include "tests/cpu_kernel_testing.h"

using namespace atrous;
using namespace atrous::cpu_testing;

namespace {

std::vector<Tensor> random_inputs(const std::vector<Shape>& shapes, std::mt19937& rng,
                                  float low = -1.f, float high = 1.f) {
  std::vector<Tensor> inputs;
  for (const Shape& shape : shapes) inputs.push_back(testing::random_tensor(shape, rng, low, high));
  return inputs;
}

// Runs the kernel with its output in input 0's storage.
Tensor run_in_place(CpuKernel& kernel, std::vector<Tensor>& inputs) {
  REQUIRE(kernel.supports_in_place());
  Tensor y(DType::dtype_f32, inputs[0].shape());
  std::memcpy(y.data(), inputs[0].data(), y.byte_size());
  std::vector<const TensorView*> in = views(inputs);
  in[0] = &y.view();
  ThreadPool pool(2);
  REQUIRE(kernel.run(in, {&y.view()}, nullptr, pool).ok());
  return y;
}

}  // namespace

TEST_CASE("binary kernels equal the reference bitwise across broadcasts", "[cpu]") {
  // (A, B): equal shapes, squeeze-excite [N,C,1,1], per-channel [1,C,1,1], scalars, either order;
  // sizes around the vector widths and the 16384-float task chunk.
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{1, 1, 1, 1}, {1, 1, 1, 1}},
      {{1, 3, 7, 9}, {1, 3, 7, 9}},
      {{1, 17, 33, 65}, {1, 17, 33, 65}},
      {{1, 64, 7, 9}, {1, 64, 1, 1}},
      {{1, 64, 1, 1}, {1, 64, 7, 9}},
      {{2, 17, 33, 65}, {2, 17, 1, 1}},
      {{2, 8, 7, 9}, {1, 8, 1, 1}},
      {{1, 3, 1, 1}, {2, 3, 33, 65}},
      {{1, 8, 7, 9}, {}},
      {{}, {1, 8, 7, 9}},
      {{1}, {2, 3, 7, 9}},
      {{2, 3, 7, 9}, {1}},
      {{1, 17, 9, 1}, {1, 17, 9, 13}},
      {{3, 5}, {5}},
      {{}, {}},
  };
  const OpType ops[] = {OpType::op_add, OpType::op_sub, OpType::op_mul, OpType::op_div};
  std::mt19937 rng(41);
  for (const auto& c : cases) {
    std::vector<Tensor> inputs = random_inputs({c.first, c.second}, rng);
    for (OpType op : ops) {
      Graph graph = single_node_graph(op, AttributeMap(), {c.first, c.second});
      Tensor expected = run_reference(graph, inputs);
      for (CpuIsa isa : runnable_isas()) {
        CpuKernelConfig config;
        config.isa = isa;
        CpuKernelPtr kernel = cpu_make_elementwise_kernel(graph, 0, config);
        INFO(op_type_name(op) << " " << shape_to_string(c.first) << " " << shape_to_string(c.second)
                              << " isa=" << cpu_isa_name(isa));
        REQUIRE(kernel);
        for (int threads : {1, 2, 3})
          CHECK(bitwise_equal(run_kernel(*kernel, graph, inputs, threads), expected));
        if (c.first == expected.shape())
          CHECK(bitwise_equal(run_in_place(*kernel, inputs), expected));
      }
    }
  }
}

TEST_CASE("activation kernels equal the reference bitwise", "[cpu]") {
  struct Case {
    OpType op;
    std::vector<std::pair<std::string, double>> attributes;
  };
  const std::vector<Case> cases = {
      {OpType::op_relu, {}},
      {OpType::op_clip, {}},
      {OpType::op_clip, {{"min", -0.25}, {"max", 0.5}}},
      {OpType::op_clip, {{"min", 0.0}, {"max", 6.0}}},
      {OpType::op_hard_swish, {}},
      {OpType::op_hard_sigmoid, {}},
      {OpType::op_hard_sigmoid, {{"alpha", 1.0 / 6.0}, {"beta", 0.5}}},
      {OpType::op_sigmoid, {}},
      {OpType::op_tanh, {}},
  };
  const std::vector<Shape> shapes = {
      {1}, {1, 1, 1, 1}, {1, 3, 7, 9}, {1, 17, 33, 65}, {2, 8, 33, 65}};
  std::mt19937 rng(42);
  for (const Case& c : cases) {
    AttributeMap attributes;
    for (const auto& a : c.attributes) attributes.set_float(a.first, a.second);
    for (const Shape& shape : shapes) {
      // [-8, 8] covers both saturations of hard_swish, hard_sigmoid and clip.
      std::vector<Tensor> inputs = random_inputs({shape}, rng, -8.f, 8.f);
      Graph graph = single_node_graph(c.op, attributes, {shape});
      Tensor expected = run_reference(graph, inputs);
      for (CpuIsa isa : runnable_isas()) {
        CpuKernelConfig config;
        config.isa = isa;
        CpuKernelPtr kernel = cpu_make_elementwise_kernel(graph, 0, config);
        INFO(op_type_name(c.op) << " " << shape_to_string(shape) << " isa=" << cpu_isa_name(isa));
        REQUIRE(kernel);
        for (int threads : {1, 2, 3})
          CHECK(bitwise_equal(run_kernel(*kernel, graph, inputs, threads), expected));
        CHECK(bitwise_equal(run_in_place(*kernel, inputs), expected));
      }
    }
  }
}

TEST_CASE("the elementwise factory refuses other ops and broadcasts", "[cpu]") {
  const std::vector<std::pair<Shape, Shape>> refused = {
      {{1, 8, 1, 9}, {1, 8, 7, 9}},  // stretched along a middle axis only
      {{1, 1, 7, 9}, {1, 8, 1, 1}},  // both operands broadcast
      {{2, 8, 7, 9}, {2, 1, 7, 9}},
  };
  for (const auto& c : refused) {
    Graph graph = single_node_graph(OpType::op_mul, AttributeMap(), {c.first, c.second});
    INFO(shape_to_string(c.first) << " " << shape_to_string(c.second));
    CHECK_FALSE(cpu_make_elementwise_kernel(graph, 0, CpuKernelConfig()));
  }
  Graph softmax = single_node_graph(OpType::op_softmax, AttributeMap(), {{1, 3, 4, 4}});
  CHECK_FALSE(cpu_make_elementwise_kernel(softmax, 0, CpuKernelConfig()));
  // A graph whose output shape disagrees with the op's shape rule is not handled.
  Graph wrong = single_node_graph(OpType::op_add, AttributeMap(), {{1, 3, 4, 4}, {1, 3, 4, 4}});
  wrong.tensors[size_t(wrong.nodes[0].outputs[0])].shape = {1, 3, 4, 5};
  CHECK_FALSE(cpu_make_elementwise_kernel(wrong, 0, CpuKernelConfig()));
}
