// Confusion matrix accumulation; see the header for the IoU rules.
#include "eval/confusion_matrix.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace atrous {

ConfusionMatrix::ConfusionMatrix(std::vector<bool> evaluated) : evaluated_(std::move(evaluated)) {
  counts_.assign(evaluated_.size() * evaluated_.size(), 0);
}

Status ConfusionMatrix::add_labels(const uint8_t* gt, const uint8_t* pred, size_t pixels,
                                   int missing_label) {
  // Count into a per-thread 256×256 table first (no bounds checks in the loop; 32-bit counts
  // suffice for one image of at most 16384² pixels). Label maps come in long runs, so 8 pixels
  // whose gt and pred bytes are all equal are counted with one add; this also avoids the
  // store-to-load stall of incrementing one counter pixel after pixel.
  thread_local std::vector<uint32_t> local(256 * 256, 0);
  const size_t n = evaluated_.size();
  if (pred) {
    size_t i = 0;
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    for (; i + 8 <= pixels; i += 8) {
      uint64_t g8, p8;
      std::memcpy(&g8, gt + i, 8);
      std::memcpy(&p8, pred + i, 8);
      if (g8 == gt[i] * kOnes && p8 == pred[i] * kOnes) {
        local[size_t(gt[i]) * 256 + pred[i]] += 8;
      } else {
        for (size_t k = i; k < i + 8; ++k) local[size_t(gt[k]) * 256 + pred[k]] += 1;
      }
    }
    for (; i < pixels; ++i) local[size_t(gt[i]) * 256 + pred[i]] += 1;
  } else {
    for (size_t i = 0; i < pixels; ++i) local[size_t(gt[i]) * 256 + size_t(missing_label)] += 1;
  }
  Status status = Status::success();
  for (size_t g = 0; g < 256; ++g)
    for (size_t p = 0; p < 256; ++p) {
      uint32_t c = local[g * 256 + p];
      if (!c) continue;
      local[g * 256 + p] = 0;  // leave the table zero for the next image
      if (!status.ok()) continue;
      if (g >= n)
        status = Status::error("unknown ground truth label id " + std::to_string(g));
      else if (p >= n)
        status = Status::error("unknown predicted label id " + std::to_string(p));
      else
        counts_[g * n + p] += c;
    }
  return status;
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  for (size_t i = 0; i < counts_.size() && i < other.counts_.size(); ++i)
    counts_[i] += other.counts_[i];
}

double ConfusionMatrix::iou(int c) const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const size_t n = evaluated_.size();
  if (c < 0 || size_t(c) >= n || !evaluated_[size_t(c)]) return nan;
  uint64_t tp = at(c, c), row = 0, fp = 0;
  for (size_t p = 0; p < n; ++p) row += counts_[size_t(c) * n + p];
  for (size_t r = 0; r < n; ++r)
    if (evaluated_[r] && int(r) != c) fp += counts_[r * n + size_t(c)];
  uint64_t denominator = tp + fp + (row - tp);
  if (denominator == 0) return nan;
  return double(tp) / double(denominator);
}

double ConfusionMatrix::mean_iou() const {
  double sum = 0;
  int count = 0;
  for (int c = 0; c < size(); ++c) {
    double v = iou(c);
    if (std::isnan(v)) continue;
    sum += v;
    ++count;
  }
  return count ? sum / count : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace atrous
