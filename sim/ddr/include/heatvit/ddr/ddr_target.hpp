// DdrTarget: the DDR4 memory as a TLM-2.0 target (timing only).
//
// Several initiators (AXI ports) bind to `socket` (a multi_passthrough_target_socket).
// b_transport(trans, delay) enqueues a request arriving at sc_time_stamp() + delay
// into the Controller, waits until the controller reports its completion and
// returns with delay = 0 (the caller's time has advanced to the completion).
// One SC_THREAD drives the controller: it sleeps until the predicted next
// completion or a new arrival, commits up to now, and wakes the finished callers:
// one SystemC event per request, none per DRAM command or burst.
//
// Functional data are NOT stored: the data pointer of the payload is neither read
// nor written (it may be null). Reads return whatever the buffer held.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include "heatvit/ddr/controller.hpp"
#include "heatvit/ddr/spec.hpp"

namespace heatvit::ddr {

class DdrTarget : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<DdrTarget> socket;

  SC_HAS_PROCESS(DdrTarget);
  /// `spec` is copied. The SystemC time resolution must be 1 ps or finer.
  DdrTarget(sc_core::sc_module_name name, const DdrSpec& spec);

  /// Counters of the committed DRAM activity (up to the last controller update).
  const ControllerStats& stats() const { return ctrl_.stats(); }
  const DdrSpec& spec() const { return ctrl_.spec(); }
  /// Requests served so far (b_transport calls that returned).
  std::uint64_t transactions() const { return transactions_; }
  /// Controller counters plus "transactions", as one JSON object.
  json stats_json() const {
    json j = to_json(ctrl_.stats(), ctrl_.spec());
    j["transactions"] = transactions_;
    return j;
  }

 private:
  void b_transport(int port, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void drive();

  struct Waiter {
    sc_core::sc_event done_event;
    bool done = false;
  };

  Controller ctrl_;
  sc_core::sc_event wake_;  // drive(): the predicted completion, or an arrival that ends the prediction
  std::vector<std::unique_ptr<Waiter>> waiters_;  // indexed by request id
  std::vector<std::uint32_t> free_waiters_;
  std::uint64_t units_per_ps_ = 1;  // SystemC time units in one ps
  std::uint64_t transactions_ = 0;
};

}  // namespace heatvit::ddr
