// A design-point file for `heatvit hls --design` (a `winner.json` of `heatvit dse`, or
// any JSON object with the same fields): model name, resolved hw config, schedule and
// optional per-selector thresholds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/models/schedule.hpp"
#include "heatvit/sim/hw_config.hpp"

namespace heatvit::hls {

struct DesignFile {
  ModelShape model;
  sim::HwConfig hw;
  json hw_resolved;                     ///< the hw section as read (defaults filled in)
  Schedule schedule;
  std::vector<std::int32_t> thresholds; ///< one per selector in ascending block order, or none
};

/// Reads a design point. Every problem is an InputError naming `origin` (with " (hw)" or
/// " (schedule)" for those sections) and the field: `model` (a preset name), `hw` (the
/// hw config reader's checks, unknown keys included), `schedule` (the schedule reader's),
/// `thresholds` (absent or empty, or one 32-bit integer per selector).
DesignFile parse_design(const json& d, const std::string& origin);

}  // namespace heatvit::hls
