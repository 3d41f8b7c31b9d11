// Evaluating candidates of a space: a candidate is a schedule (index into the space's
// schedules) on a hardware point (index into the knob product). Accuracy and per-image
// tokens come from a ScheduleOracle; latency from the analytic model tabulated per hw
// point (sim::ScheduleEvaluator, the same cycles as AnalyticModel::time_plan), image by
// image; resources from the resource model. Plain C++: no search, no store.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "heatvit/dse/oracle.hpp"
#include "heatvit/dse/space.hpp"
#include "heatvit/models/token_table.hpp"
#include "heatvit/sim/fast_eval.hpp"
#include "heatvit/sim/hw_config.hpp"

namespace heatvit::dse {

struct Candidate {
  std::int64_t schedule = 0;  ///< index into Space::schedules()
  std::int64_t hw = 0;        ///< index into the knob product
  bool operator<(const Candidate& o) const { return schedule != o.schedule ? schedule < o.schedule : hw < o.hw; }
  bool operator==(const Candidate& o) const { return schedule == o.schedule && hw == o.hw; }
};

/// Distribution of a per-image quantity: mean and nearest-rank percentiles.
struct Distribution {
  double mean = 0, p50 = 0, p99 = 0, min = 0, max = 0;
};
Distribution distribution_of(std::vector<double> v);

struct Metrics {
  Candidate cand;
  std::string schedule;         ///< SchedulePoint::key()
  Split split = Split::Validation;
  int images = 0;               ///< images measured on (1 for expected tokens)
  bool fits = true;             ///< within the device's DSP, BRAM, LUT and FF
  bool feasible = true;         ///< fits and meets every constraint
  std::string why;              ///< the first failed check, when infeasible
  double violation = 0;         ///< sum of relative excesses over the constraints (0: feasible)
  bool has_accuracy = false;
  double accuracy = std::numeric_limits<double>::quiet_NaN();  ///< fraction
  int correct = 0;
  Distribution latency_ms;      ///< analytic, per image
  double macs = 0;              ///< mean per image
  sim::Resources res;
  std::vector<std::uint8_t> correct_bits;  ///< bit i: image i predicted right (per-image oracles)
  bool correct_at(int i) const { return (correct_bits[static_cast<std::size_t>(i) / 8] >> (i % 8)) & 1u; }
};
json metrics_to_json(const Metrics& m);
/// Strict: a field of the wrong kind or range throws std::runtime_error naming it.
Metrics metrics_from_json(const json& j);
/// A stored or received integer: anything else (a float, which cast out of range would
/// be undefined behaviour, or an integer beyond 2^62) throws std::runtime_error naming `what`.
std::int64_t int_of(const json& v, const char* what);

/// MACs per image tabulated like sim::ScheduleEvaluator (stem, block[tokens],
/// selector[scored][kept], head[tokens]); equal to build_workload(...).total_macs().
class MacTable {
 public:
  explicit MacTable(const ModelShape& model);
  template <class T, class HasSelector>
  std::int64_t macs_of(const T* tokens, HasSelector has_selector) const {
    return t_.total(model_, tokens, has_selector);
  }

 private:
  ModelShape model_;
  TokenTable t_;  // MACs
};

/// The value a hw knob sets: `value` itself, or for "device", "ddr" and "accelerator"
/// given as a preset name or a path (relative to the space file) that preset's content.
json hw_knob_value(const std::string& path, const json& value, const std::string& space_path);

/// The hardware points of a space: each parsed from the base config with its knob
/// values applied (as --set would), checked, its resources estimated, and its latency
/// tables built on first use.
class HwPoints {
 public:
  HwPoints(const Space& space, const ModelShape& model, json base_composed, Provenance base_prov,
           std::string base_name);
  struct Entry {
    sim::HwConfig hw;
    json resolved;  ///< the fully resolved hw config (usable as --hw)
    sim::Resources res;
    bool fits = true;
    std::string why;
    std::unique_ptr<sim::ScheduleEvaluator> latency;  ///< only when it fits
  };
  /// The hw point `i`; InputError naming the space file and knob when a value is invalid.
  Entry& at(std::int64_t i);
  json knob_values(std::int64_t i) const;
  const Space& space() const { return space_; }

 private:
  const Space& space_;
  ModelShape model_;
  json base_;
  Provenance prov_;
  std::string base_name_;
  std::map<std::int64_t, std::unique_ptr<Entry>> cache_;
};

/// Metrics of candidates from schedule outcomes. `dense` holds the dense schedule's
/// outcome on the same split (for the accuracy-drop constraint).
class Evaluator {
 public:
  Evaluator(const Space& space, const ModelShape& model, HwPoints& hw, ScheduleOracle& oracle);

  const std::vector<SchedulePoint>& schedules() const { return schedules_; }
  /// Index of a schedule outside the space (a baseline), appended after the space's.
  std::int64_t add_schedule(const SchedulePoint& s);
  HwPoints& hw() { return hw_; }
  ScheduleOracle& oracle() { return oracle_; }
  const Space& space() const { return space_; }

  /// Evaluates candidates on the first `images` images of `split`.
  std::vector<Metrics> evaluate(const std::vector<Candidate>& cands, Split split, int images);
  /// Metrics of one candidate from its schedule's outcome (`images` first images).
  Metrics metrics(const Candidate& c, const ScheduleOutcome& o, Split split, int images,
                  const ScheduleOutcome* dense);
  /// Applies the constraints (fills feasible, why, violation).
  void apply_constraints(Metrics& m, double dense_accuracy) const;
  /// Objective vector (every one minimized) in the space's order.
  std::vector<double> objectives(const Metrics& m) const;
  /// The dense schedule's outcome on the split (its index in schedules(), or
  /// evaluated aside when the space excludes dense).
  OutcomePtr dense_outcome(Split split, int images);

  /// Per-image latency (ms) of a schedule's outcome on hw point `hw`.
  std::vector<double> latencies(const SchedulePoint& s, const ScheduleOutcome& o, int images, std::int64_t hw);
  std::int64_t evaluations() const { return evaluations_; }

 private:
  const Space& space_;
  ModelShape model_;
  HwPoints& hw_;
  ScheduleOracle& oracle_;
  std::vector<SchedulePoint> schedules_;
  MacTable macs_;
  std::int64_t evaluations_ = 0;
};

}  // namespace heatvit::dse
