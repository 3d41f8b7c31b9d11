// Speed of the DDR4 controller model: DRAM bursts (64 B column commands) simulated
// per second of wall time, for the traffic shapes the accelerator produces.
// Counters: bursts/s (items_per_second) and the simulated bus efficiency.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "heatvit/ddr/controller.hpp"

using namespace heatvit::ddr;

namespace {

const DdrSpec& spec() {
  static const DdrSpec s = load_ddr_spec(std::string(HEATVIT_DDR_CONFIG_DIR) + "/ddr4-2400-x64.json");
  return s;
}

// Closed loop: `outstanding` requests of `bytes` in flight, `streams` sequential
// streams (or random addresses), `total` bytes in all. Returns simulated efficiency.
double run(bool random, bool write, std::uint32_t bytes, std::uint64_t total, int outstanding, int streams = 1) {
  const DdrSpec& s = spec();
  Controller c(s);
  std::mt19937_64 rng(1);
  const std::uint64_t n = total / bytes;
  std::uint64_t issued = 0;
  std::uint64_t next[8] = {};
  for (int i = 0; i < streams; ++i) next[i] = std::uint64_t(i) << 28;
  auto addr = [&](std::uint64_t k) {
    if (random) return (rng() % std::uint64_t(s.org.capacity_bytes())) & ~std::uint64_t(63);
    std::uint64_t& a = next[k % std::uint64_t(streams)];
    const std::uint64_t r = a;
    a += bytes;
    return r;
  };
  for (; issued < std::uint64_t(outstanding) && issued < n; ++issued) c.enqueue({issued, addr(issued), bytes, write, 0});
  std::uint64_t end = 0;
  while (!c.idle()) {
    c.advance_to(c.next_completion_ps());
    for (const Completion& d : c.completions()) {
      end = d.done_ps;
      if (issued < n) {
        c.enqueue({issued, addr(issued), bytes, write, d.done_ps});
        ++issued;
      }
    }
    c.clear_completions();
  }
  return double(total) / (double(end) * 1e-12) / s.peak_bytes_per_second();
}

void report(benchmark::State& st, std::uint64_t total, double eff) {
  st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(total / 64));
  st.counters["efficiency"] = eff;
}

void BM_SequentialRead4K(benchmark::State& st) {
  const std::uint64_t total = 64ull << 20;  // 1 M bursts
  double eff = 0;
  for (auto _ : st) eff = run(false, false, 4096, total, 8);
  report(st, total, eff);
}
BENCHMARK(BM_SequentialRead4K)->Unit(benchmark::kMillisecond);

void BM_SequentialWrite4K(benchmark::State& st) {
  const std::uint64_t total = 64ull << 20;
  double eff = 0;
  for (auto _ : st) eff = run(false, true, 4096, total, 8);
  report(st, total, eff);
}
BENCHMARK(BM_SequentialWrite4K)->Unit(benchmark::kMillisecond);

void BM_FourStreamsRead4K(benchmark::State& st) {
  const std::uint64_t total = 64ull << 20;
  double eff = 0;
  for (auto _ : st) eff = run(false, false, 4096, total, 16, 4);
  report(st, total, eff);
}
BENCHMARK(BM_FourStreamsRead4K)->Unit(benchmark::kMillisecond);

void BM_Random64B(benchmark::State& st) {
  const std::uint64_t total = 8ull << 20;  // 128 K bursts
  double eff = 0;
  for (auto _ : st) eff = run(true, false, 64, total, 32);
  report(st, total, eff);
}
BENCHMARK(BM_Random64B)->Unit(benchmark::kMillisecond);

}  // namespace
