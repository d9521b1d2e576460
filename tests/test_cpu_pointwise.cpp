// The CPU pointwise (1×1) convolution kernels against the reference conv, for every ISA this
// machine can run, on random data across channel counts and pixel counts below, at and above
// the tile sizes; and bitwise identical results for any thread count.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>

#include "cpu/gemm.h"
#include "cpu/kernel_table.h"
#include "cpu/pointwise_conv.h"
#include "ops/ops.h"
#include "tests/cpu_kernel_testing.h"
#include "tests/graph_fixtures.h"

using namespace atrous;
using cpu_testing::runnable_isas;

namespace {

// The reference conv with a fused activation.
Tensor reference_pointwise(const Tensor& x, const Tensor& w, const Tensor& b,
                           const std::string& act) {
  AttributeMap attributes;
  attributes.set_string("activation", act);
  if (act == "clip") attributes.set_floats("activation_params", {-0.25, 0.5});
  Tensor y(DType::dtype_f32, {x.shape()[0], w.shape()[0], x.shape()[2], x.shape()[3]});
  Status status =
      op_run_reference(OpType::op_conv, attributes, {&x.view(), &w.view(), &b.view()}, {&y.view()});
  REQUIRE(status.ok());
  return y;
}

// The fused activation a conv with `activation` = name carries (clip on [−0.25, 0.5]).
Activation named_activation(const char* name) {
  AttributeMap attributes;
  attributes.set_string("activation", name);
  if (std::string(name) == "clip") attributes.set_floats("activation_params", {-0.25, 0.5});
  Activation activation;
  REQUIRE(activation_from_conv_attributes(attributes, &activation).ok());
  return activation;
}

}  // namespace

TEST_CASE("pointwise conv kernels match the reference conv", "[cpu]") {
  struct Case {
    int64_t filters, channels, height, width;
  };
  // Filters around the 6-row panel, pixels around the 8/16/32-column tiles and the column
  // blocks (4 tiles), 1 and many channels, channels across the 512-term K blocks (513, 600,
  // 1100 in two and three blocks), a squeeze-excitation layer on one pixel.
  const std::vector<Case> cases = {
      {1, 1, 1, 1},    {5, 3, 3, 5},     {6, 8, 4, 4},      {7, 16, 4, 8},    {12, 24, 1, 31},
      {13, 40, 5, 7},  {24, 72, 9, 13},  {40, 120, 17, 15}, {96, 576, 7, 7},  {19, 256, 33, 65},
      {64, 240, 1, 1}, {17, 257, 3, 43}, {33, 300, 11, 13}, {7, 600, 1, 129}, {240, 40, 13, 10},
      {9, 513, 3, 11}, {5, 1100, 2, 37}};
  const char* activations[] = {"none", "relu", "clip", "hard_swish", "sigmoid"};
  std::mt19937 rng(21);
  for (const Case& c : cases) {
    Tensor x = testing::random_tensor({1, c.channels, c.height, c.width}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, 1, 1}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    for (const char* act_name : activations) {
      Tensor expected = reference_pointwise(x, w, b, act_name);
      const Activation activation = named_activation(act_name);
      for (CpuIsa isa : runnable_isas()) {
        PointwisePlan plan;
        pointwise_plan(w.f32(), b.f32(), c.filters, c.channels, activation, isa, &plan);
        if (c.height * c.width == 1) pointwise_plan_single_pixel(&plan);
        ThreadPool pool(2);
        std::vector<float> y(size_t(expected.numel()), NAN);
        pointwise_run(plan, x.f32(), c.height * c.width, y.data(), pool);
        // Float accumulation over C terms against the double-accumulating reference: the error
        // is bounded by C · eps · Σ|w·x|; with |w|,|x| ≤ 1 that is ≤ C² · 6e-8.
        const double bound = double(c.channels) * double(c.channels) * 6e-8 + 1e-6;
        double worst = 0;
        for (int64_t i = 0; i < expected.numel(); ++i)
          worst = std::max(worst, std::fabs(double(y[size_t(i)]) - double(expected.f32()[i])));
        INFO("M=" << c.filters << " C=" << c.channels << " " << c.height << "x" << c.width
                  << " act=" << act_name << " isa=" << cpu_isa_name(isa) << " worst=" << worst);
        CHECK(worst <= bound);
      }
    }
  }
}

TEST_CASE("pointwise conv results are bitwise identical for 1, 2 and 3 threads", "[cpu][threads]") {
  struct Case {
    int64_t filters, channels, pixels;
  };
  // Many pixels (split by column blocks), K across two blocks, one pixel with enough work to
  // be split by panels, and one too small to leave the calling thread.
  const std::vector<Case> cases = {{29, 37, 23 * 29}, {31, 600, 97}, {256, 1024, 1}, {64, 240, 1}};
  std::mt19937 rng(22);
  Activation relu;
  relu.kind = ActivationKind::activation_relu;
  for (const Case& c : cases) {
    Tensor x = testing::random_tensor({1, c.channels, 1, c.pixels}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, 1, 1}, rng);
    for (CpuIsa isa : runnable_isas()) {
      PointwisePlan plan;
      pointwise_plan(w.f32(), nullptr, c.filters, c.channels, relu, isa, &plan);
      if (c.pixels == 1) pointwise_plan_single_pixel(&plan);
      std::vector<std::vector<float>> results;
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<float> y(size_t(c.filters * c.pixels));
        // With the caller's scratch for 1 thread, and with too few slots (the run allocates).
        std::vector<float> scratch(gemm_scratch_floats(isa));
        pointwise_run(plan, x.f32(), c.pixels, y.data(), pool, scratch.data(), 1);
        results.push_back(y);
      }
      INFO("M=" << c.filters << " C=" << c.channels << " pixels=" << c.pixels << " "
                << cpu_isa_name(isa));
      CHECK(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4) == 0);
      CHECK(std::memcmp(results[0].data(), results[2].data(), results[0].size() * 4) == 0);
    }
  }
}

// Whole column tiles read in place (small inputs) against every tile packed: the same values
// in the same FMA chains, so bitwise equal; pixel counts below, at and past a tile and a
// column block, with a partial last tile (packed) after in-place ones, K across a K-block
// split (the second block reads row k0 in place), several activations, every ISA.
TEST_CASE("pointwise tiles read in place are bitwise the packed tiles", "[cpu]") {
  struct Case {
    int64_t filters, channels, pixels;
  };
  const std::vector<Case> cases = {{7, 5, 31},   {13, 24, 32},  {24, 72, 196},
                                   {40, 3, 129}, {67, 300, 49}, {5, 17, 300}};
  const char* activations[] = {"none", "relu", "hard_swish", "sigmoid"};
  std::mt19937 rng(24);
  for (const Case& c : cases) {
    Tensor x = testing::random_tensor({1, c.channels, 1, c.pixels}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, 1, 1}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    for (const char* act_name : activations) {
      for (CpuIsa isa : runnable_isas()) {
        PointwisePlan plan;
        pointwise_plan(w.f32(), b.f32(), c.filters, c.channels, named_activation(act_name), isa,
                       &plan);
        INFO("M=" << c.filters << " C=" << c.channels << " pixels=" << c.pixels
                  << " act=" << act_name << " isa=" << cpu_isa_name(isa));
        ThreadPool pool(2);
        const size_t n = size_t(c.filters * c.pixels);
        std::vector<float> packed(n, NAN), in_place(n, NAN);
        gemm_run(plan.gemm, PointwisePacker(x.f32(), c.pixels, false), c.pixels, packed.data(),
                 c.pixels, pool, nullptr, 0);
        gemm_run(plan.gemm, PointwisePacker(x.f32(), c.pixels, true), c.pixels, in_place.data(),
                 c.pixels, pool, nullptr, 0);
        CHECK(std::memcmp(packed.data(), in_place.data(), n * sizeof(float)) == 0);
      }
    }
  }
  // The rule: small inputs in place, large ones and 4 KiB row pitches packed.
  CHECK(pointwise_reads_in_place(196, 672));
  CHECK_FALSE(pointwise_reads_in_place(33 * 65, 960));
  CHECK_FALSE(pointwise_reads_in_place(1024, 16));
}

// One pixel as a matrix-vector product: the GEMM's FMA chain, bias and activation, so bitwise
// the GEMM's result on the same pixel (outputs around the vector width, K from 1 to 960).
TEST_CASE("pointwise one-pixel product is bitwise the GEMM's", "[cpu]") {
  struct Case {
    int64_t filters, channels;
  };
  const std::vector<Case> cases = {{1, 1},   {3, 37},   {15, 64},   {16, 960}, {17, 240},
                                   {64, 67}, {67, 120}, {240, 960}, {96, 5}};
  const char* activations[] = {"none", "relu", "clip", "hard_sigmoid", "sigmoid"};
  std::mt19937 rng(23);
  for (const Case& c : cases) {
    Tensor x = testing::random_tensor({1, c.channels, 1, 1}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, 1, 1}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    for (const char* act_name : activations) {
      const Activation activation = named_activation(act_name);
      for (CpuIsa isa : runnable_isas()) {
        PointwisePlan gemm;
        pointwise_plan(w.f32(), b.f32(), c.filters, c.channels, activation, isa, &gemm);
        PointwisePlan gemv = gemm;
        pointwise_plan_single_pixel(&gemv);
        INFO("M=" << c.filters << " C=" << c.channels << " act=" << act_name
                  << " isa=" << cpu_isa_name(isa));
        // Every SIMD ISA has the one-pixel kernel; the scalar one keeps the GEMM.
        CHECK(gemv.gemv_packed.empty() == (isa == CpuIsa::cpu_isa_scalar));
        ThreadPool pool(2);
        std::vector<float> y_gemm(size_t(c.filters), NAN), y_gemv(size_t(c.filters), NAN);
        pointwise_run(gemm, x.f32(), 1, y_gemm.data(), pool);
        pointwise_run(gemv, x.f32(), 1, y_gemv.data(), pool);
        CHECK(std::memcmp(y_gemm.data(), y_gemv.data(), y_gemm.size() * sizeof(float)) == 0);
      }
    }
  }
}

// Pixel tiles (small images): the product transposed, with the GEMM's FMA chain, bias and
// activation per output, so bitwise the column tiles' result. Pixel counts below, at and past
// the 7-pixel tile and 49/196 (7×7, 14×14); output channels below, at and past the panel of one
// or two vectors; K from 1 to 960 (past the GEMM's K blocks); per-element activations too.
TEST_CASE("pointwise pixel tiles are bitwise the column tiles", "[cpu]") {
  struct Case {
    int64_t filters, channels, pixels;
  };
  const std::vector<Case> cases = {{1, 1, 2},      {17, 13, 7},   {32, 64, 9},  {45, 300, 49},
                                   {160, 960, 49}, {33, 96, 50},  {8, 5, 196},  {70, 112, 15},
                                   {96, 576, 3},   {24, 257, 14}, {5, 600, 64}, {64, 7, 1}};
  const char* activations[] = {"none", "relu", "clip", "hard_swish", "sigmoid"};
  std::mt19937 rng(29);
  for (const Case& c : cases) {
    Tensor x = testing::random_tensor({1, c.channels, 1, c.pixels}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, 1, 1}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    for (const char* act_name : activations) {
      const Activation activation = named_activation(act_name);
      for (CpuIsa isa : runnable_isas()) {
        PointwisePlan columns;
        pointwise_plan(w.f32(), b.f32(), c.filters, c.channels, activation, isa, &columns);
        PointwisePlan pixels = columns;
        INFO("M=" << c.filters << " C=" << c.channels << " P=" << c.pixels << " act=" << act_name
                  << " isa=" << cpu_isa_name(isa));
        // Every SIMD ISA has pixel tiles; the scalar one keeps the GEMM.
        CHECK(pointwise_pack_pixel_tiles(&pixels) == (isa != CpuIsa::cpu_isa_scalar));
        std::vector<float> expected(size_t(c.filters * c.pixels), NAN);
        ThreadPool one(1);
        pointwise_run(columns, x.f32(), c.pixels, expected.data(), one);
        for (int threads : {1, 2, 3}) {
          ThreadPool pool(threads);
          std::vector<float> y(expected.size(), NAN);
          pointwise_run(pixels, x.f32(), c.pixels, y.data(), pool);
          CHECK(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)) == 0);
        }
      }
    }
  }
}

// The wide GEMM tile (CpuKernelTable::gemm_wide, AVX2's 4 × 24) for images of at least
// gemm_wide_min_pixels: the same FMA chain per output as the main tile, so bitwise its result,
// for 1, 2 and 3 threads. Output channels below, at and past the 4-row panel and the 6-row main
// panel; pixels a whole number of 24-column tiles, one column past, and a last tile of one or
// two vectors; K from 1 to past the 512-term K block (two blocks); both plane layouts of the
// packer (read in place, packed); per-element activations too. Below the threshold (and on ISAs
// without a wide tile) the plan keeps the main tile.
TEST_CASE("pointwise wide tile is bitwise the main tile", "[cpu]") {
  struct Case {
    int64_t filters, channels, height, width;
  };
  const std::vector<Case> cases = {{16, 16, 28, 28},  {64, 16, 33, 31},  {5, 24, 29, 29},
                                   {19, 256, 32, 36}, {40, 120, 28, 30}, {3, 1, 31, 33},
                                   {7, 600, 28, 29},  {24, 72, 56, 56},  {13, 40, 40, 49}};
  const char* activations[] = {"none", "relu", "hard_swish", "sigmoid"};
  std::mt19937 rng(31);
  int wide_plans = 0;
  for (const Case& c : cases) {
    const int64_t pixels = c.height * c.width;
    Tensor x = testing::random_tensor({1, c.channels, c.height, c.width}, rng);
    Tensor w = testing::random_tensor({c.filters, c.channels, 1, 1}, rng);
    Tensor b = testing::random_tensor({c.filters}, rng);
    for (const char* act_name : activations) {
      const Activation activation = named_activation(act_name);
      for (CpuIsa isa : runnable_isas()) {
        const CpuKernelTable& table = cpu_kernel_table(isa);
        PointwisePlan main_plan, wide_plan, small_plan;
        pointwise_plan(w.f32(), b.f32(), c.filters, c.channels, activation, isa, &main_plan);
        pointwise_plan(w.f32(), b.f32(), c.filters, c.channels, activation, isa, &wide_plan,
                       pixels);
        INFO("M=" << c.filters << " C=" << c.channels << " P=" << pixels << " act=" << act_name
                  << " isa=" << cpu_isa_name(isa));
        const bool wide = table.gemm_wide.block && pixels >= table.gemm_wide_min_pixels;
        CHECK(main_plan.gemm.kernels == &table.gemm);
        CHECK(wide_plan.gemm.kernels == (wide ? &table.gemm_wide : &table.gemm));
        if (table.gemm_wide.block) {
          pointwise_plan(w.f32(), b.f32(), c.filters, c.channels, activation, isa, &small_plan,
                         table.gemm_wide_min_pixels - 1);
          CHECK(small_plan.gemm.kernels == &table.gemm);
        }
        wide_plans += wide ? 1 : 0;
        std::vector<float> expected(size_t(c.filters * pixels), NAN);
        ThreadPool one(1);
        pointwise_run(main_plan, x.f32(), pixels, expected.data(), one);
        for (int threads : {1, 2, 3}) {
          ThreadPool pool(threads);
          std::vector<float> y(expected.size(), NAN);
          pointwise_run(wide_plan, x.f32(), pixels, y.data(), pool);
          CHECK(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)) == 0);
        }
      }
    }
  }
  // Where AVX2 runs, every case above took its wide tile.
  for (CpuIsa isa : runnable_isas())
    if (isa == CpuIsa::cpu_isa_avx2)
      CHECK(wide_plans >= int(cases.size() * (sizeof(activations) / sizeof(activations[0]))));
}

TEST_CASE("the thread pool covers every index exactly once", "[cpu][threads]") {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t count : {0, 1, 3, 7, 100}) {
      std::vector<int> hits(size_t(count), 0);
      for (int repeat = 0; repeat < 3; ++repeat)
        pool.parallel_for(count, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) ++hits[size_t(i)];
        });
      for (int h : hits) CHECK(h == 3);
    }
  }
}

// The indexed form: every index exactly once, thread indices in [0, threads), never two chunks
// with the same thread index at once (per-thread scratch relies on it); small work (below
// kParallelMinWork) runs on the caller alone, as index 0.
TEST_CASE("the thread pool's indexed chunks and work estimates", "[cpu][threads]") {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
    for (int64_t count : {1, 2, 7, 100, 1000}) {
      for (int64_t work : {int64_t(-1), int64_t(1000), ThreadPool::kParallelMinWork * 64}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
        std::atomic<bool> ok{true};
        std::atomic<int> calls{0};
        pool.parallel_for_indexed(
            count,
            [&](int64_t begin, int64_t end, int thread) {
              calls.fetch_add(1);
              if (thread < 0 || thread >= threads || busy[size_t(thread)].fetch_add(1) != 0) {
                ok.store(false);
                return;
              }
              for (int64_t i = begin; i < end; ++i) hits[size_t(i)].fetch_add(1);
              busy[size_t(thread)].fetch_sub(1);
            },
            work);
        CHECK(ok.load());
        for (int64_t i = 0; i < count; ++i) CHECK(hits[size_t(i)].load() == 1);
        if (work >= 0 && work < ThreadPool::kParallelMinWork) CHECK(calls.load() == 1);
      }
    }
  }
}

namespace {

// Runs one parallel_for over [0, count) that counts each index it is given; whether every index
// came exactly once.
bool each_index_once(ThreadPool& pool, int64_t count, std::vector<std::atomic<int>>* hits) {
  for (int64_t i = 0; i < count; ++i) (*hits)[size_t(i)].store(0);
  pool.parallel_for(count, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) (*hits)[size_t(i)].fetch_add(1);
  });
  bool once = true;
  for (int64_t i = 0; i < count; ++i) once = once && (*hits)[size_t(i)].load() == 1;
  return once;
}

}  // namespace

// Back-to-back tasks of a few chunks (workers racing to claim chunks of a task that may already
// be finished, and the caller taking chunks of late workers): every index exactly once per task,
// and every task's chunks ran before parallel_for returned.
TEST_CASE("the thread pool runs each chunk of back-to-back tasks exactly once", "[cpu][threads]") {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(64);
    for (int task = 0; task < 20000; ++task) {
      const int64_t count = 1 + task % 13;
      if (!each_index_once(pool, count, &hits)) {
        FAIL("task " << task << " (count " << count << ", " << threads << " threads): an index ran "
                     << "zero or several times");
      }
    }
  }
}

// The same with workers waiting hot between tasks (ATROUS_POOL_SPIN_US, set while the pool is
// made; the session turns it on for a run): chunks are still claimed exactly once, and turning
// it off mid-stream leaves the workers asleep but the pool working.
TEST_CASE("the thread pool's hot waiting runs each chunk exactly once", "[cpu][threads]") {
  REQUIRE(setenv("ATROUS_POOL_SPIN_US", "300", 1) == 0);
  ThreadPool pool(2);
  REQUIRE(unsetenv("ATROUS_POOL_SPIN_US") == 0);
  std::vector<std::atomic<int>> hits(16);
  for (int task = 0; task < 20000; ++task) {
    if (task % 5000 == 0) pool.set_hot(task % 10000 == 0);
    const int64_t count = 1 + task % 16;
    if (!each_index_once(pool, count, &hits))
      FAIL("task " << task << ": an index ran zero or several times");
  }
  pool.set_hot(false);
}
