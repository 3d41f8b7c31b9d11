// The production DDR controller against its reference (reference_controller.hpp, the
// scheduler before the speed work): on random request streams over many configurations
// both must report the same completions at the same times and the same statistics,
// after every call. Any difference in a scheduling decision changes a completion time
// or a counter (row hits, turnarounds, precharges) and fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "heatvit/ddr/controller.hpp"
#include "reference_controller.hpp"

using namespace heatvit;
using namespace heatvit::ddr;

namespace {

DdrSpec preset(const char* name) { return load_ddr_spec(std::string(HEATVIT_DDR_CONFIG_DIR) + "/" + name); }

void expect_same_stats(const ControllerStats& a, const ControllerStats& b, const std::string& where) {
  EXPECT_EQ(a.read_requests, b.read_requests) << where;
  EXPECT_EQ(a.write_requests, b.write_requests) << where;
  EXPECT_EQ(a.read_bytes, b.read_bytes) << where;
  EXPECT_EQ(a.write_bytes, b.write_bytes) << where;
  EXPECT_EQ(a.read_bursts, b.read_bursts) << where;
  EXPECT_EQ(a.write_bursts, b.write_bursts) << where;
  EXPECT_EQ(a.row_hits, b.row_hits) << where;
  EXPECT_EQ(a.row_misses, b.row_misses) << where;
  EXPECT_EQ(a.row_conflicts, b.row_conflicts) << where;
  EXPECT_EQ(a.activates, b.activates) << where;
  EXPECT_EQ(a.precharges, b.precharges) << where;
  EXPECT_EQ(a.refreshes, b.refreshes) << where;
  EXPECT_EQ(a.rw_turnarounds, b.rw_turnarounds) << where;
  EXPECT_EQ(a.data_bus_busy_cycles, b.data_bus_busy_cycles) << where;
  EXPECT_EQ(a.read_latency_ps_sum, b.read_latency_ps_sum) << where;
  EXPECT_EQ(a.write_latency_ps_sum, b.write_latency_ps_sum) << where;
  EXPECT_EQ(a.cycles, b.cycles) << where;
}

struct Traffic {
  int streams;           // concurrent sequential streams (DMA-like); 0 = random addresses only
  std::uint32_t max_bytes;
  int write_percent;
  std::uint64_t max_gap_ps;  // between consecutive arrivals
};

/// Predictions that run_pair() saw survive an enqueue (and checked).
std::uint64_t g_kept_predictions = 0;

/// Drives both controllers through the same calls: closed-loop traffic that enqueues on
/// completions (as the SystemC target does), predictions that get discarded, fine
/// advance_to() steps, arrivals in the past and in the future.
void run_pair(const DdrSpec& spec, const Traffic& tr, std::uint64_t seed, int requests, int addr_bits = 33) {
  Controller c(spec);
  reference::ReferenceController r(spec);
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> stream_addr(static_cast<std::size_t>(std::max(tr.streams, 1)));
  for (auto& a : stream_addr) a = (rng() % (std::uint64_t(1) << (addr_bits - 3))) & ~std::uint64_t(4095);
  std::uint64_t now = 0, arrival = 0, id = 0;
  auto make = [&]() {
    Request q;
    q.id = id++;
    q.bytes = std::uint32_t(1 + rng() % tr.max_bytes);
    if (rng() % 4 == 0) q.bytes = 64 * std::uint32_t(1 + rng() % 64);
    q.is_write = int(rng() % 100) < tr.write_percent;
    if (tr.streams > 0 && rng() % 8 != 0) {
      auto& a = stream_addr[rng() % stream_addr.size()];
      q.address = a;
      a += q.bytes;
    } else {
      q.address = rng() % (std::uint64_t(1) << addr_bits);
    }
    arrival += rng() % (tr.max_gap_ps + 1);
    // Now and then an arrival in the past (treated as now) or far in the future.
    if (rng() % 16 == 0) q.arrival_ps = now > 5000 ? now - 5000 : 0;
    else if (rng() % 32 == 0) q.arrival_ps = arrival + 2000000;
    else q.arrival_ps = arrival;
    return q;
  };
  const std::string where = spec.ctrl.address_mapping + " seed " + std::to_string(seed);
  std::size_t reported = 0;
  for (int i = 0; i < 8 && int(id) < requests; ++i) {
    const Request q = make();
    c.enqueue(q);
    r.enqueue(q);
  }
  int calls = 0;
  while (!(c.idle() && int(id) >= requests)) {
    ASSERT_EQ(c.idle(), r.idle()) << where;
    const int action = int(rng() % 10);
    if (action < 6 || c.idle()) {
      const std::uint64_t a = c.next_completion_ps();
      ASSERT_EQ(a, r.next_completion_ps()) << where << " call " << calls;
      if (a == Controller::kNever) {
        now += 10000;
      } else {
        now = std::max(now, a);
      }
    } else if (action < 8) {
      now += rng() % 20000;
    } else {
      c.next_completion_ps();  // a prediction about to be discarded, or kept
      r.next_completion_ps();
      now += rng() % 3000;
      Request q = make();
      // Half of them arrive as early as they may: at the time already simulated.
      if (rng() % 2 == 0) q.arrival_ps = c.now_ps();
      c.enqueue(q);
      r.enqueue(q);
      // A prediction the new request leaves standing is still the next completion with
      // it (the reference predicts anew).
      if (c.prediction_holds()) {
        ++g_kept_predictions;
        ASSERT_EQ(c.next_completion_ps(), r.next_completion_ps()) << where << " call " << calls;
      }
    }
    c.advance_to(now);
    r.advance_to(now);
    ++calls;
    ASSERT_EQ(c.completions().size(), r.completions().size()) << where << " call " << calls;
    for (; reported < c.completions().size(); ++reported) {
      const Completion& x = c.completions()[reported];
      const Completion& y = r.completions()[reported];
      ASSERT_EQ(x.id, y.id) << where << " completion " << reported;
      ASSERT_EQ(x.done_ps, y.done_ps) << where << " completion " << reported;
      ASSERT_EQ(x.arrival_ps, y.arrival_ps) << where;
      if (int(id) < requests && rng() % 3 != 0) {
        Request q = make();
        q.arrival_ps = std::max(q.arrival_ps, x.done_ps);
        c.enqueue(q);
        r.enqueue(q);
      }
    }
    expect_same_stats(c.stats(), r.stats(), where + " call " + std::to_string(calls));
    if (::testing::Test::HasFailure()) return;
    if (c.idle() && int(id) < requests) {
      const Request q = make();
      c.enqueue(q);
      r.enqueue(q);
    }
  }
  expect_same_stats(c.stats(), r.stats(), where + " end");
}

int log2_of(int v) {
  int b = 0;
  while ((1 << b) < v) ++b;
  return b;
}

/// A mapping string covering the field widths exactly, each field split into 1-3
/// parts in random order (e.g. "Co2BaRo7BgCo5Ro9").
std::string random_mapping(std::mt19937_64& rng, const int width[4]) {
  static const char* names[4] = {"Ro", "Ba", "Bg", "Co"};
  std::vector<std::pair<int, int>> parts;
  for (int f = 0; f < 4; ++f) {
    int left = width[f];
    if (left == 0) continue;
    const int k = std::min(left, 1 + int(rng() % 3));
    for (int i = 0; i < k - 1; ++i) {
      const int p = 1 + int(rng() % std::uint64_t(left - (k - 1 - i)));
      parts.push_back({f, p});
      left -= p;
    }
    parts.push_back({f, left});
  }
  std::shuffle(parts.begin(), parts.end(), rng);
  std::string m;
  for (const auto& [f, p] : parts) m += std::string(names[f]) + std::to_string(p);
  return m;
}

}  // namespace

TEST(ControllerEquivalence, ShippedPresetsStreaming) {
  g_kept_predictions = 0;
  for (const char* p : {"ddr4-2400-x64.json", "ddr4-2133-zcu102.json"}) {
    const DdrSpec s = preset(p);
    run_pair(s, {4, 8192, 10, 3000}, 1, 600);
    run_pair(s, {2, 4096, 50, 20000}, 2, 600);
    run_pair(s, {6, 4096, 0, 500}, 3, 600);
    // Long one-direction streams: the controller's streaming loop and its runs (a
    // request's bursts per bank) over many commands at a time.
    run_pair(s, {3, 65536, 0, 200}, 4, 300);
    run_pair(s, {3, 65536, 100, 200}, 5, 300);
    run_pair(s, {1, 262144, 3, 0}, 6, 100);
  }
  EXPECT_GT(g_kept_predictions, 100u);
}

namespace {

/// Runs both controllers until idle: the same `n` completions at the same times, the
/// same statistics.
void run_both_to_idle(Controller& c, reference::ReferenceController& r, std::size_t n, const std::string& where) {
  c.run_until_idle();
  r.run_until_idle();
  ASSERT_EQ(c.completions().size(), n) << where;
  ASSERT_EQ(r.completions().size(), n) << where;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(c.completions()[i].id, r.completions()[i].id) << where << " " << i;
    EXPECT_EQ(c.completions()[i].done_ps, r.completions()[i].done_ps) << where << " " << i;
  }
  expect_same_stats(c.stats(), r.stats(), where);
}

}  // namespace

// The two cases in which an enqueued request leaves the controller's prediction
// standing (Controller::enqueue): each must give what predicting anew gives.
TEST(ControllerEquivalence, PredictionKeptForARequestQueuedBehindAPendingOne) {
  const DdrSpec s = preset("ddr4-2133-zcu102.json");
  Controller c(s);
  reference::ReferenceController r(s);
  // Two long reads: the second waits for window space until long after the first has
  // completed, so the prediction (the first's completion) ends with it still pending.
  for (const Request& q : {Request{1, 0, 65536, false, 0}, Request{2, 1 << 20, 65536, false, 1000}}) {
    c.enqueue(q);
    r.enqueue(q);
  }
  const std::uint64_t first = c.next_completion_ps();
  ASSERT_EQ(first, r.next_completion_ps());
  ASSERT_TRUE(c.prediction_holds());
  // Arrives long before the predicted completion, behind the second read.
  const Request late{3, 1 << 21, 4096, false, 2000};
  c.enqueue(late);
  r.enqueue(late);
  EXPECT_TRUE(c.prediction_holds());
  EXPECT_EQ(c.next_completion_ps(), first);
  EXPECT_EQ(r.next_completion_ps(), first);
  // One arriving before the second read goes ahead of it in the window: not kept.
  Controller c2(s);
  for (const Request& q : {Request{1, 0, 65536, false, 0}, Request{2, 1 << 20, 65536, false, 1000}}) c2.enqueue(q);
  c2.next_completion_ps();
  c2.enqueue({3, 1 << 21, 4096, false, 500});
  EXPECT_FALSE(c2.prediction_holds());
  run_both_to_idle(c, r, 3, "queued behind a pending request");
}

TEST(ControllerEquivalence, PredictionOfARequestInFlightKeptForAnyNewRequest) {
  const DdrSpec s = preset("ddr4-2133-zcu102.json");
  Controller c(s);
  reference::ReferenceController r(s);
  const Request one{1, 0, 64, false, 0};
  c.enqueue(one);
  r.enqueue(one);
  const std::uint64_t done = c.next_completion_ps();
  ASSERT_EQ(done, r.next_completion_ps());
  // Just before the data: the read's command is issued and nothing new can finish first.
  const std::uint64_t at = done - std::uint64_t(s.timing.tCK_ps);
  c.advance_to(at);
  r.advance_to(at);
  ASSERT_TRUE(c.completions().empty());
  ASSERT_EQ(c.next_completion_ps(), done);
  ASSERT_TRUE(c.prediction_holds());
  for (std::uint64_t id = 2; id < 6; ++id) {
    const Request q{id, id << 16, 64 * std::uint32_t(id), id % 2 == 0, at + (id - 2) * 100};
    c.enqueue(q);
    r.enqueue(q);
    EXPECT_TRUE(c.prediction_holds()) << id;
    EXPECT_EQ(c.next_completion_ps(), done) << id;
    EXPECT_EQ(r.next_completion_ps(), done) << id;
  }
  run_both_to_idle(c, r, 5, "request in flight");
}

// Reads and writes at the same time, each in banks of their own, all row hits: the
// streaming loop serves such a window in the direction the scheduler allows, switching
// after rw_switch_bursts bursts when the other direction waits (Controller::streaming).
TEST(ControllerEquivalence, ReadAndWriteStreamsInSeparateBanks) {
  for (const int rw_switch : {32, 4, 1}) {
    DdrSpec s = preset("ddr4-2133-zcu102.json");
    s.ctrl.rw_switch_bursts = rw_switch;
    Controller c(s);
    reference::ReferenceController r(s);
    // 32 KB from address 0 fill one row of bank 0 of each group; the next 32 KB, bank 1's.
    const std::uint64_t span = 32768;
    ASSERT_NE(c.mapper().flat_bank(c.mapper().map(0)), c.mapper().flat_bank(c.mapper().map(span)));
    std::uint64_t id = 0;
    for (int k = 0; k < 200; ++k) {
      const std::uint64_t off = (std::uint64_t(k) * 4096) % span;
      const std::uint64_t t = std::uint64_t(k) * 900000;  // about the AXI port's pace
      for (const Request& q : {Request{id, off, 4096, false, t}, Request{id + 1, span + off, 4096, true, t + 300000}}) {
        c.enqueue(q);
        r.enqueue(q);
      }
      id += 2;
    }
    run_both_to_idle(c, r, 400, "rw_switch_bursts " + std::to_string(rw_switch));
    EXPECT_GT(c.stats().rw_turnarounds, 100u);
    EXPECT_EQ(c.stats().row_conflicts, 0u);
  }
}

TEST(ControllerEquivalence, RandomConfigurations) {
  std::mt19937_64 rng(29);
  const char* mappings[] = {"RoBaCoBg", "RoBaBgCo", "RoCoBaBg", "RoBaCo5BgCo2", "BaRoBgCo", "RoCo3BaBgCo4"};
  for (int round = 0; round < 60; ++round) {
    DdrSpec s = preset(round % 2 ? "ddr4-2400-x64.json" : "ddr4-2133-zcu102.json");
    s.ctrl.queue_depth = int(1 + rng() % 64);
    s.ctrl.page_policy = rng() % 3 ? PagePolicy::Open : PagePolicy::Closed;
    s.ctrl.scheduler = rng() % 4 ? SchedulerKind::FrFcfs : SchedulerKind::Fcfs;
    s.ctrl.refresh = rng() % 4 != 0;
    s.ctrl.rw_switch_bursts = int(1 + rng() % 40);
    s.ctrl.address_mapping = mappings[rng() % 6];
    if (round % 3 == 0) s.timing.tREFI = 700 + int(rng() % 2000);  // refresh often, mid-traffic
    const Traffic tr{int(rng() % 6), std::uint32_t(64 + rng() % 6000), int(rng() % 101),
                     std::uint64_t(rng() % 30000)};
    SCOPED_TRACE("round " + std::to_string(round));
    run_pair(s, tr, 100 + std::uint64_t(round), 250);
    if (::testing::Test::HasFailure()) return;
  }
}

// The controller maps a burst as the OR of the mappings of its low 10 and its high
// index bits (the mapping is a bit permutation): checked for random geometries and
// split mappings, addresses up to 2^48 (bits beyond the geometry dropped in both).
TEST(ControllerEquivalence, MappingSplitsIntoLowAndHighBits) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    DdrOrganization o;
    o.bank_groups = 1 << (rng() % 3);
    o.banks_per_group = 1 << (rng() % 4);
    o.rows = 1 << (1 + rng() % 17);
    o.columns = 8 << (rng() % 9);
    const int width[4] = {log2_of(o.rows), log2_of(o.banks_per_group), log2_of(o.bank_groups),
                          log2_of(o.bursts_per_row())};
    const std::string m = random_mapping(rng, width);
    const AddressMapper am(o, m);
    for (int i = 0; i < 500; ++i) {
      const std::uint64_t a = (rng() % (std::uint64_t(1) << (rng() % 48 + 1))) & ~std::uint64_t(63);
      const std::uint64_t burst = a >> am.offset_bits();
      const DramAddress d = am.map(a);
      const DramAddress lo = am.map((burst & 1023) << am.offset_bits());
      const DramAddress hi = am.map(((burst >> 10) << 10) << am.offset_bits());
      ASSERT_EQ(am.flat_bank(d), am.flat_bank(lo) | am.flat_bank(hi)) << m;
      ASSERT_EQ(d.row, lo.row | hi.row) << m;
    }
  }
}

TEST(ControllerEquivalence, RandomGeometriesAndSplitMappings) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 80; ++round) {
    DdrSpec s = preset(round % 2 ? "ddr4-2400-x64.json" : "ddr4-2133-zcu102.json");
    s.org.bank_groups = 1 << (rng() % 3);
    s.org.banks_per_group = 1 << (rng() % 4);
    s.org.rows = 1 << (1 + rng() % 16);
    s.org.columns = 8 << (rng() % 8);
    const int width[4] = {log2_of(s.org.rows), log2_of(s.org.banks_per_group), log2_of(s.org.bank_groups),
                          log2_of(s.org.bursts_per_row())};
    s.ctrl.address_mapping = random_mapping(rng, width);
    s.ctrl.queue_depth = int(1 + rng() % 64);
    s.ctrl.page_policy = rng() % 3 ? PagePolicy::Open : PagePolicy::Closed;
    s.ctrl.scheduler = rng() % 5 ? SchedulerKind::FrFcfs : SchedulerKind::Fcfs;
    s.ctrl.refresh = rng() % 4 != 0;
    s.ctrl.rw_switch_bursts = int(1 + rng() % 40);
    if (round % 3 == 0) s.timing.tREFI = 800 + int(rng() % 2000);
    const Traffic tr{int(rng() % 8), std::uint32_t(64 + rng() % 8000), int(rng() % 101),
                     std::uint64_t(rng() % 40000)};
    const int addr_bits = 12 + int(rng() % 30);
    SCOPED_TRACE("round " + std::to_string(round) + " mapping " + s.ctrl.address_mapping);
    run_pair(s, tr, 1000 + std::uint64_t(round), 200, addr_bits);
    if (::testing::Test::HasFailure()) return;
  }
}
