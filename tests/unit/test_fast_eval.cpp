#include <gtest/gtest.h>

#include "heatvit/sim/fast_eval.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/timing.hpp"

using namespace heatvit;
using namespace heatvit::sim;

TEST(FastEval, EqualsTheFullAnalyticModel) {
  const HwConfig h = load_hw_config(std::string(HEATVIT_SOURCE_DIR_FOR_TESTS) + "/configs/hw/zcu102-heatvit.json");
  const ModelShape m = load_model("deit-micro");
  const ScheduleEvaluator ev(m, h);
  const AnalyticModel a(h);
  std::vector<Schedule> cases(4);
  cases[1].selectors = {{3, 0.7}, {6, 0.7}, {9, 0.7}};
  cases[2].selectors = {{1, 0.5}};
  cases[3].selectors = {{2, 0.9}, {4, 0.35}, {5, 1.0}, {10, 0.2}};
  for (const auto& s : cases) {
    const std::int64_t full = a.time_plan(make_plan(build_schedule_workload(m, s), h)).cycles();
    EXPECT_EQ(ev.cycles(s), full);
  }
}
