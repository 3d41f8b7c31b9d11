// Energy and power of a simulated inference: dynamic energy per component (DSP MACs
// and their fabric, on-chip buffer reads/writes, nonlinear units, selector logic, the
// PS's cores running offloaded LayerNorms, clocking, the AXI path, DDR I/O and the DRAM devices' ACT/RD/WR/REF energy computed
// from IDD currents the way DRAMPower does) plus static power (PL, PS, board, DRAM
// background) over the latency. Plain C++ on plans, timings and DDR counts; constants
// from the hw config's "power" section (configs/power/*.json); see docs/energy.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/timing.hpp"

namespace heatvit::sim {

/// DRAM commands of one run (or one image's share of it).
struct DdrCounts {
  double activates = 0;     ///< ACT (each with its PRE)
  double read_bursts = 0;   ///< RD column commands
  double write_bursts = 0;  ///< WR column commands
  double refreshes = 0;     ///< all-bank REF
  double seconds = 0;       ///< time the DRAM spends in standby (background energy)
};

/// DRAM energy, joules, per DRAMPower's DDR4 equations over `devices` devices:
///   ACT+PRE  (IDD0*tRC - (IDD3N*tRAS + IDD2N*(tRC - tRAS))) * VDD
///   RD       (IDD4R - IDD3N) * VDD * tBurst      WR likewise with IDD4W
///   REF      (IDD5B - IDD3N) * VDD * tRFC
///   background IDD3N (open-page controller) or IDD2N (closed page) * VDD * time,
///   plus the VPP standby current IPP3N * VPP * time.
struct DramEnergy {
  double activate = 0, read = 0, write = 0, refresh = 0, background = 0;
};
DramEnergy dram_energy(const DdrCounts& c, const ddr::DdrSpec& spec, const DramPower& p);

/// DRAM devices forming the data bus (data_bus_bits / device_bits).
int dram_devices(const ddr::DdrSpec& spec);

/// Activity of one image that the energy model charges.
struct Activity {
  double macs = 0;                 ///< every GEMM MAC (backbone and selector MLPs)
  double dsp_ops = 0;              ///< DSP48E2 operations: MACs / 2 for the GEMM kinds the
                                   ///< array packs (HwConfig::packing), MACs for the others
  double bram_read_bytes = 0;      ///< on-chip buffer reads (see buffer_traffic)
  double bram_write_bytes = 0;
  double nonlinear_pj = 0;         ///< LUT + DSP energy of the nonlinear units, pJ
  double selector_pj = 0;          ///< LUT energy of the selector control logic, pJ
  double ps_busy_s = 0;            ///< time the PS's cores run offloaded LayerNorms (each of
                                   ///< hw.ps.cores cores busy), seconds: the PS passes' compute
                                   ///< cycles (hand-off included) at the PL clock
  double ddr_bytes = 0;            ///< through the PL's AXI path, both directions (PS passes excluded)
  double cycles = 0;               ///< PL cycles (latency)
  DdrCounts ddr;
};

/// Which passes of `plan` run on the PS: with hw.ps.layernorm, the unit passes of the
/// workload's LayerNorm ops (plan.cpp lowers each to one; their compute cycles are the
/// PS's time). All false when LayerNorm runs on the PL.
std::vector<bool> ps_passes(const Workload& w, const Plan& plan, const HwConfig& hw);

/// On-chip buffer bytes of a plan: every byte loaded from DDR (operands, store-path
/// residuals) is written into a buffer once; the PE array reads its input and weight
/// ports (Th*Ti and Ti*To elements) every compute cycle; each output (partial) sum is
/// written once per k-step and read once (next k-step or the store path). Passes flagged
/// in `on_ps` (see ps_passes; empty: none) touch no PL buffer.
struct BufferTraffic {
  double read_bytes = 0, write_bytes = 0;
};
BufferTraffic buffer_traffic(const Plan& plan, const HwConfig& hw, const std::vector<bool>& on_ps = {});

/// The activity of one image from its workload, plan, timing and DDR command counts.
Activity activity(const Workload& w, const Plan& plan, const PlanTiming& t, const DdrCounts& ddr,
                  const HwConfig& hw);

/// What activity() takes from the workload and the plan alone: `partial` is the
/// activity without the timing's fields (ddr_bytes, cycles, ddr), `ps_bytes` the DDR
/// bytes of the passes run on the PS. A run of many plans computes it as each plan is
/// made, and need not keep the plans until their timing is known.
struct PlanActivity {
  Activity partial;
  double ps_bytes = 0;
};
PlanActivity plan_activity(const Workload& w, const Plan& plan, const HwConfig& hw);
/// activity(w, plan, t, ddr, hw) == activity(plan_activity(w, plan, hw), t, ddr).
Activity activity(const PlanActivity& p, const PlanTiming& t, const DdrCounts& ddr);

/// One image's energy by component, joules. `total_j()` is computed as the sum of the
/// components in their order, so the parts always add up to the total.
struct EnergyBreakdown {
  struct Component {
    std::string name;
    bool is_static = false;  ///< time-proportional (power x latency) rather than per event
    double joules = 0;
  };
  std::vector<Component> components;
  double seconds = 0;  ///< the latency the static power is charged over
  double total_j() const;
  double dynamic_j() const;
  double static_j() const;
};

/// Energy of one image. `ff` is the design's flip-flop count (the clock component).
/// Requires hw.power.modelled. The "ps_layernorm" component is hw.ps.cores x
/// power.ps_core_active_w x a.ps_busy_s (0 when LayerNorm runs on the PL).
EnergyBreakdown image_energy(const Activity& a, const HwConfig& hw, std::int64_t ff);

/// The report's "energy" object for images with these breakdowns (mean over images;
/// `weights` how many images each breakdown stands for). Without a power section:
/// {"modelled": false, "reason": ...}.
json energy_report(const HwConfig& hw, const std::vector<EnergyBreakdown>& per_plan,
                   const std::vector<double>& weights);
json energy_not_modelled();

/// Splits a run's DDR statistics (stats.ddr of the report: activates, read/write bursts
/// and bytes, refreshes) over the plans it simulated: ACT and RD/WR bursts in
/// proportion to each plan's DDR bytes, REF and standby time in proportion to its
/// cycles. With one plan the counts are the run's.
std::vector<DdrCounts> split_ddr_counts(const json& ddr_stats, const std::vector<PlanTiming>& plans,
                                        double frequency_mhz);

}  // namespace heatvit::sim
