// The CPU concat, softmax and argmax kernels against the reference ops, for every ISA this
// machine runs: concat and argmax bitwise (argmax on data with many ties and with NaN),
// softmax within a relative bound; bitwise identical for 1, 2 and 3 threads.
#include <cstdint>

#include "tests/cpu_kernel_testing.h"

using namespace atrous;
using namespace atrous::cpu_testing;

namespace {

template <class Close>
void check_kernel(Factory factory, const Graph& graph, const std::vector<Tensor>& inputs,
                  const Tensor& expected, Close close) {
  for (CpuIsa isa : runnable_isas()) {
    CpuKernelConfig config;
    config.isa = isa;
    CpuKernelPtr kernel = factory(graph, 0, config);
    INFO("isa=" << cpu_isa_name(isa));
    REQUIRE(kernel);
    Tensor first = run_kernel(*kernel, graph, inputs, 1);
    close(first, expected);
    for (int threads : {2, 3})
      CHECK(bitwise_equal(run_kernel(*kernel, graph, inputs, threads), first));
  }
}

void check_bitwise(const Tensor& y, const Tensor& expected) { CHECK(bitwise_equal(y, expected)); }

}  // namespace

TEST_CASE("concat kernels equal the reference along every axis", "[cpu]") {
  std::mt19937 rng(61);
  struct Case {
    std::vector<Shape> inputs;
    int64_t axis;
  };
  // Channel concat of ASPP-like branches (over 256 KiB, so copies are cut in pieces), every
  // axis, negative axes, a zero-size input.
  const std::vector<Case> cases = {
      {{{1, 64, 33, 65}, {1, 64, 33, 65}, {1, 17, 33, 65}, {1, 3, 33, 65}}, 1},
      {{{2, 3, 7, 9}, {1, 3, 7, 9}}, 0},
      {{{2, 3, 7, 9}, {2, 3, 1, 9}, {2, 3, 5, 9}}, 2},
      {{{2, 3, 7, 9}, {2, 3, 7, 1}}, -1},
      {{{1, 8, 7, 9}, {1, 0, 7, 9}, {1, 1, 7, 9}}, 1},
      {{{5}, {3}}, 0},
  };
  for (const Case& c : cases) {
    AttributeMap attributes;
    attributes.set_int("axis", c.axis);
    for (DType dtype : {DType::dtype_f32, DType::dtype_i32}) {
      std::vector<Tensor> inputs;
      for (const Shape& shape : c.inputs) {
        Tensor t = testing::random_tensor(shape, rng);
        if (dtype == DType::dtype_i32) {
          Tensor i(DType::dtype_i32, shape);
          for (int64_t k = 0; k < t.numel(); ++k) i.i32()[k] = int32_t(t.f32()[k] * 1e6f);
          t = std::move(i);
        }
        inputs.push_back(std::move(t));
      }
      Graph graph = single_node_graph(OpType::op_concat, attributes, c.inputs,
                                      std::vector<DType>(c.inputs.size(), dtype));
      INFO("axis " << c.axis << " dtype " << dtype_name(dtype));
      check_kernel(cpu_make_concat_kernel, graph, inputs, run_reference(graph, inputs),
                   check_bitwise);
    }
  }
}

TEST_CASE("softmax and argmax over channels match the reference", "[cpu]") {
  std::mt19937 rng(62);
  const std::vector<int64_t> channels = {1, 3, 8, 17, 64};
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{1, 1}, {7, 9}, {33, 65}};
  for (int64_t c : channels) {
    for (const auto& size : sizes) {
      const Shape shape = {2, c, size.first, size.second};
      INFO(shape_to_string(shape));
      std::vector<Tensor> inputs;
      inputs.push_back(testing::random_tensor(shape, rng, -6.f, 6.f));
      {
        AttributeMap attributes;
        attributes.set_int("axis", 1);
        Graph graph = single_node_graph(OpType::op_softmax, attributes, {shape});
        // Float exp (≤ 2 ulp), the sum of C positive terms (≤ C/2 roundings relative) and the
        // quotient: within (C + 8)·FLT_EPSILON of the reference relatively.
        const double relative = double(c + 8) * FLT_EPSILON;
        check_kernel(cpu_make_softmax_argmax_kernel, graph, inputs, run_reference(graph, inputs),
                     [&](const Tensor& y, const Tensor& e) {
                       int64_t bad = 0;
                       for (int64_t i = 0; i < y.numel(); ++i)
                         if (!(std::fabs(double(y.f32()[i]) - double(e.f32()[i])) <=
                               relative * std::fabs(double(e.f32()[i])) + 1e-30))
                           ++bad;
                       CHECK(bad == 0);
                     });
      }
      // Values on a coarse grid give many ties; NaN counts as the maximum.
      Tensor& x = inputs[0];
      for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = std::round(x.f32()[i]);
      for (int64_t i = 0; i < x.numel(); i += 37) x.f32()[i] = NAN;
      for (int64_t keepdims : {0, 1}) {
        AttributeMap attributes;
        attributes.set_int("axis", 1);
        attributes.set_int("keepdims", keepdims);
        Graph graph = single_node_graph(OpType::op_argmax, attributes, {shape});
        check_kernel(cpu_make_softmax_argmax_kernel, graph, inputs, run_reference(graph, inputs),
                     check_bitwise);
      }
    }
  }
}

TEST_CASE("softmax and argmax over other axes are left to the reference", "[cpu]") {
  for (int64_t axis : {0, 2, 3, -1}) {
    AttributeMap attributes;
    attributes.set_int("axis", axis);
    Graph softmax = single_node_graph(OpType::op_softmax, attributes, {{2, 3, 7, 9}});
    Graph argmax = single_node_graph(OpType::op_argmax, attributes, {{2, 3, 7, 9}});
    CHECK_FALSE(cpu_make_softmax_argmax_kernel(softmax, 0, CpuKernelConfig()));
    CHECK_FALSE(cpu_make_softmax_argmax_kernel(argmax, 0, CpuKernelConfig()));
  }
  AttributeMap attributes;
  attributes.set_int("axis", 1);
  Graph rank3 = single_node_graph(OpType::op_softmax, attributes, {{3, 7, 9}});
  CHECK_FALSE(cpu_make_softmax_argmax_kernel(rank3, 0, CpuKernelConfig()));
}
