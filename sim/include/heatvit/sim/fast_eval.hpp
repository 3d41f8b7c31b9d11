// Fast schedule evaluation for design-space sweeps: the analytic model tabulated per
// block and per selector over every token count. Passes are separated by barriers,
// so a schedule's latency is exactly the sum of its parts: evaluate() returns the
// same cycles as AnalyticModel::time_plan(make_plan(...)) for the expected tokens,
// at the cost of a few table lookups.
#pragma once

#include <cstdint>
#include <vector>

#include "heatvit/models/schedule.hpp"
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
  std::int64_t cycles_of(const T* tokens, HasSelector has_selector) const;
  /// Cycles of a schedule with its expected token counts.
  std::int64_t cycles(const Schedule& s) const;

  std::int64_t block_cycles(int tokens) const { return block_[static_cast<std::size_t>(tokens)]; }

 private:
  ModelShape model_;
  std::int64_t stem_ = 0;
  std::vector<std::int64_t> block_;  // [tokens]
  std::vector<std::int64_t> head_;   // [tokens entering the head]
  // Selector before a block: [patch tokens scored][patch tokens kept].
  std::vector<std::vector<std::int64_t>> selector_;
};

template <class T, class HasSelector>
std::int64_t ScheduleEvaluator::cycles_of(const T* tokens, HasSelector has_selector) const {
  std::int64_t c = stem_;
  int prev = model_.dense_tokens();
  bool package = false;
  for (int b = 0; b < model_.depth; ++b) {
    const int n = static_cast<int>(tokens[b]);
    if (has_selector(b)) {
      const int scored = patch_tokens_of(prev, package);
      const bool pkg_after = package || n < prev;
      const int kept = patch_tokens_of(n, pkg_after);
      c += selector_[static_cast<std::size_t>(scored)][static_cast<std::size_t>(kept)];
      package = pkg_after;
    }
    c += block_[static_cast<std::size_t>(n)];
    prev = n;
  }
  return c + head_[static_cast<std::size_t>(prev)];
}

}  // namespace heatvit::sim
