// The accelerator's hardware configuration: device, DDR, AXI ports, PE array,
// buffers, nonlinear units and selector support. Parsed once from JSON (a root file
// naming preset files for its sections), validated, and handed to the models as const.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/ddr/spec.hpp"
#include "heatvit/sim/power_spec.hpp"

namespace heatvit::sim {

/// FPGA resources (capacity of a device, or use of a configuration).
struct Resources {
  std::int64_t dsp = 0;
  std::int64_t bram36 = 0;  ///< 36 Kb block RAMs (two BRAM18 count as one)
  std::int64_t lut = 0;
  std::int64_t ff = 0;
  Resources& operator+=(const Resources& o) {
    dsp += o.dsp;
    bram36 += o.bram36;
    lut += o.lut;
    ff += o.ff;
    return *this;
  }
};
json to_json(const Resources& r);

struct Device {
  std::string name;
  Resources capacity;
};

/// Zynq S_AXI_HP ports between the PL and the PS DDR controller.
struct AxiConfig {
  int ports = 4;               ///< HP ports used by the accelerator
  int width_bits = 128;        ///< data width of each port
  int latency_cycles = 40;     ///< request-to-first-data latency through the PS interconnect, PL cycles
  int max_outstanding = 8;     ///< AXI bursts in flight per port
  int max_burst_bytes = 4096;  ///< 256 beats x 16 B, never crossing a 4 KB boundary
  std::vector<int> read_ports;   ///< ports the load DMA spreads reads over
  std::vector<int> write_ports;  ///< ports the store DMA uses
};

/// The GEMM engine: Th x Ti x To multipliers. Each cycle it multiplies Ti input
/// channels by To output channels for Th rows (tokens) of a linear layer, or for
/// Th heads of an attention GEMM (the head-parallel dimension).
struct PeArray {
  int th = 4;
  int ti = 16;
  int to = 32;
  int multiplier_stages = 3;  ///< DSP48E2 pipeline (A/B reg, M reg, P reg)
  int macs() const { return th * ti * to; }
  /// Adder tree depth reducing Ti products: ceil(log2(Ti)).
  int adder_tree_depth() const;
  /// Fill + drain latency of one output tile, cycles.
  int pipeline_depth() const { return multiplier_stages + adder_tree_depth() + 1; }
};

/// On-chip buffers, bytes per buffer half (each is double-buffered: two halves).
struct Buffers {
  std::int64_t input_bytes = 0;      ///< activations (A operand), one half
  std::int64_t weight_bytes = 0;     ///< weights (B operand), one half
  std::int64_t output_bytes = 0;     ///< output / partial-sum tile, one half
  std::int64_t attention_bytes = 0;  ///< score rows of the fused attention, one half
};

/// A nonlinear unit: `lanes` elements per cycle after `latency` cycles of pipeline.
struct NonlinearUnit {
  int lanes = 1;
  int latency = 1;
  int dsp_per_lane = 0;  ///< multipliers per lane (polynomial evaluation etc.)
};

struct NonlinearUnits {
  NonlinearUnit softmax, gelu, layernorm, sigmoid, add;
};

/// Token-selector support: the small control logic HeatViT adds.
struct SelectorSupport {
  bool enabled = false;
  int decision_lanes = 16;    ///< tokens compared per cycle
  int compaction_lanes = 16;  ///< prefix-sum / index-reorder tokens per cycle
  int package_lanes = 32;     ///< channels of the package-token accumulator per cycle
  int mean_lanes = 32;        ///< channels of the token-mean accumulator per cycle
};

/// Work handed to the PS (the Zynq's ARM Cortex-A53 cores) instead of a PL unit.
/// Only LayerNorm can go there: the accelerator stops, the PS reads the activations
/// from DDR, normalizes them and writes them back, and the accelerator resumes.
struct PsOffload {
  bool layernorm = false;         ///< LayerNorm on the PS (no PL LayerNorm unit)
  double frequency_mhz = 1200;    ///< APU clock
  double cycles_per_element = 0;  ///< APU cycles per normalized element, one core (compute only)
  int cores = 1;                  ///< cores sharing each LayerNorm
  double handoff_us = 0;          ///< per LayerNorm: interrupt, cache maintenance, restart
};

/// Per-unit cost constants of the resource model (documented in docs/resources.md).
struct ResourceCosts {
  double lut_per_mac = 0;       ///< adder tree, operand muxing, packing correction
  double ff_per_mac = 0;
  double lut_per_nl_lane = 0;   ///< nonlinear lane datapath excluding its DSPs
  double ff_per_nl_lane = 0;
  std::int64_t lut_base = 0;    ///< controller, DMA engines, AXI interconnect
  std::int64_t ff_base = 0;
  double lut_per_selector_lane = 0;
  double ff_per_selector_lane = 0;
  std::int64_t selector_lut_base = 0;  ///< decision FSM, index RAM control
  std::int64_t selector_ff_base = 0;
};

struct HwConfig {
  std::string name;
  std::string accelerator_origin;  ///< file the accelerator section came from (for messages)
  double frequency_mhz = 300;
  Device device;
  ddr::DdrSpec ddr;
  AxiConfig axi;
  int precision_bits = 8;   ///< activations and weights
  int macs_per_dsp = 2;     ///< 2: two 8-bit MACs share a DSP48E2 (shared operand)
  int accumulator_bits = 32;
  /// Halves of each on-chip buffer: 2 overlaps the next load and the previous store
  /// with compute (double buffering); 1 runs load, compute and store in turn.
  int buffer_slots = 2;
  /// With macs_per_dsp = 2: which GEMMs use the packing. An unpacked kind runs on the
  /// same DSPs at one MAC each, i.e. on half the output lanes.
  struct Packing {
    bool linear = true;     ///< weight GEMMs (the selector's per-head layers included)
    bool attention = true;  ///< Q*K^T and A*V
  } packing;
  PsOffload ps;
  PeArray pe;
  Buffers buffers;
  NonlinearUnits nonlinear;
  SelectorSupport selector;
  ResourceCosts costs;
  /// Energy constants (optional "power" section; modelled == false without it).
  PowerSpec power;
  /// Default pruning schedule file per model name (resolved paths).
  std::map<std::string, std::string> default_schedules;

  int element_bytes() const { return precision_bits / 8; }
  /// The PE array as a GEMM of this kind sees it (half the output lanes when it is
  /// not packed on a packing array).
  PeArray pe_for(bool attention) const {
    PeArray p = pe;
    if (macs_per_dsp == 2 && !(attention ? packing.attention : packing.linear)) p.to = (p.to + 1) / 2;
    return p;
  }
  double cycle_ns() const { return 1000.0 / frequency_mhz; }
  /// Peak bytes per PL cycle of one AXI port.
  double port_bytes_per_cycle() const { return axi.width_bits / 8.0; }
};

/// Parses a composed hw config (sections already inlined) and validates it.
HwConfig parse_hw_config(ConfigReader& r);

/// Reads a root hw config file: sections "device", "ddr", "accelerator", "power" may be
/// objects or paths (relative to the file) to preset files, which are inlined.
/// Returns the composed JSON with `prov` recording where each section came from.
json compose_hw_config(const std::string& path, Provenance& prov);

/// Convenience: compose + parse + finish (no overrides).
HwConfig load_hw_config(const std::string& path);

}  // namespace heatvit::sim
