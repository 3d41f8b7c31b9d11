// SystemC module harness: hand-built plans with exact cycle expectations for the
// double-buffered load / compute / store pipeline (no DDR traffic, so every cycle is
// determined by the pipeline rules alone), checked against both timing paths.
#include <gtest/gtest.h>

#include "heatvit/sim/simulator.hpp"
#include "heatvit/sim/timing.hpp"

using namespace heatvit;
using namespace heatvit::sim;

namespace {

HwConfig hw() { return load_hw_config(std::string(HEATVIT_TEST_CONFIGS) + "/hw/zcu102-heatvit.json"); }

Step compute_step(std::int64_t cycles, bool ends = true) {
  Step s;
  s.compute_cycles = cycles;
  s.ends_tile = ends;
  return s;
}

std::int64_t simulate_one(const HwConfig& h, const Pass& p) {
  Plan plan;
  plan.passes.push_back(p);
  const SimRun run = simulate(h, {&plan});
  return run.plans.at(0).passes.at(0).cycles;
}

std::int64_t analytic_one(const HwConfig& h, const Pass& p) { return AnalyticModel(h).time_pass(p).cycles; }

}  // namespace

TEST(Harness, UnitPassTakesItsComputeCycles) {
  const HwConfig h = hw();
  Pass p;
  p.kind = PassKind::Unit;
  p.steps = {compute_step(100)};
  EXPECT_EQ(simulate_one(h, p), 100);
  EXPECT_EQ(analytic_one(h, p), 100);
}

TEST(Harness, BackToBackTilesPlusPipelineDrain) {
  const HwConfig h = hw();
  Pass p;
  p.kind = PassKind::Linear;
  p.fill_cycles = 8;
  p.steps = {compute_step(50), compute_step(50), compute_step(50)};
  EXPECT_EQ(simulate_one(h, p), 3 * 50 + 8);
  EXPECT_EQ(analytic_one(h, p), 3 * 50 + 8);
}

TEST(Harness, PostProcessingBoundStoresAndTwoOutputBuffers) {
  // Compute 10 per tile, post-processing 100 + latency 2 per tile, fill 8:
  // S0 = [18, 120], S1 = [120, 222]; tile 2 needs the output half of tile 0,
  // so C2 = [120, 130] and S2 = [222, 324].
  const HwConfig h = hw();
  Pass p;
  p.kind = PassKind::Linear;
  p.fill_cycles = 8;
  p.post_latency = 2;
  for (int i = 0; i < 3; ++i) {
    Step s = compute_step(10);
    s.post_cycles = 100;
    p.steps.push_back(s);
  }
  EXPECT_EQ(simulate_one(h, p), 324);
  EXPECT_EQ(analytic_one(h, p), 324);
}

TEST(Harness, LoadPathProcessingAndTwoInputBuffers) {
  // LayerNorm on the load path, 40 cycles per tile, compute 10 per tile:
  // L0 = [0, 40], C0 = [40, 50], L1 = [40, 80], C1 = [80, 90], L2 = [80, 120],
  // C2 = [120, 130]; no fill, nothing to store.
  const HwConfig h = hw();
  Pass p;
  p.kind = PassKind::Linear;
  for (int i = 0; i < 3; ++i) {
    Step s = compute_step(10);
    s.load_cycles = 40;
    p.steps.push_back(s);
  }
  EXPECT_EQ(simulate_one(h, p), 130);
  EXPECT_EQ(analytic_one(h, p), 130);
}

TEST(Harness, SingleBufferedStoresBlockTheNextTile) {
  // buffer_slots = 1: the next tile's compute waits for the previous tile's store.
  // Compute 10, post-processing 100 + latency 2, fill 8: C0 = [0, 10], S0 = [18, 120],
  // C1 = [120, 130], S1 = [138, 240], C2 = [240, 250], S2 = [258, 360].
  HwConfig h = hw();
  h.buffer_slots = 1;
  Pass p;
  p.kind = PassKind::Linear;
  p.fill_cycles = 8;
  p.post_latency = 2;
  for (int i = 0; i < 3; ++i) {
    Step s = compute_step(10);
    s.post_cycles = 100;
    p.steps.push_back(s);
  }
  EXPECT_EQ(simulate_one(h, p), 360);
  EXPECT_EQ(analytic_one(h, p), 360);
}

TEST(Harness, SingleBufferedLoadsWaitForTheCompute) {
  // buffer_slots = 1: the load of step s waits for the compute of step s-1.
  // L0 = [0, 40], C0 = [40, 50], L1 = [50, 90], C1 = [90, 100], L2 = [100, 140],
  // C2 = [140, 150].
  HwConfig h = hw();
  h.buffer_slots = 1;
  Pass p;
  p.kind = PassKind::Linear;
  for (int i = 0; i < 3; ++i) {
    Step s = compute_step(10);
    s.load_cycles = 40;
    p.steps.push_back(s);
  }
  EXPECT_EQ(simulate_one(h, p), 150);
  EXPECT_EQ(analytic_one(h, p), 150);
}

TEST(Harness, PartialSumTilesStoreOnlyOnTheLastKStep) {
  // Two k-steps per output tile: only the second stores (post 30); fill 4.
  // C: [0,20] [20,40] | [40,60] [60,80]; S0 = [44, 74], S1 = [84, 114].
  const HwConfig h = hw();
  Pass p;
  p.kind = PassKind::Linear;
  p.fill_cycles = 4;
  for (int t = 0; t < 2; ++t) {
    p.steps.push_back(compute_step(20, false));
    Step s = compute_step(20, true);
    s.post_cycles = 30;
    p.steps.push_back(s);
  }
  EXPECT_EQ(simulate_one(h, p), 114);
  EXPECT_EQ(analytic_one(h, p), 114);
}

TEST(Harness, PassesRunBackToBackAndImagesInOrder) {
  const HwConfig h = hw();
  Plan a, b;
  Pass p1;
  p1.kind = PassKind::Unit;
  p1.steps = {compute_step(70)};
  Pass p2 = p1;
  p2.steps = {compute_step(30)};
  a.passes = {p1, p2};
  b.passes = {p2};
  const SimRun run = simulate(h, {&a, &b});
  ASSERT_EQ(run.plans.size(), 2u);
  EXPECT_EQ(run.plans[0].cycles(), 100);
  EXPECT_EQ(run.plans[1].cycles(), 30);
}

TEST(Harness, DmaReadTakesAtLeastItsBandwidthTime) {
  // One 96 KiB read spread over the read ports: bounded below by the ports' peak
  // and by the DDR peak, and within the analytic model's estimate plus the DDR's
  // row-switch and refresh slack.
  const HwConfig h = hw();
  Pass p;
  p.kind = PassKind::Unit;
  Step s = compute_step(1);
  s.load_a_bytes = 96 * 1024;
  p.steps = {s};
  const std::int64_t cyc = simulate_one(h, p);
  const double ports_bw = h.axi.read_ports.size() * h.port_bytes_per_cycle();
  const double ddr_bw = h.ddr.peak_bytes_per_second() / (h.frequency_mhz * 1e6);
  EXPECT_GE(cyc, static_cast<std::int64_t>(s.load_a_bytes / std::min(ports_bw, ddr_bw)));
  const std::int64_t est = analytic_one(h, p);
  EXPECT_NEAR(double(cyc), double(est), 0.1 * double(est));
}
