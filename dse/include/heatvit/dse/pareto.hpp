// Pareto dominance, non-dominated fronts and hypervolume (every objective minimized).
#pragma once

#include <cstddef>
#include <vector>

namespace heatvit::dse {

/// a dominates b: no worse in every objective and better in one.
bool dominates(const std::vector<double>& a, const std::vector<double>& b);

/// Indices of the non-dominated points (ascending). Equal points are all kept.
std::vector<std::size_t> nondominated(const std::vector<std::vector<double>>& pts);

/// Hypervolume dominated by `pts` and bounded by `ref` (every point is clipped to
/// it; points not better than ref in every objective add nothing). Exact, through
/// pagmo's hypervolume algorithms.
double hypervolume(const std::vector<std::vector<double>>& pts, const std::vector<double>& ref);

/// The point nearest the ideal point after scaling each objective to [0, 1] over
/// `pts` (Euclidean); ties go to the lower index. The knee rule for winners.
std::size_t nearest_to_ideal(const std::vector<std::vector<double>>& pts);

}  // namespace heatvit::dse
