// Fast schedule evaluation for design-space sweeps: the analytic model tabulated per
// block and per selector over every token count. Passes are separated by barriers,
// so a schedule's latency is exactly the sum of its parts: evaluate() returns the
// same cycles as AnalyticModel::time_plan(make_plan(...)) for the expected tokens,
// at the cost of a few table lookups.
#pragma once

#include <cstdint>
#include <vector>

#include "heatvit/models/schedule.hpp"
#include "heatvit/models/token_table.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/hw_config.hpp"

namespace heatvit::sim {

class ScheduleEvaluator {
 public:
  /// Builds the tables (one plan per token count; selector tables only when the
  /// hardware supports selectors).
  ScheduleEvaluator(const ModelShape& model, const HwConfig& hw);

  /// Analytic cycles of one image with the given tokens per block and selectors.
  std::int64_t cycles(const std::vector<int>& tokens, const std::vector<int>& selector_blocks) const;
  /// The same for one image given as `tokens` (one per block) and a predicate telling
  /// whether a selector runs before block b; no allocation.
  template <class T, class HasSelector>
  std::int64_t cycles_of(const T* tokens, HasSelector has_selector) const {
    return t_.total(model_, tokens, has_selector);
  }
  /// Cycles of a schedule with its expected token counts.
  std::int64_t cycles(const Schedule& s) const;

  std::int64_t block_cycles(int tokens) const { return t_.block[static_cast<std::size_t>(tokens)]; }

 private:
  ModelShape model_;
  TokenTable t_;  // cycles
};

}  // namespace heatvit::sim
