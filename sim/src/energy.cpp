#include "heatvit/sim/energy.hpp"

#include <algorithm>
#include <set>

#include "heatvit/core/error.hpp"

namespace heatvit::sim {

namespace {

constexpr double kPico = 1e-12;
constexpr double kMilli = 1e-3;

/// One constant: {"value": x, "source": "...", "confidence": "high|medium|low", "unit": "..."}.
double constant(ConfigReader& r, const std::string& key, double min, double max) {
  ConfigReader& c = r.child(key);
  const double v = c.number("value", min, max);
  if (c.string("source").empty()) c.fail("source", "must say where the value comes from");
  c.one_of("confidence", {"high", "medium", "low"});
  c.string("unit", "");
  return v;
}

}  // namespace

PowerSpec parse_power_spec(ConfigReader& r, const ddr::DdrSpec& ddr) {
  PowerSpec p;
  p.modelled = true;
  p.origin = r.origin();
  p.name = r.string("name", "");
  if (r.has("notes")) r.raw("notes");  // for humans
  {
    ConfigReader& f = r.child("fpga");
    p.dsp_op_pj = constant(f, "dsp_op_pj", 0.0, 1000.0);
    p.lut_op_pj = constant(f, "lut_op_pj", 0.0, 100.0);
    p.clock_pj_per_ff_cycle = constant(f, "clock_pj_per_ff_cycle", 0.0, 100.0);
    p.bram_read_pj_per_byte = constant(f, "bram_read_pj_per_byte", 0.0, 1000.0);
    p.bram_write_pj_per_byte = constant(f, "bram_write_pj_per_byte", 0.0, 1000.0);
    p.axi_pj_per_byte = constant(f, "axi_pj_per_byte", 0.0, 10000.0);
    p.ddr_io_pj_per_bit = constant(f, "ddr_io_pj_per_bit", 0.0, 1000.0);
  }
  {
    ConfigReader& s = r.child("static");
    p.pl_static_w = constant(s, "pl_static_w", 0.0, 1000.0);
    p.ps_static_w = constant(s, "ps_static_w", 0.0, 1000.0);
    p.board_w = constant(s, "board_w", 0.0, 1000.0);
  }
  if (r.has("ps")) {
    ConfigReader& s = r.child("ps");
    p.ps_core_active_w = constant(s, "a53_core_active_w", 0.0, 100.0);
    p.has_ps_core = true;
  }
  {
    ConfigReader& d = r.child("dram");
    DramPower& m = p.dram;
    const double bits = constant(d, "device_bits", 4, 32);
    m.device_bits = static_cast<int>(bits);
    if (bits != 4 && bits != 8 && bits != 16 && bits != 32)
      d.child("device_bits").fail("value", "must be 4, 8, 16 or 32");
    if (m.device_bits != ddr.org.device_bits)
      d.child("device_bits")
          .fail("value", "the currents are for x" + std::to_string(m.device_bits) + " devices but the DDR spec (" +
                             ddr.name + ") has x" + std::to_string(ddr.org.device_bits) + " devices");
    m.vdd_v = constant(d, "vdd_v", 0.5, 2.0);
    m.idd0_ma = constant(d, "idd0_ma", 0.0, 10000.0);
    m.idd2n_ma = constant(d, "idd2n_ma", 0.0, 10000.0);
    m.idd3n_ma = constant(d, "idd3n_ma", 0.0, 10000.0);
    m.idd4r_ma = constant(d, "idd4r_ma", 0.0, 10000.0);
    m.idd4w_ma = constant(d, "idd4w_ma", 0.0, 10000.0);
    m.idd5b_ma = constant(d, "idd5b_ma", 0.0, 10000.0);
    m.vpp_v = constant(d, "vpp_v", 0.5, 5.0);
    m.ipp3n_ma = constant(d, "ipp3n_ma", 0.0, 10000.0);
    // The DRAMPower differences must not be negative (datasheet currents satisfy these).
    auto need = [&](const char* key, bool ok, const std::string& what) {
      if (!ok) d.child(key).fail("value", what);
    };
    need("idd3n_ma", m.idd3n_ma >= m.idd2n_ma, "IDD3N must be at least IDD2N");
    need("idd4r_ma", m.idd4r_ma >= m.idd3n_ma, "IDD4R must be at least IDD3N");
    need("idd4w_ma", m.idd4w_ma >= m.idd3n_ma, "IDD4W must be at least IDD3N");
    need("idd5b_ma", m.idd5b_ma >= m.idd3n_ma, "IDD5B must be at least IDD3N");
    const double t_rc = ddr.timing.tRC, t_ras = ddr.timing.tRAS;
    need("idd0_ma", m.idd0_ma * t_rc >= m.idd3n_ma * t_ras + m.idd2n_ma * (t_rc - t_ras),
         "IDD0 * tRC must be at least IDD3N * tRAS + IDD2N * (tRC - tRAS) (activate energy would be negative)");
  }
  return p;
}

int dram_devices(const ddr::DdrSpec& spec) { return spec.org.data_bus_bits / spec.org.device_bits; }

DramEnergy dram_energy(const DdrCounts& c, const ddr::DdrSpec& spec, const DramPower& p) {
  const double tck = double(spec.timing.tCK_ps) * kPico;
  const double n = dram_devices(spec);
  const double t_rc = spec.timing.tRC * tck, t_ras = spec.timing.tRAS * tck;
  const double t_burst = spec.burst_cycles() * tck, t_rfc = spec.timing.tRFC * tck;
  const double a = kMilli;  // mA -> A
  DramEnergy e;
  const double e_act = (p.idd0_ma * t_rc - (p.idd3n_ma * t_ras + p.idd2n_ma * (t_rc - t_ras))) * a * p.vdd_v;
  e.activate = c.activates * e_act * n;
  e.read = c.read_bursts * (p.idd4r_ma - p.idd3n_ma) * a * p.vdd_v * t_burst * n;
  e.write = c.write_bursts * (p.idd4w_ma - p.idd3n_ma) * a * p.vdd_v * t_burst * n;
  e.refresh = c.refreshes * (p.idd5b_ma - p.idd3n_ma) * a * p.vdd_v * t_rfc * n;
  const double standby = spec.ctrl.page_policy == ddr::PagePolicy::Open ? p.idd3n_ma : p.idd2n_ma;
  e.background = (standby * a * p.vdd_v + p.ipp3n_ma * a * p.vpp_v) * c.seconds * n;
  return e;
}

std::vector<bool> ps_passes(const Workload& w, const Plan& plan, const HwConfig& hw) {
  std::vector<bool> on_ps(plan.passes.size(), false);
  if (!hw.ps.layernorm) return on_ps;
  std::set<std::string> layernorms;
  for (const Op& o : w.ops)
    if (o.kind == OpKind::LayerNorm) layernorms.insert(o.name);
  for (std::size_t i = 0; i < plan.passes.size(); ++i) {
    const Pass& p = plan.passes[i];
    on_ps[i] = p.kind == PassKind::Unit && p.ops.size() == 1 && layernorms.count(p.ops[0]) > 0;
  }
  return on_ps;
}

BufferTraffic buffer_traffic(const Plan& plan, const HwConfig& hw, const std::vector<bool>& on_ps) {
  HEATVIT_CHECK(on_ps.empty() || on_ps.size() == plan.passes.size(), "buffer_traffic: one flag per pass");
  BufferTraffic b;
  const double elem = hw.element_bytes();
  const double acc = hw.accumulator_bits / 8.0;
  for (std::size_t i = 0; i < plan.passes.size(); ++i) {
    const Pass& p = plan.passes[i];
    const PeArray pe = hw.pe_for(p.kind == PassKind::Attention);  // an unpacked kind reads half the lanes
    const double port_bytes = double(pe.th * pe.ti + pe.ti * pe.to) * elem;
    if (!on_ps.empty() && on_ps[i]) continue;  // the PS reads and writes DDR through its caches, not PL buffers
    for (const Step& s : p.steps) {
      const double loaded = double(s.load_a_bytes + s.load_b_bytes);
      b.write_bytes += loaded + double(s.store_read_bytes);  // DDR -> buffer, once
      b.read_bytes += double(s.store_read_bytes);            // the store path's residual
      if (p.kind == PassKind::Unit) {
        b.read_bytes += loaded;  // a standalone unit streams its operand through once
        continue;
      }
      b.read_bytes += double(s.compute_cycles) * port_bytes;  // PE operand ports, every compute cycle
      if (p.tiling.tk > 0) {
        const double sums = double(s.macs) / double(p.tiling.tk);  // one (partial) sum per output per k-step
        b.write_bytes += sums * acc;
        b.read_bytes += sums * acc;
      }
    }
  }
  return b;
}

PlanActivity plan_activity(const Workload& w, const Plan& plan, const HwConfig& hw) {
  PlanActivity pa;
  Activity& a = pa.partial;
  const PowerSpec& pw = hw.power;
  a.macs = double(w.total_macs());
  for (const Pass& p : plan.passes) {
    const bool packed = hw.macs_per_dsp == 2 && (p.kind == PassKind::Attention ? hw.packing.attention : hw.packing.linear);
    a.dsp_ops += double(p.macs()) / (packed ? 2.0 : 1.0);
  }
  const std::vector<bool> on_ps = ps_passes(w, plan, hw);
  const BufferTraffic b = buffer_traffic(plan, hw, on_ps);
  a.bram_read_bytes = b.read_bytes;
  a.bram_write_bytes = b.write_bytes;
  auto nl = [&](const NonlinearUnit& u) { return hw.costs.lut_per_nl_lane * pw.lut_op_pj + u.dsp_per_lane * pw.dsp_op_pj; };
  const double sel_lane = hw.costs.lut_per_selector_lane * pw.lut_op_pj;
  for (const Op& o : w.ops) {
    const double n = double(o.elements());
    switch (o.kind) {
      case OpKind::Gemm: break;
      case OpKind::LayerNorm:
        if (!hw.ps.layernorm) a.nonlinear_pj += n * nl(hw.nonlinear.layernorm);  // on the PS: ps_busy_s
        break;
      case OpKind::Softmax: a.nonlinear_pj += n * nl(hw.nonlinear.softmax); break;
      case OpKind::Gelu: a.nonlinear_pj += n * nl(hw.nonlinear.gelu); break;
      case OpKind::Sigmoid: a.nonlinear_pj += n * nl(hw.nonlinear.sigmoid); break;
      case OpKind::Add: a.nonlinear_pj += n * nl(hw.nonlinear.add); break;
      case OpKind::Package: a.selector_pj += n * (sel_lane + pw.dsp_op_pj); break;  // one DSP per lane
      case OpKind::TokenMean:
      case OpKind::Decision:
      case OpKind::Compaction: a.selector_pj += n * sel_lane; break;
    }
  }
  // The PS's passes: their time at the cores' active power; their DDR round trip goes
  // through the PS's own port to the DDR controller (the DRAM and DDR I/O terms count
  // it), not through the PL's DMA and AXI HP path.
  double ps_cycles = 0, ps_bytes = 0;
  for (std::size_t i = 0; i < plan.passes.size(); ++i) {
    if (!on_ps[i]) continue;
    const Pass& p = plan.passes[i];
    ps_cycles += double(p.compute_cycles());
    ps_bytes += double(p.ddr_read_bytes() + p.ddr_write_bytes());
  }
  a.ps_busy_s = ps_cycles / (hw.frequency_mhz * 1e6);
  pa.ps_bytes = ps_bytes;
  return pa;
}

Activity activity(const PlanActivity& p, const PlanTiming& t, const DdrCounts& ddr) {
  Activity a = p.partial;
  a.ddr_bytes = std::max(0.0, double(t.ddr_bytes()) - p.ps_bytes);
  a.cycles = double(t.cycles());
  a.ddr = ddr;
  return a;
}

Activity activity(const Workload& w, const Plan& plan, const PlanTiming& t, const DdrCounts& ddr,
                  const HwConfig& hw) {
  return activity(plan_activity(w, plan, hw), t, ddr);
}

double EnergyBreakdown::total_j() const {
  double s = 0;
  for (const auto& c : components) s += c.joules;
  return s;
}
double EnergyBreakdown::dynamic_j() const {
  double s = 0;
  for (const auto& c : components)
    if (!c.is_static) s += c.joules;
  return s;
}
double EnergyBreakdown::static_j() const {
  double s = 0;
  for (const auto& c : components)
    if (c.is_static) s += c.joules;
  return s;
}

EnergyBreakdown image_energy(const Activity& a, const HwConfig& hw, std::int64_t ff) {
  HEATVIT_CHECK(hw.power.modelled, "image_energy: the hw config has no power section");
  const PowerSpec& p = hw.power;
  const double secs = a.cycles / (hw.frequency_mhz * 1e6);
  const DramEnergy d = dram_energy(a.ddr, hw.ddr, p.dram);
  const double bus_bits = (a.ddr.read_bursts + a.ddr.write_bursts) * hw.ddr.org.bytes_per_burst() * 8.0;
  EnergyBreakdown e;
  e.seconds = secs;
  auto dyn = [&](const char* n, double j) { e.components.push_back({n, false, j}); };
  auto stat = [&](const char* n, double j) { e.components.push_back({n, true, j}); };
  dyn("mac_dsp", a.dsp_ops * p.dsp_op_pj * kPico);
  dyn("mac_fabric", a.macs * hw.costs.lut_per_mac * p.lut_op_pj * kPico);
  dyn("bram", (a.bram_read_bytes * p.bram_read_pj_per_byte + a.bram_write_bytes * p.bram_write_pj_per_byte) * kPico);
  dyn("nonlinear", a.nonlinear_pj * kPico);
  dyn("selector", a.selector_pj * kPico);
  dyn("ps_layernorm", a.ps_busy_s > 0 ? double(hw.ps.cores) * p.ps_core_active_w * a.ps_busy_s : 0.0);
  dyn("clock", double(ff) * a.cycles * p.clock_pj_per_ff_cycle * kPico);
  dyn("axi", a.ddr_bytes * p.axi_pj_per_byte * kPico);
  dyn("ddr_io", bus_bits * p.ddr_io_pj_per_bit * kPico);
  dyn("dram_activate", d.activate);
  dyn("dram_read", d.read);
  dyn("dram_write", d.write);
  dyn("dram_refresh", d.refresh);
  stat("dram_background", d.background);
  stat("pl_static", p.pl_static_w * secs);
  stat("ps_static", p.ps_static_w * secs);
  stat("board", p.board_w * secs);
  return e;
}

json energy_not_modelled() {
  return {{"modelled", false},
          {"reason", "the hw config has no \"power\" section (e.g. \"power\": \"../power/zcu102.json\"); "
                     "energy is not modelled"}};
}

json energy_report(const HwConfig& hw, const std::vector<EnergyBreakdown>& per_plan, const std::vector<double>& weights) {
  if (!hw.power.modelled) return energy_not_modelled();
  HEATVIT_CHECK(!per_plan.empty() && per_plan.size() == weights.size(), "energy_report: one weight per plan");
  double wsum = 0;
  for (double w : weights) wsum += w;
  HEATVIT_CHECK(wsum > 0, "energy_report: no images");
  // Mean over images of each component (in the model's order); the totals are sums of these.
  const std::size_t nc = per_plan[0].components.size();
  std::vector<double> mean(nc, 0.0);
  double secs = 0;
  for (std::size_t i = 0; i < per_plan.size(); ++i) {
    HEATVIT_CHECK(per_plan[i].components.size() == nc, "energy_report: same components per plan");
    for (std::size_t c = 0; c < nc; ++c) mean[c] += per_plan[i].components[c].joules * weights[i] / wsum;
    secs += per_plan[i].seconds * weights[i] / wsum;
  }
  double total = 0, dyn = 0, stat = 0;
  json comps = json::array();
  for (std::size_t c = 0; c < nc; ++c) {
    const auto& k = per_plan[0].components[c];
    const double mj = mean[c] * 1e3;
    total += mj;
    (k.is_static ? stat : dyn) += mj;
    comps.push_back({{"name", k.name}, {"kind", k.is_static ? "static" : "dynamic"}, {"mj", mj},
                     {"w", secs > 0 ? mj / (secs * 1e3) : 0.0}});
  }
  const double ms = secs * 1e3;
  return {{"modelled", true},
          {"power_config", hw.power.origin},
          {"name", hw.power.name},
          {"mj_per_image", total},
          {"latency_ms", ms},
          {"average_power_w", ms > 0 ? total / ms : 0.0},
          {"dynamic_mj", dyn},
          {"static_mj", stat},
          {"dynamic_w", ms > 0 ? dyn / ms : 0.0},
          {"static_w", ms > 0 ? stat / ms : 0.0},
          {"components", comps}};
}

std::vector<DdrCounts> split_ddr_counts(const json& ddr_stats, const std::vector<PlanTiming>& plans,
                                        double frequency_mhz) {
  auto get = [&](const char* k) { return ddr_stats.contains(k) ? ddr_stats.at(k).get<double>() : 0.0; };
  const double act = get("activates"), rb = get("read_bursts"), wb = get("write_bursts"), ref = get("refreshes");
  double rd = 0, wr = 0, cyc = 0;
  for (const auto& t : plans) {
    for (const auto& p : t.passes) {
      rd += double(p.ddr_read_bytes);
      wr += double(p.ddr_write_bytes);
    }
    cyc += double(t.cycles());
  }
  std::vector<DdrCounts> out;
  for (const auto& t : plans) {
    double r = 0, w = 0;
    for (const auto& p : t.passes) {
      r += double(p.ddr_read_bytes);
      w += double(p.ddr_write_bytes);
    }
    const double c = double(t.cycles());
    DdrCounts d;
    d.read_bursts = rd > 0 ? rb * r / rd : 0.0;
    d.write_bursts = wr > 0 ? wb * w / wr : 0.0;
    d.activates = rd + wr > 0 ? act * (r + w) / (rd + wr) : 0.0;
    d.refreshes = cyc > 0 ? ref * c / cyc : 0.0;
    d.seconds = c / (frequency_mhz * 1e6);
    out.push_back(d);
  }
  return out;
}

}  // namespace heatvit::sim
