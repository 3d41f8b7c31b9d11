// SystemC model of the accelerator: a controller that walks the plan pass by pass,
// a load unit, the GEMM engine and a store unit running concurrently through
// double buffers, nonlinear units, and DMA engines that reach DDR through AXI HP
// ports as TLM-2.0 burst transactions. Timing and communication only: what each
// step does comes from the plan (plan.hpp).
#pragma once

#include <functional>

#ifndef SC_INCLUDE_DYNAMIC_PROCESSES
#define SC_INCLUDE_DYNAMIC_PROCESSES
#endif
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/timing.hpp"

namespace heatvit::sim {

/// A DMA engine spreading each transfer over its AXI ports (one worker thread per
/// port, each issuing blocking TLM transactions). Counts bytes and busy time.
class Dma : public sc_core::sc_module {
 public:
  /// Bound once per AXI port this engine uses.
  tlm_utils::multi_passthrough_initiator_socket<Dma> socket;

  Dma(sc_core::sc_module_name name, int ports, int granule_bytes);

  struct Segment {
    std::uint64_t address = 0;
    std::int64_t bytes = 0;
  };
  /// Moves the segments (each split evenly over the ports, in granules); returns when
  /// all have completed. Call from an SC_THREAD.
  void transfer(bool write, const std::vector<Segment>& segments);

  std::int64_t bytes_read() const { return bytes_read_; }
  std::int64_t bytes_written() const { return bytes_written_; }
  sc_core::sc_time busy() const { return busy_; }

 private:
  void end_of_elaboration() override;
  void worker(int port);

  int ports_;
  int granule_;
  bool write_ = false;
  std::vector<std::vector<Segment>> jobs_;  // per port
  std::vector<std::unique_ptr<sc_core::sc_event>> go_;  // per port: work is waiting
  int pending_ = 0;
  sc_core::sc_event done_;
  std::int64_t bytes_read_ = 0, bytes_written_ = 0;
  sc_core::sc_time busy_;
};

/// A nonlinear (or selector-control) unit: serializes its users and counts busy cycles.
class UnitModule : public sc_core::sc_module {
 public:
  UnitModule(sc_core::sc_module_name name, sc_core::sc_time clock);
  /// Occupies the unit for `cycles` cycles (call from an SC_THREAD).
  void occupy(std::int64_t cycles);
  /// Waits `wait_cycles` (the part not hidden behind other work) and counts
  /// `busy_cycles` as the unit's busy time.
  void occupy(std::int64_t wait_cycles, std::int64_t busy_cycles);
  std::int64_t busy_cycles() const { return busy_; }
  sc_core::sc_signal<bool> busy_signal;

 private:
  sc_core::sc_time clock_;
  sc_core::sc_mutex mutex_;
  std::int64_t busy_ = 0;
};

/// Where a pass's phases ran in simulated time (for --timeline), ps.
struct TraceEvent {
  std::string name;
  std::string lane;  ///< "pass", "load", "compute", "store"
  std::uint64_t start_ps = 0, end_ps = 0;
};

/// The accelerator. Give it plans with run(); sc_start() executes them in order.
class Accelerator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Accelerator);
  Dma load_dma;
  Dma store_dma;
  UnitModule layernorm, post, selector_ctrl;

  Accelerator(sc_core::sc_module_name name, const HwConfig& hw);

  /// Plans to execute back to back (each image starts when the previous ends).
  /// Pointers must stay valid until sc_start() returns.
  void run(const std::vector<const Plan*>& plans, bool trace_events);
  /// The same with plans pulled one at a time while simulating: `next` returns the next
  /// plan (valid until sc_start() returns) or nullptr after the last. It may block.
  void run(std::function<const Plan*()> next, bool trace_events);

  /// Called after each plan completes with the number completed (progress display).
  void on_plan_done(std::function<void(std::size_t)> f) { plan_done_ = std::move(f); }

  const std::vector<PlanTiming>& results() const { return results_; }
  const std::vector<TraceEvent>& trace() const { return trace_; }
  std::int64_t pe_busy_cycles() const { return pe_busy_; }

  /// Signals for VCD tracing.
  sc_core::sc_signal<bool> load_busy, pe_busy, store_busy;
  sc_core::sc_signal<int, sc_core::SC_MANY_WRITERS> loaded_tiles, pending_stores, pass_index;

 private:
  std::function<void(std::size_t)> plan_done_;
  void controller();
  void load_thread();
  void compute_thread();
  void store_thread();
  std::uint64_t activation_address(int pass, bool output, std::int64_t offset) const;
  void note(const std::string& name, const char* lane, sc_core::sc_time start);

  const HwConfig& hw_;
  sc_core::sc_time clk_;
  std::vector<const Plan*> plans_;
  std::function<const Plan*()> next_plan_;
  std::vector<PlanTiming> results_;
  bool trace_on_ = false;
  std::vector<TraceEvent> trace_;

  // The pass being executed.
  const Pass* pass_ = nullptr;
  int pass_no_ = 0;
  std::uint64_t weight_base_ = 0;
  sc_core::sc_event start_load_, start_compute_, start_store_, pass_done_;
  bool compute_done_ = false, store_done_ = false;
  std::int64_t pass_busy_ = 0;

  sc_core::sc_semaphore in_slots_;   // free input/weight buffer halves (HwConfig::buffer_slots)
  sc_core::sc_semaphore out_slots_;  // free output buffer halves
  sc_core::sc_fifo<int> loaded_{1024};
  struct StoreJob {
    int step = 0;
    sc_core::sc_time ready;
    bool operator==(const StoreJob& o) const { return step == o.step && ready == o.ready; }
    friend std::ostream& operator<<(std::ostream& os, const StoreJob& j) { return os << j.step; }
  };
  sc_core::sc_fifo<StoreJob> stores_{1024};
  std::int64_t pe_busy_ = 0;
};

}  // namespace heatvit::sim
