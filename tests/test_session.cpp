// Sessions validate their inputs, and .npy files round-trip.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "graph/format.h"
#include "ops/ops.h"
#include "runtime/npy.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"
#ifdef ATROUS_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

using namespace atrous;

namespace {

std::shared_ptr<const Model> test_model() {
  std::vector<uint8_t> bytes = format_write_memory(testing::make_test_graph());
  std::shared_ptr<const Model> model;
  Status status = Model::load_memory(bytes.data(), bytes.size(), &model);
  REQUIRE(status.ok());
  return model;
}

}  // namespace

TEST_CASE("a session refuses wrong input names, shapes and dtypes with clear messages",
          "[session]") {
  std::unique_ptr<Session> session;
  REQUIRE(Session::create(test_model(), SessionOptions(), &session).ok());
  std::vector<Tensor> outputs;
  Tensor good(DType::dtype_f32, {1, 3, 9, 11});
  Tensor wrong_shape(DType::dtype_f32, {1, 3, 9, 12});
  Tensor wrong_dtype(DType::dtype_i32, {1, 3, 9, 11});

  Status status = session->run({{"img", &good.view()}}, &outputs);
  CHECK_THAT(status.message(),
             Catch::Contains("unknown input 'img'") && Catch::Contains("'image'"));
  status = session->run({{"image", &wrong_shape.view()}}, &outputs);
  CHECK_THAT(status.message(),
             Catch::Contains("shape [1,3,9,12]") && Catch::Contains("[1,3,9,11]"));
  status = session->run({{"image", &wrong_dtype.view()}}, &outputs);
  CHECK_THAT(status.message(), Catch::Contains("dtype int32"));
  status = session->run({}, &outputs);
  CHECK_THAT(status.message(), Catch::Contains("'image' was not given"));
  status = session->run({{"image", &good.view()}, {"image", &good.view()}}, &outputs);
  CHECK_THAT(status.message(), Catch::Contains("given twice"));
  status = session->run({{"image", &good.view()}}, &outputs);
  REQUIRE(status.ok());
  REQUIRE(outputs.size() == 2);
  CHECK(outputs[0].shape() == Shape{1, 7, 5, 6});
}

TEST_CASE("two sessions on one model, optimized or not, agree", "[session]") {
  auto model = test_model();
  SessionOptions plain;
  plain.optimize = false;
  std::unique_ptr<Session> a, b;
  REQUIRE(Session::create(model, SessionOptions(), &a).ok());
  REQUIRE(Session::create(model, plain, &b).ok());
  std::mt19937 rng(9);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  std::vector<Tensor> out_a, out_b;
  REQUIRE(a->run({{"image", &input.view()}}, &out_a).ok());
  REQUIRE(b->run({{"image", &input.view()}}, &out_b).ok());
  REQUIRE(out_a.size() == out_b.size());
  for (size_t o = 0; o < out_a.size(); ++o)
    for (int64_t i = 0; i < out_a[o].numel(); ++i)
      CHECK(out_a[o].f32()[i] == Approx(out_b[o].f32()[i]).epsilon(1e-5).margin(1e-6));
}

// A second run writes into the tensors the first left in `outputs` (no reallocation), with
// the second input's results; outputs of other shapes (a vector from elsewhere) are replaced.
TEST_CASE("a session reuses the output tensors of an earlier run", "[session]") {
  std::unique_ptr<Session> session, fresh;
  REQUIRE(Session::create(test_model(), SessionOptions(), &session).ok());
  REQUIRE(Session::create(test_model(), SessionOptions(), &fresh).ok());
  std::mt19937 rng(10);
  Tensor first = testing::random_tensor({1, 3, 9, 11}, rng);
  Tensor second = testing::random_tensor({1, 3, 9, 11}, rng);
  std::vector<Tensor> outputs, expected;
  REQUIRE(session->run({{"image", &first.view()}}, &outputs).ok());
  REQUIRE(outputs.size() == 2);
  const void* data0 = outputs[0].data();
  const void* data1 = outputs[1].data();
  REQUIRE(session->run({{"image", &second.view()}}, &outputs).ok());
  CHECK(outputs[0].data() == data0);
  CHECK(outputs[1].data() == data1);
  REQUIRE(fresh->run({{"image", &second.view()}}, &expected).ok());
  REQUIRE(expected.size() == outputs.size());
  for (size_t o = 0; o < outputs.size(); ++o) {
    REQUIRE(outputs[o].byte_size() == expected[o].byte_size());
    CHECK(std::memcmp(outputs[o].data(), expected[o].data(), outputs[o].byte_size()) == 0);
  }
  std::vector<Tensor> other;
  other.emplace_back(DType::dtype_f32, Shape{2, 2});
  REQUIRE(session->run({{"image", &second.view()}}, &other).ok());
  REQUIRE(other.size() == 2);
  CHECK(other[0].shape() == outputs[0].shape());
  CHECK(std::memcmp(other[0].data(), expected[0].data(), other[0].byte_size()) == 0);
}

TEST_CASE("unsupported backends and thread counts are refused", "[session]") {
  std::unique_ptr<Session> session;
  SessionOptions options;
  options.threads = 0;
  CHECK_FALSE(Session::create(test_model(), options, &session).ok());
  options.threads = 1;
}

TEST_CASE("a cuda session runs on the device or falls back to the CPU backend", "[session]") {
  std::unique_ptr<Session> session;
  SessionOptions options;
  options.backend = Backend::backend_cuda;
  REQUIRE(Session::create(test_model(), options, &session).ok());
  const Backend used = session->options().backend;
  // The device decides: CUDA exactly when one can be used (CPU in a build without CUDA).
#ifdef ATROUS_HAVE_CUDA
  std::string reason;
  CHECK((used == Backend::backend_cuda) == cuda_device_available(&reason));
#else
  CHECK(used == Backend::backend_cpu);
#endif
}

TEST_CASE(".npy files round-trip for every supported dtype", "[npy]") {
  char path[] = "/tmp/atrous_npy_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  for (DType dtype : {DType::dtype_f32, DType::dtype_i32, DType::dtype_i64, DType::dtype_u8}) {
    for (Shape shape : {Shape{}, Shape{5}, Shape{2, 3, 4}, Shape{1, 0, 3}}) {
      Tensor tensor(dtype, shape);
      for (size_t i = 0; i < tensor.byte_size(); ++i)
        static_cast<uint8_t*>(tensor.data())[i] = uint8_t(i * 37 + 1);
      REQUIRE(npy_write(path, tensor.view()).ok());
      Tensor back;
      Status status = npy_read(path, &back);
      INFO(status.message());
      REQUIRE(status.ok());
      CHECK(back.dtype() == dtype);
      CHECK(back.shape() == shape);
      CHECK(std::memcmp(back.data(), tensor.data(), tensor.byte_size()) == 0);
    }
  }
  std::FILE* file = std::fopen(path, "wb");
  std::fputs("not numpy", file);
  std::fclose(file);
  Tensor back;
  CHECK_THAT(npy_read(path, &back).message(), Catch::Contains("not a .npy file"));
  std::remove(path);
}

// Found by fuzz/fuzz_npy.cpp: an empty array whose other dims are huge, such as shape
// (0, 4232271383375053788, 12111), overflowed the element count (undefined behaviour, reported by
// the sanitizer builds). It must read as an empty tensor or be refused, never overflow.
TEST_CASE(".npy: an empty array with huge other dims", "[npy]") {
  char path[] = "/tmp/atrous_npy_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  for (const char* shape : {"(0, 4232271383375053788, 12111)", "(4611686018427387904, 8, 0)"}) {
    std::string header =
        std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + shape + ", }";
    header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
    std::string file = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xFF) +
                       char(header.size() >> 8) + header;
    std::FILE* out = std::fopen(path, "wb");
    REQUIRE(out);
    std::fwrite(file.data(), 1, file.size(), out);
    std::fclose(out);
    Tensor tensor;
    Status status = npy_read(path, &tensor);
    INFO(shape << ": " << status.message());
    if (status.ok()) CHECK(tensor.numel() == 0);
  }
  std::remove(path);
}

namespace {

// input [2,3,9,11] → 1×1 conv 3→20 (relu) → 3×3 conv 20→8 → 1×1 conv 8→13 (hard_swish):
// two pointwise convs and a dense 3×3 for the fast path, a batch of 2, pixel counts off the
// tile sizes.
std::shared_ptr<const Model> pointwise_model() {
  std::mt19937 rng(12);
  Graph graph;
  int32_t input = graph.add_tensor("image", DType::dtype_f32, {2, 3, 9, 11});
  graph.inputs = {input};
  int32_t w1 = graph.add_constant("w1", testing::random_tensor({20, 3, 1, 1}, rng));
  int32_t b1 = graph.add_constant("b1", testing::random_tensor({20}, rng));
  int32_t w2 = graph.add_constant("w2", testing::random_tensor({8, 20, 3, 3}, rng));
  int32_t w3 = graph.add_constant("w3", testing::random_tensor({13, 8, 1, 1}, rng));
  int32_t b3 = graph.add_constant("b3", testing::random_tensor({13}, rng));
  int32_t t1 = graph.add_tensor("t1", DType::dtype_f32, {});
  int32_t t2 = graph.add_tensor("t2", DType::dtype_f32, {});
  int32_t t3 = graph.add_tensor("t3", DType::dtype_f32, {});
  AttributeMap relu, same, swish;
  relu.set_string("activation", "relu");
  same.set_string("auto_pad", "same_upper");
  swish.set_string("activation", "hard_swish");
  testing::add_node(graph, OpType::op_conv, "pw1", {input, w1, b1}, {t1}, relu);
  testing::add_node(graph, OpType::op_conv, "conv", {t1, w2, kAbsentInput}, {t2}, same);
  testing::add_node(graph, OpType::op_conv, "pw2", {t2, w3, b3}, {t3}, swish);
  graph.outputs = {t3};
  std::shared_ptr<const Model> model;
  REQUIRE(Model::from_graph(graph, &model).ok());
  return model;
}

}  // namespace

TEST_CASE("the cpu backend equals the reference backend on a whole graph, for any thread count",
          "[session][cpu]") {
  auto model = pointwise_model();
  std::mt19937 rng(11);
  Tensor input = testing::random_tensor({2, 3, 9, 11}, rng);
  std::unique_ptr<Session> reference;
  REQUIRE(Session::create(model, SessionOptions(), &reference).ok());
  std::vector<Tensor> expected;
  REQUIRE(reference->run({{"image", &input.view()}}, &expected).ok());
  std::vector<std::vector<Tensor>> results;
  for (int threads : {1, 2, 3}) {
    SessionOptions options;
    options.backend = Backend::backend_cpu;
    options.threads = threads;
    std::unique_ptr<Session> session;
    REQUIRE(Session::create(model, options, &session).ok());
    std::vector<Tensor> outputs;
    REQUIRE(session->run({{"image", &input.view()}}, &outputs).ok());
    // The 3×3 conv runs on the dense-conv kernel too: float accumulation over K = 180 terms
    // errs relative to Σ|w·x| of its inputs (not to the output, which cancels), and pw2
    // carries that absolute error on; measured ≤ 2.4e-6 here, so the margin is 2e-5.
    for (size_t o = 0; o < outputs.size(); ++o)
      for (int64_t i = 0; i < outputs[o].numel(); ++i)
        CHECK(outputs[o].f32()[i] == Approx(expected[o].f32()[i]).epsilon(1e-5).margin(2e-5));
    results.push_back(std::move(outputs));
  }
  for (size_t o = 0; o < results[0].size(); ++o) {
    CHECK(std::memcmp(results[0][o].data(), results[1][o].data(), results[0][o].byte_size()) == 0);
    CHECK(std::memcmp(results[0][o].data(), results[2][o].data(), results[0][o].byte_size()) == 0);
  }
}

TEST_CASE("the arena produces concat inputs in place and aliases reshape, without changing results",
          "[session]") {
  // image → a = conv1×1, b = relu(conv1×1) → c = concat(a, b) → r = reshape(c) → output "r";
  // d = concat(image, a): a graph input cannot be produced in place, so that concat copies.
  std::mt19937 rng(31);
  Graph graph;
  int32_t image = graph.add_tensor("image", DType::dtype_f32, {1, 3, 5, 7});
  graph.inputs = {image};
  int32_t wa = graph.add_constant("wa", testing::random_tensor({4, 3, 1, 1}, rng));
  int32_t wb = graph.add_constant("wb", testing::random_tensor({2, 3, 1, 1}, rng));
  int32_t a = graph.add_tensor("a", DType::dtype_f32, {});
  int32_t b = graph.add_tensor("b", DType::dtype_f32, {});
  int32_t c = graph.add_tensor("c", DType::dtype_f32, {});
  int32_t r = graph.add_tensor("r", DType::dtype_f32, {});
  int32_t d = graph.add_tensor("d", DType::dtype_f32, {});
  AttributeMap relu, axis1, reshape;
  reshape.set_ints("shape", {6, 35});
  relu.set_string("activation", "relu");
  axis1.set_int("axis", 1);
  testing::add_node(graph, OpType::op_conv, "a", {image, wa}, {a});
  testing::add_node(graph, OpType::op_conv, "b", {image, wb}, {b}, relu);
  testing::add_node(graph, OpType::op_concat, "c", {a, b}, {c}, axis1);
  testing::add_node(graph, OpType::op_reshape, "r", {c}, {r}, reshape);
  testing::add_node(graph, OpType::op_concat, "d", {image, a}, {d}, axis1);
  graph.outputs = {r, d};
  std::shared_ptr<const Model> model;
  Status created = Model::from_graph(graph, &model);
  INFO(created.message());
  REQUIRE(created.ok());
  Tensor input = testing::random_tensor({1, 3, 5, 7}, rng);

  // Expected, op by op on separately allocated tensors.
  const Graph& g = model->graph();
  Tensor ea(DType::dtype_f32, {1, 4, 5, 7}), eb(DType::dtype_f32, {1, 2, 5, 7});
  TensorView wav = g.constant_view(wa), wbv = g.constant_view(wb);
  REQUIRE(
      op_run_reference(OpType::op_conv, AttributeMap(), {&input.view(), &wav}, {&ea.view()}).ok());
  REQUIRE(op_run_reference(OpType::op_conv, relu, {&input.view(), &wbv}, {&eb.view()}).ok());

  for (Backend backend : {Backend::backend_reference, Backend::backend_cpu}) {
    SessionOptions options;
    options.backend = backend;
    options.profile = true;
    std::unique_ptr<Session> session;
    REQUIRE(Session::create(model, options, &session).ok());
    std::vector<Tensor> outputs;
    REQUIRE(session->run({{"image", &input.view()}}, &outputs).ok());
    REQUIRE(outputs.size() == 2);
    REQUIRE(outputs[0].shape() == Shape{6, 35});
    const float* rv = outputs[0].f32();
    for (int64_t i = 0; i < 4 * 35; ++i)
      CHECK(rv[i] == Approx(ea.f32()[i]).epsilon(1e-5).margin(1e-6));
    for (int64_t i = 0; i < 2 * 35; ++i)
      CHECK(rv[4 * 35 + i] == Approx(eb.f32()[i]).epsilon(1e-5).margin(1e-6));
    const float* dv = outputs[1].f32();
    for (int64_t i = 0; i < 3 * 35; ++i) CHECK(dv[i] == input.f32()[i]);
    for (int64_t i = 0; i < 4 * 35; ++i)
      CHECK(dv[3 * 35 + i] == Approx(ea.f32()[i]).epsilon(1e-5).margin(1e-6));
    // concat c and the reshape move no data; concat d (a graph input among its inputs) copies.
    CHECK(session->profile()[2].kernel == "aliased");
    CHECK(session->profile()[3].kernel == "aliased");
    CHECK(session->profile()[4].kernel != "aliased");
    CHECK(session->arena_bytes() < session->unplanned_bytes());
  }
}

TEST_CASE(
    "a model file truncated while a session uses it changes nothing (the file is read, "
    "not mapped)",
    "[session][format]") {
  char path[] = "/tmp/atrous_truncated_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  Graph graph = testing::make_test_graph(3);
  REQUIRE(format_write_file(graph, path).ok());
  std::shared_ptr<const Model> model;
  REQUIRE(Model::load_file(path, &model).ok());
  std::mt19937 rng(5);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  std::vector<Tensor> before, after;
  SessionOptions options;
  options.backend = Backend::backend_reference;
  options.optimize = false;  // constants are read where the loader put them
  std::unique_ptr<Session> first;
  REQUIRE(Session::create(model, options, &first).ok());
  REQUIRE(first->run({{"image", &input.view()}}, &before).ok());
  // With a mapping, touching a page past the new end of file raised SIGBUS.
  REQUIRE(truncate(path, 0) == 0);
  std::unique_ptr<Session> second;
  REQUIRE(Session::create(model, options, &second).ok());
  REQUIRE(second->run({{"image", &input.view()}}, &after).ok());
  REQUIRE(first->run({{"image", &input.view()}}, &before).ok());
  REQUIRE(before.size() == after.size());
  for (size_t o = 0; o < before.size(); ++o)
    for (int64_t i = 0; i < before[o].numel(); ++i) CHECK(before[o].f32()[i] == after[o].f32()[i]);
  // Loading the truncated file now is a clean error.
  std::shared_ptr<const Model> again;
  CHECK_THAT(Model::load_file(path, &again).message(), Catch::Contains("shorter than"));
  std::remove(path);
}
