// A simulation job: a model, a hardware config and per-image token counts, simulated
// by the SystemC model (each distinct token vector once) and by the analytic model,
// reported as the `heatvit sim` JSON report (contract.md).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/simulator.hpp"

namespace heatvit::sim {

struct SimJob {
  ModelShape model;
  HwConfig hw;
  std::string hw_name;                     ///< as given (name or path)
  std::vector<int> selector_blocks;        ///< where selectors run (may be empty)
  std::vector<std::vector<int>> images;    ///< tokens per block, one vector per image
  /// Optional, one vector per image: the patch tokens each selector keeps. The token
  /// counts alone cannot tell "nothing pruned" from "one token pruned and the package
  /// token created"; with these the selector work is exact (build_workload).
  std::vector<std::vector<int>> kept;
  std::vector<int> predicted_class;        ///< per image, or empty
  SimOptions options;

  /// Optional, instead of `images`, `kept` and `predicted_class`: a producer of the
  /// images, called once by run_job; it calls `emit(tokens, kept, predicted_class)` per
  /// image in order (kept may be empty; predicted_class -1 when unknown). The simulation
  /// runs while it produces (StreamingSim); the report is the same as for the same
  /// images given up front.
  using Emit = std::function<void(std::vector<int> tokens, std::vector<int> kept, int predicted_class)>;
  std::function<void(const Emit& emit)> stream;
};

struct JobResult {
  json report;                      ///< the contract's report
  std::vector<TraceEvent> trace;    ///< first image's events (when requested)
  std::string vcd_file;             ///< SimRun::vcd_file (to move into place)
};

/// Runs the job. Throws InputError for configurations that do not fit the device or
/// layers whose tiles do not fit the buffers.
JobResult run_job(const SimJob& job);

/// Per-block latency versus tokens table (the table latency-aware training uses):
/// one transformer block (no selector) simulated for every token count from 2 to
/// the dense count.
json latency_table(const ModelShape& model, const HwConfig& hw, bool use_systemc, const SimOptions& opt = {});

/// Chrome trace-event JSON (opens in Perfetto / chrome://tracing).
json timeline_json(const std::vector<TraceEvent>& trace);

}  // namespace heatvit::sim
