// PanopticOverlapCounter fed piece by piece (as rows arrive from two PNGs decoded together) gives
// exactly what one panoptic_overlap_compute call over the whole maps gives.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>

#include "eval/panoptic_overlap.h"

using namespace atrous;

TEST_CASE("Panoptic overlap: counting in pieces equals counting at once", "[eval]") {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 20; ++trial) {
    const size_t pixels = 1 + rng() % 3000;
    std::vector<PanopticSegment> gt, pred;
    for (uint32_t k = 1; k <= 6; ++k) gt.push_back({k * 7, int(k % 3), k == 2, -1});
    for (uint32_t k = 1; k <= 5; ++k) pred.push_back({k * 11, int(k % 3), false, -1});
    std::vector<uint32_t> g(pixels), p(pixels);
    // runs of ids, including VOID (0) and an unlisted gt id (99)
    for (size_t i = 0; i < pixels;) {
      uint32_t gi = rng() % 8 == 0 ? 99 : (rng() % 7) * 7, pi = (rng() % 6) * 11;
      for (size_t r = 1 + rng() % 40; r > 0 && i < pixels; --r, ++i) {
        g[i] = gi;
        p[i] = pi;
      }
    }
    for (size_t k = 0; k < pred.size() && k < pixels; ++k)
      p[k] = pred[k].id;  // every pred segment present
    PanopticOverlap whole, pieces;
    REQUIRE(panoptic_overlap_compute(g.data(), p.data(), pixels, gt, pred, &whole).ok());
    PanopticOverlapCounter counter;
    REQUIRE(counter.start(gt, pred).ok());
    for (size_t at = 0; at < pixels;) {
      size_t n = std::min(pixels - at, size_t(1 + rng() % 97));
      counter.add(g.data() + at, p.data() + at, n);
      at += n;
    }
    REQUIRE(counter.finish(&pieces).ok());
    CHECK(pieces.pixels == whole.pixels);
    CHECK(pieces.gt_pixels == whole.gt_pixels);
    CHECK(pieces.pred_pixels == whole.pred_pixels);
    REQUIRE(pieces.pairs.size() == whole.pairs.size());
    for (size_t k = 0; k < whole.pairs.size(); ++k) {
      CHECK(pieces.pairs[k].gt == whole.pairs[k].gt);
      CHECK(pieces.pairs[k].pred == whole.pairs[k].pred);
      CHECK(pieces.pairs[k].pixels == whole.pairs[k].pixels);
    }
    int64_t sum = 0;
    for (const auto& pair : whole.pairs) sum += pair.pixels;
    CHECK(sum == int64_t(pixels));
  }
}
