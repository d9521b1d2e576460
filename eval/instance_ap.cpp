// Cityscapes instance AP; the matching rules are listed in the header. Matches are kept per
// image (a few numbers per instance) and scored once at the end, as the official script does.
#include "eval/instance_ap.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

namespace atrous {

InstanceAp::InstanceAp(int classes, int64_t min_region)
    : min_region_(min_region), images_(size_t(classes)) {}

std::vector<double> InstanceAp::thresholds() {
  std::vector<double> t;
  for (int k = 0; k < 10; ++k) t.push_back(0.5 + k * 0.05);  // as np.arange(0.5, 1.0, 0.05)
  return t;
}

void InstanceAp::add_image(std::vector<ApClassImage> per_class) {
  for (size_t c = 0; c < images_.size() && c < per_class.size(); ++c)
    images_[c].push_back(std::move(per_class[c]));
}

void InstanceAp::merge(InstanceAp&& other) {
  for (size_t c = 0; c < images_.size() && c < other.images_.size(); ++c)
    for (auto& image : other.images_[c]) images_[c].push_back(std::move(image));
}

double instance_ap_from_examples(const std::vector<double>& scores, const std::vector<int>& is_true,
                                 int64_t hard_fn) {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::vector<double> sorted(n);
  std::vector<int64_t> cumsum(n + 1, 0);  // cumsum[i] = trues among the first i sorted examples
  for (size_t i = 0; i < n; ++i) {
    sorted[i] = scores[order[i]];
    cumsum[i + 1] = cumsum[i] + (is_true[order[i]] ? 1 : 0);
  }
  const int64_t total_true = cumsum[n];
  std::vector<double> precision, recall;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && sorted[i] == sorted[i - 1]) continue;  // first index of each distinct score
    int64_t below = cumsum[i];
    int64_t tp = total_true - below;
    int64_t fp = int64_t(n - i) - tp;
    int64_t fn = below + hard_fn;
    precision.push_back(double(tp) / double(tp + fp));
    recall.push_back(tp + fn > 0 ? double(tp) / double(tp + fn) : 0.0);
  }
  precision.push_back(1.0);
  recall.push_back(0.0);
  // recall padded as [r0, r0, r1, ..., r_last, 0]; w_i = (padded[i+2] − padded[i]) · (−½)… the
  // 'valid' convolution with [−½, 0, ½] gives w_i = ½·padded[i] − ½·padded[i+2].
  std::vector<double> padded;
  padded.push_back(recall[0]);
  padded.insert(padded.end(), recall.begin(), recall.end());
  padded.push_back(0.0);
  double ap = 0;
  for (size_t i = 0; i < precision.size(); ++i)
    ap += precision[i] * (0.5 * padded[i] - 0.5 * padded[i + 2]);
  return ap;
}

ApSummary InstanceAp::summary() const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> ts = thresholds();
  ApSummary s;
  s.table.assign(images_.size(), std::vector<double>(ts.size(), nan));
  for (size_t c = 0; c < images_.size(); ++c) {
    for (size_t t = 0; t < ts.size(); ++t) {
      const double th = ts[t];
      std::vector<double> scores;
      std::vector<int> trues;
      int64_t hard_fn = 0;
      bool have_gt = false, have_pred = false;
      for (const ApClassImage& image : images_[c]) {
        auto kept = [&](const ApGt& g) { return g.instance_id >= 1000 && g.pixels >= min_region_; };
        if (!image.predictions.empty()) have_pred = true;
        // matched predictions per gt, in prediction order
        std::vector<std::vector<std::pair<size_t, int64_t>>> per_gt(image.gt.size());
        for (size_t p = 0; p < image.predictions.size(); ++p)
          for (const auto& ov : image.predictions[p].overlaps)
            per_gt[size_t(ov.first)].push_back({p, ov.second});
        for (size_t g = 0; g < image.gt.size(); ++g) {
          const ApGt& gt = image.gt[g];
          if (!kept(gt)) continue;
          have_gt = true;
          bool matched = false;
          double score = -std::numeric_limits<double>::infinity();
          for (const auto& m : per_gt[g]) {
            const ApPrediction& pred = image.predictions[m.first];
            double overlap = double(m.second) / double(gt.pixels + pred.pixels - m.second);
            if (!(overlap > th)) continue;
            if (matched) {
              scores.push_back(std::min(score, pred.confidence));
              trues.push_back(0);
              score = std::max(score, pred.confidence);
            } else {
              matched = true;
              score = pred.confidence;
            }
          }
          if (matched) {
            scores.push_back(score);
            trues.push_back(1);
          } else {
            ++hard_fn;
          }
        }
        for (const ApPrediction& pred : image.predictions) {
          bool found = false;
          for (const auto& ov : pred.overlaps) {
            const ApGt& gt = image.gt[size_t(ov.first)];
            if (double(ov.second) / double(gt.pixels + pred.pixels - ov.second) > th) {
              found = true;
              break;
            }
          }
          if (found) continue;
          int64_t ignored = pred.void_pixels;
          for (const auto& ov : pred.overlaps) {
            const ApGt& gt = image.gt[size_t(ov.first)];
            if (gt.instance_id < 1000) ignored += ov.second;
            if (gt.pixels < min_region_) ignored += ov.second;
          }
          if (double(ignored) / double(pred.pixels) <= th) {
            scores.push_back(pred.confidence);
            trues.push_back(0);
          }
        }
      }
      if (have_gt && have_pred)
        s.table[c][t] = instance_ap_from_examples(scores, trues, hard_fn);
      else if (have_gt)
        s.table[c][t] = 0.0;
    }
  }
  double sum = 0, sum50 = 0;
  int count = 0, count50 = 0;
  s.per_class_ap.assign(images_.size(), nan);
  s.per_class_ap50.assign(images_.size(), nan);
  for (size_t c = 0; c < images_.size(); ++c) {
    double class_sum = 0;
    for (size_t t = 0; t < ts.size(); ++t) {
      double v = s.table[c][t];
      class_sum += v;
      if (!std::isnan(v)) {
        sum += v;
        ++count;
      }
    }
    s.per_class_ap[c] = class_sum / double(ts.size());
    s.per_class_ap50[c] = s.table[c][0];
    if (!std::isnan(s.table[c][0])) {
      sum50 += s.table[c][0];
      ++count50;
    }
  }
  s.ap = count ? sum / count : nan;
  s.ap50 = count50 ? sum50 / count50 : nan;
  return s;
}

}  // namespace atrous
