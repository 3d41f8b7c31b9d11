// AxiHpPort: one Zynq UltraScale+ S_AXI_HP port between a PL master (the
// accelerator's DMA / load-store unit) and the PS DDR (DdrTarget).
//
// A pass-through TLM-2.0 module: `target` faces the DMA, `initiator` binds to
// DdrTarget::socket. A b_transport of any size is split into AXI bursts (at most
// max_burst_beats beats of width_bits, never crossing a 4 KB boundary), each sent to
// the DDR as one request. Per direction (AXI has separate read and write channels;
// reads and writes share nothing but the DDR):
//   - at most max_outstanding bursts in flight;
//   - the data channel moves width_bits per PL clock: a burst of n beats occupies it
//     for n cycles (throughput <= width x frequency);
//   - reads: the burst is issued when its data-channel slot starts and ends at the
//     later of "DDR done" and "slot end" (the port streams while the DDR delivers);
//     writes: the data crosses the port first, then the DDR write is issued;
//   - a fixed latency of latency_cycles PL cycles is added between the port and the
//     DDR controller (interconnect + clock crossing + controller front end).
// b_transport returns (delay = 0) when the last burst of the transaction is done.
// One initiator socket binds to `target`; several threads of that initiator may call
// b_transport at the same time (e.g. a read and a write stream).
// Data pointers are passed through untouched (DdrTarget does not store data).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "heatvit/core/json_config.hpp"

namespace heatvit::ddr {

struct AxiPortConfig {
  unsigned width_bits = 128;  ///< AXI data width: 32, 64 or 128 (HP ports)
  sc_core::sc_time clock_period = sc_core::sc_time(3333, sc_core::SC_PS);  ///< PL clock (300 MHz)
  unsigned max_outstanding = 16;  ///< bursts in flight per direction
  unsigned latency_cycles = 30;   ///< fixed PL->PS->DDR controller latency, PL cycles
  unsigned max_burst_beats = 256; ///< AXI4 INCR burst limit

  unsigned bytes_per_beat() const { return width_bits / 8; }
  double frequency_hz() const { return 1.0 / clock_period.to_seconds(); }
  /// Peak data rate of one direction, bytes per second.
  double peak_bytes_per_second() const { return bytes_per_beat() * frequency_hz(); }
};

/// Reads an AxiPortConfig from `r`: width_bits (32/64/128, default 128),
/// frequency_mhz (default 300), max_outstanding (default 16), latency_cycles
/// (default 30), max_burst_beats (1..256, default 256). Errors name file + field.
/// Does not call finish().
AxiPortConfig parse_axi_port_config(ConfigReader& r);

/// Counters of one direction of one port.
struct AxiChannelStats {
  std::uint64_t transactions = 0;  ///< b_transport calls
  std::uint64_t bursts = 0;        ///< AXI bursts sent to the DDR
  std::uint64_t bytes = 0;
  std::uint64_t busy_cycles = 0;   ///< PL cycles the data channel carried beats
};

struct AxiPortStats {
  AxiChannelStats read, write;
};

/// {"read": {...}, "write": {...}} with bytes, bursts, busy_cycles, transactions.
json to_json(const AxiPortStats& s);

class AxiHpPort : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<AxiHpPort> target;        ///< from the DMA
  tlm_utils::simple_initiator_socket<AxiHpPort> initiator;  ///< to the DDR

  SC_HAS_PROCESS(AxiHpPort);
  /// `cfg` is copied. Throws InputError for a width other than 32/64/128, zero
  /// outstanding bursts, a burst limit outside [1, 256] or a non-positive period.
  AxiHpPort(sc_core::sc_module_name name, const AxiPortConfig& cfg);

  const AxiPortStats& stats() const { return stats_; }
  const AxiPortConfig& config() const { return cfg_; }

 private:
  struct Txn {
    tlm::tlm_generic_payload* trans;
    unsigned remaining;
    sc_core::sc_event done;
    bool error = false;
  };
  struct Job {
    Txn* txn;
    std::uint64_t address;
    unsigned bytes;
    unsigned char* data;
    sc_core::sc_time ddr_arrival;  // absolute
    sc_core::sc_time data_end;     // absolute end of this burst's data-channel slot
  };
  struct Channel {
    bool is_write = false;
    sc_core::sc_time data_free;  // data channel free from this time
    unsigned outstanding = 0;
    sc_core::sc_event slot_freed;
    unsigned slot_waiters = 0;  // b_transport calls waiting for slot_freed
    std::deque<Job> jobs;
    // Workers waiting for a job, each on its own event: a new job wakes one of them
    // (one event for all would wake every idle worker for each job, and all but one
    // would find the queue empty and sleep again: 15 needless process switches per
    // burst with 16 outstanding bursts).
    std::vector<sc_core::sc_event*> idle;
    std::deque<sc_core::sc_event> wake;  // one per worker (a deque: events do not move)
    AxiChannelStats* stats = nullptr;
    // Finished transactions, kept for reuse: a Txn holds an sc_event, which costs a
    // registration with the kernel to make and to destroy.
    std::vector<std::unique_ptr<Txn>> free_txns;
  };

  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void worker(Channel& ch, sc_core::sc_event& wake);

  AxiPortConfig cfg_;
  AxiPortStats stats_;
  Channel rd_, wr_;
};

}  // namespace heatvit::ddr
