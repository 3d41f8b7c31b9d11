#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/batch_evaluators/member_bfe.hpp>
#include <pagmo/bfe.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#include <random>
#include <set>

#include "heatvit/core/error.hpp"
#include "heatvit/dse/strategy.hpp"

namespace heatvit::dse {

namespace {

std::vector<Candidate> all_fitting(Search& s) {
  std::vector<Candidate> out;
  const auto ns = static_cast<std::int64_t>(s.schedules().size());
  for (std::int64_t sc = 0; sc < ns; ++sc)
    for (std::int64_t h = 0; h < s.hw_count(); ++h) out.push_back({sc, h});
  return out;
}

class Exhaustive : public Strategy {
 public:
  const char* name() const override { return "exhaustive"; }
  void run(Search& s) override { s.evaluate_halving(all_fitting(s)); }
};

class RandomSearch : public Strategy {
 public:
  const char* name() const override { return "random"; }
  void run(Search& s) override {
    const std::int64_t total = static_cast<std::int64_t>(s.schedules().size()) * s.hw_count();
    const std::int64_t n = std::min<std::int64_t>(total, s.budget() > 0 ? s.budget() : 1000);
    std::mt19937_64 rng(s.seed());
    std::set<std::int64_t> picked;
    // Floyd's sampling: n distinct ids from [0, total), independent of the order drawn.
    for (std::int64_t j = total - n; j < total; ++j) {
      std::uniform_int_distribution<std::int64_t> d(0, j);
      const std::int64_t t = d(rng);
      if (!picked.insert(t).second) picked.insert(j);
    }
    std::vector<Candidate> c;
    for (std::int64_t id : picked) c.push_back({id / s.hw_count(), id % s.hw_count()});
    s.evaluate_halving(c);
  }
};

/// HeatViT's latency-aware multi-stage procedure on the integer model: stage k of K
/// adds the selector (free block x keep rate) whose schedule reaches the stage's
/// latency goal 1 - (1 - target) k / K of dense with the best validation accuracy
/// (and, before the last stage, does not go below the final target); without one, the
/// fastest. Run for every hw point that fits.
class Greedy : public Strategy {
 public:
  explicit Greedy(std::int64_t only_hw = -1) : only_hw_(only_hw) {}
  const char* name() const override { return "greedy"; }
  void run(Search& s) override {
    const Space& sp = s.space();
    const double target = sp.eval.greedy_target;
    const int stages = sp.max_selectors;
    json paths = json::array();
    for (std::int64_t h = 0; h < s.hw_count(); ++h) {
      if (!s.hw_fits(h) || (only_hw_ >= 0 && h != only_hw_)) continue;
      const std::int64_t dense_idx = s.schedule_index("");
      SchedulePoint cur;
      json path = json::array();
      double dense_lat = 0;
      {
        // The dense latency: from the space's dense schedule, or evaluated aside.
        if (dense_idx >= 0) dense_lat = s.evaluate({{dense_idx, h}}).at(0).latency_ms.mean;
      }
      for (int k = 1; k <= stages; ++k) {
        const double goal = 1.0 - (1.0 - target) * k / stages;
        std::vector<Candidate> cands;
        std::set<int> used;
        for (const auto& p : cur.selectors) used.insert(p.first);
        for (int b : sp.blocks) {
          if (used.count(b)) continue;
          SchedulePoint next = cur;
          next.selectors.push_back({b, 0});
          std::sort(next.selectors.begin(), next.selectors.end());
          const auto pos = static_cast<std::size_t>(
              std::find_if(next.selectors.begin(), next.selectors.end(), [&](auto& q) { return q.first == b; }) -
              next.selectors.begin());
          for (int keep : sp.keep[std::min(pos, sp.keep.size() - 1)]) {
            next.selectors[pos].second = keep;
            const std::int64_t idx = s.schedule_index(next.key());
            if (idx >= 0) cands.push_back({idx, h});
          }
        }
        if (cands.empty()) break;
        const std::vector<Metrics> ms = s.evaluate(cands);
        if (dense_lat <= 0) dense_lat = ms[0].latency_ms.mean;  // no dense in the space: relative to the first
        const Metrics* best = nullptr;
        const Metrics* fastest = nullptr;
        for (const Metrics& m : ms) {
          const double rel = m.latency_ms.mean / dense_lat;
          if (!fastest || m.latency_ms.mean < fastest->latency_ms.mean) fastest = &m;
          if (k < stages && rel < target) continue;
          if (rel > goal) continue;
          if (!best || m.accuracy > best->accuracy ||
              (m.accuracy == best->accuracy && m.latency_ms.mean < best->latency_ms.mean))
            best = &m;
        }
        const bool fallback = best == nullptr;
        if (fallback) best = fastest;
        cur = s.schedules()[static_cast<std::size_t>(best->cand.schedule)];
        path.push_back({{"stage", k}, {"goal", goal}, {"schedule", cur.key()},
                        {"latency_ratio", best->latency_ms.mean / dense_lat}, {"accuracy_val", best->accuracy},
                        {"fallback_fastest", fallback}});
      }
      paths.push_back({{"hw_index", h}, {"stages", path}, {"answer", cur.key()}});
    }
    s.note("greedy", paths);
  }

 private:
  std::int64_t only_hw_;
};

/// Decision vectors of NSGA-II: per selector position a block gene (0: none, else
/// 1 + index into the space's blocks) and a keep gene; one gene per hw knob.
struct Codec {
  const Space* sp = nullptr;
  const Search* s = nullptr;
  std::size_t dim() const { return 2 * static_cast<std::size_t>(sp->max_selectors) + sp->knobs.size(); }
  std::pair<pagmo::vector_double, pagmo::vector_double> bounds() const {
    pagmo::vector_double lo(dim(), 0.0), hi(dim(), 0.0);
    const auto m = static_cast<std::size_t>(sp->max_selectors);
    for (std::size_t i = 0; i < m; ++i) {
      hi[i] = static_cast<double>(sp->blocks.size());
      hi[m + i] = static_cast<double>(sp->keep[i].size() - 1);
    }
    for (std::size_t k = 0; k < sp->knobs.size(); ++k) hi[2 * m + k] = static_cast<double>(sp->knobs[k].values.size() - 1);
    return {lo, hi};
  }
  /// The candidate, or schedule -1 when the genes name no schedule of the space.
  Candidate decode(const pagmo::vector_double& x) const {
    const auto m = static_cast<std::size_t>(sp->max_selectors);
    std::vector<std::pair<int, int>> genes;  // (block index, keep gene)
    for (std::size_t i = 0; i < m; ++i) {
      const int g = static_cast<int>(std::lround(x[i]));
      if (g > 0) genes.push_back({g - 1, static_cast<int>(std::lround(x[m + i]))});
    }
    std::sort(genes.begin(), genes.end());
    genes.erase(std::unique(genes.begin(), genes.end(), [](auto& a, auto& b) { return a.first == b.first; }),
                genes.end());
    SchedulePoint p;
    for (std::size_t j = 0; j < genes.size(); ++j) {
      const auto& grid = sp->keep[j];
      const auto kg = static_cast<std::size_t>(std::min<int>(genes[j].second, static_cast<int>(grid.size()) - 1));
      p.selectors.push_back({sp->blocks[static_cast<std::size_t>(genes[j].first)], grid[kg]});
    }
    std::int64_t hw = 0;
    for (std::size_t k = 0; k < sp->knobs.size(); ++k)
      hw = hw * static_cast<std::int64_t>(sp->knobs[k].values.size()) + std::lround(x[2 * m + k]);
    return {s->schedule_index(p.key()), hw};
  }
};

struct DseProblem {
  Search* s = nullptr;
  Codec codec;
  std::size_t nobj = 2;
  pagmo::vector_double penalty() const { return pagmo::vector_double(nobj, 1e15); }
  pagmo::vector_double fitness(const pagmo::vector_double& x) const { return batch_fitness(x); }
  pagmo::vector_double batch_fitness(const pagmo::vector_double& dvs) const {
    const std::size_t d = codec.dim();
    const std::size_t n = dvs.size() / d;
    std::vector<Candidate> cands;
    std::vector<std::ptrdiff_t> slot(n, -1);
    for (std::size_t i = 0; i < n; ++i) {
      const Candidate c = codec.decode(pagmo::vector_double(dvs.begin() + static_cast<std::ptrdiff_t>(i * d),
                                                            dvs.begin() + static_cast<std::ptrdiff_t>((i + 1) * d)));
      if (c.schedule < 0) continue;
      auto it = std::find(cands.begin(), cands.end(), c);
      slot[i] = it - cands.begin();
      if (it == cands.end()) cands.push_back(c);
    }
    const std::vector<Metrics> ms = s->evaluate(cands);
    pagmo::vector_double out;
    for (std::size_t i = 0; i < n; ++i) {
      const auto f = slot[i] < 0 ? penalty() : s->fitness(ms[static_cast<std::size_t>(slot[i])]);
      out.insert(out.end(), f.begin(), f.end());
    }
    return out;
  }
  std::pair<pagmo::vector_double, pagmo::vector_double> get_bounds() const { return codec.bounds(); }
  pagmo::vector_double::size_type get_nobj() const { return nobj; }
  pagmo::vector_double::size_type get_nix() const { return codec.dim(); }
  std::string get_name() const { return "heatvit dse"; }
};

class Nsga2 : public Strategy {
 public:
  const char* name() const override { return "nsga2"; }
  void run(Search& s) override {
    const std::int64_t total = static_cast<std::int64_t>(s.schedules().size()) * s.hw_count();
    const std::int64_t budget =
        s.budget() > 0 ? s.budget() : std::max<std::int64_t>(64, static_cast<std::int64_t>(std::llround(0.1 * double(total))));
    // Population: a multiple of 4, about budget / 12 generations' worth, within [16, 64].
    std::size_t pop = static_cast<std::size_t>(std::clamp<std::int64_t>(budget / 12, 16, 64));
    pop -= pop % 4;
    DseProblem udp;
    udp.s = &s;
    udp.codec = {&s.space(), &s};
    udp.nobj = s.space().objectives.size();
    if (udp.nobj < 2) throw InputError("--strategy", "", "nsga2 needs at least two objectives");
    pagmo::problem prob{udp};
    const pagmo::bfe bfe{pagmo::member_bfe{}};
    pagmo::population population{prob, bfe, pop, static_cast<unsigned>(s.seed())};
    pagmo::nsga2 algo{1u, 0.95, 10., 1. / double(udp.codec.dim()), 50., static_cast<unsigned>(s.seed())};
    algo.set_bfe(bfe);
    int stale = 0, gens = 0;
    while (s.evaluated() < budget && stale < 25 && gens < 100000) {
      const std::int64_t before = s.evaluated();
      population = algo.evolve(population);
      ++gens;
      stale = s.evaluated() == before ? stale + 1 : 0;
    }
    s.note("nsga2", {{"population", pop}, {"generations", gens}, {"budget", budget},
                     {"evaluated", s.evaluated()}, {"stopped_by", s.evaluated() >= budget ? "budget" : "no new candidates"}});
  }
};

}  // namespace

std::unique_ptr<Strategy> make_greedy(std::int64_t hw) { return std::make_unique<Greedy>(hw); }

std::unique_ptr<Strategy> make_strategy(const std::string& name) {
  if (name == "exhaustive") return std::make_unique<Exhaustive>();
  if (name == "random") return std::make_unique<RandomSearch>();
  if (name == "greedy") return std::make_unique<Greedy>();
  if (name == "nsga2") return std::make_unique<Nsga2>();
  throw InputError("--strategy", "", "'" + name + "' is not a strategy (exhaustive, greedy, random, nsga2)");
}

}  // namespace heatvit::dse
