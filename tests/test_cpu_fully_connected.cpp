// The CPU fully connected kernel (gemm nodes with a constant B) against the reference gemm, for
// every ISA this machine runs: shapes around the vector widths and the four-row blocks, every
// trans_a/trans_b, alpha and beta, each broadcast of C and no C; bitwise identical results for
// 1, 2 and 3 threads; and the nodes the factory must leave to the reference.
#include "cpu/kernel_table.h"
#include "ops/graph_rules.h"
#include "tests/cpu_kernel_testing.h"

using namespace atrous;
using namespace atrous::cpu_testing;

namespace {

struct GemmCase {
  int64_t m, k, n;
  bool trans_a, trans_b;
  double alpha, beta;
  Shape c;  // shape of C; `no_c` for none
  bool no_c;
};

// A one-node gemm graph: A is the input; B and C constants with the values given.
Graph gemm_graph(const GemmCase& g, const Tensor& b, const Tensor* c) {
  Graph graph;
  const Shape a_shape = g.trans_a ? Shape{g.k, g.m} : Shape{g.m, g.k};
  int32_t a = graph.add_tensor("a", DType::dtype_f32, a_shape);
  graph.inputs.push_back(a);
  Tensor b_copy(DType::dtype_f32, b.shape());
  std::memcpy(b_copy.f32(), b.f32(), b.byte_size());
  int32_t b_index = graph.add_constant("b", std::move(b_copy));
  std::vector<int32_t> inputs = {a, b_index};
  if (c) {
    Tensor c_copy(DType::dtype_f32, c->shape());
    std::memcpy(c_copy.f32(), c->f32(), c->byte_size());
    inputs.push_back(graph.add_constant("c", std::move(c_copy)));
  }
  AttributeMap attributes;
  attributes.set_int("trans_a", g.trans_a ? 1 : 0);
  attributes.set_int("trans_b", g.trans_b ? 1 : 0);
  attributes.set_float("alpha", g.alpha);
  attributes.set_float("beta", g.beta);
  int32_t y = graph.add_tensor("y", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_gemm, "fc", inputs, {y}, attributes);
  graph.outputs.push_back(y);
  Status status = graph_infer_shapes(&graph);
  INFO(status.message());
  REQUIRE(status.ok());
  return graph;
}

Tensor run_reference_gemm(const Graph& graph, const std::vector<const TensorView*>& inputs) {
  const GraphTensor& out = graph.tensors[size_t(graph.outputs[0])];
  Tensor y(DType::dtype_f32, out.shape);
  const Node& node = graph.nodes[0];
  REQUIRE(op_run_reference(node.op, node.attributes, inputs, {&y.view()}).ok());
  return y;
}

std::vector<Tensor> copy_of(const Tensor& t) {
  Tensor copy(DType::dtype_f32, t.shape());
  std::memcpy(copy.f32(), t.f32(), t.byte_size());
  std::vector<Tensor> result;
  result.push_back(std::move(copy));
  return result;
}

CpuKernelPtr make_kernel(const Graph& graph, CpuIsa isa, int threads) {
  CpuKernelConfig config;
  config.isa = isa;
  config.threads = threads;
  CpuKernelPtr kernel = cpu_make_fully_connected_kernel(graph, 0, config);
  REQUIRE(kernel);
  return kernel;
}

const std::vector<GemmCase>& cases() {
  static const std::vector<GemmCase> table = {
      {1, 960, 1280, false, true, 1.0, 1.0, {1280}, false},  // MobileNetV3-Large head
      {1, 1280, 1000, false, true, 1.0, 1.0, {1000}, false},
      {1, 576, 1024, false, true, 1.0, 1.0, {1, 1024}, false},  // MobileNetV3-Small head
      {1, 1, 1, false, false, 1.0, 1.0, {}, true},
      {1, 7, 5, false, true, 1.0, 1.0, {5}, false},
      {1, 16, 4, false, false, 1.0, 1.0, {1}, false},
      {1, 33, 9, false, false, 0.5, 2.0, {1, 9}, false},
      {3, 17, 13, false, true, 1.0, 1.0, {3, 13}, false},
      {3, 65, 7, true, false, -1.5, 0.25, {3, 1}, false},
      {2, 48, 31, true, true, 1.0, 1.0, {}, false},
      {4, 100, 130, false, true, 1.0, 0.0, {130}, false},
      {2, 129, 67, true, true, 2.0, 1.0, {}, true},
  };
  return table;
}

}  // namespace

TEST_CASE("the fully connected kernel matches the reference gemm", "[cpu]") {
  std::mt19937 rng(61);
  for (const GemmCase& g : cases()) {
    const Shape a_shape = g.trans_a ? Shape{g.k, g.m} : Shape{g.m, g.k};
    const Shape b_shape = g.trans_b ? Shape{g.n, g.k} : Shape{g.k, g.n};
    Tensor a = testing::random_tensor(a_shape, rng);
    Tensor b = testing::random_tensor(b_shape, rng);
    Tensor c = testing::random_tensor(g.c, rng);
    const Tensor* c_ptr = g.no_c ? nullptr : &c;
    Graph graph = gemm_graph(g, b, c_ptr);
    std::vector<const TensorView*> inputs = {&a.view(), &b.view()};
    if (c_ptr) inputs.push_back(&c.view());
    Tensor expected = run_reference_gemm(graph, inputs);
    // The bound's scale: |alpha|·Σ|a·b| + |beta·c| per element, the reference on magnitudes.
    Tensor abs_a = absolute(a), abs_b = absolute(b), abs_c = absolute(c);
    GemmCase magnitude_case = g;
    magnitude_case.alpha = std::fabs(g.alpha);
    magnitude_case.beta = std::fabs(g.beta);
    Graph magnitude_graph = gemm_graph(magnitude_case, abs_b, c_ptr ? &abs_c : nullptr);
    std::vector<const TensorView*> abs_inputs = {&abs_a.view(), &abs_b.view()};
    if (c_ptr) abs_inputs.push_back(&abs_c.view());
    Tensor magnitude = run_reference_gemm(magnitude_graph, abs_inputs);
    for (CpuIsa isa : runnable_isas()) {
      CpuKernelPtr kernel = make_kernel(graph, isa, 2);
      CHECK(std::string(kernel->name()) ==
            std::string("fully_connected_") + cpu_kernel_table(isa).misc.name);
      std::vector<Tensor> in = copy_of(a);
      Tensor y = run_kernel(*kernel, graph, in, 2);
      // Float sums of K products against the double reference: |error| <= (K + 2)·2⁻²⁴ times
      // the magnitude; 1e-5 relative covers K <= 1280 with margin, plus an absolute floor for
      // outputs that cancel to ~0.
      int64_t failures = 0;
      double worst = 0;
      for (int64_t i = 0; i < expected.numel(); ++i) {
        const double error = std::fabs(double(y.f32()[i]) - double(expected.f32()[i]));
        if (!(error <= 1e-5 * double(magnitude.f32()[i]) + 1e-7)) ++failures;
        worst = std::max(worst, error);
      }
      INFO("m=" << g.m << " k=" << g.k << " n=" << g.n << " trans " << g.trans_a << g.trans_b
                << " isa=" << cpu_isa_name(isa) << " worst=" << worst);
      CHECK(failures == 0);
    }
  }
}

TEST_CASE("fully connected results are bitwise identical for 1, 2 and 3 threads", "[cpu]") {
  std::mt19937 rng(62);
  const GemmCase g = {3, 300, 1000, false, true, 1.0, 1.0, {1000}, false};
  Tensor a = testing::random_tensor({g.m, g.k}, rng);
  Tensor b = testing::random_tensor({g.n, g.k}, rng);
  Tensor c = testing::random_tensor(g.c, rng);
  Graph graph = gemm_graph(g, b, &c);
  for (CpuIsa isa : runnable_isas()) {
    CpuKernelPtr kernel = make_kernel(graph, isa, 3);
    std::vector<Tensor> in = copy_of(a);
    Tensor one = run_kernel(*kernel, graph, in, 1);
    Tensor two = run_kernel(*kernel, graph, in, 2);
    Tensor three = run_kernel(*kernel, graph, in, 3);
    INFO("isa=" << cpu_isa_name(isa));
    CHECK(bitwise_equal(one, two));
    CHECK(bitwise_equal(one, three));
  }
}

TEST_CASE("the fully connected factory leaves other nodes to the reference", "[cpu]") {
  std::mt19937 rng(63);
  CpuKernelConfig config;
  config.isa = cpu_isa_detect();
  // B computed at run time (a graph input): nothing to pack.
  Graph graph;
  int32_t a = graph.add_tensor("a", DType::dtype_f32, {1, 8});
  int32_t b = graph.add_tensor("b", DType::dtype_f32, {8, 4});
  graph.inputs = {a, b};
  int32_t y = graph.add_tensor("y", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_gemm, "fc", {a, b}, {y});
  graph.outputs = {y};
  REQUIRE(graph_infer_shapes(&graph).ok());
  CHECK_FALSE(cpu_make_fully_connected_kernel(graph, 0, config));
  // Not a gemm.
  Graph relu = single_node_graph(OpType::op_relu, AttributeMap(), {{1, 8}});
  CHECK_FALSE(cpu_make_fully_connected_kernel(relu, 0, config));
  // A wrong-shaped tensor at run time is an error, not a crash.
  const GemmCase g = {1, 8, 4, false, false, 1.0, 1.0, {4}, false};
  Tensor weights = testing::random_tensor({8, 4}, rng);
  Tensor bias = testing::random_tensor({4}, rng);
  Graph fc = gemm_graph(g, weights, &bias);
  CpuKernelPtr kernel = cpu_make_fully_connected_kernel(fc, 0, config);
  REQUIRE(kernel);
  Tensor other = testing::random_tensor({1, 9}, rng);
  Tensor out(DType::dtype_f32, {1, 4});
  ThreadPool pool(1);
  CHECK_FALSE(kernel->run({&other.view()}, {&out.view()}, nullptr, pool).ok());
}
