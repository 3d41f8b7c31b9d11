// Properties of whole-model simulations: per-layer lower bounds, the no-overlap upper
// bound, and agreement between the SystemC simulation and the analytic model.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "heatvit/sim/job.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/resources.hpp"
#include "heatvit/sim/simulator.hpp"

using namespace heatvit;
using namespace heatvit::sim;

namespace {

HwConfig hw(const std::string& name) {
  return load_hw_config(std::string(HEATVIT_TEST_CONFIGS) + "/hw/" + name + ".json");
}

Schedule default_schedule(const HwConfig& h, const ModelShape& m) {
  auto it = h.default_schedules.find(m.name);
  return it == h.default_schedules.end() ? Schedule{} : load_schedule(it->second, m);
}

struct Case {
  std::string model, hw;
  bool pruned;
};

void check_properties(const Case& c) {
  const HwConfig h = hw(c.hw);
  const ModelShape m = load_model(c.model);
  const Workload w = c.pruned ? build_schedule_workload(m, default_schedule(h, m)) : build_dense_workload(m);
  const Plan plan = make_plan(w, h);
  EXPECT_EQ(plan.macs(), w.total_macs()) << "every MAC of the workload is executed once";
  SimOptions opt;
  opt.trace_events = true;
  const SimRun run = simulate(h, {&plan}, opt);
  const PlanTiming& t = run.plans.at(0);
  ASSERT_EQ(t.passes.size(), plan.passes.size());

  // Sum of the phase durations of each pass (the no-overlap bound).
  std::map<std::string, double> serial_ps;
  for (const auto& e : run.trace)
    if (e.lane != "pass") serial_ps[e.name] += double(e.end_ps - e.start_ps);

  const double peak_macs = h.pe.macs();
  const double peak_bytes = std::min(h.ddr.peak_bytes_per_second() / (h.frequency_mhz * 1e6),
                                     h.axi.ports * h.port_bytes_per_cycle());
  const double ps_per_cycle = 1e6 / h.frequency_mhz;
  for (std::size_t i = 0; i < plan.passes.size(); ++i) {
    const Pass& p = plan.passes[i];
    const PassTiming& pt = t.passes[i];
    const double lower = std::max(double(p.macs()) / peak_macs,
                                  double(pt.ddr_read_bytes + pt.ddr_write_bytes) / peak_bytes);
    EXPECT_GE(double(pt.cycles) + 1, lower) << c.model << " " << p.name;
    EXPECT_GE(pt.cycles, pt.compute_cycles) << p.name;
    const double serial = serial_ps[p.name] / ps_per_cycle + p.fill_cycles + 2;
    EXPECT_LE(double(pt.cycles), serial) << c.model << " " << p.name << " exceeds its no-overlap sum";
  }

  // The analytic model is an independent estimate of the same microarchitecture.
  const PlanTiming a = AnalyticModel(h).time_plan(plan);
  const double dis = (double(a.cycles()) - double(t.cycles())) / double(t.cycles());
  ::testing::Test::RecordProperty("analytic_disagreement", std::to_string(dis));
  EXPECT_LT(std::fabs(dis), 0.04) << c.model << " on " << c.hw << (c.pruned ? " pruned" : " dense");
}

}  // namespace

TEST(Properties, DeitTinyBaselineDense) { check_properties({"deit-tiny", "zcu102-baseline", false}); }
TEST(Properties, DeitTinyHeatvitPruned) { check_properties({"deit-tiny", "zcu102-heatvit", true}); }
TEST(Properties, DeitSmallHeatvitDense) { check_properties({"deit-small", "zcu102-heatvit", false}); }
TEST(Properties, DeitSmallHeatvitPruned) { check_properties({"deit-small", "zcu102-heatvit", true}); }
TEST(Properties, LvvitSHeatvitPruned) { check_properties({"lvvit-s", "zcu102-heatvit", true}); }
TEST(Properties, DeitMicroBothConfigs) {
  check_properties({"deit-micro", "zcu102-baseline", false});
  check_properties({"deit-micro", "zcu102-heatvit", false});
}

TEST(Properties, HeatvitFasterThanBaselineForEveryImagenetModel) {
  const HwConfig base = hw("zcu102-baseline"), hv = hw("zcu102-heatvit");
  for (const char* name : {"deit-tiny", "deit-small", "lvvit-s"}) {
    const ModelShape m = load_model(name);
    const Plan pb = make_plan(build_dense_workload(m), base);
    const Plan ph = make_plan(build_schedule_workload(m, default_schedule(hv, m)), hv);
    const AnalyticModel ab(base), ah(hv);
    EXPECT_GT(double(ab.time_plan(pb).cycles()) / double(ah.time_plan(ph).cycles()), 2.0) << name;
  }
}

TEST(Resources, BaselineAndHeatvitFitTheDevice) {
  for (const char* name : {"zcu102-baseline", "zcu102-heatvit"}) {
    const HwConfig h = hw(name);
    const ResourceReport r = estimate_resources(h);
    EXPECT_NO_THROW(check_fits(h, r));
    EXPECT_EQ(r.total().dsp - r.selector_support().dsp,
              h.pe.macs() / h.macs_per_dsp + h.nonlinear.softmax.lanes * h.nonlinear.softmax.dsp_per_lane +
                  h.nonlinear.gelu.lanes * h.nonlinear.gelu.dsp_per_lane +
                  h.nonlinear.layernorm.lanes * h.nonlinear.layernorm.dsp_per_lane);
  }
  EXPECT_EQ(estimate_resources(hw("zcu102-baseline")).selector_support().dsp, 0);
  EXPECT_GT(estimate_resources(hw("zcu102-heatvit")).selector_support().dsp, 0);
}

TEST(Resources, BufferBramCountsCapacityAndWidth) {
  EXPECT_EQ(buffer_bram36(128 * 1024, 512), 2 * 32);    // capacity-bound
  EXPECT_EQ(buffer_bram36(16 * 1024, 8192), 2 * 128);   // width-bound
  EXPECT_EQ(buffer_bram36(4097, 64), 2 * 2);
  EXPECT_EQ(buffer_bram36(4097, 64, 1), 2);              // single-buffered: one half
}
