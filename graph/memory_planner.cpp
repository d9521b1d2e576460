#include "graph/memory_planner.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

namespace atrous {

namespace {

// Placed roots keyed by the node that starts them (their `first`), in a segment tree whose
// nodes hold the latest `last` of their subtree: a query for the roots alive during [a, b]
// (first <= b and last >= a) descends only into subtrees that hold one.
class LiveRoots {
 public:
  explicit LiveRoots(size_t keys) : lists_(keys) {
    while (leaves_ < keys) leaves_ *= 2;
    latest_.assign(2 * leaves_, -1);
  }

  void insert(int32_t first, int32_t last, int32_t id) {
    lists_[size_t(first)].push_back({last, id});
    for (size_t node = leaves_ + size_t(first); node >= 1; node /= 2)
      latest_[node] = std::max(latest_[node], last);
  }

  template <class Visit>
  void query(int32_t a, int32_t b, const Visit& visit) const {
    collect(1, 0, leaves_, a, b, visit);
  }

 private:
  struct Entry {
    int32_t last, id;
  };

  template <class Visit>
  void collect(size_t node, size_t low, size_t high, int32_t a, int32_t b,
               const Visit& visit) const {
    if (latest_[node] < a || int64_t(low) > int64_t(b)) return;
    if (high - low == 1) {
      for (const Entry& entry : lists_[low])
        if (entry.last >= a) visit(entry.id);
      return;
    }
    const size_t middle = (low + high) / 2;
    collect(2 * node, low, middle, a, b, visit);
    collect(2 * node + 1, middle, high, a, b, visit);
  }

  std::vector<std::vector<Entry>> lists_;  // per key: the roots that start there
  size_t leaves_ = 1;
  std::vector<int32_t> latest_;
};

bool add_overflows(size_t x, size_t y, size_t* sum) {
  *sum = x + y;
  return *sum < x;
}

}  // namespace

Status memory_plan(const Graph& graph, const MemoryPlanOptions& options, MemoryPlan* plan) {
  const size_t count = graph.tensors.size();
  const size_t node_count = graph.nodes.size();
  const size_t alignment = std::max<size_t>(options.alignment, 1);
  *plan = MemoryPlan();
  plan->producer.assign(count, -1);
  plan->last_use.assign(count, -1);
  plan->offsets.assign(count, SIZE_MAX);
  plan->alias_of.assign(count, -1);
  plan->alias_kind.assign(count, AliasKind::alias_none);
  plan->skip.assign(node_count, false);
  std::vector<int32_t>& producer = plan->producer;
  std::vector<int32_t>& last_use = plan->last_use;
  for (size_t n = 0; n < node_count; ++n) {
    for (int32_t index : graph.nodes[n].outputs) producer[size_t(index)] = int32_t(n);
    for (int32_t index : graph.nodes[n].inputs)
      if (index != kAbsentInput) last_use[size_t(index)] = int32_t(n);
  }
  for (int32_t index : graph.outputs) last_use[size_t(index)] = int32_t(node_count);

  auto planned = [&](int32_t t) {
    return t >= 0 && producer[size_t(t)] >= 0 && !graph.tensors[size_t(t)].is_constant;
  };
  // Exact and aligned byte sizes, checked once so that nothing below can overflow unnoticed.
  std::vector<size_t> bytes(count, 0), aligned(count, 0);
  for (size_t t = 0; t < count; ++t) {
    if (!planned(int32_t(t))) continue;
    const int64_t numel = shape_numel(graph.tensors[t].shape);
    const size_t element = dtype_size(graph.tensors[t].dtype);
    if (numel < 0 || (element && uint64_t(numel) > SIZE_MAX / element) ||
        size_t(numel) * element > SIZE_MAX - (alignment - 1))
      return Status::error("tensor '" + graph.tensors[t].name + "' is too large to plan");
    bytes[t] = size_t(numel) * element;
    aligned[t] = (bytes[t] + alignment - 1) / alignment * alignment;
  }

  std::vector<int32_t>& parent = plan->alias_of;
  std::vector<size_t> relative(count, 0);  // concat slices: byte offset within the parent
  std::vector<int32_t> members(count, 0);  // tensors aliased onto this one
  auto alias = [&](int32_t child, int32_t owner, AliasKind kind) {
    parent[size_t(child)] = owner;
    plan->alias_kind[size_t(child)] = kind;
    members[size_t(owner)] += 1;
  };
  // Marks the inputs already seen in the concat being examined (by node index + 1), so that a
  // concat of many inputs is checked in linear time.
  std::vector<size_t> seen_in(count, 0);
  for (size_t n = 0; options.alias_concat && n < node_count; ++n) {
    const Node& node = graph.nodes[n];
    if (node.op != OpType::op_concat || node.outputs.size() != 1) continue;
    const int32_t out = node.outputs[0];
    if (!planned(out)) continue;
    const Shape& shape = graph.tensors[size_t(out)].shape;
    int64_t axis = node.attributes.get_int("axis", 1);
    if (axis < 0) axis += int64_t(shape.size());
    if (axis < 0 || axis >= int64_t(shape.size())) continue;
    bool ok = std::all_of(shape.begin(), shape.begin() + axis, [](int64_t d) { return d == 1; });
    for (size_t i = 0; ok && i < node.inputs.size(); ++i) {
      const int32_t in = node.inputs[i];
      ok = planned(in) && parent[size_t(in)] < 0 && seen_in[size_t(in)] != n + 1 &&
           graph.tensors[size_t(in)].dtype == graph.tensors[size_t(out)].dtype;
      if (ok) seen_in[size_t(in)] = n + 1;
    }
    if (!ok) continue;
    size_t offset = 0;
    for (int32_t in : node.inputs) {
      alias(in, out, AliasKind::alias_concat_slice);
      relative[size_t(in)] = offset;
      offset += bytes[size_t(in)];
    }
    plan->skip[n] = true;
  }
  for (size_t n = 0; options.alias_views && n < node_count; ++n) {
    const Node& node = graph.nodes[n];
    bool identity_pad = false;
    if (node.op == OpType::op_pad && node.inputs.size() == 1) {
      const std::vector<int64_t> pads = node.attributes.get_ints("pads", {});
      identity_pad =
          !pads.empty() && std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
    }
    if (node.op != OpType::op_reshape && node.op != OpType::op_flatten && !identity_pad) continue;
    if (node.inputs.empty() || node.outputs.empty()) continue;
    const int32_t in = node.inputs[0], out = node.outputs[0];
    if (!planned(in) || !planned(out) || parent[size_t(out)] >= 0 || members[size_t(out)] > 0)
      continue;
    alias(out, in, AliasKind::alias_view);
    plan->skip[n] = true;
  }
  for (size_t n = 0; n < std::min(options.in_place.size(), node_count); ++n) {
    if (!options.in_place[n]) continue;
    const Node& node = graph.nodes[n];
    if (node.inputs.empty() || node.outputs.empty()) continue;
    const int32_t in = node.inputs[0], out = node.outputs[0];
    if (!planned(in) || !planned(out) || last_use[size_t(in)] != int32_t(n)) continue;
    // The input may itself have been written in place (a chain of in-place nodes): every
    // earlier member of its group died where the next one was produced. Any other aliasing of
    // the input (a view or slice of it, or it of something) could still be read later.
    const bool input_alone =
        parent[size_t(in)] < 0 || plan->alias_kind[size_t(in)] == AliasKind::alias_in_place;
    if (!input_alone || members[size_t(in)] > 0 || parent[size_t(out)] >= 0 ||
        members[size_t(out)] > 0)
      continue;
    const GraphTensor &x = graph.tensors[size_t(in)], &y = graph.tensors[size_t(out)];
    if (x.shape != y.shape || x.dtype != y.dtype) continue;
    const bool other_use =
        std::find(node.inputs.begin() + 1, node.inputs.end(), in) != node.inputs.end();
    if (other_use) continue;
    alias(out, in, AliasKind::alias_in_place);
  }

  // Roots and offsets within them; memoized, so that long alias chains stay linear.
  std::vector<int32_t> root(count, -1);
  std::vector<size_t> within(count, 0);
  std::vector<int32_t> path;
  for (size_t t = 0; t < count; ++t) {
    if (!planned(int32_t(t)) || root[t] >= 0) continue;
    path.clear();
    int32_t r = int32_t(t);
    while (root[size_t(r)] < 0 && parent[size_t(r)] >= 0) {
      path.push_back(r);
      r = parent[size_t(r)];
    }
    if (root[size_t(r)] < 0) {  // r owns its bytes
      root[size_t(r)] = r;
      within[size_t(r)] = 0;
    }
    for (size_t i = path.size(); i-- > 0;) {
      const size_t member = size_t(path[i]);
      const size_t up = size_t(parent[member]);
      root[member] = root[up];
      within[member] = within[up] + relative[member];
    }
  }

  // One item per root, in the order of each group's first tensor; its lifetime spans all members.
  struct Item {
    int32_t tensor, first, last;
    size_t bytes;
  };
  std::vector<Item> items;
  std::vector<int32_t> item_of(count, -1);
  for (size_t t = 0; t < count; ++t) {
    if (root[t] < 0) continue;
    const size_t r = size_t(root[t]);
    if (add_overflows(plan->unplanned_bytes, aligned[t], &plan->unplanned_bytes))
      return Status::error("the tensors' total size overflows");
    if (item_of[r] < 0) {
      item_of[r] = int32_t(items.size());
      items.push_back({int32_t(r), INT32_MAX, -1, aligned[r]});
    }
    Item& item = items[size_t(item_of[r])];
    item.first = std::min(item.first, producer[t]);
    item.last = std::max({item.last, last_use[t], producer[t]});
  }
  std::vector<int32_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
    return items[size_t(x)].bytes > items[size_t(y)].bytes;
  });
  std::vector<size_t> item_offset(items.size(), 0);
  LiveRoots live(std::max<size_t>(node_count, 1));
  std::vector<std::pair<size_t, size_t>> busy;  // byte ranges of placed roots alive meanwhile
  for (int32_t i : order) {
    const Item& item = items[size_t(i)];
    busy.clear();
    live.query(item.first, item.last, [&](int32_t other) {
      const size_t start = item_offset[size_t(other)];
      busy.emplace_back(start, start + items[size_t(other)].bytes);
    });
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& range : busy) {
      if (range.first >= offset && range.first - offset >= item.bytes) break;
      offset = std::max(offset, range.second);
    }
    size_t end = 0;
    if (add_overflows(offset, item.bytes, &end)) return Status::error("the arena overflows");
    item_offset[size_t(i)] = offset;
    plan->arena_bytes = std::max(plan->arena_bytes, end);
    live.insert(item.first, item.last, i);
  }
  for (size_t t = 0; t < count; ++t)
    if (root[t] >= 0) plan->offsets[t] = item_offset[size_t(item_of[size_t(root[t])])] + within[t];
  return Status::success();
}

}  // namespace atrous
