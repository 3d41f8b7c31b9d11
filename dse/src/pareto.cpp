#include "heatvit/dse/pareto.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <pagmo/utils/hypervolume.hpp>

namespace heatvit::dse {

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool better = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

std::vector<std::size_t> nondominated(const std::vector<std::vector<double>>& pts) {
  // Sort by the objectives lexicographically: a point can only be dominated by one
  // that comes before it.
  std::vector<std::size_t> order(pts.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pts[a] < pts[b]; });
  std::vector<std::size_t> front;
  for (std::size_t i : order) {
    bool dominated = false;
    for (std::size_t j : front)
      if (dominates(pts[j], pts[i])) {
        dominated = true;
        break;
      }
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end());
  return front;
}

double hypervolume(const std::vector<std::vector<double>>& pts, const std::vector<double>& ref) {
  std::vector<pagmo::vector_double> in;
  for (const auto& p : pts) {
    bool inside = true;
    for (std::size_t i = 0; i < p.size(); ++i) inside = inside && p[i] < ref[i];
    if (inside) in.push_back(p);
  }
  if (in.empty()) return 0.0;
  const pagmo::hypervolume hv(in, false);
  return hv.compute(ref);
}

std::size_t nearest_to_ideal(const std::vector<std::vector<double>>& pts) {
  if (pts.empty()) return 0;
  const std::size_t d = pts[0].size();
  std::vector<double> lo(d, std::numeric_limits<double>::infinity()), hi(d, -std::numeric_limits<double>::infinity());
  for (const auto& p : pts)
    for (std::size_t i = 0; i < d; ++i) {
      lo[i] = std::min(lo[i], p[i]);
      hi[i] = std::max(hi[i], p[i]);
    }
  std::size_t best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < pts.size(); ++k) {
    double s = 0;
    for (std::size_t i = 0; i < d; ++i) {
      const double span = hi[i] - lo[i];
      const double x = span > 0 ? (pts[k][i] - lo[i]) / span : 0.0;
      s += x * x;
    }
    if (s < best_d) {
      best_d = s;
      best = k;
    }
  }
  return best;
}

}  // namespace heatvit::dse
