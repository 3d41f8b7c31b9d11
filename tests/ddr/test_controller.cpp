#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <vector>

#include "heatvit/core/error.hpp"
#include "heatvit/ddr/controller.hpp"

using namespace heatvit;
using namespace heatvit::ddr;

namespace {

DdrSpec preset() { return load_ddr_spec(std::string(HEATVIT_DDR_CONFIG_DIR) + "/ddr4-2400-x64.json"); }

struct RunResult {
  double efficiency;  // bytes / (time * peak)
  std::uint64_t end_ps;
  ControllerStats stats;
};

// Closed-loop traffic: keeps `outstanding` requests of `bytes` in the controller; a new
// one is enqueued when one completes. Sequential or uniformly random addresses.
RunResult drive(const DdrSpec& spec, bool random, bool write, std::uint32_t bytes, std::uint64_t total,
                int outstanding, std::uint64_t seed = 1) {
  Controller c(spec);
  std::mt19937_64 rng(seed);
  const std::uint64_t n = total / bytes;
  std::uint64_t issued = 0, addr = 0;
  auto next_addr = [&] {
    if (random) return (rng() % std::uint64_t(spec.org.capacity_bytes())) & ~std::uint64_t(bytes - 1);
    const std::uint64_t a = addr;
    addr += bytes;
    return a;
  };
  for (; issued < std::uint64_t(outstanding) && issued < n; ++issued) c.enqueue({issued, next_addr(), bytes, write, 0});
  std::uint64_t end = 0;
  while (!c.idle()) {
    c.advance_to(c.next_completion_ps());
    for (const Completion& d : c.completions()) {
      end = d.done_ps;
      if (issued < n) c.enqueue({issued++, next_addr(), bytes, write, d.done_ps});
    }
    c.clear_completions();
  }
  const double eff = double(n * bytes) / (double(end) * 1e-12) / spec.peak_bytes_per_second();
  return {eff, end, c.stats()};
}

}  // namespace

TEST(Controller, SingleReadLatencyClosedBank) {
  const DdrSpec s = preset();
  Controller c(s);
  c.enqueue({7, 0x12340, 64, false, 0});
  const std::uint64_t done = c.run_until_idle();
  // ACT at 0, RD at tRCD, data until tRCD + CL + BL/2.
  EXPECT_EQ(done, std::uint64_t(s.timing.tRCD + s.timing.CL + 4) * 833);
  ASSERT_EQ(c.completions().size(), 1u);
  EXPECT_EQ(c.completions()[0].id, 7u);
  EXPECT_EQ(c.stats().row_misses, 1u);
  EXPECT_EQ(c.stats().read_bytes, 64u);
}

TEST(Controller, RowHitAndConflictLatencies) {
  const DdrSpec s = preset();
  const std::uint64_t tck = 833;
  Controller c(s);
  c.enqueue({1, 0, 64, false, 0});
  c.run_until_idle();
  // Row hit, long after: RD at arrival, done CL + BL/2 later.
  const std::uint64_t t1 = 1000 * tck;
  c.enqueue({2, 256, 64, false, t1});  // same bank group/bank/row, next column
  EXPECT_EQ(c.run_until_idle(), t1 + std::uint64_t(s.timing.CL + 4) * tck);
  // Conflict: same bank, other row: PRE, ACT after tRP, RD after tRCD.
  const std::uint64_t t2 = 2000 * tck;
  const std::uint64_t other_row = std::uint64_t(1) << 17;
  c.enqueue({3, other_row, 64, false, t2});
  EXPECT_EQ(c.run_until_idle(), t2 + std::uint64_t(s.timing.tRP + s.timing.tRCD + s.timing.CL + 4) * tck);
  EXPECT_EQ(c.stats().row_hits, 1u);
  EXPECT_EQ(c.stats().row_misses, 1u);
  EXPECT_EQ(c.stats().row_conflicts, 1u);
}

TEST(Controller, WriteCompletesAfterWriteData) {
  const DdrSpec s = preset();
  Controller c(s);
  c.enqueue({1, 0, 64, true, 0});
  EXPECT_EQ(c.run_until_idle(), std::uint64_t(s.timing.tRCD + s.timing.CWL + 4) * 833);
  EXPECT_EQ(c.stats().write_bursts, 1u);
}

TEST(Controller, SplitsRequestsIntoBursts) {
  const DdrSpec s = preset();
  Controller c(s);
  c.enqueue({1, 0, 4096, false, 0});
  c.enqueue({2, 100, 100, false, 0});  // bytes 100..199 touch bursts 64, 128
  c.run_until_idle();
  EXPECT_EQ(c.stats().read_bursts, 64u + 3u);
  EXPECT_EQ(c.stats().read_bytes, 4196u);
  EXPECT_THROW(c.enqueue({3, 0, 0, false, 0}), InputError);
}

TEST(Controller, SequentialStreamingEfficiency) {
  const DdrSpec s = preset();
  const double refresh_bound = 1.0 - double(s.timing.tRFC) / double(s.timing.tREFI);
  const RunResult rd = drive(s, false, false, 4096, 16 << 20, 8);
  const RunResult wr = drive(s, false, true, 4096, 16 << 20, 8);
  std::printf("sequential read efficiency %.3f, write %.3f (refresh bound %.3f)\n", rd.efficiency, wr.efficiency,
              refresh_bound);
  EXPECT_GE(rd.efficiency, 0.80);
  EXPECT_LE(rd.efficiency, refresh_bound);
  EXPECT_GE(wr.efficiency, 0.80);
  EXPECT_LE(wr.efficiency, refresh_bound);
  EXPECT_GT(rd.stats.row_hits, 60 * (rd.stats.row_misses + rd.stats.row_conflicts));
}

TEST(Controller, RandomRowMissTrafficIsFarSlower) {
  const DdrSpec s = preset();
  const RunResult seq = drive(s, false, false, 4096, 8 << 20, 8);
  const RunResult deep = drive(s, true, false, 64, 1 << 20, 32);   // many banks busy at once
  const RunResult single = drive(s, true, false, 64, 256 << 10, 1);  // one at a time
  std::printf("random 64 B read efficiency: 32 outstanding %.3f, 1 outstanding %.3f (sequential %.3f)\n",
              deep.efficiency, single.efficiency, seq.efficiency);
  // With 32 requests in flight, tFAW (4 ACTs per 26 nCK) caps it at 16/26 = 0.62.
  EXPECT_LT(deep.efficiency, 0.65);
  EXPECT_LT(deep.efficiency, 0.7 * seq.efficiency);
  // One at a time: latency bound, ~ 4 / (tRP + tRCD + CL + 4).
  EXPECT_LT(single.efficiency, 0.12);
  EXPECT_GT(deep.stats.row_conflicts + deep.stats.row_misses, 50 * deep.stats.row_hits);
}

TEST(Controller, RefreshIsVisible) {
  DdrSpec s = preset();
  const std::uint64_t trefi_ps = std::uint64_t(s.timing.tREFI) * 833;
  {
    // Tight tREFI gate: the k-th REF is issued in cycle k x tREFI (idle banks), so it
    // is not yet committed before that cycle's start and is right after it.
    Controller c(s);
    c.advance_to(10 * trefi_ps);
    EXPECT_EQ(c.stats().refreshes, 9u);
    c.advance_to(10 * trefi_ps + 1);
    EXPECT_EQ(c.stats().refreshes, 10u);
  }
  {
    // A read arriving when refresh is due waits for it.
    Controller c(s);
    c.enqueue({1, 0, 64, false, trefi_ps});
    const std::uint64_t done = c.run_until_idle();
    EXPECT_EQ(done - trefi_ps, std::uint64_t(s.timing.tRFC + s.timing.tRCD + s.timing.CL + 4) * 833);
  }
  // Streaming without refresh is faster by about tRFC / tREFI.
  const RunResult with = drive(s, false, false, 4096, 16 << 20, 8);
  s.ctrl.refresh = false;
  const RunResult without = drive(s, false, false, 4096, 16 << 20, 8);
  const double overhead = 1.0 - with.efficiency / without.efficiency;
  std::printf("refresh overhead on sequential reads: %.2f %% (without refresh %.3f)\n", 100 * overhead,
              without.efficiency);
  EXPECT_EQ(without.stats.refreshes, 0u);
  EXPECT_GT(with.stats.refreshes, 0u);
  EXPECT_GT(overhead, 0.02);
  EXPECT_LT(overhead, 0.08);
}

TEST(Controller, AddressMappingDecidesStreamingRate) {
  DdrSpec s = preset();
  s.ctrl.address_mapping = "RoBaBgCo";  // a whole 8 KB row in one bank: tCCD_L between bursts
  const RunResult one = drive(s, false, false, 4096, 8 << 20, 8);
  // Four streams 8 KB apart land in the four bank groups and interleave at tCCD_S.
  Controller c(s);
  std::uint64_t id = 0;
  for (std::uint64_t i = 0; i < 512; ++i)
    for (std::uint64_t g = 0; g < 4; ++g) c.enqueue({id++, g * 8192 + (i / 2) * 32768 + (i % 2) * 4096, 4096, false, 0});
  const double four = double(id * 4096) / (double(c.run_until_idle()) * 1e-12) / s.peak_bytes_per_second();
  std::printf("RoBaBgCo: one sequential stream %.3f, four streams in four bank groups %.3f\n", one.efficiency, four);
  // Inside a row bursts are tCCD_L apart (4/6 of peak); only near the 8 KB row ends
  // does the window hold bursts of the next bank group to interleave.
  const double ccd_bound = double(s.timing.tCCD_S) / double(s.timing.tCCD_L);
  EXPECT_GT(one.efficiency, 0.95 * ccd_bound);
  EXPECT_LT(one.efficiency, 0.8);
  EXPECT_GT(four, 0.9);
}

TEST(Controller, FrFcfsServesRowHitsFirst) {
  for (SchedulerKind kind : {SchedulerKind::FrFcfs, SchedulerKind::Fcfs}) {
    DdrSpec s = preset();
    s.ctrl.scheduler = kind;
    Controller c(s);
    c.enqueue({1, 0, 64, false, 0});  // opens row 0 of bank 0
    c.run_until_idle();
    const std::uint64_t t = 200 * 833;
    c.enqueue({2, std::uint64_t(1) << 17, 64, false, t});  // bank 0, row 1: conflict, older
    c.enqueue({3, 256, 64, false, t});                     // bank 0, row 0: hit, younger
    c.run_until_idle();
    ASSERT_EQ(c.completions().size(), 3u);
    if (kind == SchedulerKind::FrFcfs) {
      EXPECT_EQ(c.completions()[1].id, 3u);
      EXPECT_EQ(c.completions()[2].id, 2u);
    } else {
      EXPECT_EQ(c.completions()[1].id, 2u);
      EXPECT_EQ(c.completions()[2].id, 3u);
    }
  }
}

TEST(Controller, ClosedPagePolicyPrechargesAfterAccess) {
  DdrSpec s = preset();
  s.ctrl.page_policy = PagePolicy::Closed;
  Controller c(s);
  c.enqueue({1, 0, 64, false, 0});
  c.run_until_idle();
  const std::uint64_t t = 1000 * 833;
  c.enqueue({2, 256, 64, false, t});  // same row, but it was closed
  EXPECT_EQ(c.run_until_idle(), t + std::uint64_t(s.timing.tRCD + s.timing.CL + 4) * 833);
  EXPECT_EQ(c.stats().row_hits, 0u);
  EXPECT_EQ(c.stats().row_misses, 2u);
  EXPECT_EQ(c.stats().precharges, 2u);
  // Bursts of one request to the same row stay hits.
  c.enqueue({3, 1 << 20, 4096, false, 2000 * 833});
  c.run_until_idle();
  EXPECT_EQ(c.stats().row_hits, 60u);
}

TEST(Controller, ReadWriteTurnaroundCosts) {
  const DdrSpec s = preset();
  // A read stream and a write stream, 4 KB requests interleaved. `write_offset` puts
  // the write stream in the same bank indices as the reads (0: the streams conflict
  // in the banks too) or in other banks (32 KB = next bank index with RoBaCoBg).
  auto mixed = [&](std::uint64_t write_offset, ControllerStats* st) {
    Controller c(s);
    std::uint64_t id = 0;
    for (int i = 0; i < 256; ++i) {
      c.enqueue({id++, std::uint64_t(i) * 8192, 4096, false, 0});
      c.enqueue({id++, (std::uint64_t(1) << 30) + write_offset + std::uint64_t(i) * 8192, 4096, true, 0});
    }
    const std::uint64_t end = c.run_until_idle();
    *st = c.stats();
    return 2.0 * 256 * 4096 / (double(end) * 1e-12) / s.peak_bytes_per_second();
  };
  ControllerStats same, apart;
  const double eff_same = mixed(0, &same);
  const double eff_apart = mixed(32768, &apart);
  const RunResult pure = drive(s, false, false, 4096, 2 * 256 * 4096, 8);
  std::printf("mixed read/write efficiency: %.3f (streams share banks, %lu turnarounds, %lu conflicts), "
              "%.3f (streams in different banks, %lu turnarounds); read-only %.3f\n",
              eff_same, static_cast<unsigned long>(same.rw_turnarounds), static_cast<unsigned long>(same.row_conflicts),
              eff_apart, static_cast<unsigned long>(apart.rw_turnarounds), pure.efficiency);
  for (const ControllerStats* st : {&same, &apart}) {
    EXPECT_GT(st->rw_turnarounds, 0u);
    // Batching (rw_switch_bursts) keeps the bus from turning around every burst.
    EXPECT_LE(st->rw_turnarounds, (st->read_bursts + st->write_bursts) / 16);
  }
  EXPECT_LT(eff_apart, pure.efficiency);
  EXPECT_LT(eff_same, eff_apart);
  EXPECT_GT(same.row_conflicts, 2 * apart.row_conflicts);
  EXPECT_GT(eff_same, 0.6);
}

TEST(Controller, IncrementalAdvanceMatchesPrediction) {
  // Speculative next_completion_ps() + advance_to() must give the same schedule as
  // fine-grained advance_to() steps that never use the prediction.
  const DdrSpec s = preset();
  std::mt19937_64 rng(3);
  std::vector<Request> reqs;
  std::uint64_t t = 0;
  for (int i = 0; i < 400; ++i) {
    t += rng() % 40000;
    const bool w = rng() % 3 == 0;
    const std::uint32_t bytes = std::uint32_t(64 * (1 + rng() % 32));
    reqs.push_back({std::uint64_t(i), (rng() % (std::uint64_t(1) << 28)) & ~std::uint64_t(63), bytes, w, t});
  }
  auto by_prediction = [&] {
    Controller c(s);
    for (const Request& r : reqs) c.enqueue(r);
    c.run_until_idle();
    return c.completions();
  };
  auto by_steps = [&] {
    Controller c(s);
    std::size_t next = 0;
    for (std::uint64_t now = 0; next < reqs.size() || !c.idle(); now += 7919) {
      while (next < reqs.size() && reqs[next].arrival_ps <= now + 7919) c.enqueue(reqs[next++]);
      c.advance_to(now);
      if (now % 3 == 0) c.next_completion_ps();  // predictions that get discarded
    }
    return c.completions();
  };
  const auto a = by_prediction();
  const auto b = by_steps();
  ASSERT_EQ(a.size(), reqs.size());
  ASSERT_EQ(b.size(), reqs.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id) << i;
    EXPECT_EQ(a[i].done_ps, b[i].done_ps) << i;
  }
}

TEST(Controller, StatsJson) {
  const DdrSpec s = preset();
  Controller c(s);
  c.enqueue({1, 0, 1 << 16, false, 0});
  c.run_until_idle();
  const json j = to_json(c.stats(), s);
  EXPECT_EQ(j["read_bytes"], 1 << 16);
  EXPECT_EQ(j["read_bursts"], 1024);
  EXPECT_GT(j["bus_utilization"].get<double>(), 0.8);
  EXPECT_GT(j["avg_read_latency_ns"].get<double>(), 0.0);
}

TEST(Controller, Zcu102PresetStreaming) {
  const DdrSpec s = load_ddr_spec(std::string(HEATVIT_DDR_CONFIG_DIR) + "/ddr4-2133-zcu102.json");
  const RunResult rd = drive(s, false, false, 4096, 16 << 20, 8);
  const RunResult rnd = drive(s, true, false, 64, 1 << 20, 32);
  std::printf("ZCU102 DDR4-2133: sequential read efficiency %.3f (%.2f GB/s), random 64 B %.3f\n", rd.efficiency,
              rd.efficiency * s.peak_bytes_per_second() / 1e9, rnd.efficiency);
  EXPECT_GE(rd.efficiency, 0.80);
  EXPECT_LE(rd.efficiency, 1.0 - double(s.timing.tRFC) / double(s.timing.tREFI));
  EXPECT_LT(rnd.efficiency, 0.7);
}

TEST(Controller, RandomizedConfigurationsStayLegalAndComplete) {
  // Every command goes through TimingState::issue(), which throws on any timing or
  // bank-state violation; here many configurations and traffic mixes must run clean
  // and complete every request exactly once.
  std::mt19937_64 rng(11);
  const char* mappings[] = {"RoBaCoBg", "RoBaBgCo", "RoCoBaBg", "RoBaCo5BgCo2", "BaRoBgCo"};
  for (int round = 0; round < 24; ++round) {
    DdrSpec s = preset();
    s.ctrl.queue_depth = int(1 + rng() % 64);
    s.ctrl.page_policy = rng() % 2 ? PagePolicy::Open : PagePolicy::Closed;
    s.ctrl.scheduler = rng() % 3 ? SchedulerKind::FrFcfs : SchedulerKind::Fcfs;
    s.ctrl.refresh = rng() % 4 != 0;
    s.ctrl.rw_switch_bursts = int(1 + rng() % 40);
    s.ctrl.address_mapping = mappings[rng() % 5];
    if (round % 3 == 0) s.timing.tREFI = 700;  // refresh often, mid-traffic
    Controller c(s);
    std::uint64_t t = 0, bytes = 0;
    const int n = 300;
    for (int i = 0; i < n; ++i) {
      t += rng() % 20000;
      const std::uint32_t len = std::uint32_t(1 + rng() % 3000);
      bytes += len;
      c.enqueue({std::uint64_t(i), rng() % (std::uint64_t(1) << 34), len, rng() % 2 == 0, t});
    }
    ASSERT_NO_THROW(c.run_until_idle()) << "round " << round;
    ASSERT_EQ(c.completions().size(), std::size_t(n));
    std::vector<int> seen(n, 0);
    for (const Completion& d : c.completions()) {
      ++seen[d.id];
      EXPECT_GT(d.done_ps, d.arrival_ps);
    }
    for (int k : seen) EXPECT_EQ(k, 1);
    EXPECT_EQ(c.stats().read_bytes + c.stats().write_bytes, bytes);
    EXPECT_EQ(c.stats().row_hits + c.stats().row_misses + c.stats().row_conflicts,
              c.stats().read_bursts + c.stats().write_bursts);
  }
}
