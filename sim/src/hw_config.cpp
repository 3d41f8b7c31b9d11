#include "heatvit/sim/hw_config.hpp"

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"

namespace heatvit::sim {

json to_json(const Resources& r) {
  return {{"dsp", r.dsp}, {"bram36", r.bram36}, {"lut", r.lut}, {"ff", r.ff}};
}

int PeArray::adder_tree_depth() const {
  int d = 0;
  while ((1 << d) < ti) ++d;
  return d;
}

namespace {

constexpr std::int64_t kKiB = 1024;
constexpr double kMinFrequencyMhz = 1.0;
constexpr double kMaxFrequencyMhz = 1000.0;

NonlinearUnit parse_unit(ConfigReader& r) {
  NonlinearUnit u;
  u.lanes = static_cast<int>(r.integer("lanes", 1, 1024));
  u.latency = static_cast<int>(r.integer("latency", 1, 1000));
  u.dsp_per_lane = static_cast<int>(r.integer("dsp_per_lane", 0, 16));
  return u;
}

std::vector<int> parse_ports(ConfigReader& r, const std::string& key, int ports) {
  auto list = r.integer_list(key, 0, ports - 1);
  if (list.empty()) r.fail(key, "must name at least one port");
  std::vector<int> out(list.begin(), list.end());
  return out;
}

}  // namespace

HwConfig parse_hw_config(ConfigReader& r) {
  HwConfig hw;
  hw.name = r.string("name");
  r.string("source", "");  // how a preset was obtained (calibrated presets say so)
  // A clock the fabric can run: below 1 MHz a run of one image would take simulated
  // seconds of DDR refreshes (and 1e-308 MHz would never end).
  hw.frequency_mhz = r.number("frequency_mhz", kMinFrequencyMhz, kMaxFrequencyMhz);

  {
    ConfigReader& d = r.child("device");
    hw.device.name = d.string("name");
    d.string("source", "");
    hw.device.capacity.dsp = d.integer("dsp", 1, 100000);
    hw.device.capacity.bram36 = d.integer("bram36", 1, 100000);
    hw.device.capacity.lut = d.integer("lut", 1, 100000000);
    hw.device.capacity.ff = d.integer("ff", 1, 100000000);
  }
  hw.ddr = ddr::parse_ddr_spec(r.child("ddr"));

  {
    ConfigReader& a = r.child("axi");
    hw.axi.ports = static_cast<int>(a.integer("ports", 1, 16));
    // What the AXI HP port model takes (the Zynq UltraScale+ S_AXI_HP ports are 32,
    // 64 or 128 bits wide); a wider value used to fail inside the simulation.
    hw.axi.width_bits = static_cast<int>(a.integer("width_bits", 32, 128));
    if (hw.axi.width_bits != 32 && hw.axi.width_bits != 64 && hw.axi.width_bits != 128)
      a.fail("width_bits", "must be 32, 64 or 128 (the HP port widths), got " + std::to_string(hw.axi.width_bits));
    hw.axi.latency_cycles = static_cast<int>(a.integer("latency_cycles", 40, 0, 10000));
    hw.axi.max_outstanding = static_cast<int>(a.integer("max_outstanding", 8, 1, 256));
    hw.axi.max_burst_bytes = static_cast<int>(a.integer("max_burst_bytes", 4096, 16, 4096));
    // An AXI4 burst is at most 256 beats of width_bits.
    if (hw.axi.max_burst_bytes / (hw.axi.width_bits / 8) > 256)
      a.fail("max_burst_bytes", "is more than 256 beats of " + std::to_string(hw.axi.width_bits) + " bits, got " +
                                    std::to_string(hw.axi.max_burst_bytes));
    hw.axi.read_ports = parse_ports(a, "read_ports", hw.axi.ports);
    hw.axi.write_ports = parse_ports(a, "write_ports", hw.axi.ports);
    // Each port serves one DMA engine (its read and write channels are not shared
    // between the load and the store engine in this model).
    std::vector<int> seen(static_cast<std::size_t>(hw.axi.ports), 0);
    for (int p : hw.axi.read_ports)
      if (seen[static_cast<std::size_t>(p)]++) a.fail("read_ports", "port " + std::to_string(p) + " is listed twice");
    for (int p : hw.axi.write_ports)
      if (seen[static_cast<std::size_t>(p)]++)
        a.fail("write_ports", "port " + std::to_string(p) + " is already used (each port serves one DMA engine)");
  }

  ConfigReader& ac = r.child("accelerator");
  hw.accelerator_origin = ac.origin();
  ac.string("source", "");
  hw.precision_bits = static_cast<int>(ac.integer("precision_bits", 8, 16));
  if (hw.precision_bits != 8 && hw.precision_bits != 16) ac.fail("precision_bits", "must be 8 or 16");
  hw.macs_per_dsp = static_cast<int>(ac.integer("macs_per_dsp", 1, 2));
  if (hw.macs_per_dsp == 2 && hw.precision_bits != 8)
    ac.fail("macs_per_dsp", "two MACs per DSP48E2 need 8-bit operands (precision_bits = 8)");
  hw.accumulator_bits = static_cast<int>(ac.integer("accumulator_bits", 32, 16, 64));
  hw.buffer_slots = static_cast<int>(ac.integer("buffer_slots", 2, 1, 2));
  if (ac.has("packing")) {
    ConfigReader& k = ac.child("packing");
    hw.packing.linear = k.boolean("linear", true);
    hw.packing.attention = k.boolean("attention", true);
  }
  if (ac.has("ps")) {
    ConfigReader& p = ac.child("ps");
    p.string("source", "");
    hw.ps.layernorm = p.boolean("layernorm");
    hw.ps.frequency_mhz = p.number("frequency_mhz", 100.0, 3000.0);
    hw.ps.cycles_per_element = p.number("cycles_per_element", 0.01, 10000.0);
    hw.ps.cores = static_cast<int>(p.integer("cores", 1, 1, 16));
    hw.ps.handoff_us = p.number("handoff_us", 0.0, 100000.0);
  }
  {
    ConfigReader& p = ac.child("pe");
    hw.pe.th = static_cast<int>(p.integer("th", 1, 64));
    hw.pe.ti = static_cast<int>(p.integer("ti", 1, 256));
    hw.pe.to = static_cast<int>(p.integer("to", 1, 256));
    hw.pe.multiplier_stages = static_cast<int>(p.integer("multiplier_stages", 3, 1, 8));
  }
  {
    ConfigReader& b = ac.child("buffers_kib");
    hw.buffers.input_bytes = b.integer("input", 1, 65536) * kKiB;
    hw.buffers.weight_bytes = b.integer("weight", 1, 65536) * kKiB;
    hw.buffers.output_bytes = b.integer("output", 1, 65536) * kKiB;
    hw.buffers.attention_bytes = b.integer("attention", 1, 65536) * kKiB;
  }
  {
    ConfigReader& n = ac.child("nonlinear");
    hw.nonlinear.softmax = parse_unit(n.child("softmax"));
    hw.nonlinear.gelu = parse_unit(n.child("gelu"));
    hw.nonlinear.layernorm = parse_unit(n.child("layernorm"));
    hw.nonlinear.sigmoid = parse_unit(n.child("sigmoid"));
    hw.nonlinear.add = parse_unit(n.child("add"));
  }
  {
    ConfigReader& s = ac.child("selector");
    hw.selector.enabled = s.boolean("enabled");
    hw.selector.decision_lanes = static_cast<int>(s.integer("decision_lanes", 16, 1, 1024));
    hw.selector.compaction_lanes = static_cast<int>(s.integer("compaction_lanes", 16, 1, 1024));
    hw.selector.package_lanes = static_cast<int>(s.integer("package_lanes", 32, 1, 1024));
    hw.selector.mean_lanes = static_cast<int>(s.integer("mean_lanes", 32, 1, 1024));
  }
  {
    ConfigReader& c = ac.child("resource_costs");
    c.string("source", "");
    hw.costs.lut_per_mac = c.number("lut_per_mac", 0.0, 1000.0);
    hw.costs.ff_per_mac = c.number("ff_per_mac", 0.0, 1000.0);
    hw.costs.lut_per_nl_lane = c.number("lut_per_nl_lane", 0.0, 100000.0);
    hw.costs.ff_per_nl_lane = c.number("ff_per_nl_lane", 0.0, 100000.0);
    hw.costs.lut_base = c.integer("lut_base", 0, 10000000);
    hw.costs.ff_base = c.integer("ff_base", 0, 10000000);
    hw.costs.lut_per_selector_lane = c.number("lut_per_selector_lane", 0.0, 100000.0);
    hw.costs.ff_per_selector_lane = c.number("ff_per_selector_lane", 0.0, 100000.0);
    hw.costs.selector_lut_base = c.integer("selector_lut_base", 0, 10000000);
    hw.costs.selector_ff_base = c.integer("selector_ff_base", 0, 10000000);
  }

  // Optional: without it the reports say energy is not modelled (no default numbers).
  if (r.has("power")) {
    ConfigReader& pr = r.child("power");
    hw.power = parse_power_spec(pr, hw.ddr);
    if (hw.ps.layernorm && !hw.power.has_ps_core)
      pr.fail("ps", "accelerator.ps.layernorm is true: the power section needs the PS cores' active power "
                    "(\"ps\": {\"a53_core_active_w\": {...}})");
  }

  if (r.has("default_schedules")) {
    ConfigReader& ds = r.child("default_schedules");
    const json& node = r.raw("default_schedules");
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string file = ds.string(it.key());
      hw.default_schedules[it.key()] = file;
    }
  }
  if (!hw.selector.enabled && !hw.default_schedules.empty())
    r.fail("default_schedules", "a config without selector support cannot have pruning schedules");
  return hw;
}

json compose_hw_config(const std::string& path, Provenance& prov) {
  json root = load_json_file(path);
  if (!root.is_object()) throw InputError(path, "", "must be a JSON object");
  prov.set("", path);
  const std::string dir = dir_of(path);
  for (const char* key : {"device", "ddr", "accelerator", "power"}) {
    auto it = root.find(key);
    if (it == root.end() || !it->is_string()) continue;
    const std::string file = resolve_relative(dir, it->get<std::string>());
    *it = load_json_file(file);
    prov.set(key, file);
  }
  // Default schedule paths are relative to the root file.
  if (auto it = root.find("default_schedules"); it != root.end() && it->is_object())
    for (auto s = it->begin(); s != it->end(); ++s)
      if (s->is_string()) *s = resolve_relative(dir, s->get<std::string>());
  return root;
}

HwConfig load_hw_config(const std::string& path) {
  auto prov = std::make_shared<Provenance>();
  const json j = compose_hw_config(path, *prov);
  ConfigReader r(j, prov);
  HwConfig hw = parse_hw_config(r);
  r.finish();
  return hw;
}

}  // namespace heatvit::sim
