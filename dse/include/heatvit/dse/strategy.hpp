// Search strategies. A strategy proposes batches of candidates and reads back their
// metrics through the Search interface; it never touches oracles, hardware models or
// the store, so a new strategy is one class and evaluators are tested without one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "heatvit/dse/evaluator.hpp"
#include "heatvit/dse/space.hpp"

namespace heatvit::dse {

/// What strategies see of the run.
class Search {
 public:
  virtual ~Search() = default;
  virtual const Space& space() const = 0;
  virtual const std::vector<SchedulePoint>& schedules() const = 0;
  /// Index of a schedule key in schedules(), or -1.
  virtual std::int64_t schedule_index(const std::string& key) const = 0;
  virtual std::int64_t hw_count() const = 0;
  /// Whether hw point i fits the device (known without evaluating).
  virtual bool hw_fits(std::int64_t i) = 0;
  /// Full-validation metrics of each candidate (stored results are reused).
  virtual std::vector<Metrics> evaluate(const std::vector<Candidate>& batch) = 0;
  /// Successive halving: every candidate on the first rung, then only those that a
  /// paired test cannot rule out of the front on the next; returns the metrics of the
  /// candidates that reached the full validation split.
  virtual std::vector<Metrics> evaluate_halving(const std::vector<Candidate>& batch) = 0;
  /// Objective vector (minimized) with feasibility first: an infeasible point is
  /// worse than every feasible one.
  virtual std::vector<double> fitness(const Metrics& m) const = 0;
  /// Distinct candidates evaluated at full validation so far (this run).
  virtual std::int64_t evaluated() const = 0;
  virtual std::uint64_t seed() const = 0;
  virtual std::int64_t budget() const = 0;  ///< 0: the strategy's default
  /// Free-form notes a strategy leaves for the report (e.g. the greedy path).
  virtual void note(const std::string& key, json value) = 0;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual const char* name() const = 0;
  virtual void run(Search& s) = 0;
};

/// exhaustive | greedy | random | nsga2; InputError naming --strategy otherwise.
std::unique_ptr<Strategy> make_strategy(const std::string& name);

/// The greedy procedure on hw point `hw` only (the baseline every run reports).
std::unique_ptr<Strategy> make_greedy(std::int64_t hw);

/// Candidates of the whole space above which exhaustive refuses without --allow-large.
constexpr std::int64_t kExhaustiveLimit = 250000;

}  // namespace heatvit::dse
