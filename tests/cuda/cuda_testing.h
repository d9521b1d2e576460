// What the [cuda] tests (tests/cuda/, their own executable atrous_cuda_tests) share: whether a
// device can run them, and the skip report. A test that needs a device and finds none says why
// (WARN) and returns; the executable then exits with kCudaSkipReturnCode instead of 0, which
// CTest counts as skipped (SKIP_RETURN_CODE in CMakeLists.txt), never as passed.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#ifdef ATROUS_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace atrous {
namespace testing {

// Exit code of a run in which a test was skipped for want of a device and none failed.
constexpr int kCudaSkipReturnCode = 77;

// Whether a test of this run was skipped (set by cuda_ready, read by tests/cuda/main.cpp).
inline bool& cuda_tests_skipped() {
  static bool skipped = false;
  return skipped;
}

// True when a CUDA device can run the test; otherwise says why, marks the run skipped and
// returns false (the caller returns at once).
inline bool cuda_ready() {
#ifdef ATROUS_HAVE_CUDA
  std::string reason;
  if (cuda_device_available(&reason)) return true;
  WARN("no CUDA device: " << reason << "; test skipped");
#else
  WARN("no CUDA device: this build has no CUDA backend; test skipped");
#endif
  cuda_tests_skipped() = true;
  return false;
}

}  // namespace testing
}  // namespace atrous
