#define SC_INCLUDE_DYNAMIC_PROCESSES  // sc_spawn for the worker pool
#include "heatvit/ddr/axi_hp_port.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "heatvit/core/error.hpp"

namespace heatvit::ddr {

using sc_core::sc_time;

AxiPortConfig parse_axi_port_config(ConfigReader& r) {
  AxiPortConfig c;
  c.width_bits = unsigned(r.integer("width_bits", 128, 32, 128));
  if (c.width_bits != 32 && c.width_bits != 64 && c.width_bits != 128)
    r.fail("width_bits", "must be 32, 64 or 128, got " + std::to_string(c.width_bits));
  const double mhz = r.number("frequency_mhz", 300.0, 0.0, 2000.0, true);
  c.clock_period = sc_time(std::round(1e6 / mhz), sc_core::SC_PS);
  c.max_outstanding = unsigned(r.integer("max_outstanding", 16, 1, 256));
  c.latency_cycles = unsigned(r.integer("latency_cycles", 30, 0, 100000));
  c.max_burst_beats = unsigned(r.integer("max_burst_beats", 256, 1, 256));
  return c;
}

json to_json(const AxiPortStats& s) {
  auto one = [](const AxiChannelStats& c) {
    return json{{"transactions", c.transactions}, {"bursts", c.bursts}, {"bytes", c.bytes}, {"busy_cycles", c.busy_cycles}};
  };
  return json{{"read", one(s.read)}, {"write", one(s.write)}};
}

AxiHpPort::AxiHpPort(sc_core::sc_module_name name, const AxiPortConfig& cfg)
    : sc_module(name), target("target"), initiator("initiator"), cfg_(cfg) {
  const std::string where = std::string("AXI port ") + basename();
  if (cfg.width_bits != 32 && cfg.width_bits != 64 && cfg.width_bits != 128)
    throw InputError(where, "width_bits", "must be 32, 64 or 128, got " + std::to_string(cfg.width_bits));
  if (cfg.max_outstanding == 0) throw InputError(where, "max_outstanding", "must be positive");
  if (cfg.max_burst_beats == 0 || cfg.max_burst_beats > 256)
    throw InputError(where, "max_burst_beats", "must be in [1, 256], got " + std::to_string(cfg.max_burst_beats));
  if (cfg.clock_period <= sc_core::SC_ZERO_TIME) throw InputError(where, "clock_period", "must be positive");

  target.register_b_transport(this, &AxiHpPort::b_transport);
  rd_.is_write = false;
  rd_.stats = &stats_.read;
  wr_.is_write = true;
  wr_.stats = &stats_.write;
  // A fixed pool of workers per direction: one per outstanding burst.
  for (unsigned i = 0; i < cfg.max_outstanding; ++i) {
    sc_core::sc_event& rw = rd_.wake.emplace_back();
    sc_core::sc_event& ww = wr_.wake.emplace_back();
    sc_core::sc_spawn([this, &rw] { worker(rd_, rw); }, sc_core::sc_gen_unique_name("rd_worker"));
    sc_core::sc_spawn([this, &ww] { worker(wr_, ww); }, sc_core::sc_gen_unique_name("wr_worker"));
  }
}

void AxiHpPort::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  if (delay > sc_core::SC_ZERO_TIME) wait(delay);
  delay = sc_core::SC_ZERO_TIME;
  const tlm::tlm_command cmd = trans.get_command();
  if (cmd != tlm::TLM_READ_COMMAND && cmd != tlm::TLM_WRITE_COMMAND) {
    trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  Channel& ch = cmd == tlm::TLM_WRITE_COMMAND ? wr_ : rd_;
  const std::uint64_t beat = cfg_.bytes_per_beat();
  const std::uint64_t max_burst = beat * cfg_.max_burst_beats;
  const sc_time period = cfg_.clock_period;
  const sc_time latency = period * double(cfg_.latency_cycles);

  std::uint64_t addr = trans.get_address();
  std::uint64_t left = trans.get_data_length();
  unsigned char* data = trans.get_data_ptr();
  ++ch.stats->transactions;
  if (left == 0) {
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  std::unique_ptr<Txn> held;
  if (ch.free_txns.empty()) {
    held = std::make_unique<Txn>();
  } else {
    held = std::move(ch.free_txns.back());
    ch.free_txns.pop_back();
  }
  Txn& txn = *held;
  txn.trans = &trans;
  txn.remaining = 0;
  txn.error = false;

  while (left > 0) {
    // AXI burst: at most max_burst bytes, never crossing a 4 KB boundary.
    const std::uint64_t to_4k = 4096 - (addr & 4095);
    const auto bytes = static_cast<unsigned>(std::min({left, max_burst, to_4k}));
    const std::uint64_t first_beat = addr / beat, last_beat = (addr + bytes - 1) / beat;
    const auto beats = static_cast<unsigned>(last_beat - first_beat + 1);

    while (ch.outstanding >= cfg_.max_outstanding) {
      ++ch.slot_waiters;
      wait(ch.slot_freed);
      --ch.slot_waiters;
    }
    ++ch.outstanding;
    ++txn.remaining;

    // Address handshake at the next PL clock edge at or after now.
    const sc_time now = sc_core::sc_time_stamp();
    const double cyc = std::ceil(now / period - 1e-9);
    const sc_time edge = period * cyc;
    const sc_time start = std::max(edge, ch.data_free);
    const sc_time slot_end = start + period * double(beats);
    ch.data_free = slot_end;

    Job j;
    j.txn = &txn;
    j.address = addr;
    j.bytes = bytes;
    j.data = data;
    // Reads: the request leaves when its data slot starts; writes: after the data.
    j.ddr_arrival = (ch.is_write ? slot_end : start) + latency;
    j.data_end = slot_end;
    ch.jobs.push_back(j);
    if (!ch.idle.empty()) {  // immediate: the worker runs in this evaluation phase
      ch.idle.back()->notify();
      ch.idle.pop_back();
    }

    ++ch.stats->bursts;
    ch.stats->bytes += bytes;
    ch.stats->busy_cycles += beats;
    addr += bytes;
    left -= bytes;
    if (data) data += bytes;
  }
  while (txn.remaining > 0) wait(txn.done);
  trans.set_response_status(txn.error ? tlm::TLM_GENERIC_ERROR_RESPONSE : tlm::TLM_OK_RESPONSE);
  ch.free_txns.push_back(std::move(held));
}

void AxiHpPort::worker(Channel& ch, sc_core::sc_event& wake) {
  tlm::tlm_generic_payload gp;
  for (;;) {
    while (ch.jobs.empty()) {
      ch.idle.push_back(&wake);
      wait(wake);
    }
    const Job j = ch.jobs.front();
    ch.jobs.pop_front();

    gp.set_command(ch.is_write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    gp.set_address(j.address);
    gp.set_data_ptr(j.data);
    gp.set_data_length(j.bytes);
    gp.set_streaming_width(j.bytes);
    gp.set_byte_enable_ptr(nullptr);
    gp.set_dmi_allowed(false);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    const sc_time now = sc_core::sc_time_stamp();
    sc_time delay = j.ddr_arrival > now ? j.ddr_arrival - now : sc_core::SC_ZERO_TIME;
    initiator->b_transport(gp, delay);
    if (delay > sc_core::SC_ZERO_TIME) wait(delay);
    // A read is done when both the DDR and the port's data slot are done.
    if (!ch.is_write && j.data_end > sc_core::sc_time_stamp()) wait(j.data_end - sc_core::sc_time_stamp());
    if (gp.is_response_error()) j.txn->error = true;

    --ch.outstanding;
    // An immediate notification nobody waits for has no effect: skip its cost.
    if (ch.slot_waiters > 0) ch.slot_freed.notify();
    if (--j.txn->remaining == 0) j.txn->done.notify();
  }
}

}  // namespace heatvit::ddr
