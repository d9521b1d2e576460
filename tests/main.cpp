// Catch2's implementation (with its std::regex matchers) is compiled here. GCC 12 reports
// false -Wmaybe-uninitialized warnings inside libstdc++'s <regex> at -O2 with sanitizers;
// they are silenced for this one translation unit.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
