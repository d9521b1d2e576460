// The fused inverted-residual block kernel (cpu/fused_block.h) against the same nodes run one
// by one: bitwise equal to the unfused CPU kernels on every ISA this machine runs (same plans,
// same arithmetic per element), within float accumulation error of the reference convs, and
// bitwise identical for 1, 2 and 3 threads; and the session's fusion of such a chain in a graph.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/depthwise_conv.h"
#include "cpu/fused_block.h"
#include "cpu/gemm.h"
#include "cpu/pointwise_conv.h"
#include "ops/ops.h"
#include "runtime/session.h"
#include "tests/cpu_kernel_testing.h"
#include "tests/graph_fixtures.h"

using namespace atrous;
using cpu_testing::runnable_isas;

namespace {

struct BlockCase {
  int64_t channels, expanded, out_channels, height, width;
  int64_t kernel, stride, dilation, pad;
  bool residual;
  const char* expand_act;
  const char* depthwise_act;
  const char* project_act;
};

AttributeMap conv_attributes(const char* act, int64_t group = 1, int64_t stride = 1,
                             int64_t dilation = 1, int64_t pad = 0) {
  AttributeMap a;
  a.set_string("activation", act);
  a.set_int("group", group);
  a.set_ints("strides", {stride, stride});
  a.set_ints("dilations", {dilation, dilation});
  a.set_ints("pads", {pad, pad, pad, pad});
  return a;
}

Tensor reference_conv(const Tensor& x, const Tensor& w, const Tensor& b, const AttributeMap& a) {
  std::vector<const TensorDesc*> descs;
  TensorDesc xd{DType::dtype_f32, x.shape()}, wd{DType::dtype_f32, w.shape()},
      bd{DType::dtype_f32, b.shape()};
  std::vector<TensorDesc> out;
  REQUIRE(op_infer(OpType::op_conv, a, {&xd, &wd, &bd}, &out).ok());
  Tensor y(DType::dtype_f32, out[0].shape);
  REQUIRE(
      op_run_reference(OpType::op_conv, a, {&x.view(), &w.view(), &b.view()}, {&y.view()}).ok());
  return y;
}

Activation activation_of(const char* name) {
  AttributeMap a;
  a.set_string("activation", name);
  Activation act;
  REQUIRE(activation_from_conv_attributes(a, &act).ok());
  return act;
}

// The model on CPU sessions of 1, 2 and 3 threads (profiled, graph optimizations off, so what
// runs is the session's own fusion): check(session, output 0) after each run.
void for_cpu_sessions(const std::shared_ptr<const Model>& model,
                      const std::vector<NamedInput>& inputs,
                      const std::function<void(const Session&, Tensor&)>& check) {
  for (int threads : {1, 2, 3}) {
    SessionOptions options;
    options.backend = Backend::backend_cpu;
    options.threads = threads;
    options.profile = true;
    options.optimize = false;
    std::unique_ptr<Session> session;
    REQUIRE(Session::create(model, options, &session).ok());
    std::vector<Tensor> outputs;
    REQUIRE(session->run(inputs, &outputs).ok());
    INFO("threads " << threads);
    check(*session, outputs[0]);
  }
}

// The model (input "x") on the reference backend and on the CPU sessions of for_cpu_sessions:
// every CPU result within relative L2 1e-5 of the reference and the three bitwise equal.
void check_cpu_sessions(const std::shared_ptr<const Model>& model, const Tensor& input,
                        const std::function<void(const Session&)>& check) {
  std::unique_ptr<Session> reference;
  REQUIRE(Session::create(model, SessionOptions(), &reference).ok());
  std::vector<Tensor> expected;
  REQUIRE(reference->run({{"x", &input.view()}}, &expected).ok());
  std::vector<Tensor> results;
  for_cpu_sessions(model, {{"x", &input.view()}}, [&](const Session& session, Tensor& output) {
    check(session);
    CHECK(testing::relative_l2(expected[0], output) <= 1e-5);
    results.push_back(std::move(output));
  });
  CHECK(cpu_testing::bitwise_equal(results[0], results[1]));
  CHECK(cpu_testing::bitwise_equal(results[0], results[2]));
}

}  // namespace

TEST_CASE("fused inverted-residual blocks equal the unfused kernels and the reference", "[cpu]") {
  // Channels below, at and above the 6-row GEMM panel and the 8/16-lane vectors; odd sizes;
  // widths on both depthwise paths (banded up to 160 columns, row by row above); stride 1 and
  // 2, 3×3 and 5×5, dilation 2, padding that is not "same" (pad 0), every activation kind the
  // blocks use, residual or not.
  const std::vector<BlockCase> cases = {
      {16, 64, 24, 33, 45, 3, 2, 1, 1, false, "relu", "relu", "none"},
      {24, 72, 24, 17, 29, 3, 1, 1, 1, true, "relu", "relu", "none"},
      {40, 240, 80, 13, 21, 3, 2, 1, 1, false, "hard_swish", "hard_swish", "none"},
      {80, 184, 80, 9, 11, 3, 1, 1, 1, true, "hard_swish", "hard_swish", "none"},
      {3, 5, 3, 7, 9, 5, 1, 1, 2, true, "none", "none", "none"},
      {7, 13, 6, 11, 171, 3, 1, 1, 1, true, "relu", "none", "relu"},
      {8, 17, 11, 10, 165, 5, 2, 1, 2, false, "clip", "relu", "hard_swish"},
      {16, 48, 16, 19, 23, 3, 1, 2, 2, true, "relu", "hard_swish", "none"},
      {5, 32, 9, 12, 300, 5, 1, 1, 2, false, "relu", "relu", "none"},
      {6, 20, 6, 6, 8, 3, 1, 1, 0, false, "relu", "relu", "none"},
      {12, 36, 12, 1, 1, 3, 1, 1, 1, true, "relu", "relu", "none"},
      {4, 9, 4, 23, 5, 3, 2, 3, 3, false, "relu", "sigmoid", "none"},
      // Stride 2 past the padded-copy width (the stride-2 rows kernel's interior and strips).
      {8, 24, 8, 9, 341, 3, 2, 1, 1, false, "relu", "hard_swish", "none"},
      {6, 12, 6, 12, 330, 5, 2, 1, 2, false, "hard_swish", "relu", "none"},
      // No expansion (expanded 0): the depthwise reads the block input (E = C), then the
      // projection (MobileNetV3's first block; the decoders' depthwise separable convs).
      {16, 0, 16, 37, 171, 3, 1, 1, 1, true, "none", "relu", "none"},
      {24, 0, 40, 19, 33, 5, 2, 1, 2, false, "none", "hard_swish", "relu"},
      {7, 0, 5, 13, 200, 5, 1, 2, 4, false, "none", "relu", "none"},
      {33, 0, 33, 9, 10, 3, 1, 1, 1, true, "none", "none", "none"},
      {17, 0, 6, 11, 341, 3, 2, 1, 1, false, "none", "relu", "hard_swish"},
      // No projection (out_channels 0): the block stops at the depthwise (squeeze-excitation).
      {24, 72, 0, 21, 37, 5, 2, 1, 2, false, "relu", "relu", "none"},
      {40, 120, 0, 9, 170, 5, 1, 1, 2, false, "hard_swish", "hard_swish", "none"},
      {16, 20, 0, 8, 9, 3, 1, 2, 2, false, "relu", "none", "none"},
  };
  std::mt19937 rng(15);
  for (const BlockCase& c : cases) {
    const int64_t batch = c.height == 1 || c.expanded == 0 ? 2 : 1;
    const bool has_expand = c.expanded > 0;
    const int64_t expanded_channels = has_expand ? c.expanded : c.channels;
    Tensor x = testing::random_tensor({batch, c.channels, c.height, c.width}, rng);
    Tensor we = testing::random_tensor({expanded_channels, c.channels, 1, 1}, rng, -0.5f, 0.5f);
    Tensor be = testing::random_tensor({expanded_channels}, rng);
    Tensor wd =
        testing::random_tensor({expanded_channels, 1, c.kernel, c.kernel}, rng, -0.5f, 0.5f);
    Tensor bd = testing::random_tensor({expanded_channels}, rng);
    const bool project = c.out_channels > 0;
    const int64_t out_channels = project ? c.out_channels : expanded_channels;
    Tensor wp = testing::random_tensor({out_channels, expanded_channels, 1, 1}, rng, -0.3f, 0.3f);
    Tensor bp = testing::random_tensor({out_channels}, rng);

    // The reference: the three convs and the add, one after the other.
    Tensor e = has_expand ? reference_conv(x, we, be, conv_attributes(c.expand_act))
                          : Tensor(DType::dtype_f32, x.shape());
    if (!has_expand) std::memcpy(e.data(), x.data(), x.byte_size());
    Tensor d = reference_conv(
        e, wd, bd,
        conv_attributes(c.depthwise_act, expanded_channels, c.stride, c.dilation, c.pad));
    Tensor expected = project ? reference_conv(d, wp, bp, conv_attributes(c.project_act))
                              : Tensor(DType::dtype_f32, d.shape());
    if (!project) std::memcpy(expected.data(), d.data(), d.byte_size());
    const bool residual = project && c.residual && expected.shape() == x.shape();
    if (residual)
      for (int64_t i = 0; i < expected.numel(); ++i) expected.f32()[i] += x.f32()[i];

    WindowAxis axes[2];
    for (int i = 0; i < 2; ++i) {
      WindowAxis& a = axes[i];
      a.input = i == 0 ? c.height : c.width;
      a.kernel = c.kernel;
      a.stride = c.stride;
      a.dilation = c.dilation;
      a.pad_begin = a.pad_end = c.pad;
      a.output = (a.input + 2 * c.pad - a.extent()) / c.stride + 1;
    }
    REQUIRE(axes[0].output == d.shape()[2]);
    REQUIRE(axes[1].output == d.shape()[3]);
    for (CpuIsa isa : runnable_isas()) {
      FusedBlockPlan plan;
      plan.has_expand = has_expand;
      if (has_expand)
        gemm_pack_weights(we.f32(), be.f32(), c.expanded, c.channels, activation_of(c.expand_act),
                          isa, &plan.expand);
      depthwise_plan(wd.f32(), bd.f32(), expanded_channels, axes, activation_of(c.depthwise_act),
                     isa, &plan.depthwise);
      plan.has_project = project;
      if (project)
        gemm_pack_weights(wp.f32(), bp.f32(), out_channels, expanded_channels,
                          activation_of(c.project_act), isa, &plan.project);
      plan.residual = residual;
      fused_block_plan_rows(&plan);

      // The unfused CPU kernels on the same plans.
      ThreadPool one(1);
      const int64_t pixels = c.height * c.width, out_pixels = axes[0].output * axes[1].output;
      std::vector<float> expanded(x.f32(), x.f32() + x.numel());
      if (has_expand) expanded.assign(size_t(batch * c.expanded * pixels), NAN);
      std::vector<float> depthwise(size_t(batch * expanded_channels * out_pixels));
      std::vector<float> unfused(size_t(expected.numel()));
      for (int64_t b = 0; b < batch && has_expand; ++b) {
        PointwisePacker packer(x.f32() + b * c.channels * pixels, pixels);
        gemm_run(plan.expand, packer, pixels, expanded.data() + b * c.expanded * pixels, pixels,
                 one, nullptr, 0);
      }
      depthwise_run(plan.depthwise, expanded.data(), batch, depthwise.data(), one);
      for (int64_t b = 0; b < batch && project; ++b) {
        PointwisePacker packer(depthwise.data() + b * expanded_channels * out_pixels, out_pixels);
        gemm_run(plan.project, packer, out_pixels, unfused.data() + b * out_channels * out_pixels,
                 out_pixels, one, nullptr, 0);
      }
      if (!project) unfused = depthwise;
      if (residual)
        for (size_t i = 0; i < unfused.size(); ++i) unfused[i] = unfused[i] + x.f32()[i];

      std::vector<std::vector<float>> runs;
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<float> y(size_t(expected.numel()), NAN);
        std::vector<float> scratch(size_t(threads) * fused_block_scratch_floats(plan));
        fused_block_run(plan, x.f32(), batch, y.data(), pool, scratch.data(), threads);
        runs.push_back(std::move(y));
      }
      INFO("C=" << c.channels << " E=" << c.expanded << " M=" << c.out_channels << " " << c.height
                << "x" << c.width << " k=" << c.kernel << " s=" << c.stride << " d=" << c.dilation
                << " p=" << c.pad << " residual=" << residual << " isa=" << cpu_isa_name(isa));
      CHECK(std::memcmp(runs[0].data(), unfused.data(), unfused.size() * sizeof(float)) == 0);
      CHECK(runs[0] == runs[1]);
      CHECK(runs[0] == runs[2]);
      Tensor actual(DType::dtype_f32, expected.shape());
      std::memcpy(actual.data(), runs[0].data(), actual.byte_size());
      bool finite = true;
      for (float v : runs[0]) finite = finite && std::isfinite(v);
      CHECK(finite);
      CHECK(testing::relative_l2(expected, actual) <= 1e-5);
    }
  }
}

TEST_CASE("the session fuses an inverted-residual block and still equals the reference",
          "[cpu][session]") {
  // x → expand 16→64 (relu) → depthwise 3×3 (relu) → project 64→16 → + x, at 64×66: the
  // expanded tensor passes the fusion threshold (1 MiB), so the chain runs as one kernel.
  std::mt19937 rng(7);
  Graph graph;
  const int64_t h = 64, w = 66;
  int32_t x = graph.add_tensor("x", DType::dtype_f32, {1, 16, h, w});
  graph.inputs = {x};
  int32_t we = graph.add_constant("we", testing::random_tensor({64, 16, 1, 1}, rng, -0.5f, 0.5f));
  int32_t be = graph.add_constant("be", testing::random_tensor({64}, rng));
  int32_t wd = graph.add_constant("wd", testing::random_tensor({64, 1, 3, 3}, rng, -0.5f, 0.5f));
  int32_t bd = graph.add_constant("bd", testing::random_tensor({64}, rng));
  int32_t wp = graph.add_constant("wp", testing::random_tensor({16, 64, 1, 1}, rng, -0.3f, 0.3f));
  int32_t bp = graph.add_constant("bp", testing::random_tensor({16}, rng));
  int32_t e = graph.add_tensor("e", DType::dtype_f32, {1, 64, h, w});
  int32_t d = graph.add_tensor("d", DType::dtype_f32, {1, 64, h, w});
  int32_t p = graph.add_tensor("p", DType::dtype_f32, {1, 16, h, w});
  int32_t y = graph.add_tensor("y", DType::dtype_f32, {1, 16, h, w});
  testing::add_node(graph, OpType::op_conv, "expand", {x, we, be}, {e}, conv_attributes("relu"));
  testing::add_node(graph, OpType::op_conv, "depthwise", {e, wd, bd}, {d},
                    conv_attributes("relu", 64, 1, 1, 1));
  testing::add_node(graph, OpType::op_conv, "project", {d, wp, bp}, {p}, conv_attributes("none"));
  testing::add_node(graph, OpType::op_add, "add", {p, x}, {y});
  graph.outputs = {y};
  std::shared_ptr<const Model> model;
  REQUIRE(Model::from_graph(graph, &model).ok());

  Tensor input = testing::random_tensor({1, 16, h, w}, rng);
  check_cpu_sessions(model, input, [&](const Session& session) {
    REQUIRE(session.profile().size() == 4);
    CHECK(session.profile()[0].kernel.rfind("fused_block_1x1_dw3x3_1x1_add/", 0) == 0);
    for (size_t n = 1; n < 4; ++n) CHECK(session.profile()[n].kernel == "fused");
    // Nothing of the expanded tensors is in the arena: input and output only (+ alignment).
    CHECK(session.arena_bytes() <= size_t(16 * h * w * 4 + 64));
  });
}

// Depthwise → project 1×1 → + x without an expansion (MobileNetV3's first block) runs as one
// kernel where the depthwise output would pass 1 MiB and a group's input rows fit in L2 beside
// the band; wide chains (288 channels × 513 columns, the decoders' depthwise separable convs)
// stay unfused. Both equal the reference, bitwise for 1, 2 and 3 threads.
TEST_CASE("the session fuses a depthwise and the 1x1 that reads it", "[cpu][session]") {
  struct Chain {
    int64_t channels, height, width;
    bool fused;
  };
  for (const Chain& chain : {Chain{16, 130, 131, true}, Chain{288, 12, 513, false}}) {
    std::mt19937 rng(9);
    Graph graph;
    const int64_t c = chain.channels, h = chain.height, w = chain.width;
    int32_t x = graph.add_tensor("x", DType::dtype_f32, {1, c, h, w});
    graph.inputs = {x};
    int32_t wd = graph.add_constant("wd", testing::random_tensor({c, 1, 3, 3}, rng, -0.5f, 0.5f));
    int32_t bd = graph.add_constant("bd", testing::random_tensor({c}, rng));
    int32_t wp = graph.add_constant("wp", testing::random_tensor({c, c, 1, 1}, rng, -0.3f, 0.3f));
    int32_t bp = graph.add_constant("bp", testing::random_tensor({c}, rng));
    int32_t d = graph.add_tensor("d", DType::dtype_f32, {1, c, h, w});
    int32_t p = graph.add_tensor("p", DType::dtype_f32, {1, c, h, w});
    int32_t y = graph.add_tensor("y", DType::dtype_f32, {1, c, h, w});
    testing::add_node(graph, OpType::op_conv, "depthwise", {x, wd, bd}, {d},
                      conv_attributes("relu", c, 1, 1, 1));
    testing::add_node(graph, OpType::op_conv, "project", {d, wp, bp}, {p}, conv_attributes("none"));
    testing::add_node(graph, OpType::op_add, "add", {p, x}, {y});
    graph.outputs = {y};
    std::shared_ptr<const Model> model;
    REQUIRE(Model::from_graph(graph, &model).ok());
    Tensor input = testing::random_tensor({1, c, h, w}, rng);
    INFO("channels " << c);
    check_cpu_sessions(model, input, [&](const Session& session) {
      REQUIRE(session.profile().size() == 3);
      if (chain.fused) {
        CHECK(session.profile()[0].kernel.rfind("fused_block_dw3x3_1x1_add/", 0) == 0);
        CHECK(session.profile()[1].kernel == "fused");
        CHECK(session.profile()[2].kernel == "fused");
      } else {
        CHECK(session.profile()[0].kernel.rfind("depthwise_3x3/", 0) == 0);
        CHECK(session.profile()[1].kernel.rfind("pointwise/", 0) == 0);
      }
    });
  }
}

// A squeeze-excitation's per-channel mul and the 1×1 that alone reads its output run as one
// kernel (the packer scales as it packs): bitwise the 1×1 run on the product the mul computes,
// for 1, 2 and 3 threads, with the scale as either operand of the mul.
TEST_CASE("the session fuses a per-channel mul into the following 1x1", "[cpu][session]") {
  std::mt19937 rng(8);
  // Inputs the 1×1 reads in place (scaled into the scratch first), larger ones (scaled in
  // column chunks: several, the last one partial; 128 channels make chunks of 1024 columns,
  // whose rows get a padded pitch), and a 7×7 image with a long K (pixel tiles where the ISA
  // takes them).
  struct Shape4 {
    int64_t c, m, h, w;
  };
  for (const Shape4& shape :
       {Shape4{24, 17, 19, 21}, Shape4{40, 8, 80, 90}, Shape4{120, 40, 61, 97},
        Shape4{128, 24, 40, 60}, Shape4{576, 96, 7, 7}})
    for (bool scale_first : {false, true}) {
      const int64_t c = shape.c, m = shape.m, h = shape.h, w = shape.w;
      Graph graph;
      int32_t x = graph.add_tensor("x", DType::dtype_f32, {2, c, h, w});
      int32_t s = graph.add_tensor("s", DType::dtype_f32, {2, c, 1, 1});
      graph.inputs = {x, s};
      const Tensor weight = testing::random_tensor({m, c, 1, 1}, rng, -0.5f, 0.5f);
      const Tensor bias = testing::random_tensor({m}, rng);
      auto copy = [](const Tensor& t) {
        Tensor out(t.dtype(), t.shape());
        std::memcpy(out.data(), t.data(), t.byte_size());
        return out;
      };
      int32_t wp = graph.add_constant("wp", copy(weight));
      int32_t bp = graph.add_constant("bp", copy(bias));
      int32_t scaled = graph.add_tensor("scaled", DType::dtype_f32, {2, c, h, w});
      int32_t y = graph.add_tensor("y", DType::dtype_f32, {2, m, h, w});
      testing::add_node(graph, OpType::op_mul, "scale",
                        scale_first ? std::vector<int32_t>{s, x} : std::vector<int32_t>{x, s},
                        {scaled});
      testing::add_node(graph, OpType::op_conv, "project", {scaled, wp, bp}, {y},
                        conv_attributes("hard_swish"));
      graph.outputs = {y};
      std::shared_ptr<const Model> model;
      REQUIRE(Model::from_graph(graph, &model).ok());
      // The same 1×1 alone, on the product computed here.
      Graph alone;
      int32_t ax = alone.add_tensor("scaled", DType::dtype_f32, {2, c, h, w});
      alone.inputs = {ax};
      int32_t awp = alone.add_constant("wp", copy(weight));
      int32_t abp = alone.add_constant("bp", copy(bias));
      int32_t ay = alone.add_tensor("y", DType::dtype_f32, {2, m, h, w});
      testing::add_node(alone, OpType::op_conv, "project", {ax, awp, abp}, {ay},
                        conv_attributes("hard_swish"));
      alone.outputs = {ay};
      std::shared_ptr<const Model> alone_model;
      REQUIRE(Model::from_graph(alone, &alone_model).ok());

      Tensor input = testing::random_tensor({2, c, h, w}, rng);
      Tensor scale = testing::random_tensor({2, c, 1, 1}, rng);
      Tensor product(DType::dtype_f32, {2, c, h, w});
      for (int64_t i = 0; i < product.numel(); ++i)
        product.f32()[i] = input.f32()[i] * scale.f32()[i / (h * w)];
      SessionOptions cpu;
      cpu.backend = Backend::backend_cpu;
      std::unique_ptr<Session> single;
      REQUIRE(Session::create(alone_model, cpu, &single).ok());
      std::vector<Tensor> expected;
      REQUIRE(single->run({{"scaled", &product.view()}}, &expected).ok());
      INFO("scale first=" << scale_first << " C=" << c << " " << h << "x" << w);
      for_cpu_sessions(model, {{"x", &input.view()}, {"s", &scale.view()}},
                       [&](const Session& session, Tensor& output) {
                         REQUIRE(session.profile().size() == 2);
                         CHECK(session.profile()[0].kernel.rfind("mul_1x1/", 0) == 0);
                         CHECK(session.profile()[1].kernel == "fused");
                         CHECK(cpu_testing::bitwise_equal(expected[0], output));
                       });
    }
}
