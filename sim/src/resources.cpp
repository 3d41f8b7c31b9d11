#include "heatvit/sim/resources.hpp"

#include <cmath>

#include "heatvit/core/error.hpp"

namespace heatvit::sim {

namespace {
std::int64_t cdiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
std::int64_t lround(double x) { return static_cast<std::int64_t>(std::llround(x)); }
}  // namespace

Resources ResourceReport::total() const {
  Resources r;
  for (const auto& i : items) r += i.use;
  return r;
}

Resources ResourceReport::selector_support() const {
  Resources r;
  for (const auto& i : items)
    if (i.selector) r += i.use;
  return r;
}

std::int64_t buffer_bram36(std::int64_t half_bytes, std::int64_t port_bits, int halves) {
  constexpr std::int64_t kBytesPerBram = 4096, kPortBits = 64;
  return halves * std::max(cdiv(half_bytes, kBytesPerBram), cdiv(port_bits, kPortBits));
}

ResourceReport estimate_resources(const HwConfig& hw) {
  ResourceReport rep;
  const auto& c = hw.costs;
  const std::int64_t bits = hw.precision_bits;
  const std::int64_t macs = hw.pe.macs();

  // PE array: MACs / (MACs per DSP) DSP48E2; adder trees and operand registers in fabric.
  rep.items.push_back({"pe_array", {cdiv(macs, hw.macs_per_dsp), 0, lround(c.lut_per_mac * macs),
                                    lround(c.ff_per_mac * macs)}, false});

  // Buffers: port widths follow what the PE array reads or writes per cycle.
  const auto& pe = hw.pe;
  rep.items.push_back({"buffer.input", {0, buffer_bram36(hw.buffers.input_bytes, pe.th * pe.ti * bits, hw.buffer_slots), 0, 0}, false});
  rep.items.push_back({"buffer.weight", {0, buffer_bram36(hw.buffers.weight_bytes, pe.ti * pe.to * bits, hw.buffer_slots), 0, 0}, false});
  rep.items.push_back({"buffer.output", {0, buffer_bram36(hw.buffers.output_bytes, pe.th * pe.to * bits, hw.buffer_slots), 0, 0}, false});
  rep.items.push_back({"buffer.attention", {0, buffer_bram36(hw.buffers.attention_bytes, pe.th * pe.to * bits, hw.buffer_slots), 0, 0}, false});

  // Nonlinear units. The sigmoid unit only serves the selectors' head weights.
  const auto& nl = hw.nonlinear;
  struct U { const char* name; const NonlinearUnit* u; bool sel; };
  const U units[] = {{"nonlinear.softmax", &nl.softmax, false},
                     {"nonlinear.gelu", &nl.gelu, false},
                     {"nonlinear.layernorm", &nl.layernorm, false},
                     {"nonlinear.add", &nl.add, false},
                     {"selector.sigmoid", &nl.sigmoid, true}};
  for (const auto& u : units) {
    if (u.sel && !hw.selector.enabled) continue;
    if (u.u == &nl.layernorm && hw.ps.layernorm) continue;  // runs on the PS
    rep.items.push_back({u.name,
                         {std::int64_t(u.u->lanes) * u.u->dsp_per_lane, 0, lround(c.lut_per_nl_lane * u.u->lanes),
                          lround(c.ff_per_nl_lane * u.u->lanes)},
                         u.sel});
  }

  // Controller, DMA engines, AXI masters: fabric base plus one BRAM36 FIFO pair per port.
  rep.items.push_back({"control_dma_axi",
                       {0, 2 * std::int64_t(hw.axi.read_ports.size() + hw.axi.write_ports.size()), c.lut_base,
                        c.ff_base},
                       false});

  if (hw.selector.enabled) {
    const auto& s = hw.selector;
    // Package-token accumulator: one multiplier (score x channel) per lane.
    rep.items.push_back({"selector.package", {s.package_lanes, 0, lround(c.lut_per_selector_lane * s.package_lanes),
                                              lround(c.ff_per_selector_lane * s.package_lanes)}, true});
    rep.items.push_back({"selector.decision_compaction",
                         {0, 2, lround(c.lut_per_selector_lane * (s.decision_lanes + s.compaction_lanes)) + c.selector_lut_base,
                          lround(c.ff_per_selector_lane * (s.decision_lanes + s.compaction_lanes)) + c.selector_ff_base},
                         true});
    rep.items.push_back({"selector.token_mean", {0, 0, lround(c.lut_per_selector_lane * s.mean_lanes),
                                                 lround(c.ff_per_selector_lane * s.mean_lanes)}, true});
  }
  return rep;
}

void check_fits(const HwConfig& hw, const ResourceReport& r) {
  const Resources t = r.total();
  const Resources& cap = hw.device.capacity;
  auto check = [&](const char* what, std::int64_t use, std::int64_t have) {
    if (use > have)
      throw InputError(hw.accelerator_origin, "",
                       std::string("configuration needs ") + std::to_string(use) + " " + what + " but " +
                           hw.device.name + " has " + std::to_string(have));
  };
  check("DSP48E2", t.dsp, cap.dsp);
  check("BRAM36", t.bram36, cap.bram36);
  check("LUTs", t.lut, cap.lut);
  check("FFs", t.ff, cap.ff);
}

json to_json(const ResourceReport& r, const HwConfig& hw) {
  json items = json::array();
  for (const auto& i : r.items) {
    json j = to_json(i.use);
    j["name"] = i.name;
    j["selector"] = i.selector;
    items.push_back(j);
  }
  const Resources t = r.total();
  json u = {{"dsp", double(t.dsp) / hw.device.capacity.dsp},
            {"bram36", double(t.bram36) / hw.device.capacity.bram36},
            {"lut", double(t.lut) / hw.device.capacity.lut},
            {"ff", double(t.ff) / hw.device.capacity.ff}};
  return {{"total", to_json(t)}, {"selector_support", to_json(r.selector_support())}, {"utilization", u},
          {"items", items}};
}

}  // namespace heatvit::sim
