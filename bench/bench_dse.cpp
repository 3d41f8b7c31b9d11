// Design-space exploration throughput.
//   ./build/bin/bench_dse
// - LatencyOnly: candidates per second of the latency-only path (expected tokens,
//   tabulated analytic model, MAC table, resources, constraints) on DeiT-S, one core.
// - MicroOracle: schedule-image runs per second of the prefix-sharing integer model
//   (deit-micro, 3-selector schedules sharing prefixes), 1 and 2 threads.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "heatvit/core/paths.hpp"
#include "heatvit/dse/evaluator.hpp"
#include "heatvit/dse/oracle.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/sim/hw_config.hpp"

using namespace heatvit;
using namespace heatvit::dse;

namespace {

json composed_hw() {
  Provenance prov;
  return sim::compose_hw_config(std::string(HEATVIT_BENCH_CONFIGS) + "/hw/zcu102-heatvit.json", prov);
}

void BM_LatencyOnly_DeitSmall(benchmark::State& state) {
  const ModelShape m = load_model("deit-small");
  std::vector<int> bank;
  for (int b = 1; b < m.depth; ++b) bank.push_back(b);
  const Space sp = parse_space(json{{"schedule", {{"max_selectors", 3}}}, {"objectives", {"latency_ms_mean", "macs_per_image"}}},
                               "bench.json", bank, m.depth);
  ExpectedOracle oracle(m, "");
  Provenance prov;
  HwPoints hw(sp, m, composed_hw(), prov, "zcu102-heatvit");
  Evaluator ev(sp, m, hw, oracle);
  std::vector<Candidate> all;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(ev.schedules().size()); ++i) all.push_back({i, 0});
  std::int64_t n = 0;
  for (auto _ : state) {
    const auto ms = ev.evaluate(all, Split::Validation, 1);
    benchmark::DoNotOptimize(ms.data());
    n += static_cast<std::int64_t>(ms.size());
  }
  state.counters["candidates_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsRate);
  state.counters["space"] = double(all.size());
}
BENCHMARK(BM_LatencyOnly_DeitSmall)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MicroOracle(benchmark::State& state) {
  const std::string weights = project_root() + "/models/deit-micro/export/deit-micro-int8.hvt";
  if (!std::filesystem::exists(weights)) {
    state.SkipWithError("no deit-micro export");
    return;
  }
  const ModelShape m = load_model("deit-micro");
  const func::FuncModel fm = func::FuncModel::load(weights, m);
  const Space sp = parse_space(json{{"schedule", {{"blocks", {2, 4, 6, 8}}, {"max_selectors", 3}}}}, "bench.json",
                               fm.selector_blocks(), m.depth);
  const auto scheds = sp.schedules();
  std::int64_t runs = 0;
  for (auto _ : state) {
    MicroOracle oracle(fm, default_fashion_mnist_dir(), 1000, static_cast<int>(state.range(0)));
    oracle.thresholds(scheds.back());  // warm the loader, not timed separately
    const auto outs = oracle.run(scheds, Split::Validation, 100);
    benchmark::DoNotOptimize(outs.data());
    runs += static_cast<std::int64_t>(scheds.size()) * 100;
  }
  state.counters["schedule_images_per_s"] = benchmark::Counter(double(runs), benchmark::Counter::kIsRate);
  state.counters["schedules"] = double(scheds.size());
}
BENCHMARK(BM_MicroOracle)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace
