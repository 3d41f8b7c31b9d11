// Simulator speed: SystemC simulation of one image (fork + elaboration + run), the
// analytic model, and the tabulated schedule evaluator used by design-space sweeps.
//   ./build/bin/bench_sim
#include <benchmark/benchmark.h>

#include <random>

#include "heatvit/sim/fast_eval.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/simulator.hpp"
#include "heatvit/sim/timing.hpp"

using namespace heatvit;
using namespace heatvit::sim;

namespace {

HwConfig hw() { return load_hw_config(std::string(HEATVIT_BENCH_CONFIGS) + "/hw/zcu102-heatvit.json"); }

void systemc_image(benchmark::State& state, const char* model) {
  const HwConfig h = hw();
  const Plan plan = make_plan(build_dense_workload(load_model(model)), h);
  std::int64_t cycles = 0;
  for (auto _ : state) {
    const SimRun run = simulate(h, {&plan});
    cycles += run.plans[0].cycles();
  }
  state.counters["simulated_cycles_per_s"] = benchmark::Counter(double(cycles), benchmark::Counter::kIsRate);
  state.counters["images_per_s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_SystemC_DeitSmallDense(benchmark::State& s) { systemc_image(s, "deit-small"); }
void BM_SystemC_DeitMicroDense(benchmark::State& s) { systemc_image(s, "deit-micro"); }
BENCHMARK(BM_SystemC_DeitSmallDense)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SystemC_DeitMicroDense)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SystemC_DeitMicro100Images(benchmark::State& state) {
  // Per-image simulation of 100 distinct token vectors in one elaboration.
  const HwConfig h = hw();
  const ModelShape m = load_model("deit-micro");
  std::vector<Plan> plans;
  for (int i = 0; i < 100; ++i) {
    Schedule s;
    s.selectors = {{3, 0.4 + 0.005 * i}, {6, 0.8}, {9, 0.8}};
    plans.push_back(make_plan(build_schedule_workload(m, s), h));
  }
  std::vector<const Plan*> ptrs;
  for (const auto& p : plans) ptrs.push_back(&p);
  for (auto _ : state) benchmark::DoNotOptimize(simulate(h, ptrs));
  state.counters["images_per_s"] = benchmark::Counter(100.0 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SystemC_DeitMicro100Images)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Analytic_DeitMicroScheduleFullPlan(benchmark::State& state) {
  const HwConfig h = hw();
  const ModelShape m = load_model("deit-micro");
  const AnalyticModel a(h);
  Schedule s;
  s.selectors = {{3, 0.7}, {6, 0.7}, {9, 0.7}};
  for (auto _ : state) benchmark::DoNotOptimize(a.time_plan(make_plan(build_schedule_workload(m, s), h)).cycles());
  state.counters["schedules_per_s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Analytic_DeitMicroScheduleFullPlan);

void BM_Analytic_DeitMicroScheduleTabulated(benchmark::State& state) {
  const HwConfig h = hw();
  const ModelShape m = load_model("deit-micro");
  const ScheduleEvaluator ev(m, h);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> keep(0.2, 1.0);
  std::vector<Schedule> pool(256);
  for (auto& s : pool) s.selectors = {{2, keep(rng)}, {5, keep(rng)}, {8, keep(rng)}};
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ev.cycles(pool[i++ & 255]));
  state.counters["schedules_per_s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Analytic_DeitMicroScheduleTabulated);

}  // namespace
