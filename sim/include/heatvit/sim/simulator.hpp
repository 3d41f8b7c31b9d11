// Running the SystemC model. Each call elaborates a fresh model (DDR, AXI ports,
// accelerator) in a child process, so any number of configurations can be simulated
// from one program (SystemC allows one elaboration per process), and returns timing
// and statistics.
#pragma once

#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/sim/accelerator.hpp"
#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/timing.hpp"

namespace heatvit::sim {

struct SimOptions {
  std::string vcd_path;        ///< write a VCD trace of busy signals and queue depths here
  bool trace_events = false;   ///< collect per-phase events (for --timeline)
  bool quiet = false;          ///< SystemC warnings not printed (-q)
  bool progress = false;       ///< progress of the plans on stderr (opt-in: library callers stay silent)
};

struct SimRun {
  std::vector<PlanTiming> plans;  ///< one per plan, in order
  json stats;                     ///< ddr, axi ports, units, PE array
  std::vector<TraceEvent> trace;  ///< when trace_events
  /// With vcd_path: the finished VCD under a temporary name beside it; the caller
  /// moves it into place with its other outputs (OutputSet::add_file).
  std::string vcd_file;
};

/// Simulates the plans back to back on one freshly elaborated model.
SimRun simulate(const HwConfig& hw, const std::vector<const Plan*>& plans, const SimOptions& opt = {});

}  // namespace heatvit::sim
