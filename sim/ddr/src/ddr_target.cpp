#include "heatvit/ddr/ddr_target.hpp"

#include <string>

#include "heatvit/core/error.hpp"

namespace heatvit::ddr {

using sc_core::sc_time;

DdrTarget::DdrTarget(sc_core::sc_module_name name, const DdrSpec& spec) : sc_module(name), socket("socket"), ctrl_(spec) {
  const sc_time one_ps(1, sc_core::SC_PS);
  HEATVIT_CHECK(one_ps.value() >= 1, "DdrTarget needs a SystemC time resolution of 1 ps or finer");
  units_per_ps_ = one_ps.value();
  socket.register_b_transport(this, &DdrTarget::b_transport);
  SC_THREAD(drive);
  ctrl_.set_completion_callback([this](const Completion& c) {
    Waiter& w = *waiters_[c.id];
    w.done = true;
    w.done_event.notify(sc_core::SC_ZERO_TIME);
  });
}

void DdrTarget::b_transport(int /*port*/, tlm::tlm_generic_payload& trans, sc_time& delay) {
  const tlm::tlm_command cmd = trans.get_command();
  if (cmd != tlm::TLM_READ_COMMAND && cmd != tlm::TLM_WRITE_COMMAND) {
    trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  if (trans.get_data_length() == 0) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  std::uint32_t slot;
  if (!free_waiters_.empty()) {
    slot = free_waiters_.back();
    free_waiters_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(waiters_.size());
    waiters_.push_back(std::make_unique<Waiter>());
  }
  Waiter& w = *waiters_[slot];
  w.done = false;

  Request r;
  r.id = slot;
  r.address = trans.get_address();
  r.bytes = trans.get_data_length();
  r.is_write = cmd == tlm::TLM_WRITE_COMMAND;
  r.arrival_ps = (sc_core::sc_time_stamp() + delay).value() / units_per_ps_;
  ctrl_.enqueue(r);
  // drive() sleeps until the predicted next completion; a request that leaves that
  // prediction standing does not change when it must wake (and waking it would only
  // commit and predict again, to the same result).
  if (!ctrl_.prediction_holds()) wake_.notify(sc_core::SC_ZERO_TIME);

  while (!w.done) wait(w.done_event);
  free_waiters_.push_back(slot);
  ++transactions_;
  delay = sc_core::SC_ZERO_TIME;
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

void DdrTarget::drive() {
  for (;;) {
    const std::uint64_t now_ps = sc_core::sc_time_stamp().value() / units_per_ps_;
    const std::uint64_t next = ctrl_.next_completion_ps();
    // One event for both reasons to wake: the predicted completion (a timed
    // notification) and an arrival that ends the prediction (a delta notification,
    // which replaces a later timed one). Waking works as a wait with a timeout on an
    // arrival event would, at the same times and deltas, without the timeout's
    // bookkeeping.
    if (next != Controller::kNever) {
      const std::uint64_t dt = next > now_ps ? next - now_ps : 0;
      wake_.notify(sc_time::from_value(dt * units_per_ps_));
    }
    wait(wake_);
    // Completions wake their callers through the callback.
    ctrl_.advance_to(sc_core::sc_time_stamp().value() / units_per_ps_);
    ctrl_.clear_completions();
  }
}

}  // namespace heatvit::ddr
