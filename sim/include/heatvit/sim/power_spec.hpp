// Energy and power constants of a board (configs/power/*.json), referenced from a root
// hw config as its optional "power" section. Every constant carries its source and a
// confidence; the model that uses them is heatvit/sim/energy.hpp (docs/energy.md).
#pragma once

#include <string>

#include "heatvit/core/json_config.hpp"
#include "heatvit/ddr/spec.hpp"

namespace heatvit::sim {

/// DDR4 device currents and voltages (one device, datasheet IDD values), as DRAMPower
/// uses them.
struct DramPower {
  int device_bits = 8;  ///< the DQ width these currents are for (must match the DDR spec)
  double vdd_v = 1.2;
  double idd0_ma = 0;   ///< one bank ACT-PRE every tRC
  double idd2n_ma = 0;  ///< precharged standby
  double idd3n_ma = 0;  ///< active standby
  double idd4r_ma = 0;  ///< burst read
  double idd4w_ma = 0;  ///< burst write
  double idd5b_ma = 0;  ///< burst refresh (one REF every tRFC)
  double vpp_v = 2.5;
  double ipp3n_ma = 0;  ///< VPP standby current
};

struct PowerSpec {
  bool modelled = false;  ///< false: the hw config has no "power" section
  std::string name;
  std::string origin;     ///< file the section came from (for the report)
  // On-chip dynamic energy (PL), per event.
  double dsp_op_pj = 0;              ///< one DSP48E2 multiply(-accumulate) operation
  double lut_op_pj = 0;              ///< one LUT (with its routing) of an active datapath, per use
  double clock_pj_per_ff_cycle = 0;  ///< clock tree + register clocking, per FF per PL cycle
  double bram_read_pj_per_byte = 0;
  double bram_write_pj_per_byte = 0;
  double axi_pj_per_byte = 0;        ///< PL DMA + HP port + PS interconnect to the DDR controller
  double ddr_io_pj_per_bit = 0;      ///< DDR PHY and I/O (not in the IDD currents)
  // Static power, W.
  double pl_static_w = 0;
  double ps_static_w = 0;
  double board_w = 0;
  // The PS's Cortex-A53 cores while they run offloaded work (LayerNorm with
  // accelerator.ps.layernorm), W per busy core above ps_static_w. Optional in the file
  // ("ps": {"a53_core_active_w": ...}); a config that offloads LayerNorm needs it.
  bool has_ps_core = false;
  double ps_core_active_w = 0;
  DramPower dram;
};

/// Reads the "power" section (`r` is its reader). `ddr` is the config's DDR spec: the
/// section's dram.device_bits must match its device width. Errors are InputError naming
/// the file and the field.
PowerSpec parse_power_spec(ConfigReader& r, const ddr::DdrSpec& ddr);

}  // namespace heatvit::sim
