// Evaluation metrics on hand-computed cases (docs/EVAL.md, "Metrics"): panoptic quality with
// panopticapi's void/crowd rules, confusion-matrix mIoU with Cityscapes' rules, parsing covering
// with and without image-size normalization, and Cityscapes instance AP on tiny PR curves.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "eval/confusion_matrix.h"
#include "eval/instance_ap.h"
#include "eval/panoptic_overlap.h"
#include "eval/panoptic_quality.h"
#include "eval/parsing_covering.h"

using namespace atrous;

namespace {

std::vector<EvalCategory> three_categories() {
  return {{1, "thing one", true}, {2, "stuff two", false}, {3, "thing three", true}};
}

PanopticSegment seg(uint32_t id, int category, bool crowd = false, int64_t area = -1) {
  PanopticSegment s;
  s.id = id;
  s.category_id = category;
  s.iscrowd = crowd;
  s.area = area;
  return s;
}

// Area from the map, as a GT JSON would list it.
std::vector<PanopticSegment> with_areas(std::vector<PanopticSegment> segments,
                                        const std::vector<uint32_t>& ids) {
  for (auto& s : segments) {
    if (s.area >= 0) continue;
    s.area = 0;
    for (uint32_t v : ids) s.area += v == s.id;
  }
  return segments;
}

PanopticQuality pq_of(const std::vector<uint32_t>& gt,
                      const std::vector<PanopticSegment>& gt_segments,
                      const std::vector<uint32_t>& pred,
                      const std::vector<PanopticSegment>& pred_segments) {
  PanopticOverlap overlap;
  Status status =
      panoptic_overlap_compute(gt.data(), pred.empty() ? nullptr : pred.data(), gt.size(),
                               with_areas(gt_segments, gt), pred_segments, &overlap);
  REQUIRE(status.ok());
  PanopticQuality pq(three_categories());
  REQUIRE(pq.add(overlap).ok());
  return pq;
}

}  // namespace

TEST_CASE("PQ: two segments, one match, IoU exactly 0.5 is not a match", "[eval]") {
  // gt: columns 0-1 = segment 1 (class 1), columns 2-3 = segment 2 (class 2).
  // pred: columns 0-2 = segment 5 (class 1), column 3 = segment 6 (class 2).
  std::vector<uint32_t> gt = {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2};
  std::vector<uint32_t> pred = {5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6};
  PanopticQuality pq = pq_of(gt, {seg(1, 1), seg(2, 2)}, pred, {seg(5, 1), seg(6, 2)});
  // class 1: IoU 8/12 → TP. class 2: IoU 4/(8+4-4) = 0.5 → FN + FP.
  CHECK(pq.counts()[0].tp == 1);
  CHECK(pq.counts()[0].iou == Approx(2.0 / 3.0));
  CHECK(pq.counts()[1].tp == 0);
  CHECK(pq.counts()[1].fp == 1);
  CHECK(pq.counts()[1].fn == 1);
  PqSummary s = pq.summary();
  CHECK(s.per_class[0].pq == Approx(2.0 / 3.0));
  CHECK(s.per_class[0].rq == Approx(1.0));
  CHECK(s.per_class[1].pq == 0.0);
  // class 3 has no gt and no pred: skipped
  CHECK(s.per_class[2].classes == 0);
  CHECK(s.all.classes == 2);
  CHECK(s.all.pq == Approx(1.0 / 3.0));
  CHECK(s.things.pq == Approx(2.0 / 3.0));
  CHECK(s.things.classes == 1);
  CHECK(s.stuff.pq == 0.0);
}

TEST_CASE("PQ: VOID pixels leave the union and forgive FPs over half void", "[eval]") {
  // gt: top-left 2x2 = segment 1 (class 1), the rest VOID.
  std::vector<uint32_t> gt = {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  // pred: top two rows = segment 5 (class 1): ∩ 4, |pred ∩ VOID| 4 → IoU 4/(8+4-4-4) = 1.
  // rows 2-3 = segment 7 (class 2) entirely on VOID → not an FP.
  std::vector<uint32_t> pred = {5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7};
  PanopticQuality pq = pq_of(gt, {seg(1, 1)}, pred, {seg(5, 1), seg(7, 2)});
  CHECK(pq.counts()[0].tp == 1);
  CHECK(pq.counts()[0].iou == Approx(1.0));
  CHECK(pq.counts()[1].fp == 0);
  CHECK(pq.summary().all.classes == 1);

  // A pred exactly half on VOID is still an FP (> 0.5 strictly).
  std::vector<uint32_t> gt2 = {1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<uint32_t> pred2 = {8, 8, 8, 8, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0};
  PanopticQuality pq2 = pq_of(gt2, {seg(1, 1), seg(2, 2)}, pred2, {seg(8, 1), seg(9, 3)});
  CHECK(pq2.counts()[0].tp == 1);
  CHECK(pq2.counts()[1].fn == 1);  // segment 2 (class 2) only meets a class-3 pred
  CHECK(pq2.counts()[2].fp == 1);  // segment 9: 2 of 4 pixels on VOID
}

TEST_CASE("PQ: crowd regions are neither FN nor matched, and absorb same-class preds", "[eval]") {
  // gt: rows 0-1 = crowd segment 1 (class 1), rows 2-3 = segment 2 (class 1).
  std::vector<uint32_t> gt = {1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2};
  // pred 5 (class 1) inside the crowd: no FP. pred 7 (class 2) inside the crowd: FP (other class).
  std::vector<uint32_t> pred = {5, 5, 5, 7, 5, 5, 5, 7, 6, 6, 6, 6, 6, 6, 6, 6};
  PanopticQuality pq =
      pq_of(gt, {seg(1, 1, true), seg(2, 1)}, pred, {seg(5, 1), seg(6, 1), seg(7, 2)});
  CHECK(pq.counts()[0].tp == 1);
  CHECK(pq.counts()[0].fp == 0);
  CHECK(pq.counts()[0].fn == 0);
  CHECK(pq.counts()[1].fp == 1);
  PqSummary s = pq.summary();
  CHECK(s.per_class[0].pq == Approx(1.0));
  CHECK(s.all.pq == Approx(0.5));
}

TEST_CASE("PQ: the gt area comes from the JSON, the pred area from the PNG", "[eval]") {
  std::vector<uint32_t> gt = {1, 1, 1, 1, 0, 0, 0, 0};
  std::vector<uint32_t> pred = {5, 5, 5, 5, 0, 0, 0, 0};
  // JSON says area 8 (e.g. the PNG was cropped): IoU = 4/(4+8-4) = 0.5 → no match.
  PanopticQuality pq = pq_of(gt, {seg(1, 1, false, 8)}, pred, {seg(5, 1)});
  CHECK(pq.counts()[0].tp == 0);
  CHECK(pq.counts()[0].fn == 1);
  CHECK(pq.counts()[0].fp == 1);
  PanopticQuality exact = pq_of(gt, {seg(1, 1)}, pred, {seg(5, 1)});
  CHECK(exact.counts()[0].tp == 1);
}

TEST_CASE("PQ: a missing prediction counts every gt segment as FN", "[eval]") {
  std::vector<uint32_t> gt = {1, 1, 2, 2};
  PanopticQuality pq = pq_of(gt, {seg(1, 1), seg(2, 2, true)}, {}, {});
  CHECK(pq.counts()[0].fn == 1);
  CHECK(pq.counts()[1].fn == 0);  // crowd
  CHECK(pq.summary().all.pq == 0.0);
}

TEST_CASE("PQ: inconsistent inputs are errors", "[eval]") {
  std::vector<uint32_t> gt = {1, 1, 1, 1};
  std::vector<uint32_t> pred = {5, 5, 6, 6};
  PanopticOverlap overlap;
  Status s = panoptic_overlap_compute(gt.data(), pred.data(), 4, {seg(1, 1, false, 4)}, {seg(5, 1)},
                                      &overlap);
  REQUIRE(!s.ok());
  CHECK(s.message().find("6") != std::string::npos);
  CHECK(s.message().find("not in the JSON") != std::string::npos);
  s = panoptic_overlap_compute(gt.data(), pred.data(), 4, {seg(1, 1, false, 4)},
                               {seg(5, 1), seg(6, 1), seg(9, 1)}, &overlap);
  REQUIRE(!s.ok());
  CHECK(s.message().find("not in the PNG") != std::string::npos);
  s = panoptic_overlap_compute(gt.data(), pred.data(), 4, {seg(1, 1, false, 4)},
                               {seg(5, 1), seg(5, 2)}, &overlap);
  CHECK(!s.ok());
  REQUIRE(panoptic_overlap_compute(gt.data(), pred.data(), 4, {seg(1, 1, false, 4)},
                                   {seg(5, 1), seg(6, 42)}, &overlap)
              .ok());
  PanopticQuality pq(three_categories());
  s = pq.add(overlap);
  REQUIRE(!s.ok());
  CHECK(s.message().find("unknown category id 42") != std::string::npos);
}

TEST_CASE("PQ: merging per-image results equals accumulating them", "[eval]") {
  std::vector<uint32_t> gt = {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2};
  std::vector<uint32_t> pred = {5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6};
  PanopticQuality a = pq_of(gt, {seg(1, 1), seg(2, 2)}, pred, {seg(5, 1), seg(6, 2)});
  PanopticQuality b = pq_of(gt, {seg(1, 1), seg(2, 3)}, gt, {seg(1, 1), seg(2, 3)});
  a.merge(b);
  CHECK(a.counts()[0].tp == 2);
  CHECK(a.counts()[0].iou == Approx(2.0 / 3.0 + 1.0));
  CHECK(a.counts()[2].tp == 1);
  PqSummary s = a.summary();
  CHECK(s.per_class[0].pq == Approx((2.0 / 3.0 + 1.0) / 2.0));
  CHECK(s.all.classes == 3);
}

TEST_CASE("mIoU: Cityscapes confusion-matrix rules", "[eval]") {
  // label 0 is not evaluated (void), 1 and 2 are, 3 is evaluated but never seen.
  ConfusionMatrix m({false, true, true, true});
  std::vector<uint8_t> gt = {1, 1, 1, 2, 2, 0, 0};
  std::vector<uint8_t> pred = {1, 1, 2, 2, 0, 1, 2};
  REQUIRE(m.add_labels(gt.data(), pred.data(), gt.size()).ok());
  // class 1: TP 2, FN 1 (predicted 2), FP 0 (the void-gt pixel predicted 1 does not count).
  CHECK(m.iou(1) == Approx(2.0 / 3.0));
  // class 2: TP 1, FN 1 (predicted void), FP 1 (a class-1 pixel).
  CHECK(m.iou(2) == Approx(1.0 / 3.0));
  CHECK(std::isnan(m.iou(0)));
  CHECK(std::isnan(m.iou(3)));
  CHECK(m.mean_iou() == Approx(0.5));
  // a missing prediction: every gt pixel becomes a miss
  ConfusionMatrix missing({false, true, true, true});
  REQUIRE(missing.add_labels(gt.data(), nullptr, gt.size(), 0).ok());
  CHECK(missing.iou(1) == 0.0);
  CHECK(missing.mean_iou() == 0.0);
  std::vector<uint8_t> bad = {1, 1, 9, 2, 2, 0, 0};
  Status s = m.add_labels(gt.data(), bad.data(), gt.size());
  REQUIRE(!s.ok());
  CHECK(s.message().find("unknown predicted label id 9") != std::string::npos);
}

TEST_CASE("PC: parsing covering with and without image-size normalization", "[eval]") {
  // Image 1 (4x4): gt segment 1 = columns 0-1 (8 px), segment 2 = rows 0-1 of columns 2-3
  // (4 px), the rest VOID. pred 5 = columns 0-2, pred 6 = column 3 (both class 1).
  std::vector<uint32_t> gt1 = {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1, 0, 0};
  std::vector<uint32_t> pred1 = {5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6};
  // pred areas over non-void pixels: 5 → 10, 6 → 2. gt1: IoU(5) = 8/10 = 0.8.
  // gt2: IoU(5) = 2/12, IoU(6) = 2/4 = 0.5 → 0.5. Cov = (8·0.8 + 4·0.5) / 12 = 0.7.
  // Image 2 (2x2): gt segment 1 (class 1) everywhere, pred covers row 0 → IoU 2/4 = 0.5.
  std::vector<uint32_t> gt2 = {1, 1, 1, 1};
  std::vector<uint32_t> pred2 = {3, 3, 0, 0};
  // Image 3 (2x2): class 2 predicted exactly.
  std::vector<uint32_t> gt3 = {4, 4, 4, 4};
  auto cats = three_categories();
  PanopticOverlap o1, o2, o3;
  REQUIRE(panoptic_overlap_compute(gt1.data(), pred1.data(), 16, {seg(1, 1), seg(2, 1)},
                                   {seg(5, 1), seg(6, 1)}, &o1)
              .ok());
  REQUIRE(
      panoptic_overlap_compute(gt2.data(), pred2.data(), 4, {seg(1, 1)}, {seg(3, 1)}, &o2).ok());
  REQUIRE(panoptic_overlap_compute(gt3.data(), gt3.data(), 4, {seg(4, 2)}, {seg(4, 2)}, &o3).ok());
  ParsingCovering single(cats);
  single.add(o1);
  CHECK(single.summary().per_class[0] == Approx(0.7));
  CHECK(single.summary().all == Approx(0.7));
  CHECK(std::isnan(single.summary().stuff));

  ParsingCovering normalized(cats, true), raw(cats, false);
  for (auto* pc : {&normalized, &raw}) {
    pc->add(o1);
    pc->add(o2);
    pc->add(o3);
  }
  // normalized: class 1 = (8.4/16 + 2/4) / (12/16 + 4/4) = 1.025 / 1.75
  CHECK(normalized.summary().per_class[0] == Approx(1.025 / 1.75));
  CHECK(normalized.summary().per_class[1] == Approx(1.0));
  CHECK(std::isnan(normalized.summary().per_class[2]));
  CHECK(normalized.summary().all == Approx((1.025 / 1.75 + 1.0) / 2));
  // raw: class 1 = (8.4 + 2) / 16
  CHECK(raw.summary().per_class[0] == Approx(10.4 / 16));
  CHECK(raw.summary().things == Approx(10.4 / 16));
}

TEST_CASE("AP: precision/recall integration on a hand-computed curve", "[eval]") {
  // scores 0.9 (TP), 0.8 (FP), 0.7 (TP), one hard FN.
  // (P, R) at thresholds 0.7, 0.8, 0.9: (2/3, 2/3), (1/2, 1/3), (1, 1/3); end (1, 0).
  // step widths from [r0, r0, r1, r2, r3, 0] ⊛ [−½, 0, ½]: 1/6 each → AP = 19/36.
  CHECK(instance_ap_from_examples({0.9, 0.8, 0.7}, {1, 0, 1}, 1) == Approx(19.0 / 36.0));
  // ties: one PR point per distinct score: (1/2, 1), end (1, 0) → widths ½, ½ → AP = 3/4
  CHECK(instance_ap_from_examples({0.5, 0.5}, {1, 0}, 0) == Approx(0.75));
  CHECK(instance_ap_from_examples({}, {}, 2) == 0.0);
}

TEST_CASE("AP: Cityscapes matching rules", "[eval]") {
  // class 0: gt instance 1000 (400 px), small instance 1001 (50 px), group 24 (300 px).
  ApClassImage image;
  image.gt = {{1000, 400}, {1001, 50}, {24, 300}};
  ApPrediction p0;  // IoU 380/420 ≈ 0.905 with the instance: TP up to t = 0.9
  p0.pixels = 400;
  p0.confidence = 0.9;
  p0.overlaps = {{0, 380}};
  ApPrediction p1;  // on the group: never an FP (matched to it, or ignored share 290/300 > t)
  p1.pixels = 300;
  p1.confidence = 0.4;
  p1.overlaps = {{2, 290}};
  ApPrediction p2;  // on nothing: FP with the highest score
  p2.pixels = 200;
  p2.confidence = 0.95;
  image.predictions = {p0, p1, p2};
  ApClassImage gt_only;
  gt_only.gt = {{26000, 500}};
  InstanceAp ap(3);
  // class 0: the case above; class 1: nothing at all (NaN); class 2: gt without predictions (0)
  ap.add_image({image, ApClassImage(), gt_only});
  ApSummary s = ap.summary();
  // t ≤ 0.9: examples 0.9 T, 0.95 F → (P, R) = (1/2, 1), (0, 0), end (1, 0) → AP = 1/4.
  // t = 0.95: no TP → AP = 0.
  CHECK(s.table[0][0] == Approx(0.25));
  CHECK(s.table[0][8] == Approx(0.25));
  CHECK(s.table[0][9] == 0.0);
  CHECK(std::isnan(s.table[1][0]));
  CHECK(s.table[2][0] == 0.0);
  CHECK(s.per_class_ap[0] == Approx(0.225));
  CHECK(s.per_class_ap50[0] == Approx(0.25));
  CHECK(s.ap == Approx(0.225 * 10 / 20));
  CHECK(s.ap50 == Approx(0.125));
}

TEST_CASE("AP: a duplicate detection is an FP with the lower score", "[eval]") {
  for (bool high_first : {true, false}) {
    ApClassImage image;
    image.gt = {{1000, 400}};
    ApPrediction a, b;
    a.pixels = b.pixels = 400;
    a.overlaps = b.overlaps = {{0, 400}};
    a.confidence = high_first ? 0.9 : 0.3;
    b.confidence = high_first ? 0.3 : 0.9;
    image.predictions = {a, b};
    InstanceAp ap(1);
    ap.add_image({image});
    // the gt keeps 0.9 (TP) and the FP gets 0.3 → AP 1 either way
    CHECK(ap.summary().ap == Approx(1.0));
  }
}
