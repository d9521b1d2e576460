// Out of memory at every allocation of C API calls: a replaced global operator new fails the
// n-th allocation of the calling thread, for n = 0, 1, ... until a call sequence completes
// untouched. Every call must return a status (no exception escapes), nothing may leak (the live
// allocation count returns to where it was; LeakSanitizer also checks in the ASan build), and
// the session must stay usable afterwards.
#define CATCH_CONFIG_MAIN
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "atrous.h"
#include "graph/format.h"
#include "tests/graph_fixtures.h"

namespace {

thread_local long allocations_before_failure = -1;  // -1: never fail
thread_local bool failure_injected = false;
std::atomic<long> live_allocations{0};

void arm(long n) {
  failure_injected = false;
  allocations_before_failure = n;
}
void disarm() { allocations_before_failure = -1; }

}  // namespace

void* operator new(std::size_t size) {
  if (allocations_before_failure >= 0 && allocations_before_failure-- == 0) {
    failure_injected = true;
    throw std::bad_alloc();
  }
  void* p = std::malloc(size ? size : 1);
  if (!p) throw std::bad_alloc();
  live_allocations.fetch_add(1, std::memory_order_relaxed);
  return p;
}
// Fails like operator new, by returning null: its callers (std::stable_sort's buffer) cope.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return operator new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  if (!p) return;
  live_allocations.fetch_sub(1, std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace {

// Plain data, so that keeping it allocates nothing the leak count would see.
struct Outcome {
  bool completed = false;
  int unexpected = 0;  // statuses other than the expected ones
  char message[160] = {};
  void note(const char* text) {
    ++unexpected;
    std::snprintf(message, sizeof message, "%s", text);
  }
};

// Load, create a two-thread session, a refused set_input, then set_input, run and output.
Outcome run_sequence(const std::vector<uint8_t>& bytes, const std::vector<float>& pixels) {
  Outcome outcome;
  atrous_model* model = nullptr;
  atrous_session* session = nullptr;
  auto fail = [&](atrous_status* status) {
    outcome.note(atrous_status_message(status));
    atrous_status_release(status);
  };
  const int64_t shape[4] = {1, 3, 9, 11};
  atrous_status* status = atrous_model_load_memory(bytes.data(), bytes.size(), &model);
  if (status) return fail(status), outcome;
  atrous_session_options options = atrous_session_options_default();
  options.threads = 2;
  status = atrous_session_create(model, &options, &session);
  if (!status) {
    status =
        atrous_session_set_input(session, "nope", ATROUS_DTYPE_FLOAT32, shape, 4, pixels.data());
    const bool refused =
        status && std::strncmp(atrous_status_message(status), "unknown input 'nope'", 20) == 0;
    if (refused) {
      atrous_status_release(status);
      status = nullptr;
    } else if (!status) {
      status = nullptr;
      outcome.note("an unknown input was accepted");
    }
  }
  if (!status)
    status =
        atrous_session_set_input(session, "image", ATROUS_DTYPE_FLOAT32, shape, 4, pixels.data());
  if (!status) status = atrous_session_run(session);
  atrous_tensor_info info;
  const void* data = nullptr;
  if (!status) status = atrous_session_output(session, 0, &info, &data);
  if (status)
    fail(status);
  else
    outcome.completed = true;
  atrous_session_release(session);
  atrous_model_release(model);
  return outcome;
}

}  // namespace

TEST_CASE("C API calls survive an allocation failure at every point, without leaks", "[c_api]") {
  std::vector<uint8_t> bytes = atrous::format_write_memory(atrous::testing::make_test_graph());
  std::vector<float> pixels(3 * 9 * 11, 0.25f);
  REQUIRE(run_sequence(bytes, pixels).completed);  // warms lazily built tables

  long failures = 0;
  for (long n = 0; n < 100000; ++n) {
    const long before = live_allocations.load();
    arm(n);
    Outcome outcome = run_sequence(bytes, pixels);
    disarm();
    const long leaked = live_allocations.load() - before;
    const bool injected = failure_injected;
    INFO("allocation " << n);
    CHECK(leaked == 0);
    if (!injected) {
      CHECK(outcome.completed);
      CHECK(outcome.unexpected == 0);
      break;
    }
    ++failures;
    // A failed allocation surfaces as one failed call, or a nothrow allocation's caller coped.
    INFO("status: " << outcome.message);
    CHECK(outcome.unexpected == (outcome.completed ? 0 : 1));
  }
  CHECK(failures > 50);
  // The preallocated status is shared and releasing it is harmless.
  arm(0);
  atrous_model* model = nullptr;
  atrous_status* status = atrous_model_load_memory(bytes.data(), bytes.size(), &model);
  disarm();
  REQUIRE(status != nullptr);
  CHECK(atrous_status_code(status) == ATROUS_CODE_RUNTIME);
  CHECK(std::string(atrous_status_message(status)) == "out of memory");
  atrous_status_release(status);
  atrous_status_release(status);
}
