// The design space of `heatvit dse`: pruning schedules (selector blocks x keep rates)
// times hardware knobs (any hw-config value, as a --set path), with constraints and
// objectives. Parsed from a JSON space file; every error names the file and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/schedule.hpp"

namespace heatvit::dse {

/// A candidate schedule: selectors as (block, keep in thousandths), ascending block.
struct SchedulePoint {
  std::vector<std::pair<int, int>> selectors;
  /// Contract form "b:keep" joined by "," ("" for dense); keep printed shortest.
  std::string key() const;
  Schedule to_schedule() const;
};

/// Parses the key form back ("" is dense). InputError naming `origin` when malformed.
SchedulePoint parse_schedule_key(const std::string& key, const std::string& origin);

/// One hardware knob: a hw-config path (as in --set, without "hw.") and its values.
struct Knob {
  std::string path;
  std::vector<json> values;
};

/// Objectives users pick; each is minimized internally (accuracy as its negative).
enum class Objective { Accuracy, LatencyMean, LatencyP99, Macs, Dsp, Bram36, Lut, Ff };
const char* objective_name(Objective o);
/// All objective names, for messages.
const std::vector<std::string>& objective_names();

struct Constraints {
  std::optional<double> max_accuracy_drop;  ///< points against dense INT8 (validation)
  std::optional<double> max_latency_ms_mean;
  std::optional<double> max_latency_ms_p99;
  std::optional<std::int64_t> max_dsp, max_bram36, max_lut, max_ff;
};

/// How candidates are measured.
struct EvalSettings {
  int validation_images = 1000;  ///< the last N images of the training split (held out)
  int test_images = 10000;       ///< the test set, touched once for the front and winner
  int systemc_images = 200;      ///< test images whose token vectors SystemC re-simulates per front point
  std::vector<int> rungs;        ///< successive-halving image counts (ascending, last = validation_images)
  double halving_z = 2.5;        ///< paired-difference margin (standard errors) for dropping a candidate
  double greedy_target = 0.70;   ///< greedy: final mean latency as a fraction of dense
  std::string accuracy_csv;      ///< models without weights: user-measured schedule -> top-1 (resolved path)
};

struct Space {
  std::string path;                  ///< the space file
  std::vector<int> blocks;           ///< candidate selector blocks, ascending
  int max_selectors = 3;
  int min_selectors = 0;
  std::vector<std::vector<int>> keep;  ///< keep grid (thousandths) per selector position
  std::vector<Knob> knobs;
  Constraints constraints;
  std::vector<Objective> objectives;
  EvalSettings eval;
  json resolved;                     ///< every value, defaults filled in

  /// Every schedule of the space in canonical order: dense first (when min_selectors
  /// is 0), then by selector count, blocks, keep rates.
  std::vector<SchedulePoint> schedules() const;
  /// Number of schedules (saturating at 2^62).
  std::uint64_t schedule_count() const;
  /// Product of the knob value counts (1 without knobs; saturating at 2^62).
  std::uint64_t hw_count() const;
  /// The knob values of hw index `i` (first knob most significant).
  std::vector<json> hw_values(std::uint64_t i) const;
};

/// Bounds of a space (InputError beyond them): schedules are enumerated in memory.
constexpr std::uint64_t kMaxSchedules = 5000000;
constexpr std::uint64_t kMaxHwPoints = 1000000;

/// Parses a space file. `bank_blocks`: blocks the model's selectors may run before (the
/// default candidate blocks, and the allowed ones); `depth`: model depth.
Space load_space(const std::string& path, const std::vector<int>& bank_blocks, int depth);
Space parse_space(const json& doc, const std::string& path, const std::vector<int>& bank_blocks, int depth);

/// FNV-1a 64 of a string, hex: the identity of a space (with its model and hw).
std::string fnv1a_hex(const std::string& s);

}  // namespace heatvit::dse
