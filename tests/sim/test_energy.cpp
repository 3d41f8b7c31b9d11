// The energy and power model (sim/energy.hpp, docs/energy.md): the parts add up to the
// total, DRAM energy follows DRAMPower's equations, energy scales with the activity
// that causes it, and a missing or bad power section is reported, not defaulted.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "heatvit/core/error.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/sim/energy.hpp"
#include "heatvit/sim/job.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/resources.hpp"
#include "heatvit/sim/simulator.hpp"
#include "heatvit/sim/timing.hpp"

using namespace heatvit;
using namespace heatvit::sim;

namespace {

const std::string kConfigs = HEATVIT_TEST_CONFIGS;

HwConfig hw(const std::string& name = "zcu102-heatvit") { return load_hw_config(kConfigs + "/hw/" + name + ".json"); }

/// A scratch directory for config files, removed at the end of the test.
struct TempDir {
  std::filesystem::path dir;
  TempDir() {
    dir = std::filesystem::temp_directory_path() /
          ("heatvit-energy-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = dir / name;
    std::ofstream(p) << text;
    return p.string();
  }
};

/// A root hw config like zcu102-heatvit.json with `power` as its power section (a JSON
/// value: a path string, or nothing when empty).
std::string root_with_power(const TempDir& t, const std::string& power) {
  json root = load_json_file(kConfigs + "/hw/zcu102-heatvit.json");
  for (const char* k : {"device", "ddr", "accelerator"})
    root[k] = kConfigs + "/hw/" + root[k].get<std::string>();
  root.erase("default_schedules");
  root.erase("power");
  if (!power.empty()) root["power"] = power;
  return t.write("root.json", root.dump(2));
}

Activity some_activity(const HwConfig& h) {
  const ModelShape m = load_model("deit-tiny");
  const Workload w = build_dense_workload(m);
  const Plan p = make_plan(w, h);
  const PlanTiming t = AnalyticModel(h).time_plan(p);
  DdrCounts d;
  d.activates = 5000;
  d.read_bursts = 150000;
  d.write_bursts = 50000;
  d.refreshes = 200;
  d.seconds = double(t.cycles()) / (h.frequency_mhz * 1e6);
  return activity(w, p, t, d, h);
}

double component(const EnergyBreakdown& e, const std::string& name) {
  for (const auto& c : e.components)
    if (c.name == name) return c.joules;
  ADD_FAILURE() << "no component " << name;
  return 0;
}

}  // namespace

TEST(Energy, ComponentsSumToTheTotal) {
  for (const char* name : {"zcu102-heatvit", "zcu102-baseline"}) {
    const HwConfig h = hw(name);
    ASSERT_TRUE(h.power.modelled) << name;
    const EnergyBreakdown e = image_energy(some_activity(h), h, 150000);
    double sum = 0, dyn = 0, stat = 0;
    for (const auto& c : e.components) {
      EXPECT_GE(c.joules, 0.0) << c.name;
      sum += c.joules;
      (c.is_static ? stat : dyn) += c.joules;
    }
    EXPECT_EQ(sum, e.total_j());
    EXPECT_EQ(dyn, e.dynamic_j());
    EXPECT_EQ(stat, e.static_j());
    EXPECT_NEAR(e.dynamic_j() + e.static_j(), e.total_j(), 1e-12 * e.total_j());
    EXPECT_GT(e.total_j(), 0.0);

    // The report: mean over images of each component; mj_per_image is their sum.
    EnergyBreakdown e2 = e;
    for (auto& c : e2.components) c.joules *= 1.5;
    e2.seconds *= 1.5;
    const json r = energy_report(h, {e, e2}, {3, 1});
    ASSERT_TRUE(r["modelled"].get<bool>());
    double mj = 0, dmj = 0, smj = 0;
    for (const auto& c : r["components"]) {
      mj += c["mj"].get<double>();
      (c["kind"] == "static" ? smj : dmj) += c["mj"].get<double>();
    }
    EXPECT_EQ(mj, r["mj_per_image"].get<double>());
    EXPECT_EQ(dmj, r["dynamic_mj"].get<double>());
    EXPECT_EQ(smj, r["static_mj"].get<double>());
    EXPECT_NEAR(r["mj_per_image"].get<double>(), 1e3 * e.total_j() * (3 + 1.5) / 4, 1e-9 * mj);
    EXPECT_NEAR(r["average_power_w"].get<double>(), mj / r["latency_ms"].get<double>(), 1e-12);
  }
}

TEST(Energy, DramEnergyIsDramPowersEquations) {
  const HwConfig h = hw();
  const ddr::DdrSpec& s = h.ddr;  // DDR4-2133P x64 of x8 devices: tCK 938 ps, tRC 51, tRAS 36, tRFC 278, BL8
  ASSERT_EQ(dram_devices(s), 8);
  DramPower p;
  p.vdd_v = 1.2;
  p.idd0_ma = 48;
  p.idd2n_ma = 34;
  p.idd3n_ma = 43;
  p.idd4r_ma = 135;
  p.idd4w_ma = 123;
  p.idd5b_ma = 250;
  p.vpp_v = 2.5;
  p.ipp3n_ma = 3;
  DdrCounts c;
  c.activates = 10;
  c.read_bursts = 100;
  c.write_bursts = 50;
  c.refreshes = 2;
  c.seconds = 1e-6;
  const DramEnergy e = dram_energy(c, s, p);
  const double tck = 938e-12;
  // By hand: per device, times 8 devices.
  const double act = 10 * (48e-3 * 51 * tck - (43e-3 * 36 * tck + 34e-3 * 15 * tck)) * 1.2 * 8;
  const double rd = 100 * (135e-3 - 43e-3) * 1.2 * 4 * tck * 8;
  const double wr = 50 * (123e-3 - 43e-3) * 1.2 * 4 * tck * 8;
  const double ref = 2 * (250e-3 - 43e-3) * 1.2 * 278 * tck * 8;
  const double bg = (43e-3 * 1.2 + 3e-3 * 2.5) * 1e-6 * 8;  // open page: IDD3N
  EXPECT_NEAR(e.activate, act, 1e-9 * act);
  EXPECT_NEAR(e.read, rd, 1e-9 * rd);
  EXPECT_NEAR(e.write, wr, 1e-9 * wr);
  EXPECT_NEAR(e.refresh, ref, 1e-9 * ref);
  EXPECT_NEAR(e.background, bg, 1e-9 * bg);
  // Per ACT+PRE and device: (48*51 - 43*36 - 34*15) mA*nCK = 390 mA*nCK * 1.2 V * 0.938 ns = 0.439 nJ; x8 x10.
  EXPECT_NEAR(e.activate, 35.11872e-9, 1e-15);

  // Closed page: the background is IDD2N.
  ddr::DdrSpec closed = s;
  closed.ctrl.page_policy = ddr::PagePolicy::Closed;
  EXPECT_NEAR(dram_energy(c, closed, p).background, (34e-3 * 1.2 + 3e-3 * 2.5) * 1e-6 * 8, 1e-18);

  // Through the whole model: the dram_* components are these numbers (in joules).
  HwConfig h2 = h;
  h2.power.dram = p;
  Activity a = some_activity(h2);
  a.ddr = c;
  const EnergyBreakdown b = image_energy(a, h2, 1000);
  EXPECT_DOUBLE_EQ(component(b, "dram_activate"), e.activate);
  EXPECT_DOUBLE_EQ(component(b, "dram_read"), e.read);
  EXPECT_DOUBLE_EQ(component(b, "dram_write"), e.write);
  EXPECT_DOUBLE_EQ(component(b, "dram_refresh"), e.refresh);
  EXPECT_DOUBLE_EQ(component(b, "dram_background"), e.background);
  EXPECT_DOUBLE_EQ(component(b, "ddr_io"), 150 * 64 * 8 * h2.power.ddr_io_pj_per_bit * 1e-12);
}

TEST(Energy, ScalesWithTheActivityThatCausesIt) {
  const HwConfig h = hw();
  const Activity a = some_activity(h);
  const EnergyBreakdown e1 = image_energy(a, h, 100000);
  Activity a2 = a;
  a2.macs *= 2;
  a2.dsp_ops *= 2;
  const EnergyBreakdown e2 = image_energy(a2, h, 100000);
  EXPECT_DOUBLE_EQ(component(e2, "mac_dsp"), 2 * component(e1, "mac_dsp"));
  EXPECT_DOUBLE_EQ(component(e2, "mac_fabric"), 2 * component(e1, "mac_fabric"));
  EXPECT_DOUBLE_EQ(component(e2, "bram"), component(e1, "bram"));
  // INT8 packing: two MACs per DSP operation; the 16-bit baseline spends one per MAC.
  EXPECT_DOUBLE_EQ(component(e1, "mac_dsp"), a.macs / 2 * h.power.dsp_op_pj * 1e-12);
  const HwConfig b = hw("zcu102-baseline");
  const Activity ab = some_activity(b);
  EXPECT_DOUBLE_EQ(component(image_energy(ab, b, 100000), "mac_dsp"), ab.macs * b.power.dsp_op_pj * 1e-12);
  // Packing off for the attention GEMMs alone: their MACs cost one DSP operation each.
  HwConfig hu = h;
  hu.packing.attention = false;
  const Activity au = some_activity(hu);
  double att = 0;
  for (const Pass& p : make_plan(build_dense_workload(load_model("deit-tiny")), hu).passes)
    if (p.kind == PassKind::Attention) att += double(p.macs());
  EXPECT_GT(att, 0);
  EXPECT_DOUBLE_EQ(au.dsp_ops, (au.macs - att) / 2 + att);

  // Static energy = static power x latency.
  const double secs = a.cycles / (h.frequency_mhz * 1e6);
  EXPECT_DOUBLE_EQ(e1.seconds, secs);
  EXPECT_DOUBLE_EQ(component(e1, "pl_static"), h.power.pl_static_w * secs);
  EXPECT_DOUBLE_EQ(component(e1, "ps_static"), h.power.ps_static_w * secs);
  EXPECT_DOUBLE_EQ(component(e1, "board"), h.power.board_w * secs);
  Activity slow = a;
  slow.cycles *= 3;
  const EnergyBreakdown e3 = image_energy(slow, h, 100000);
  EXPECT_DOUBLE_EQ(component(e3, "pl_static"), 3 * component(e1, "pl_static"));
  EXPECT_DOUBLE_EQ(component(e3, "clock"), 3 * component(e1, "clock"));
  EXPECT_DOUBLE_EQ(component(e3, "mac_dsp"), component(e1, "mac_dsp"));

  // Buffer traffic: every byte loaded from DDR is written into a buffer once.
  const Plan p = make_plan(build_dense_workload(load_model("deit-tiny")), h);
  const BufferTraffic bt = buffer_traffic(p, h);
  double loaded = 0;
  for (const auto& pass : p.passes)
    for (const auto& s : pass.steps) loaded += double(s.load_a_bytes + s.load_b_bytes + s.store_read_bytes);
  EXPECT_GT(bt.write_bytes, loaded);
  EXPECT_GT(bt.read_bytes, bt.write_bytes);  // operands are read many times per load
}

TEST(Energy, SplitOfTheRunsDdrCountsKeepsTheTotals) {
  PlanTiming a, b;
  a.passes.push_back({1000, 800, 200, 3000, 1000});
  b.passes.push_back({3000, 2000, 1000, 1000, 3000});
  const json stats = {{"activates", 40}, {"read_bursts", 64}, {"write_bursts", 64}, {"refreshes", 8}};
  const auto d = split_ddr_counts(stats, {a, b}, 300);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_DOUBLE_EQ(d[0].activates + d[1].activates, 40);
  EXPECT_DOUBLE_EQ(d[0].read_bursts, 48);
  EXPECT_DOUBLE_EQ(d[1].write_bursts, 48);
  EXPECT_DOUBLE_EQ(d[0].refreshes, 2);
  EXPECT_DOUBLE_EQ(d[1].refreshes, 6);
  EXPECT_DOUBLE_EQ(d[1].seconds, 3000 / 300e6);
}

TEST(Energy, EveryReportHasItAndItAddsUp) {
  SimJob j;
  j.model = load_model("deit-micro");
  j.hw = hw();
  j.hw_name = "zcu102-heatvit";
  j.images = {std::vector<int>(std::size_t(j.model.depth), j.model.dense_tokens()),
              std::vector<int>(std::size_t(j.model.depth), j.model.dense_tokens() - 8)};
  j.images.push_back(j.images[0]);
  const json r = run_job(j).report;
  const json& e = r.at("energy");
  ASSERT_TRUE(e.at("modelled").get<bool>());
  double mj = 0;
  for (const auto& c : e["components"]) mj += c["mj"].get<double>();
  EXPECT_EQ(mj, e["mj_per_image"].get<double>());
  EXPECT_NEAR(e["latency_ms"].get<double>(), r["latency_ms"]["mean"].get<double>(), 1e-9);
  EXPECT_NEAR(e["average_power_w"].get<double>(), mj / r["latency_ms"]["mean"].get<double>(), 1e-9);
  EXPECT_GT(e["average_power_w"].get<double>(), 1.0);
  EXPECT_LT(e["average_power_w"].get<double>(), 30.0);

  // Without a power section the report says so, with no numbers.
  j.hw.power = PowerSpec{};
  const json n = run_job(j).report.at("energy");
  EXPECT_FALSE(n.at("modelled").get<bool>());
  EXPECT_NE(n.at("reason").get<std::string>().find("not modelled"), std::string::npos);
  EXPECT_FALSE(n.contains("mj_per_image"));
}

// The job keeps each distinct vector's plan-only activity (plan_activity) instead of its
// plan; its energy must equal the per-plan energies of the whole plans, weighted by
// the images that use them, as computed here from scratch.
TEST(Energy, JobEnergyEqualsThatOfTheWholePlans) {
  SimJob j;
  j.model = load_model("deit-micro");
  j.hw = hw();
  j.hw_name = "zcu102-heatvit";
  const int d = j.model.dense_tokens();
  const std::vector<std::vector<int>> vectors = {std::vector<int>(std::size_t(j.model.depth), d),
                                                 std::vector<int>(std::size_t(j.model.depth), d - 8),
                                                 std::vector<int>(std::size_t(j.model.depth), d - 20)};
  j.images = {vectors[0], vectors[1], vectors[0], vectors[2], vectors[1], vectors[0]};
  const json e = run_job(j).report.at("energy");

  std::vector<Workload> w;
  std::vector<Plan> plans;
  for (const auto& v : vectors) {
    w.push_back(build_workload(j.model, v, {}));
    plans.push_back(make_plan(w.back(), j.hw));
  }
  std::vector<const Plan*> ptrs;
  for (const auto& p : plans) ptrs.push_back(&p);
  const SimRun run = simulate(j.hw, ptrs);
  const std::vector<DdrCounts> ddr = split_ddr_counts(run.stats.at("ddr"), run.plans, j.hw.frequency_mhz);
  const std::int64_t ff = estimate_resources(j.hw).total().ff;
  std::vector<EnergyBreakdown> per_plan;
  for (std::size_t i = 0; i < plans.size(); ++i)
    per_plan.push_back(image_energy(activity(w[i], plans[i], run.plans[i], ddr[i], j.hw), j.hw, ff));
  const json expected = energy_report(j.hw, per_plan, {3, 2, 1});
  EXPECT_EQ(e.dump(), expected.dump());
}

TEST(Energy, MissingPowerSectionMeansNotModelled) {
  TempDir t;
  const HwConfig h = load_hw_config(root_with_power(t, ""));
  EXPECT_FALSE(h.power.modelled);
  const json r = energy_report(h, {}, {});
  EXPECT_FALSE(r["modelled"].get<bool>());
  EXPECT_NE(r["reason"].get<std::string>().find("no \"power\" section"), std::string::npos);
}

TEST(Energy, BadPowerFieldIsAnInputErrorNamingFileAndField) {
  TempDir t;
  const json good = load_json_file(kConfigs + "/power/zcu102.json");
  auto expect_error = [&](json bad, const std::string& field, const std::string& what) {
    const std::string file = t.write("bad-power.json", bad.dump(2));
    try {
      load_hw_config(root_with_power(t, file));
      FAIL() << "no error for " << field;
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("bad-power.json"), std::string::npos) << msg;
      EXPECT_NE(msg.find(field), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  };
  json b = good;
  b["dram"]["idd4r_ma"]["value"] = "lots";
  expect_error(b, "dram.idd4r_ma.value", "");
  b = good;
  b["fpga"]["dsp_op_pj"]["value"] = -1;
  expect_error(b, "fpga.dsp_op_pj.value", "-1");
  b = good;
  b["static"]["board_w"].erase("source");
  expect_error(b, "static.board_w.source", "");
  b = good;
  b["fpga"]["lut_op_pj"]["source"] = "";
  expect_error(b, "fpga.lut_op_pj.source", "where the value comes from");
  b = good;
  b["fpga"]["bram_read_pj_per_byte"]["confidence"] = "certain";
  expect_error(b, "bram_read_pj_per_byte.confidence", "");
  b = good;
  b["static"]["pl_static"] = b["static"]["pl_static_w"];
  expect_error(b, "static.pl_static", "unknown");
  b = good;
  b["dram"]["device_bits"]["value"] = 16;
  expect_error(b, "dram.device_bits.value", "x8 devices");
  b = good;
  b["dram"]["idd4w_ma"]["value"] = 10;
  expect_error(b, "dram.idd4w_ma.value", "IDD3N");
}

namespace {

/// zcu102-heatvit with LayerNorm on the PS (`cores` A53 cores at 1.2 GHz, 4 cycles per
/// element, 5 us hand-off).
HwConfig with_ps_layernorm(int cores) {
  HwConfig h = hw();
  h.ps.layernorm = true;
  h.ps.frequency_mhz = 1200;
  h.ps.cycles_per_element = 4;
  h.ps.cores = cores;
  h.ps.handoff_us = 5;
  return h;
}

}  // namespace

TEST(Energy, LayerNormOnThePsIsChargedAtTheCoresActivePower) {
  const HwConfig pl = hw();
  ASSERT_TRUE(pl.power.has_ps_core);
  EXPECT_GT(pl.power.ps_core_active_w, 0.0);
  const Workload w = build_dense_workload(load_model("deit-tiny"));
  DdrCounts d;
  d.activates = 5000;
  d.read_bursts = 150000;
  d.write_bursts = 50000;
  d.refreshes = 200;
  auto act = [&](const HwConfig& h, Plan* plan_out, PlanTiming* t_out) {
    const Plan p = make_plan(w, h);
    const PlanTiming t = AnalyticModel(h).time_plan(p);
    DdrCounts dd = d;
    dd.seconds = double(t.cycles()) / (h.frequency_mhz * 1e6);
    if (plan_out) *plan_out = p;
    if (t_out) *t_out = t;
    return activity(w, p, t, dd, h);
  };
  const Activity a_pl = act(pl, nullptr, nullptr);
  const EnergyBreakdown e_pl = image_energy(a_pl, pl, 150000);
  EXPECT_EQ(a_pl.ps_busy_s, 0.0);
  EXPECT_EQ(component(e_pl, "ps_layernorm"), 0.0);  // present, and 0, with LayerNorm on the PL

  for (int cores : {1, 2}) {
    const HwConfig h = with_ps_layernorm(cores);
    Plan p;
    PlanTiming t;
    const Activity a = act(h, &p, &t);

    // By hand from the workload: per LayerNorm, ceil(elements x 4 / cores) A53 cycles at
    // 1200 MHz plus 5 us, in 300 MHz PL cycles (rounded up), all of them in the plan as
    // one unit pass each whose compute cycles are that time.
    double cycles = 0, ln_elements = 0;
    int lns = 0;
    for (const Op& o : w.ops) {
      if (o.kind != OpKind::LayerNorm) continue;
      const double n = double(o.elements());
      ln_elements += n;
      ++lns;
      cycles += std::ceil(std::ceil(n * 4 / cores) * 300.0 / 1200.0 + 5 * 300.0);
    }
    ASSERT_EQ(lns, 2 * 12 + 1);  // two per block and the final norm
    const std::vector<bool> on_ps = ps_passes(w, p, h);
    double plan_cycles = 0, ps_bytes = 0;
    int ps_count = 0;
    for (std::size_t i = 0; i < p.passes.size(); ++i) {
      if (!on_ps[i]) continue;
      ++ps_count;
      EXPECT_EQ(p.passes[i].kind, PassKind::Unit);
      plan_cycles += double(p.passes[i].compute_cycles());
      ps_bytes += double(p.passes[i].ddr_read_bytes() + p.passes[i].ddr_write_bytes());
    }
    EXPECT_EQ(ps_count, lns);
    EXPECT_EQ(plan_cycles, cycles);
    const double busy = cycles / 300e6;
    EXPECT_DOUBLE_EQ(a.ps_busy_s, busy);
    const EnergyBreakdown e = image_energy(a, h, 150000);
    EXPECT_DOUBLE_EQ(component(e, "ps_layernorm"), cores * h.power.ps_core_active_w * busy);
    EXPECT_GT(component(e, "ps_layernorm"), 0.0);

    // The parts still add up to the total.
    double sum = 0;
    for (const auto& c : e.components) sum += c.joules;
    EXPECT_EQ(sum, e.total_j());

    // No PL LayerNorm energy for them: the nonlinear units are charged for everything
    // but the LayerNorm elements, ...
    const double ln_pj = ln_elements * (h.costs.lut_per_nl_lane * h.power.lut_op_pj +
                                        h.nonlinear.layernorm.dsp_per_lane * h.power.dsp_op_pj);
    EXPECT_GT(ln_pj, 0.0);
    EXPECT_NEAR(a.nonlinear_pj, a_pl.nonlinear_pj - ln_pj, 1e-9 * a_pl.nonlinear_pj);
    // ... their operands pass through no PL buffer (the unit path would write each loaded
    // byte once and read it once) ...
    const BufferTraffic all = buffer_traffic(p, h), pl_only = buffer_traffic(p, h, on_ps);
    double ps_loaded = 0;
    for (std::size_t i = 0; i < p.passes.size(); ++i)
      if (on_ps[i])
        for (const auto& s : p.passes[i].steps) ps_loaded += double(s.load_a_bytes + s.load_b_bytes);
    EXPECT_GT(ps_loaded, 0.0);
    EXPECT_DOUBLE_EQ(all.write_bytes - pl_only.write_bytes, ps_loaded);
    EXPECT_DOUBLE_EQ(all.read_bytes - pl_only.read_bytes, ps_loaded);
    EXPECT_DOUBLE_EQ(a.bram_write_bytes, pl_only.write_bytes);
    // ... and not through the PL's AXI path (the DRAM terms still count their bursts).
    EXPECT_DOUBLE_EQ(a.ddr_bytes, double(t.ddr_bytes()) - ps_bytes);
  }
}

TEST(Energy, LayerNormOnThePsNeedsTheCoresPower) {
  TempDir t;
  json power = load_json_file(kConfigs + "/power/zcu102.json");
  power.erase("ps");
  const std::string pfile = t.write("power-no-ps.json", power.dump(2));
  json root = load_json_file(root_with_power(t, pfile));
  json accel = load_json_file(root["accelerator"].get<std::string>());
  accel["ps"] = {{"layernorm", true}, {"frequency_mhz", 1200}, {"cycles_per_element", 4}, {"cores", 1},
                 {"handoff_us", 5}};
  root["accelerator"] = t.write("accel-ps.json", accel.dump(2));
  try {
    load_hw_config(t.write("root-ps.json", root.dump(2)));
    FAIL() << "no error for a PS LayerNorm without the cores' power";
  } catch (const InputError& e) {
    const std::string msg = e.what();  // names the power file and its missing section
    EXPECT_NE(msg.find("power-no-ps.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("field 'ps'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("a53_core_active_w"), std::string::npos) << msg;
  }
  // With LayerNorm on the PL the PS constant is not needed.
  accel["ps"]["layernorm"] = false;
  root["accelerator"] = t.write("accel-ps.json", accel.dump(2));
  EXPECT_FALSE(load_hw_config(t.write("root-ps.json", root.dump(2))).power.has_ps_core);
}

TEST(Energy, EveryReportWithLayerNormOnThePsChargesIt) {
  SimJob j;
  j.model = load_model("deit-micro");
  j.hw = with_ps_layernorm(1);
  j.hw_name = "zcu102-heatvit";
  j.images = {std::vector<int>(std::size_t(j.model.depth), j.model.dense_tokens())};
  const json r = run_job(j).report;
  const json& e = r.at("energy");
  double mj = 0, ps = -1;
  for (const auto& c : e["components"]) {
    mj += c["mj"].get<double>();
    if (c["name"] == "ps_layernorm") ps = c["mj"].get<double>();
  }
  EXPECT_EQ(mj, e["mj_per_image"].get<double>());
  EXPECT_GT(ps, 0.0);
}
