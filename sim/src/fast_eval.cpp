#include "heatvit/sim/fast_eval.hpp"

#include <algorithm>

#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/timing.hpp"

namespace heatvit::sim {

ScheduleEvaluator::ScheduleEvaluator(const ModelShape& model, const HwConfig& hw) : model_(model) {
  const AnalyticModel a(hw);
  Planner planner(hw);
  const int dense = model.dense_tokens();
  const std::size_t depth = static_cast<std::size_t>(model.depth);
  t_.resize(model, hw.selector.enabled);
  for (int n = 2; n <= dense; ++n) {
    const Plan p = planner(build_workload(model, std::vector<int>(depth, n), {}));
    const PlanTiming t = a.time_plan(p);
    for (std::size_t i = 0; i < p.passes.size(); ++i) {
      const Pass& ps = p.passes[i];
      if (ps.block == 0) t_.block[static_cast<std::size_t>(n)] += t.passes[i].cycles;
      if (ps.block == model.depth) t_.head[static_cast<std::size_t>(n)] += t.passes[i].cycles;
      if (ps.block < 0 && n == dense) t_.stem += t.passes[i].cycles;
    }
  }
  if (!hw.selector.enabled) return;
  // A selector scoring `in` patch tokens and keeping `out` of them.
  const int patches = model.patch_tokens();
  for (int in = 1; in <= patches; ++in) {
    for (int out = 0; out <= in; ++out) {
      Workload w;
      w.model = model;
      w.ops = selector_ops(model, 0, in, in - out);
      t_.selector[static_cast<std::size_t>(in)][static_cast<std::size_t>(out)] =
          a.time_plan(planner(w)).cycles();
    }
  }
}

std::int64_t ScheduleEvaluator::cycles(const std::vector<int>& tokens, const std::vector<int>& selector_blocks) const {
  return cycles_of(tokens.data(), [&](int b) {
    return std::find(selector_blocks.begin(), selector_blocks.end(), b) != selector_blocks.end();
  });
}

std::int64_t ScheduleEvaluator::cycles(const Schedule& s) const {
  std::vector<int> blocks;
  for (const auto& p : s.selectors) blocks.push_back(p.block);
  return cycles(expected_tokens(model_, s), blocks);
}

}  // namespace heatvit::sim
