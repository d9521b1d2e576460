// The C API: status objects on every failure, model queries, and a run matching the C++ API.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>

#include "atrous.h"
#include "graph/format.h"
#include "runtime/session.h"
#include "tests/c_api_from_c.h"
#include "tests/graph_fixtures.h"

using namespace atrous;

namespace {

std::string take_message(atrous_status* status) {
  std::string message = atrous_status_message(status);
  atrous_status_release(status);
  return message;
}

}  // namespace

TEST_CASE("the C API reports errors as status objects with messages", "[c_api]") {
  atrous_model* model = nullptr;
  atrous_status* status = atrous_model_load_file("/nonexistent.atrous", &model);
  REQUIRE(status != nullptr);
  CHECK(atrous_status_code(status) == ATROUS_CODE_INVALID_MODEL);
  CHECK_THAT(take_message(status), Catch::Contains("cannot open"));
  CHECK(model == nullptr);
  status = atrous_model_load_file(nullptr, &model);
  CHECK(atrous_status_code(status) == ATROUS_CODE_INVALID_ARGUMENT);
  atrous_status_release(status);
  const char garbage[200] = "definitely not a model";
  status = atrous_model_load_memory(garbage, sizeof garbage, &model);
  CHECK_THAT(take_message(status), Catch::Contains("bad magic"));
}

TEST_CASE("the C API runs a model like the C++ API, also from two threads", "[c_api][threads]") {
  std::vector<uint8_t> bytes = format_write_memory(testing::make_test_graph());
  atrous_model* model = nullptr;
  REQUIRE(atrous_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  REQUIRE(atrous_model_input_count(model) == 1);
  REQUIRE(atrous_model_output_count(model) == 2);
  atrous_tensor_info info;
  REQUIRE(atrous_model_input_info(model, 0, &info) == nullptr);
  CHECK(std::string(info.name) == "image");
  CHECK(info.rank == 4);
  CHECK(info.shape[3] == 11);
  atrous_status* status = atrous_model_input_info(model, 1, &info);
  CHECK_THAT(take_message(status), Catch::Contains("out of range"));
  const char* task = nullptr;
  REQUIRE(atrous_model_metadata_string(model, "task", &task) == nullptr);
  CHECK(std::string(task) == "semantic");

  std::mt19937 rng(10);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  const int64_t shape[4] = {1, 3, 9, 11};

  // Expected: the C++ API.
  std::shared_ptr<const Model> cpp_model;
  REQUIRE(Model::from_graph(testing::make_test_graph(), &cpp_model).ok());
  std::unique_ptr<Session> cpp_session;
  REQUIRE(Session::create(cpp_model, SessionOptions(), &cpp_session).ok());
  std::vector<Tensor> expected;
  REQUIRE(cpp_session->run({{"image", &input.view()}}, &expected).ok());

  auto run_once = [&](std::vector<float>* logits) {
    atrous_session_options options = atrous_session_options_default();
    atrous_session* session = nullptr;
    atrous_status* s = atrous_session_create(model, &options, &session);
    if (s) {
      atrous_status_release(s);
      return;
    }
    s = atrous_session_set_input(session, "image", ATROUS_DTYPE_FLOAT32, shape, 4, input.data());
    if (!s) s = atrous_session_run(session);
    const void* data = nullptr;
    atrous_tensor_info out;
    if (!s) s = atrous_session_output(session, 0, &out, &data);
    if (!s)
      logits->assign(static_cast<const float*>(data), static_cast<const float*>(data) + 7 * 5 * 6);
    atrous_status_release(s);
    atrous_session_release(session);
  };
  std::vector<float> a, b;
  std::thread first(run_once, &a), second(run_once, &b);
  first.join();
  second.join();
  REQUIRE(a.size() == size_t(expected[0].numel()));
  CHECK(std::memcmp(a.data(), expected[0].data(), a.size() * 4) == 0);
  CHECK(a == b);

  atrous_session* session = nullptr;
  REQUIRE(atrous_session_create(model, nullptr, &session) == nullptr);
  const int64_t bad_shape[4] = {1, 3, 9, 10};
  REQUIRE(atrous_session_set_input(session, "image", ATROUS_DTYPE_FLOAT32, bad_shape, 4,
                                   input.data()) == nullptr);
  CHECK_THAT(take_message(atrous_session_run(session)), Catch::Contains("expects [1,3,9,11]"));
  const void* data = nullptr;
  CHECK_THAT(take_message(atrous_session_output(session, 0, &info, &data)),
             Catch::Contains("call atrous_session_run"));
  atrous_session_release(session);
  atrous_model_release(model);
}

TEST_CASE("a failed set_input leaves the C API session usable", "[c_api]") {
  std::vector<uint8_t> bytes = format_write_memory(testing::make_test_graph());
  atrous_model* model = nullptr;
  REQUIRE(atrous_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  atrous_session* session = nullptr;
  REQUIRE(atrous_session_create(model, nullptr, &session) == nullptr);
  std::mt19937 rng(3);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  const int64_t shape[4] = {1, 3, 9, 11};
  atrous_status* status =
      atrous_session_set_input(session, "imag", ATROUS_DTYPE_FLOAT32, shape, 4, input.data());
  CHECK(atrous_status_code(status) == ATROUS_CODE_INVALID_ARGUMENT);
  CHECK(take_message(status) == "unknown input 'imag' (the model's inputs: 'image')");
  REQUIRE(atrous_session_set_input(session, "image", ATROUS_DTYPE_FLOAT32, shape, 4,
                                   input.data()) == nullptr);
  REQUIRE(atrous_session_run(session) == nullptr);
  atrous_tensor_info info;
  const void* data = nullptr;
  REQUIRE(atrous_session_output(session, 0, &info, &data) == nullptr);

  // A failed run drops the previous outputs rather than leaving them to look current.
  const int64_t bad_shape[4] = {1, 3, 9, 10};
  REQUIRE(atrous_session_set_input(session, "image", ATROUS_DTYPE_FLOAT32, bad_shape, 4,
                                   input.data()) == nullptr);
  CHECK_THAT(take_message(atrous_session_run(session)), Catch::Contains("expects [1,3,9,11]"));
  CHECK_THAT(take_message(atrous_session_output(session, 0, &info, &data)),
             Catch::Contains("call atrous_session_run"));
  REQUIRE(atrous_session_set_input(session, "image", ATROUS_DTYPE_FLOAT32, shape, 4,
                                   input.data()) == nullptr);
  CHECK(atrous_session_run(session) == nullptr);
  atrous_session_release(session);
  atrous_model_release(model);
}

TEST_CASE("the C API refuses out-of-range enum values passed from C", "[c_api]") {
  std::vector<uint8_t> bytes = format_write_memory(testing::make_test_graph());
  atrous_model* model = nullptr;
  REQUIRE(atrous_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  atrous_session* session = nullptr;
  for (int backend : {7, -1, 3, 1 << 30}) {
    atrous_status* status = c_session_create_with_backend(model, backend, &session);
    CHECK(atrous_status_code(status) == ATROUS_CODE_INVALID_ARGUMENT);
    CHECK(take_message(status) == "unknown backend " + std::to_string(backend));
    CHECK(session == nullptr);
  }
  REQUIRE(c_session_create_with_backend(model, ATROUS_BACKEND_REFERENCE, &session) == nullptr);
  const int64_t shape[4] = {1, 3, 9, 11};
  std::vector<float> pixels(3 * 9 * 11, 0.5f);
  for (int dtype : {99, 0, 5, -3, 256 + 1}) {
    atrous_status* status =
        c_set_input_with_dtype(session, "image", dtype, shape, 4, pixels.data());
    CHECK(take_message(status) == "unknown dtype " + std::to_string(dtype));
  }
  REQUIRE(c_set_input_with_dtype(session, "image", ATROUS_DTYPE_FLOAT32, shape, 4, pixels.data()) ==
          nullptr);
  CHECK(atrous_session_run(session) == nullptr);
  for (int convention : {2, -1, 99}) {
    CHECK(take_message(c_merge_with_convention(convention, ATROUS_DTYPE_INT32)) ==
          "atrous_panoptic_merge: unknown convention " + std::to_string(convention));
    CHECK(take_message(c_segment_panoptic_with_convention(session, convention)) ==
          "atrous_session_segment_panoptic: unknown convention " + std::to_string(convention));
  }
  CHECK_THAT(take_message(c_merge_with_convention(ATROUS_PANOPTIC_CONVENTION_DEEPLAB2, 99)),
             Catch::Contains("semantic must be FLOAT32 logits or INT32 labels"));
  CHECK(c_merge_with_convention(ATROUS_PANOPTIC_CONVENTION_DEEPLAB2, ATROUS_DTYPE_INT32) ==
        nullptr);
  atrous_session_release(session);
  atrous_model_release(model);
}

TEST_CASE("C API sessions on the CPU backend share one model from four threads",
          "[c_api][threads]") {
  std::vector<uint8_t> bytes = format_write_memory(testing::make_test_graph(5));
  atrous_model* model = nullptr;
  REQUIRE(atrous_model_load_memory(bytes.data(), bytes.size(), &model) == nullptr);
  std::mt19937 rng(12);
  Tensor input = testing::random_tensor({1, 3, 9, 11}, rng);
  const int64_t shape[4] = {1, 3, 9, 11};
  // Each thread: its own session (two pool threads each), three runs; results kept per thread.
  auto work = [&](std::vector<float>* result, std::string* error) {
    atrous_session_options options = atrous_session_options_default();
    options.backend = ATROUS_BACKEND_CPU;
    options.threads = 2;
    atrous_session* session = nullptr;
    atrous_status* s = atrous_session_create(model, &options, &session);
    for (int run = 0; run < 3 && !s; ++run) {
      s = atrous_session_set_input(session, "image", ATROUS_DTYPE_FLOAT32, shape, 4, input.data());
      if (!s) s = atrous_session_run(session);
      atrous_tensor_info info;
      const void* data = nullptr;
      if (!s) s = atrous_session_output(session, 0, &info, &data);
      if (!s)
        result->assign(
            static_cast<const float*>(data),
            static_cast<const float*>(data) + info.shape[1] * info.shape[2] * info.shape[3]);
    }
    if (s) *error = atrous_status_message(s);
    atrous_status_release(s);
    atrous_session_release(session);
  };
  std::vector<std::vector<float>> results(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) threads.emplace_back(work, &results[t], &errors[t]);
  for (std::thread& t : threads) t.join();
  for (size_t t = 0; t < 4; ++t) {
    INFO("thread " << t);
    CHECK(errors[t].empty());
    REQUIRE(!results[t].empty());
    CHECK(results[t] == results[0]);
  }
  atrous_model_release(model);
}
