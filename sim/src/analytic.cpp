#include "heatvit/sim/timing.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace heatvit::sim {

std::int64_t PlanTiming::cycles() const {
  std::int64_t t = 0;
  for (const auto& p : passes) t += p.cycles;
  return t;
}
std::int64_t PlanTiming::compute_cycles() const {
  std::int64_t t = 0;
  for (const auto& p : passes) t += p.compute_cycles;
  return t;
}
std::int64_t PlanTiming::ddr_bytes() const {
  std::int64_t t = 0;
  for (const auto& p : passes) t += p.ddr_read_bytes + p.ddr_write_bytes;
  return t;
}

AnalyticModel::AnalyticModel(const HwConfig& hw) {
  const double f = hw.frequency_mhz * 1e6;
  // Sustained DDR bandwidth for streams: peak derated by refresh (tRFC every tREFI).
  const auto& t = hw.ddr.timing;
  const double refresh = hw.ddr.ctrl.refresh ? 1.0 - double(t.tRFC) / double(t.tREFI) : 1.0;
  const double ddr = hw.ddr.peak_bytes_per_second() * refresh / f;
  ddr_bw_ = ddr;
  refresh_ = refresh;
  burst_bytes_ = hw.ddr.org.bytes_per_burst();
  burst_cycles_ = hw.ddr.burst_cycles();
  rw_switch_bursts_ = hw.ddr.ctrl.rw_switch_bursts;
  // A write batch costs one write-to-read and one read-to-write turnaround (the
  // same-bank-group write-to-read spacing minus the burst already counted, and
  // read-to-write minus the burst).
  turnaround_cycles_ = double(hw.ddr.write_to_read_same_bg() - hw.ddr.burst_cycles()) +
                       double(hw.ddr.read_to_write() - hw.ddr.burst_cycles());
  pl_per_dram_ = double(t.tCK_ps) * hw.frequency_mhz / 1e6;
  max_burst_ = hw.axi.max_burst_bytes;
  slots_ = hw.buffer_slots;
  // First data: AXI/interconnect latency + a row switch (precharge, activate) and a
  // column access: a new stream rarely finds its row open, other streams use the banks.
  const double dram_ns = (t.tRP + t.tRCD + t.CL + hw.ddr.burst_cycles()) * t.tCK_ps / 1000.0;
  latency_ = hw.axi.latency_cycles + std::ceil(dram_ns * hw.frequency_mhz / 1000.0);
  // A port moves at most its width per cycle, and (Little's law) at most
  // max_outstanding bursts per round trip. A read's data slot runs while the request
  // crosses the interconnect and the DDR serves it (column access, the burst's data at
  // the DDR's rate; a stream's bursts mostly find their row open): it takes the longer
  // of the two. A write's data crosses the port first, then the DDR write is issued.
  // With the shipped presets (16 x 4 KB in flight) the width binds.
  const double width = hw.port_bytes_per_cycle(), burst = double(hw.axi.max_burst_bytes);
  const double pl_per_ns = hw.frequency_mhz / 1000.0, ddr_bytes_per_ns = hw.ddr.peak_bytes_per_second() / 1e9;
  auto dram = [&](int access_ck) { return std::ceil((access_ck * t.tCK_ps / 1000.0 + burst / ddr_bytes_per_ns) * pl_per_ns); };
  const double read_trip = std::max(burst / width, hw.axi.latency_cycles + dram(t.CL));
  const double write_trip = burst / width + hw.axi.latency_cycles + dram(t.CWL);
  const double read_port = std::min(width, hw.axi.max_outstanding * burst / read_trip);
  const double write_port = std::min(width, hw.axi.max_outstanding * burst / write_trip);
  read_bw_ = std::min(ddr, hw.axi.read_ports.size() * read_port);
  write_bw_ = std::min(ddr, hw.axi.write_ports.size() * write_port);
}

double AnalyticModel::ddr_cycles(std::int64_t read_bytes, std::int64_t write_bytes) const {
  const double rb = std::ceil(double(read_bytes) / burst_bytes_), wb = std::ceil(double(write_bytes) / burst_bytes_);
  const double switches = std::min(rb, wb) / double(rw_switch_bursts_);
  const double dram = (rb + wb) * burst_cycles_ + switches * turnaround_cycles_;
  return dram * pl_per_dram_ / refresh_;
}

double AnalyticModel::read_cycles(std::int64_t bytes) const {
  return bytes > 0 ? latency_ + std::ceil(bytes / read_bw_) : 0.0;
}

double AnalyticModel::store_read_cycles(std::int64_t bytes) const {
  // The store DMA's ports carry its reads at the same rate as its writes.
  return bytes > 0 ? latency_ + std::ceil(bytes / write_bw_) : 0.0;
}

double AnalyticModel::write_cycles(std::int64_t bytes) const {
  // Store-and-forward: a burst's data crosses the port before its DDR write is
  // issued, so the last burst's DDR transfer is not hidden.
  if (bytes <= 0) return 0.0;
  const double last = double(std::min<std::int64_t>(bytes, max_burst_));
  return latency_ + std::ceil(bytes / write_bw_) + std::ceil(last / ddr_bw_);
}

namespace {
struct Interval {
  double start = 0, end = 0, bytes = 0;
};
// The non-empty intervals of one engine, in time order. Each engine's transfers are
// sequential (a transfer starts after the previous one ended), so these are sorted by
// start and by end and do not overlap.
std::vector<Interval> nonempty(const std::vector<Interval>& v) {
  std::vector<Interval> out;
  out.reserve(v.size());
  for (const auto& o : v)
    if (o.end - o.start > 0) out.push_back(o);
  for (std::size_t i = 1; i < out.size(); ++i)
    assert(out[i - 1].end <= out[i].start && "an engine's transfers are sequential");
  return out;
}
// Bytes of `others` (nonempty(), in time order) that flow during [a, b], each spread
// evenly over its interval: the intervals from the first ending after a to the last
// starting before b, summed in order.
double overlapping_bytes(double a, double b, const std::vector<Interval>& others) {
  double sum = 0;
  auto it = std::partition_point(others.begin(), others.end(), [a](const Interval& o) { return o.end <= a; });
  for (; it != others.end() && it->start < b; ++it) {
    const double len = it->end - it->start;
    sum += it->bytes * (std::min(b, it->end) - std::max(a, it->start)) / len;
  }
  return sum;
}
}  // namespace

PassTiming AnalyticModel::time_pass(const Pass& p) const {
  const std::size_t n = p.steps.size();
  // Memory time of each step's load and store; refined once for DDR sharing below.
  std::vector<double> load_mem(n, 0.0), store_mem(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const Step& s = p.steps[i];
    load_mem[i] = read_cycles(s.load_a_bytes + s.load_b_bytes);
    store_mem[i] = store_read_cycles(s.store_read_bytes);  // + the write, below
  }
  std::vector<Interval> loads(n), stores(n);
  double store_end = 0, c_end1 = 0, busy = 0;

  // Double buffering: the load of step s needs the buffer half that step s-2
  // computed from; the compute of a new output tile needs the output half that the
  // tile two back was stored from. With one half (buffer_slots = 1): step s-1 and
  // the previous tile.
  const bool single = slots_ == 1;
  auto walk = [&](const std::vector<double>* write_mem) {
    double load_end = 0, c_end2 = 0, store_end_prev = 0;
    bool new_tile = true;
    store_end = 0;
    c_end1 = 0;
    busy = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Step& s = p.steps[i];
      const double load_start = std::max(load_end, single ? c_end1 : c_end2);
      load_end = load_start + std::max(load_mem[i], double(s.load_cycles));
      loads[i] = {load_start, load_start + load_mem[i], double(s.load_a_bytes + s.load_b_bytes)};
      double c_start = std::max(c_end1, load_end);
      if (new_tile) c_start = std::max(c_start, single ? store_end : store_end_prev);
      const double c_end = c_start + double(s.compute_cycles);
      busy += double(s.compute_cycles);
      c_end2 = c_end1;
      c_end1 = c_end;
      new_tile = s.ends_tile;
      stores[i] = {};
      if (s.ends_tile) {
        const double ready = c_end + p.fill_cycles;
        const double st = std::max(store_end, ready);
        // Residual operands are read first; post-processing streams into the write.
        const double post = s.post_cycles > 0 ? double(s.post_cycles + p.post_latency) : 0.0;
        const double write = write_mem ? (*write_mem)[i] : write_cycles(s.store_bytes);
        store_end_prev = store_end;
        store_end = st + store_mem[i] + std::max(post, write);
        stores[i] = {st, st + store_mem[i] + write, double(s.store_read_bytes + s.store_bytes)};
      }
    }
  };
  walk(nullptr);

  // Loads and stores share the DDR: a transfer that overlaps traffic of the other
  // engine takes at least the time the bus needs for both (turnarounds included).
  std::vector<double> write_mem(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) write_mem[i] = write_cycles(p.steps[i].store_bytes);
  const std::vector<Interval> load_list = nonempty(loads), store_list = nonempty(stores);
  for (std::size_t i = 0; i < n; ++i) {
    const Step& s = p.steps[i];
    const std::int64_t lb = s.load_a_bytes + s.load_b_bytes;
    if (lb > 0) {
      const double other = overlapping_bytes(loads[i].start, loads[i].end, store_list);
      load_mem[i] = std::max(load_mem[i], latency_ + ddr_cycles(lb, static_cast<std::int64_t>(other)));
    }
    if (s.ends_tile && s.store_bytes > 0) {
      const double other = overlapping_bytes(stores[i].start, stores[i].end, load_list);
      const double both = latency_ + ddr_cycles(static_cast<std::int64_t>(other) + s.store_read_bytes, s.store_bytes);
      write_mem[i] = std::max(write_mem[i], both - store_mem[i]);
    }
  }
  walk(&write_mem);

  // The pass can go no faster than moving all its bytes over the DDR bus.
  const double bound = p.steps.empty() ? 0.0 : latency_ + ddr_cycles(p.ddr_read_bytes(), p.ddr_write_bytes());
  PassTiming t;
  t.cycles = static_cast<std::int64_t>(std::ceil(std::max({store_end, c_end1, bound})));
  t.compute_cycles = static_cast<std::int64_t>(busy);
  t.stall_cycles = t.cycles - t.compute_cycles;
  t.ddr_read_bytes = p.ddr_read_bytes();
  t.ddr_write_bytes = p.ddr_write_bytes();
  return t;
}

PlanTiming AnalyticModel::time_plan(const Plan& plan) const {
  PlanTiming t;
  t.passes.reserve(plan.passes.size());
  for (const auto& p : plan.passes) t.passes.push_back(time_pass(p));
  return t;
}

}  // namespace heatvit::sim
