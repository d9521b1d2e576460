// The [cuda] tests' main: Catch2's, except that a run in which a test was skipped for want of a
// device (and none failed) exits with kCudaSkipReturnCode, so CTest reports it as skipped.
// GCC 12's false -Wmaybe-uninitialized in <regex>: see tests/main.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tests/cuda/cuda_testing.h"

int main(int argc, char* argv[]) {
  const int failures = Catch::Session().run(argc, argv);
  // A failure count that happens to equal the skip code must not read as a skip.
  if (failures != 0)
    return failures == atrous::testing::kCudaSkipReturnCode ? failures + 1 : failures;
  return atrous::testing::cuda_tests_skipped() ? atrous::testing::kCudaSkipReturnCode : 0;
}
