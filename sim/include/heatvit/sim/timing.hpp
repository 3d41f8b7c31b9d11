// Timing results shared by the two timing paths (SystemC simulation and the
// closed-form analytic model) and the analytic model itself.
#pragma once

#include <cstdint>
#include <vector>

#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/plan.hpp"

namespace heatvit::sim {

/// Timing of one pass, PL clock cycles.
struct PassTiming {
  std::int64_t cycles = 0;          ///< first load issued to last store done
  std::int64_t compute_cycles = 0;  ///< cycles the engine (PE array or unit) was busy
  std::int64_t stall_cycles = 0;    ///< cycles - compute_cycles
  std::int64_t ddr_read_bytes = 0;
  std::int64_t ddr_write_bytes = 0;
};

struct PlanTiming {
  std::vector<PassTiming> passes;
  std::int64_t cycles() const;
  std::int64_t compute_cycles() const;
  std::int64_t ddr_bytes() const;
};

/// The closed-form model: each transfer takes a fixed latency plus bytes over the
/// sustained bandwidth (ports x width, capped by the DDR's refresh-derated peak);
/// tile steps follow the same double-buffered load / compute / store recurrence as
/// the hardware. Plain arithmetic: fast enough for design-space sweeps.
class AnalyticModel {
 public:
  explicit AnalyticModel(const HwConfig& hw);

  /// Cycles of one DMA read / write of `bytes` contiguous bytes.
  double read_cycles(std::int64_t bytes) const;
  double write_cycles(std::int64_t bytes) const;
  /// PL cycles the DDR data bus needs for this traffic (turnarounds and refresh included).
  double ddr_cycles(std::int64_t read_bytes, std::int64_t write_bytes) const;
  /// Reads issued by the store path (residual operands) use the store DMA's ports.
  double store_read_cycles(std::int64_t bytes) const;

  PassTiming time_pass(const Pass& p) const;
  PlanTiming time_plan(const Plan& plan) const;

  double read_bytes_per_cycle() const { return read_bw_; }
  double write_bytes_per_cycle() const { return write_bw_; }
  double latency_cycles() const { return latency_; }

 private:
  double read_bw_ = 0, write_bw_ = 0, ddr_bw_ = 0, latency_ = 0;
  std::int64_t max_burst_ = 4096;
  int slots_ = 2;
  double refresh_ = 1, burst_bytes_ = 64, burst_cycles_ = 4, rw_switch_bursts_ = 16;
  double turnaround_cycles_ = 0, pl_per_dram_ = 0.3;
};

}  // namespace heatvit::sim
