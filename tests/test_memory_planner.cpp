// The memory planner (graph/memory_planner.h) on hand-made and random graphs. Every plan is
// checked against rules derived here from the graph alone: liveness recomputed, every alias
// justified by its node, groups alive at the same time disjoint in bytes, and the arena no
// smaller than the bytes alive at any step nor larger than a plain greedy-by-size placement.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"
#include "graph/memory_planner.h"
#include "tests/graph_fixtures.h"

namespace atrous {
namespace {

using testing::add_node;

int32_t tensor(Graph& graph, const Shape& shape, DType dtype = DType::dtype_f32) {
  return graph.add_tensor("t" + std::to_string(graph.tensors.size()), dtype, shape);
}

size_t byte_size(const Graph& graph, int32_t t) {
  const GraphTensor& x = graph.tensors[size_t(t)];
  return size_t(shape_numel(x.shape)) * dtype_size(x.dtype);
}

size_t align(size_t bytes, size_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

MemoryPlan plan_of(const Graph& graph, const MemoryPlanOptions& options) {
  MemoryPlan plan;
  Status status = memory_plan(graph, options, &plan);
  INFO(status.message());
  REQUIRE(status.ok());
  return plan;
}

// Checks `plan` against the graph; returns the arena a plain greedy-by-size placement of the
// same groups needs (all placed roots compared with each new one: quadratic, the oracle).
size_t check_plan(const Graph& graph, const MemoryPlanOptions& options, const MemoryPlan& plan) {
  const size_t count = graph.tensors.size(), nodes = graph.nodes.size();
  const size_t alignment = std::max<size_t>(options.alignment, 1);
  REQUIRE(plan.offsets.size() == count);
  REQUIRE(plan.alias_of.size() == count);
  REQUIRE(plan.alias_kind.size() == count);
  REQUIRE(plan.skip.size() == nodes);
  // Liveness, recomputed.
  std::vector<int32_t> producer(count, -1), last(count, -1);
  for (size_t n = 0; n < nodes; ++n) {
    for (int32_t t : graph.nodes[n].outputs) producer[size_t(t)] = int32_t(n);
    for (int32_t t : graph.nodes[n].inputs)
      if (t >= 0) last[size_t(t)] = int32_t(n);
  }
  for (int32_t t : graph.outputs) last[size_t(t)] = int32_t(nodes);
  std::vector<bool> planned(count);
  size_t unplanned = 0;
  for (size_t t = 0; t < count; ++t) {
    planned[t] = producer[t] >= 0 && !graph.tensors[t].is_constant;
    CHECK(plan.producer[t] == producer[t]);
    CHECK(plan.last_use[t] == last[t]);
    if (!planned[t]) {
      CHECK(plan.offsets[t] == SIZE_MAX);
      CHECK(plan.alias_of[t] == -1);
      continue;
    }
    last[t] = std::max(last[t], producer[t]);
    unplanned += align(byte_size(graph, int32_t(t)), alignment);
    REQUIRE(plan.offsets[t] != SIZE_MAX);
    CHECK(plan.offsets[t] + byte_size(graph, int32_t(t)) <= plan.arena_bytes);
  }
  CHECK(plan.unplanned_bytes == unplanned);
  CHECK(plan.arena_bytes <= plan.unplanned_bytes);

  // Every alias is justified by the node that creates it.
  std::vector<int> aliased_onto(count, 0);
  for (size_t t = 0; t < count; ++t)
    if (plan.alias_of[t] >= 0) aliased_onto[size_t(plan.alias_of[t])] += 1;
  std::vector<bool> skip_expected(nodes, false);
  for (size_t t = 0; t < count; ++t) {
    const int32_t p = plan.alias_of[t];
    const AliasKind kind = plan.alias_kind[t];
    CHECK((p < 0) == (kind == AliasKind::alias_none));
    if (p < 0) continue;
    INFO("tensor " << t << " aliased onto " << p);
    REQUIRE(planned[size_t(p)]);
    if (kind == AliasKind::alias_concat_slice) {
      CHECK(options.alias_concat);
      const Node& node = graph.nodes[size_t(producer[size_t(p)])];
      REQUIRE(node.op == OpType::op_concat);
      skip_expected[size_t(producer[size_t(p)])] = true;
      const Shape& shape = graph.tensors[size_t(p)].shape;
      int64_t axis = node.attributes.get_int("axis", 1);
      if (axis < 0) axis += int64_t(shape.size());
      for (int64_t d = 0; d < axis; ++d) CHECK(shape[size_t(d)] == 1);
      // The inputs tile the output in order: contiguous, inside it, each used once.
      size_t offset = plan.offsets[size_t(p)], at = SIZE_MAX;
      for (int32_t in : node.inputs) {
        CHECK(std::count(node.inputs.begin(), node.inputs.end(), in) == 1);
        CHECK(plan.alias_of[size_t(in)] == p);
        CHECK(graph.tensors[size_t(in)].dtype == graph.tensors[size_t(p)].dtype);
        if (in == int32_t(t)) at = offset;
        offset += byte_size(graph, in);
      }
      CHECK(offset == plan.offsets[size_t(p)] + byte_size(graph, p));
      CHECK(plan.offsets[t] == at);
    } else if (kind == AliasKind::alias_view) {
      CHECK(options.alias_views);
      const Node& node = graph.nodes[size_t(producer[t])];
      skip_expected[size_t(producer[t])] = true;
      bool zero_pad = false;
      if (node.op == OpType::op_pad) {
        const std::vector<int64_t> pads = node.attributes.get_ints("pads", {});
        zero_pad = !pads.empty() && std::count(pads.begin(), pads.end(), 0) == int64_t(pads.size());
      }
      CHECK((node.op == OpType::op_reshape || node.op == OpType::op_flatten || zero_pad));
      CHECK(node.inputs[0] == p);
      CHECK(byte_size(graph, int32_t(t)) == byte_size(graph, p));
      CHECK(plan.offsets[t] == plan.offsets[size_t(p)]);
    } else {
      REQUIRE(kind == AliasKind::alias_in_place);
      const size_t n = size_t(producer[t]);
      const Node& node = graph.nodes[n];
      CHECK(n < options.in_place.size());
      CHECK(options.in_place[n]);
      CHECK(node.outputs[0] == int32_t(t));
      CHECK(node.inputs[0] == p);
      // The input dies here, is read once by this node, and shares its bytes with nothing else.
      CHECK(last[size_t(p)] == int32_t(n));
      CHECK(std::count(node.inputs.begin(), node.inputs.end(), p) == 1);
      CHECK(graph.tensors[t].shape == graph.tensors[size_t(p)].shape);
      CHECK(graph.tensors[t].dtype == graph.tensors[size_t(p)].dtype);
      CHECK(plan.offsets[t] == plan.offsets[size_t(p)]);
      // ... except the earlier links of a chain of in-place writes, all dead by now.
      CHECK((plan.alias_of[size_t(p)] == -1 ||
             plan.alias_kind[size_t(p)] == AliasKind::alias_in_place));
      CHECK(aliased_onto[size_t(p)] == 1);
      CHECK(aliased_onto[t] <= 1);
    }
  }
  for (size_t n = 0; n < nodes; ++n) CHECK(plan.skip[n] == skip_expected[n]);

  // Groups: a root and everything aliased onto it. Their bytes are in use from the first
  // member's producer to the last member's last reader.
  std::vector<int32_t> root(count, -1);
  for (size_t t = 0; t < count; ++t) {
    if (!planned[t]) continue;
    int32_t r = int32_t(t);
    for (size_t steps = 0; plan.alias_of[size_t(r)] >= 0; ++steps) {
      REQUIRE(steps < count);  // no cycles
      r = plan.alias_of[size_t(r)];
    }
    root[t] = r;
  }
  struct Group {
    int32_t root, first, last;
    size_t begin, end;  // the root's reserved bytes
  };
  std::vector<Group> groups;
  std::vector<int32_t> group_of(count, -1);
  for (size_t t = 0; t < count; ++t) {
    if (root[t] < 0) continue;
    const size_t r = size_t(root[t]);
    if (group_of[r] < 0) {
      group_of[r] = int32_t(groups.size());
      const size_t bytes = align(byte_size(graph, int32_t(r)), alignment);
      groups.push_back({int32_t(r), INT32_MAX, -1, plan.offsets[r], plan.offsets[r] + bytes});
      CHECK(plan.offsets[r] % alignment == 0);
      CHECK(plan.offsets[r] + bytes <= plan.arena_bytes);
    }
    Group& group = groups[size_t(group_of[r])];
    group.first = std::min(group.first, producer[t]);
    group.last = std::max(group.last, last[t]);
    // Every member lies inside its root's bytes.
    CHECK(plan.offsets[t] >= group.begin);
    CHECK(plan.offsets[t] + byte_size(graph, int32_t(t)) <= group.end);
  }
  // No two groups alive at the same step share a byte.
  for (size_t i = 0; i < groups.size(); ++i)
    for (size_t j = i + 1; j < groups.size(); ++j) {
      const Group &a = groups[i], &b = groups[j];
      const bool together = a.first <= b.last && b.first <= a.last;
      const bool overlap =
          a.begin < b.end && b.begin < a.end && a.begin != a.end && b.begin != b.end;
      INFO("tensors " << a.root << " and " << b.root);
      CHECK(!(together && overlap));
    }
  // The arena holds at least the bytes alive at any one step.
  size_t most_alive = 0;
  for (int32_t step = 0; step <= int32_t(nodes); ++step) {
    size_t alive = 0;
    for (const Group& group : groups)
      if (group.first <= step && step <= group.last) alive += group.end - group.begin;
    most_alive = std::max(most_alive, alive);
  }
  CHECK(plan.arena_bytes >= most_alive);

  // The oracle: the same groups placed greedily by size, scanning every placed group.
  std::vector<size_t> order(groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return groups[x].end - groups[x].begin > groups[y].end - groups[y].begin;
  });
  std::vector<size_t> placed_at(groups.size(), 0);
  std::vector<size_t> placed;
  size_t arena = 0;
  for (size_t i : order) {
    const size_t bytes = groups[i].end - groups[i].begin;
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed)
      if (groups[j].first <= groups[i].last && groups[i].first <= groups[j].last)
        busy.emplace_back(placed_at[j], placed_at[j] + groups[j].end - groups[j].begin);
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& range : busy) {
      if (range.first >= offset + bytes) break;
      offset = std::max(offset, range.second);
    }
    placed_at[i] = offset;
    arena = std::max(arena, offset + bytes);
    placed.push_back(i);
  }
  return arena;
}

MemoryPlanOptions cpu_options(const Graph& graph, bool in_place) {
  MemoryPlanOptions options;
  options.in_place.assign(graph.nodes.size(), in_place);
  return options;
}

// x → relu → relu → ... (`length` nodes), 4×4×4 floats each.
Graph relu_chain(int length) {
  Graph graph;
  int32_t x = tensor(graph, {1, 4, 4, 4});
  graph.inputs = {x};
  for (int i = 0; i < length; ++i) {
    const int32_t y = tensor(graph, {1, 4, 4, 4});
    add_node(graph, OpType::op_relu, {x}, {y});
    x = y;
  }
  graph.outputs = {x};
  return graph;
}

}  // namespace

TEST_CASE("memory planner: a chain reuses two buffers, or one written in place", "[planner]") {
  const Graph graph = relu_chain(10);
  MemoryPlanOptions copying = cpu_options(graph, false);
  MemoryPlan plan = plan_of(graph, copying);
  check_plan(graph, copying, plan);
  CHECK(plan.arena_bytes == 2 * 256);
  CHECK(plan.unplanned_bytes == 10 * 256);

  // The graph input is not planned: the first relu cannot write over it; the others chain.
  MemoryPlanOptions in_place = cpu_options(graph, true);
  plan = plan_of(graph, in_place);
  check_plan(graph, in_place, plan);
  CHECK(plan.arena_bytes == 256);
  CHECK(plan.alias_kind[1] == AliasKind::alias_none);
  for (size_t t = 2; t < graph.tensors.size(); ++t) {
    CHECK(plan.alias_kind[t] == AliasKind::alias_in_place);
    CHECK(plan.alias_of[t] == int32_t(t) - 1);
  }
}

TEST_CASE("memory planner: no in-place write over an input that is read later", "[planner]") {
  // a = relu(x); b = relu(a) [in place allowed, but a is read again by c]; c = add(a, b).
  Graph graph;
  const int32_t x = tensor(graph, {1, 8}), a = tensor(graph, {1, 8}), b = tensor(graph, {1, 8}),
                c = tensor(graph, {1, 8});
  graph.inputs = {x};
  add_node(graph, OpType::op_relu, {x}, {a});
  add_node(graph, OpType::op_relu, {a}, {b});
  add_node(graph, OpType::op_add, {a, b}, {c});
  graph.outputs = {c};
  const MemoryPlanOptions options = cpu_options(graph, true);
  const MemoryPlan plan = plan_of(graph, options);
  check_plan(graph, options, plan);
  CHECK(plan.alias_kind[size_t(b)] == AliasKind::alias_none);
  CHECK(plan.offsets[size_t(a)] != plan.offsets[size_t(b)]);
  // c may take a's bytes: a dies at the add, which reads it once, as input 0.
  CHECK(plan.alias_of[size_t(c)] == a);
  CHECK(plan.arena_bytes == 2 * 64);

  // add(a, a): input 0 is also input 1, so the output gets its own bytes.
  Graph twice;
  const int32_t y = tensor(twice, {1, 8}), p = tensor(twice, {1, 8}), q = tensor(twice, {1, 8});
  twice.inputs = {y};
  add_node(twice, OpType::op_relu, {y}, {p});
  add_node(twice, OpType::op_add, {p, p}, {q});
  twice.outputs = {q};
  const MemoryPlanOptions twice_options = cpu_options(twice, true);
  const MemoryPlan twice_plan = plan_of(twice, twice_options);
  check_plan(twice, twice_options, twice_plan);
  CHECK(twice_plan.alias_kind[size_t(q)] == AliasKind::alias_none);
}

TEST_CASE("memory planner: concat inputs are produced in their slices, nested concats chain",
          "[planner]") {
  // a [1,2,3], b [1,5,3] → c = concat(a, b) [1,7,3]; d [1,1,3] → e = concat(c, d) [1,8,3];
  // f = reshape(e) [8,3] is the output.
  Graph graph;
  const int32_t x = tensor(graph, {1, 1, 3});
  const int32_t a = tensor(graph, {1, 2, 3}), b = tensor(graph, {1, 5, 3}),
                c = tensor(graph, {1, 7, 3}), d = tensor(graph, {1, 1, 3}),
                e = tensor(graph, {1, 8, 3}), f = tensor(graph, {8, 3});
  graph.inputs = {x};
  AttributeMap axis1, shape;
  axis1.set_int("axis", 1);
  shape.set_ints("shape", {8, 3});
  add_node(graph, OpType::op_resize, {x}, {a});
  add_node(graph, OpType::op_resize, {x}, {b});
  add_node(graph, OpType::op_concat, {a, b}, {c}, axis1);
  add_node(graph, OpType::op_resize, {x}, {d});
  add_node(graph, OpType::op_concat, {c, d}, {e}, axis1);
  add_node(graph, OpType::op_reshape, {e}, {f}, shape);
  graph.outputs = {f};
  const MemoryPlanOptions options = cpu_options(graph, false);
  const MemoryPlan plan = plan_of(graph, options);
  check_plan(graph, options, plan);
  CHECK(plan.skip == std::vector<bool>{false, false, true, false, true, true});
  CHECK(plan.offsets[size_t(a)] == plan.offsets[size_t(e)]);
  CHECK(plan.offsets[size_t(b)] == plan.offsets[size_t(e)] + 2 * 3 * 4);
  CHECK(plan.offsets[size_t(d)] == plan.offsets[size_t(e)] + 7 * 3 * 4);
  CHECK(plan.offsets[size_t(f)] == plan.offsets[size_t(e)]);
  CHECK(plan.arena_bytes == 128);  // 96 bytes, one group, aligned to 64

  SECTION("the CUDA executor's options alias nothing and align every tensor to 256 bytes") {
    MemoryPlanOptions device;
    device.alignment = 256;
    device.alias_concat = false;
    device.alias_views = false;
    const MemoryPlan copied = plan_of(graph, device);
    check_plan(graph, device, copied);
    for (size_t t = 0; t < graph.tensors.size(); ++t) {
      CHECK(copied.alias_of[t] == -1);
      if (copied.offsets[t] != SIZE_MAX) CHECK(copied.offsets[t] % 256 == 0);
    }
    CHECK(copied.skip == std::vector<bool>(6, false));
  }
}

TEST_CASE("memory planner: concats and pads that cannot alias copy", "[planner]") {
  Graph graph;
  const int32_t x = tensor(graph, {2, 3});
  graph.inputs = {x};
  const int32_t a = tensor(graph, {2, 3}), b = tensor(graph, {2, 6}), c = tensor(graph, {2, 6}),
                d = tensor(graph, {4, 3}), e = tensor(graph, {2, 5}), f = tensor(graph, {2, 3}),
                g = tensor(graph, {2, 3}, DType::dtype_i32), h = tensor(graph, {4, 3});
  AttributeMap axis0, axis1, pads, no_pads;
  axis0.set_int("axis", 0);
  axis1.set_int("axis", 1);
  pads.set_ints("pads", {0, 1, 0, 1});
  no_pads.set_ints("pads", {0, 0, 0, 0});
  add_node(graph, OpType::op_relu, {x}, {a});
  add_node(graph, OpType::op_concat, {a, x}, {b}, axis1);  // a graph input among the inputs
  add_node(graph, OpType::op_concat, {a, a}, {c}, axis1);  // one input twice
  add_node(graph, OpType::op_concat, {a, a}, {d}, axis0);  // one input twice, on axis 0
  add_node(graph, OpType::op_pad, {a}, {e}, pads);         // a real pad
  add_node(graph, OpType::op_pad, {a}, {f}, no_pads);      // a zero pad: a view
  add_node(graph, OpType::op_argmax, {a}, {g});
  add_node(graph, OpType::op_concat, {f, g}, {h}, axis0);  // dtypes differ
  graph.outputs = {b, c, d, e, h};
  const MemoryPlanOptions options = cpu_options(graph, false);
  const MemoryPlan plan = plan_of(graph, options);
  check_plan(graph, options, plan);
  CHECK(plan.skip == std::vector<bool>{false, false, false, false, false, true, false, false});
  CHECK(plan.alias_kind[size_t(f)] == AliasKind::alias_view);
  for (int32_t t : {a, b, c, d, e, g, h}) CHECK(plan.alias_of[size_t(t)] == -1);

  // Concat on axis 1 of a batch of 2: the inputs are not contiguous in the output.
  Graph batch;
  const int32_t y = tensor(batch, {2, 3}), p = tensor(batch, {2, 3}), q = tensor(batch, {2, 3}),
                r = tensor(batch, {2, 6});
  batch.inputs = {y};
  add_node(batch, OpType::op_relu, {y}, {p});
  add_node(batch, OpType::op_relu, {y}, {q});
  add_node(batch, OpType::op_concat, {p, q}, {r}, axis1);
  batch.outputs = {r};
  const MemoryPlanOptions batch_options = cpu_options(batch, false);
  const MemoryPlan batch_plan = plan_of(batch, batch_options);
  check_plan(batch, batch_options, batch_plan);
  CHECK(batch_plan.skip == std::vector<bool>(3, false));
}

TEST_CASE("memory planner: long alias chains and wide fan-outs", "[planner]") {
  // 2000 reshapes in a row share one buffer; a fan-out of 300 branches alive together does not.
  Graph graph;
  int32_t x = tensor(graph, {1, 16});
  graph.inputs = {x};
  int32_t y = tensor(graph, {1, 16});
  const int32_t first = y;
  add_node(graph, OpType::op_relu, {x}, {y});
  AttributeMap shape;
  shape.set_ints("shape", {16});
  for (int i = 0; i < 2000; ++i) {
    const int32_t z = tensor(graph, {1, 16});
    add_node(graph, OpType::op_reshape, {y}, {z}, shape);
    y = z;
  }
  std::vector<int32_t> branches;
  for (int i = 0; i < 300; ++i) {
    branches.push_back(tensor(graph, {1, 16}));
    add_node(graph, OpType::op_relu, {y}, {branches.back()});
  }
  const int32_t joined = tensor(graph, {1, 16 * 300});
  AttributeMap axis1;
  axis1.set_int("axis", 1);
  add_node(graph, OpType::op_concat, branches, {joined}, axis1);
  graph.outputs = {joined};
  const MemoryPlanOptions options = cpu_options(graph, true);
  const MemoryPlan plan = plan_of(graph, options);
  const size_t greedy = check_plan(graph, options, plan);
  CHECK(plan.arena_bytes == greedy);
  CHECK(plan.arena_bytes == 64 + 16 * 300 * 4);
  CHECK(plan.offsets[size_t(y)] == plan.offsets[size_t(first)]);
}

TEST_CASE("memory planner: random graphs keep every rule and match plain greedy placement",
          "[planner]") {
  std::mt19937 rng(20261205);
  auto pick = [&](int n) { return int(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  for (int trial = 0; trial < 300; ++trial) {
    Graph graph;
    std::vector<int32_t> values;  // tensors a node may read
    const int inputs = 1 + pick(2);
    for (int i = 0; i < inputs; ++i) {
      values.push_back(tensor(graph, {1, 1 + pick(4), 2, 3}));
      graph.inputs.push_back(values.back());
    }
    const int nodes = 1 + pick(60);
    for (int n = 0; n < nodes; ++n) {
      const int32_t x = values[size_t(pick(int(values.size())))];
      // Prefer recent tensors, as real graphs do, so that lifetimes vary.
      const int32_t recent =
          values[values.size() - 1 - size_t(pick(std::min<int>(4, int(values.size()))))];
      const Shape xs = graph.tensors[size_t(recent)].shape;
      AttributeMap attributes;
      switch (pick(8)) {
        case 0:
        case 1: {
          const int32_t y = tensor(graph, xs);
          add_node(graph, OpType::op_relu, {recent}, {y});
          values.push_back(y);
          break;
        }
        case 2: {
          const int32_t y = tensor(graph, xs);
          add_node(graph, OpType::op_add, {recent, pick(3) == 0 ? recent : x}, {y});
          values.push_back(y);
          break;
        }
        case 3: {  // concat of 1-4 tensors on axis 1, or on axis 2 of a batch of 2 (not contiguous)
          std::vector<int32_t> parts;
          int64_t total = 0;
          const int axis = pick(4) == 0 ? 2 : 1;
          for (int i = 0, k = 1 + pick(4); i < k; ++i) {
            const int32_t part = i == 0 ? recent : values[size_t(pick(int(values.size())))];
            parts.push_back(part);
            total += shape_numel(graph.tensors[size_t(part)].shape);
          }
          attributes.set_int("axis", axis);
          const int32_t y = tensor(graph, axis == 1 ? Shape{1, total} : Shape{2, 1, total});
          add_node(graph, OpType::op_concat, parts, {y}, attributes);
          values.push_back(y);
          break;
        }
        case 4: {
          const int32_t y = tensor(graph, {1, shape_numel(xs)});
          add_node(graph, pick(2) ? OpType::op_reshape : OpType::op_flatten, {recent}, {y});
          values.push_back(y);
          break;
        }
        case 5: {  // pad: by zero (a view) or by one row and column
          const bool zero = pick(2) == 0;
          attributes.set_ints("pads", std::vector<int64_t>(2 * xs.size(), zero ? 0 : 1));
          Shape ys = xs;
          if (!zero)
            for (int64_t& d : ys) d += 2;
          const int32_t y = tensor(graph, ys);
          add_node(graph, OpType::op_pad, {recent}, {y}, attributes);
          values.push_back(y);
          break;
        }
        case 6: {  // two outputs, the second often unread
          const int32_t y = tensor(graph, xs), z = tensor(graph, {1, 1 + pick(9)});
          add_node(graph, OpType::op_slice, {recent}, {y, z});
          values.push_back(y);
          if (pick(3) == 0) values.push_back(z);
          break;
        }
        default: {
          const int32_t y = tensor(graph, {1, 1 + pick(4), 2, 3}, DType::dtype_i32);
          add_node(graph, OpType::op_argmax, {recent}, {y});
          values.push_back(y);
          break;
        }
      }
    }
    graph.outputs.push_back(values.back());
    for (int i = pick(3); i > 0; --i) {
      const int32_t t = values[size_t(pick(int(values.size())))];
      if (std::find(graph.inputs.begin(), graph.inputs.end(), t) == graph.inputs.end() &&
          std::find(graph.outputs.begin(), graph.outputs.end(), t) == graph.outputs.end())
        graph.outputs.push_back(t);
    }
    MemoryPlanOptions options;
    const size_t alignments[] = {1, 4, 64, 256};
    options.alignment = alignments[pick(4)];
    options.alias_concat = pick(4) != 0;
    options.alias_views = pick(4) != 0;
    for (size_t n = 0; n < graph.nodes.size(); ++n) options.in_place.push_back(pick(3) != 0);
    if (pick(5) == 0) options.in_place.resize(graph.nodes.size() / 2);
    INFO("trial " << trial);
    const MemoryPlan plan = plan_of(graph, options);
    const size_t greedy = check_plan(graph, options, plan);
    CHECK(plan.arena_bytes == greedy);
  }
}

TEST_CASE("memory planner: a size that overflows is an error, not a wrapped arena", "[planner]") {
  Graph graph;
  const int32_t x = tensor(graph, {1});
  const int32_t huge = tensor(graph, {int64_t(1) << 40, int64_t(1) << 22});  // 2^64 bytes
  graph.inputs = {x};
  add_node(graph, OpType::op_resize, {x}, {huge});
  graph.outputs = {huge};
  MemoryPlan plan;
  CHECK_FALSE(memory_plan(graph, MemoryPlanOptions(), &plan).ok());
}

}  // namespace atrous
