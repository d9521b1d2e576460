// Sessions validate their inputs, and .npy files round-trip.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "graph/format.h"
#include "runtime/npy.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"

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

TEST_CASE("a session refuses wrong input names, shapes and dtypes with clear messages", "[session]") {
  std::unique_ptr<Session> session;
  REQUIRE(Session::create(test_model(), SessionOptions(), &session).ok());
  std::vector<Tensor> outputs;
  Tensor good(DType::dtype_f32, {1, 3, 9, 11});
  Tensor wrong_shape(DType::dtype_f32, {1, 3, 9, 12});
  Tensor wrong_dtype(DType::dtype_i32, {1, 3, 9, 11});

  Status status = session->run({{"img", &good.view()}}, &outputs);
  CHECK_THAT(status.message(), Catch::Contains("unknown input 'img'") && Catch::Contains("'image'"));
  status = session->run({{"image", &wrong_shape.view()}}, &outputs);
  CHECK_THAT(status.message(), Catch::Contains("shape [1,3,9,12]") && Catch::Contains("[1,3,9,11]"));
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

TEST_CASE("unsupported backends and thread counts are refused", "[session]") {
  std::unique_ptr<Session> session;
  SessionOptions options;
  options.threads = 0;
  CHECK_FALSE(Session::create(test_model(), options, &session).ok());
  options.threads = 1;
  options.backend = Backend::backend_cuda;
  Status status = Session::create(test_model(), options, &session);
  CHECK_THAT(status.message(), Catch::Contains("'cuda'"));
}

TEST_CASE(".npy files round-trip for every supported dtype", "[npy]") {
  char path[] = "/tmp/atrous_npy_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  for (DType dtype : {DType::dtype_f32, DType::dtype_i32, DType::dtype_i64, DType::dtype_u8}) {
    for (Shape shape : {Shape{}, Shape{5}, Shape{2, 3, 4}, Shape{1, 0, 3}}) {
      Tensor tensor(dtype, shape);
      for (size_t i = 0; i < tensor.byte_size(); ++i) static_cast<uint8_t*>(tensor.data())[i] = uint8_t(i * 37 + 1);
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
