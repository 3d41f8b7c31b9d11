// FPGA resource model of a configuration: DSP48E2, BRAM36, LUT, FF, itemized, with
// the token-selector support reported separately (docs/resources.md).
#pragma once

#include <string>
#include <vector>

#include "heatvit/sim/hw_config.hpp"

namespace heatvit::sim {

struct ResourceItem {
  std::string name;  ///< e.g. "pe_array", "buffer.weight", "selector.package"
  Resources use;
  bool selector = false;  ///< part of the selector support HeatViT adds
};

struct ResourceReport {
  std::vector<ResourceItem> items;
  Resources total() const;
  Resources selector_support() const;
};

/// BRAM36 blocks of one buffer of `halves` halves (2: double-buffered), each enough blocks for
/// its capacity (4 KiB of data per BRAM36) and for its port width (64 data bits per
/// BRAM36 port in simple dual-port mode).
std::int64_t buffer_bram36(std::int64_t half_bytes, std::int64_t port_bits, int halves = 2);

ResourceReport estimate_resources(const HwConfig& hw);

/// Throws InputError naming the hw config (accelerator section) when the estimate
/// exceeds the device in any resource.
void check_fits(const HwConfig& hw, const ResourceReport& r);

json to_json(const ResourceReport& r, const HwConfig& hw);

}  // namespace heatvit::sim
