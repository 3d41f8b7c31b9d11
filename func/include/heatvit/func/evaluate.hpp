// Whole-test-set evaluation of the functional model: per-image predictions, tokens
// per block, selector masks and MACs, computed on several threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/func/func_model.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/models/schedule.hpp"

namespace heatvit::func {

/// Per-image results in test-set order.
struct EvalResult {
  int images = 0;
  std::vector<SelectorThreshold> selectors;          ///< active selectors (ascending block)
  std::vector<int> labels;                           ///< [image]
  std::vector<int> predictions;                      ///< [image]
  std::vector<std::vector<std::int64_t>> logits;     ///< [image][class]
  std::vector<std::vector<int>> tokens_per_block;    ///< [image][block], CLS and package incl.
  std::vector<std::vector<std::uint64_t>> kept_masks;  ///< [image][selector]: bit p = patch p kept
  std::vector<std::vector<int>> reached;             ///< [image][selector]: patch tokens entering it
  std::vector<std::vector<std::int32_t>> scores;     ///< [image][selector * 49 + patch], INT32_MIN if pruned earlier
  std::vector<std::int64_t> macs;                    ///< [image]: build_workload(...).total_macs()

  /// Absolute indices (0..48, ascending) of the patches kept after selector `s`.
  std::vector<int> kept_patches(int image, int s) const;
  double accuracy() const;           ///< fraction of predictions equal to the label
  std::vector<double> tokens_mean() const;  ///< mean over images, per block
  double macs_mean() const;
  /// Mean over images of kept / reached at selector s.
  double achieved_keep(int s) const;
};

/// Evaluates the first `limit` images of `data` (all when limit <= 0 or larger than
/// the set) under `selectors` (FuncModel::resolve) with `threads` worker threads
/// (<= 0: hardware concurrency). Results are identical for every thread count.
EvalResult evaluate(const FuncModel& model, const std::vector<SelectorThreshold>& selectors,
                    const ImageSet& data, int limit, int threads);

/// Convenience: resolve(schedule, schedule.name) then evaluate.
EvalResult evaluate(const FuncModel& model, const Schedule& schedule, const ImageSet& data, int limit,
                    int threads);

}  // namespace heatvit::func
