// The panoptic merger (SPEC §2.1, §2.3, §2.5; docs/PANOPTIC.md). Four passes over the rows,
// each split statically over threads:
//   1. semantic argmax (first maximum wins), center threshold, horizontal sliding max of the
//      thresholded heatmap (van Herk / Gil-Werman: three comparisons per pixel for any kernel);
//   2. vertical max, only at candidate pixels (value > 0) → centers per row;
//   (serial: concatenate centers in row-major order, top-k with nth_element, build the grid)
//   3. nearest center per thing pixel → instance map, per-instance class histograms, areas,
//      boxes and first raster position; stuff areas and boxes per class;
//   (serial: majority vote, id assignment in the convention's order, stuff area rule)
//   4. panoptic values, and the softmax probability sums for the instance scores.
// Every accumulation is an integer (counts, min/max, fixed-point probability sums), so the
// outputs are bitwise identical for any thread count.
//
// Nearest center: the distance is computed as the reference does, in float32:
// p = float(y) + Δy, d = sqrt((cy − p_y)² + (cx − p_x)²), first index on equal d. The squared
// distance decides first; sqrt is taken only when it improves, and an equal sqrt of a larger
// square keeps the earlier index (two different squares can round to the same distance).
// With many centers a grid of cells lists, per cell, every center that can be nearest to some
// point of the cell (with a margin far above float rounding), in ascending index order, so the
// scan of a cell's list gives the same answer as the scan of all centers.
//
// The semantic argmax and the nearest-center scan run through cpu/panoptic_kernels.h (vectorized
// over pixels and over centers respectively, exact on every ISA); each grid cell keeps its
// members' coordinates contiguously for that scan.
#include "models/panoptic_merger.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <thread>

#include "cpu/isa.h"
#include "cpu/panoptic_kernels.h"

namespace atrous {
namespace {

constexpr int32_t kMaxClassCount = 1 << 20;
constexpr int kGridMinCenters = 16;
constexpr double kProbabilityScale = 1099511627776.0;  // 2^40 fixed-point probability sums

// Calls fn(row_begin, row_end, part) for `parts` contiguous row ranges.
template <typename F>
void parallel_rows(int parts, int rows, F&& fn) {
  if (parts <= 1) {
    fn(0, rows, 0);
    return;
  }
  std::vector<std::thread> workers;
  for (int p = 1; p < parts; ++p)
    workers.emplace_back([&, p] { fn(int(int64_t(rows) * p / parts), int(int64_t(rows) * (p + 1) / parts), p); });
  fn(0, int(int64_t(rows) / parts), 0);
  for (std::thread& t : workers) t.join();
}

// out[i] = max(in[i − before .. i + after]) with `pad` outside [0, n); van Herk / Gil-Werman.
void sliding_max(const float* in, int n, int before, int after, float pad, float* out,
                 std::vector<float>& scratch) {
  const int k = before + after + 1;
  if (k == 1) {
    std::copy(in, in + n, out);
    return;
  }
  const int length = ((n + k - 1 + k - 1) / k) * k;
  scratch.resize(size_t(length) * 3);
  float* padded = scratch.data();
  float* prefix = padded + length;
  float* suffix = prefix + length;
  for (int j = 0; j < length; ++j) {
    int i = j - before;
    padded[j] = (i >= 0 && i < n) ? in[i] : pad;
  }
  for (int b = 0; b < length; b += k) {
    prefix[b] = padded[b];
    for (int j = b + 1; j < b + k; ++j) prefix[j] = std::max(prefix[j - 1], padded[j]);
    suffix[b + k - 1] = padded[b + k - 1];
    for (int j = b + k - 2; j >= b; --j) suffix[j] = std::max(suffix[j + 1], padded[j]);
  }
  for (int i = 0; i < n; ++i) out[i] = std::max(suffix[i], prefix[i + k - 1]);
}

struct Geometry {
  int height = 0, width = 0;
  int64_t classes = 0;  // logits channels, or max label + 1
  bool logits = false;
  const float* logit_data = nullptr;
  std::vector<int32_t> labels_owned;  // integer labels converted to int32
  const int32_t* label_data = nullptr;
};

std::string describe(const TensorView& t) {
  return std::string(dtype_name(t.dtype)) + " " + shape_to_string(t.shape);
}

Status check_inputs(const PanopticInputs& in, Geometry* g) {
  const TensorView& s = in.semantic;
  if (!s.data || !in.center.data || !in.offset.data) return Status::error("panoptic merge: missing input data");
  if (s.dtype == DType::dtype_f32) {
    if (!(s.shape.size() == 3 || (s.shape.size() == 4 && s.shape[0] == 1)))
      return Status::error("semantic logits must be float32 [C,H,W] or [1,C,H,W], got " + describe(s));
    size_t r = s.shape.size();
    g->logits = true;
    g->classes = s.shape[r - 3];
    g->height = int(s.shape[r - 2]);
    g->width = int(s.shape[r - 1]);
    if (g->classes < 1) return Status::error("semantic logits have no classes: " + describe(s));
    if (g->classes > kMaxClassCount) return Status::error("semantic logits have too many classes: " + describe(s));
    g->logit_data = s.f32();
  } else if (s.dtype == DType::dtype_i32 || s.dtype == DType::dtype_i64 || s.dtype == DType::dtype_u8) {
    if (!(s.shape.size() == 2 || (s.shape.size() == 3 && s.shape[0] == 1)))
      return Status::error("semantic labels must be integers [H,W] or [1,H,W], got " + describe(s));
    size_t r = s.shape.size();
    g->height = int(s.shape[r - 2]);
    g->width = int(s.shape[r - 1]);
  } else {
    return Status::error("semantic must be float32 logits [C,H,W] or int32 labels [H,W], got " + describe(s));
  }
  for (int64_t d : s.shape)
    if (d > (int64_t(1) << 20)) return Status::error("semantic is too large: " + describe(s));
  if (g->height < 1 || g->width < 1) return Status::error("semantic is empty: " + describe(s));
  const int64_t hw = int64_t(g->height) * g->width;
  if (hw > (int64_t(1) << 30)) return Status::error("semantic is too large: " + describe(s));
  const std::string size = "[" + std::to_string(g->height) + "," + std::to_string(g->width) + "]";

  const TensorView& c = in.center;
  if (c.dtype != DType::dtype_f32) return Status::error("center heatmap must be float32, got " + describe(c));
  bool center_ok = c.shape.size() >= 2 && c.shape.size() <= 4;
  for (size_t d = 0; center_ok && d + 2 < c.shape.size(); ++d) center_ok = c.shape[d] == 1;
  if (!center_ok) return Status::error("center heatmap must be [1,H,W], got " + describe(c));
  if (c.shape[c.shape.size() - 2] != g->height || c.shape[c.shape.size() - 1] != g->width)
    return Status::error("center heatmap is " + shape_to_string(c.shape) + " but semantic is " + size +
                         ": H and W must agree");

  const TensorView& o = in.offset;
  if (o.dtype != DType::dtype_f32) return Status::error("offsets must be float32, got " + describe(o));
  if (!(o.shape.size() == 3 || (o.shape.size() == 4 && o.shape[0] == 1)))
    return Status::error("offsets must be [2,H,W] (Δy, Δx), got " + describe(o));
  size_t r = o.shape.size();
  if (o.shape[r - 3] != 2) return Status::error("offsets must have 2 channels (Δy, Δx), got " + describe(o));
  if (o.shape[r - 2] != g->height || o.shape[r - 1] != g->width)
    return Status::error("offsets are " + shape_to_string(o.shape) + " but semantic is " + size +
                         ": H and W must agree");

  if (!g->logits) {
    g->labels_owned.resize(size_t(hw));
    // One loop per type; the range is checked once on the extremes.
    int64_t min_label = 0, max_label = 0;
    auto convert = [&](const auto* data) {
      auto low = data[0], high = data[0];
      int32_t* out = g->labels_owned.data();
      for (int64_t i = 0; i < hw; ++i) {
        low = std::min(low, data[i]);
        high = std::max(high, data[i]);
        out[i] = int32_t(data[i]);  // kept only when the range check passes
      }
      min_label = int64_t(low);
      max_label = int64_t(high);
    };
    if (s.dtype == DType::dtype_i32) convert(s.i32());
    else if (s.dtype == DType::dtype_i64) convert(s.i64());
    else convert(s.u8());
    for (int64_t v : {min_label, max_label})
      if (v < 0 || v >= kMaxClassCount)
        return Status::error("semantic label " + std::to_string(v) + " is outside [0, " +
                             std::to_string(kMaxClassCount - 1) + "]");
    g->classes = max_label + 1;
    g->label_data = g->labels_owned.data();
  }
  return Status::success();
}

struct Grid {
  int cell = 0, rows = 0, cols = 0;
  std::vector<int32_t> start;  // rows·cols + 1 offsets into `members`
  std::vector<int32_t> members;
  std::vector<float> member_y, member_x;  // the members' coordinates, contiguous per cell
};

// Squared distance from (py, px) to the box [y0, y1] × [x0, x1].
inline double box_distance2(double py, double px, double y0, double y1, double x0, double x1) {
  double dy = py < y0 ? y0 - py : (py > y1 ? py - y1 : 0.0);
  double dx = px < x0 ? x0 - px : (px > x1 ? px - x1 : 0.0);
  return dy * dy + dx * dx;
}

// Each cell's list is padded to a multiple of `pad_to` with +inf coordinates (never nearest;
// their `members` entry repeats the cell's first member).
void build_grid(const std::vector<float>& cy, const std::vector<float>& cx, int height, int width,
                int parts, int pad_to, Grid* grid) {
  const int count = int(cy.size());
  int cell = int(std::sqrt(double(height) * width / count) / 2);
  grid->cell = std::max(8, std::min(cell, 256));
  grid->rows = (height + grid->cell - 1) / grid->cell;
  grid->cols = (width + grid->cell - 1) / grid->cell;
  std::vector<std::vector<int32_t>> lists(size_t(grid->rows) * grid->cols);
  parallel_rows(std::min(parts, grid->rows), grid->rows, [&](int r0, int r1, int) {
    for (int r = r0; r < r1; ++r)
      for (int q = 0; q < grid->cols; ++q) {
        double y0 = double(r) * grid->cell, y1 = y0 + grid->cell;
        double x0 = double(q) * grid->cell, x1 = x0 + grid->cell;
        double upper = std::numeric_limits<double>::infinity();
        for (int i = 0; i < count; ++i) {
          double fy = std::max(std::abs(cy[i] - y0), std::abs(cy[i] - y1));
          double fx = std::max(std::abs(cx[i] - x0), std::abs(cx[i] - x1));
          upper = std::min(upper, fy * fy + fx * fx);
        }
        // The margin is far above float32 rounding of the reference distances.
        double limit = upper * (1 + 1e-4) + 1e-2;
        std::vector<int32_t>& list = lists[size_t(r) * grid->cols + q];
        for (int i = 0; i < count; ++i)
          if (box_distance2(cy[i], cx[i], y0, y1, x0, x1) <= limit) list.push_back(i);
        while (!list.empty() && list.size() % size_t(pad_to) != 0) list.push_back(-1 - list[0]);
      }
  });
  grid->start.assign(lists.size() + 1, 0);
  for (size_t j = 0; j < lists.size(); ++j) grid->start[j + 1] = grid->start[j] + int32_t(lists[j].size());
  grid->members.clear();
  grid->members.reserve(size_t(grid->start.back()));
  for (const auto& list : lists) grid->members.insert(grid->members.end(), list.begin(), list.end());
  grid->member_y.resize(grid->members.size());
  grid->member_x.resize(grid->members.size());
  const float inf = std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < grid->members.size(); ++j) {
    int32_t& m = grid->members[j];
    const bool padding = m < 0;
    if (padding) m = -1 - m;
    grid->member_y[j] = padding ? inf : cy[size_t(m)];
    grid->member_x[j] = padding ? inf : cx[size_t(m)];
  }
}

struct PartStats {
  std::vector<int32_t> histogram;  // centers × thing classes
  std::vector<int64_t> first;      // first raster position per center
  std::vector<int32_t> box;        // per center: y0, x0, y1, x1
  std::vector<int64_t> stuff_area; // per class
  std::vector<int32_t> stuff_box;  // per class: y0, x0, y1, x1
  std::vector<int64_t> probability;  // per center, fixed point
};

void box_init(std::vector<int32_t>* box, size_t n) {
  box->resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    (*box)[i * 4 + 0] = (*box)[i * 4 + 1] = std::numeric_limits<int32_t>::max();
    (*box)[i * 4 + 2] = (*box)[i * 4 + 3] = -1;
  }
}

inline void box_add(int32_t* b, int y, int x) {
  b[0] = std::min(b[0], y);
  b[1] = std::min(b[1], x);
  b[2] = std::max(b[2], y);
  b[3] = std::max(b[3], x);
}

inline void box_merge(int32_t* into, const int32_t* b) {
  into[0] = std::min(into[0], b[0]);
  into[1] = std::min(into[1], b[1]);
  into[2] = std::max(into[2], b[2]);
  into[3] = std::max(into[3], b[3]);
}

}  // namespace

Status panoptic_merge(const PanopticInputs& inputs, const PanopticParams& params, int threads,
                      PanopticResult* result) {
  ATROUS_RETURN_IF_ERROR(panoptic_params_validate(params));
  if (threads < 1) return Status::error("panoptic merge: threads must be >= 1");
  Geometry g;
  ATROUS_RETURN_IF_ERROR(check_inputs(inputs, &g));
  const int H = g.height, W = g.width;
  const int64_t HW = int64_t(H) * W;
  const bool deeplab2 = params.convention == panoptic_convention_deeplab2;
  const int parts = std::min(threads, H);
  const PanopticKernels& kernels = panoptic_kernels(cpu_isa_detect());

  // Classes: things sorted ascending, so the vote's first maximum is the smallest class id.
  std::vector<int32_t> things = params.thing_classes;
  std::sort(things.begin(), things.end());
  things.erase(std::unique(things.begin(), things.end()), things.end());
  const int64_t classes = g.classes;
  std::vector<int32_t> thing_index(size_t(classes), -1);
  for (size_t t = 0; t < things.size(); ++t)
    if (things[t] < classes) thing_index[size_t(things[t])] = int32_t(t);
  const int T = int(things.size());
  const int32_t void_value = deeplab2 ? params.void_label * params.label_divisor : -1;
  result->height = H;
  result->width = W;
  result->void_value = void_value;
  result->semantic.assign(size_t(HW), 0);
  result->instance.assign(size_t(HW), 0);
  result->panoptic.assign(size_t(HW), void_value);
  result->centers.clear();
  result->segments.clear();
  int32_t* semantic = result->semantic.data();
  const float* heat = inputs.center.f32();
  const float* offset_y = inputs.offset.f32();
  const float* offset_x = offset_y + HW;

  // ---- pass 1: argmax, threshold, horizontal max -------------------------------------------
  const float threshold = params.center_threshold;
  const float below = deeplab2 ? 0.0f : -1.0f;
  const float pad = deeplab2 ? 0.0f : -std::numeric_limits<float>::infinity();
  const int before = (params.nms_kernel - 1) / 2, after = params.nms_kernel - 1 - before;
  std::vector<float> horizontal(static_cast<size_t>(HW));
  std::vector<uint8_t> row_has_candidate(size_t(H), 0);
  auto thresholded = [&](int64_t i) { return heat[i] > threshold ? heat[i] : below; };
  parallel_rows(parts, H, [&](int y0, int y1, int) {
    std::vector<float> row(static_cast<size_t>(W)), scratch;
    for (int y = y0; y < y1; ++y) {
      const int64_t base = int64_t(y) * W;
      if (g.logits) {
        // Strict > keeps the first maximum.
        kernels.argmax_first(g.logit_data + base, semantic + base, classes, HW, W);
      } else {
        std::copy(g.label_data + base, g.label_data + base + W, semantic + base);
      }
      bool candidate = false;
      for (int x = 0; x < W; ++x) {
        row[size_t(x)] = thresholded(base + x);
        candidate |= row[size_t(x)] > 0;
      }
      row_has_candidate[size_t(y)] = candidate;
      sliding_max(row.data(), W, before, after, pad, horizontal.data() + base, scratch);
    }
  });

  // ---- pass 2: vertical max on candidate rows → centers ------------------------------------
  std::vector<std::vector<PanopticCenter>> part_centers(static_cast<size_t>(parts));
  parallel_rows(parts, H, [&](int y0, int y1, int part) {
    for (int y = y0; y < y1; ++y) {
      if (!row_has_candidate[size_t(y)]) continue;
      const int r0 = std::max(0, y - before), r1 = std::min(H - 1, y + after);
      const bool crosses = y - before < 0 || y + after > H - 1;
      // The column max only where the pixel is a candidate (value > 0).
      const int64_t base = int64_t(y) * W;
      for (int x = 0; x < W; ++x) {
        const float v = thresholded(base + x);
        if (!(v > 0)) continue;
        float pooled = crosses ? pad : -std::numeric_limits<float>::infinity();
        for (int r = r0; r <= r1; ++r) pooled = std::max(pooled, horizontal[size_t(int64_t(r) * W + x)]);
        if (pooled == v) part_centers[size_t(part)].push_back({y, x, v});
      }
    }
  });
  std::vector<float>().swap(horizontal);
  std::vector<PanopticCenter> centers;
  for (auto& list : part_centers) centers.insert(centers.end(), list.begin(), list.end());

  // ---- top-k -------------------------------------------------------------------------------
  const int64_t found = int64_t(centers.size());
  const bool apply_top_k = params.top_k > 0 && (deeplab2 ? found > params.top_k : found >= params.top_k);
  if (apply_top_k) {
    std::vector<float> values(centers.size());
    for (size_t i = 0; i < centers.size(); ++i) values[i] = centers[i].score;
    std::nth_element(values.begin(), values.begin() + (params.top_k - 1), values.end(), std::greater<float>());
    // Values are > 0 here, so detectron2's max(K-th, 0) is the K-th itself.
    const float kth = values[size_t(params.top_k - 1)];
    std::vector<PanopticCenter> kept;
    for (const PanopticCenter& c : centers)
      if (c.score > kth) kept.push_back(c);
    centers.swap(kept);
  }
  const int K = int(centers.size());
  // Largest value: (classes − 1)·divisor + the largest instance id (at most K).
  if ((classes - 1) * int64_t(params.label_divisor) + K > std::numeric_limits<int32_t>::max())
    return Status::error("panoptic merge: class " + std::to_string(classes - 1) + " × label_divisor " +
                         std::to_string(params.label_divisor) + " does not fit in int32");
  result->centers = centers;
  std::vector<float> cy(static_cast<size_t>(K)), cx(static_cast<size_t>(K));
  for (int i = 0; i < K; ++i) {
    cy[size_t(i)] = float(centers[size_t(i)].y);
    cx[size_t(i)] = float(centers[size_t(i)].x);
  }
  Grid grid;
  const bool use_grid = params.spatial_grid && K >= kGridMinCenters;
  // Cells hold few centers, which the kernel scans without vectors: no padding.
  if (use_grid) build_grid(cy, cx, H, W, parts, 1, &grid);

  // ---- pass 3: grouping and statistics -----------------------------------------------------
  std::vector<PartStats> stats(static_cast<size_t>(parts));
  int32_t* instance = result->instance.data();
  parallel_rows(parts, H, [&](int y0, int y1, int part) {
    PartStats& s = stats[size_t(part)];
    s.histogram.assign(size_t(K) * size_t(T), 0);
    s.first.assign(size_t(K), HW);
    box_init(&s.box, size_t(K));
    s.stuff_area.assign(size_t(classes), 0);
    box_init(&s.stuff_box, size_t(classes));
    const double grid_extent_y = double(grid.rows) * grid.cell, grid_extent_x = double(grid.cols) * grid.cell;
    for (int y = y0; y < y1; ++y) {
      const int64_t base = int64_t(y) * W;
      for (int x = 0; x < W; ++x) {
        const int64_t i = base + x;
        const int32_t c = semantic[i];
        const int32_t t = thing_index[size_t(c)];
        if (t < 0) {
          // A run of one stuff class: its area and box at once.
          int end = x + 1;
          while (end < W && semantic[base + end] == c) ++end;
          s.stuff_area[size_t(c)] += end - x;
          box_add(&s.stuff_box[size_t(c) * 4], y, x);
          box_add(&s.stuff_box[size_t(c) * 4], y, end - 1);
          x = end - 1;
          continue;
        }
        if (K == 0) continue;
        const float py = float(y) + offset_y[i];
        const float px = float(x) + offset_x[i];
        // The first index of the smallest distance; the first candidate when none compares (NaN).
        int nearest;
        if (use_grid && py >= 0 && py < grid_extent_y && px >= 0 && px < grid_extent_x) {
          // py, px ≥ 0, so int() is floor: the point lies in [row·cell, row·cell + cell).
          const int row = std::min(int(py) / grid.cell, grid.rows - 1);
          const int col = std::min(int(px) / grid.cell, grid.cols - 1);
          const int cell = row * grid.cols + col;
          const int32_t begin = grid.start[size_t(cell)], end = grid.start[size_t(cell) + 1];
          const int32_t j = kernels.nearest_center(py, px, grid.member_y.data() + begin,
                                                   grid.member_x.data() + begin, end - begin);
          nearest = grid.members[size_t(begin + std::max(j, 0))];
        } else {
          nearest = std::max(kernels.nearest_center(py, px, cy.data(), cx.data(), K), 0);
        }
        instance[i] = nearest + 1;
        ++s.histogram[size_t(nearest) * size_t(T) + size_t(t)];
        if (s.first[size_t(nearest)] == HW) s.first[size_t(nearest)] = i;
        box_add(&s.box[size_t(nearest) * 4], y, x);
      }
    }
  });

  // ---- vote, ids, stuff rule ---------------------------------------------------------------
  std::vector<int64_t> histogram(size_t(K) * size_t(T), 0), first(size_t(K), HW), area(size_t(K), 0);
  std::vector<int32_t> box, stuff_box;
  box_init(&box, size_t(K));
  box_init(&stuff_box, size_t(classes));
  std::vector<int64_t> stuff_area(size_t(classes), 0);
  for (const PartStats& s : stats) {
    for (size_t j = 0; j < histogram.size(); ++j) histogram[j] += s.histogram[j];
    for (int i = 0; i < K; ++i) {
      first[size_t(i)] = std::min(first[size_t(i)], s.first[size_t(i)]);
      box_merge(&box[size_t(i) * 4], &s.box[size_t(i) * 4]);
    }
    for (int64_t c = 0; c < classes; ++c) {
      stuff_area[size_t(c)] += s.stuff_area[size_t(c)];
      box_merge(&stuff_box[size_t(c) * 4], &s.stuff_box[size_t(c) * 4]);
    }
  }
  std::vector<int32_t> order;
  for (int i = 0; i < K; ++i)
    if (first[size_t(i)] < HW) order.push_back(i);
  if (deeplab2)
    std::sort(order.begin(), order.end(), [&](int a, int b) { return first[size_t(a)] < first[size_t(b)]; });
  std::vector<int32_t> value_of(size_t(K), void_value), class_of(size_t(K), -1);
  std::vector<int32_t> counter(things.size(), 0);
  std::vector<PanopticSegmentInfo> segments;
  for (int i : order) {
    const int64_t* h = &histogram[size_t(i) * size_t(T)];
    int best = 0;
    for (int t = 1; t < T; ++t)
      if (h[t] > h[best]) best = t;
    for (int t = 0; t < T; ++t) area[size_t(i)] += h[t];
    const int32_t category = things[size_t(best)];
    const int32_t id = ++counter[size_t(best)];
    value_of[size_t(i)] = category * params.label_divisor + id;
    class_of[size_t(i)] = category;
    PanopticSegmentInfo segment;
    segment.id = value_of[size_t(i)];
    segment.category_id = category;
    segment.area = area[size_t(i)];
    const int32_t* b = &box[size_t(i) * 4];
    segment.bbox[0] = b[1];
    segment.bbox[1] = b[0];
    segment.bbox[2] = b[3] - b[1] + 1;
    segment.bbox[3] = b[2] - b[0] + 1;
    segment.isthing = true;
    segment.score = centers[size_t(i)].score;
    segment.center_index = i;
    segments.push_back(segment);
  }
  std::vector<uint8_t> stuff_kept(size_t(classes), 0);
  for (int64_t c = 0; c < classes; ++c) {
    if (thing_index[size_t(c)] >= 0 || stuff_area[size_t(c)] == 0) continue;
    if (stuff_area[size_t(c)] < params.stuff_area_limit) continue;
    stuff_kept[size_t(c)] = 1;
    PanopticSegmentInfo segment;
    segment.id = int32_t(c) * params.label_divisor;
    segment.category_id = int32_t(c);
    segment.area = stuff_area[size_t(c)];
    const int32_t* b = &stuff_box[size_t(c) * 4];
    segment.bbox[0] = b[1];
    segment.bbox[1] = b[0];
    segment.bbox[2] = b[3] - b[1] + 1;
    segment.bbox[3] = b[2] - b[0] + 1;
    segments.push_back(segment);
  }

  // ---- pass 4: panoptic values and probability sums ----------------------------------------
  const bool scores = g.logits && params.compute_scores;
  int32_t* panoptic = result->panoptic.data();
  parallel_rows(parts, H, [&](int y0, int y1, int part) {
    PartStats& s = stats[size_t(part)];
    if (scores) s.probability.assign(size_t(K), 0);
    for (int y = y0; y < y1; ++y) {
      const int64_t base = int64_t(y) * W;
      for (int x = 0; x < W; ++x) {
        const int64_t i = base + x;
        const int32_t c = semantic[i];
        if (thing_index[size_t(c)] < 0) {
          if (stuff_kept[size_t(c)]) panoptic[i] = c * params.label_divisor;
          continue;
        }
        const int32_t owner = instance[i];
        if (owner == 0) continue;
        panoptic[i] = value_of[size_t(owner - 1)];
        if (!scores) continue;
        const float* l = g.logit_data + i;
        float top = l[0];
        for (int64_t k = 1; k < classes; ++k) top = std::max(top, l[k * HW]);
        double sum = 0;
        for (int64_t k = 0; k < classes; ++k) sum += std::exp(double(l[k * HW] - top));
        double p = std::exp(double(l[int64_t(class_of[size_t(owner - 1)]) * HW] - top)) / sum;
        if (std::isfinite(p)) s.probability[size_t(owner - 1)] += int64_t(std::llround(p * kProbabilityScale));
      }
    }
  });
  if (scores) {
    for (PanopticSegmentInfo& segment : segments) {
      if (!segment.isthing) continue;
      int64_t total = 0;
      for (const PartStats& s : stats) total += s.probability[size_t(segment.center_index)];
      segment.score = (double(total) / kProbabilityScale / double(segment.area)) *
                      double(centers[size_t(segment.center_index)].score);
    }
  }
  result->segments = std::move(segments);
  return Status::success();
}

}  // namespace atrous
