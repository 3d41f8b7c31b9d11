// DDR4 memory controller: request queue, burst splitting, FR-FCFS scheduling,
// open/closed page policy, all-bank refresh, read/write turnaround.
//
// Plain C++, event driven on the DRAM clock: it jumps from one command to the next
// (no per-cycle ticking, no SystemC event per command, no heap allocation per burst
// in steady state). Per command it compares every bank with queued bursts; each bank's
// candidate is kept between commands until that bank changes, the rank-wide timing is
// computed once per command, and burst addresses are mapped through a table of the low
// address bits. The window holds runs of one request's bursts per bank, and while every
// queued bank's oldest burst hits its open row, each bank in one direction, a shorter
// loop issues the commands (stream()), mostly the window's oldest burst without
// comparing the banks. tests/ddr/reference_controller.hpp keeps the plain version
// of the same scheduler; tests/ddr/test_controller_equivalence.cpp checks they decide
// alike (docs/ddr.md, "How the scheduler is computed").
//
// Usage (no SystemC):
//   Controller c(spec);
//   c.enqueue({/*id*/ 1, /*address*/ 0x1000, /*bytes*/ 4096, /*is_write*/ false, /*arrival_ps*/ 0});
//   c.run_until_idle();                       // or advance_to(ps) step by step
//   for (const Completion& d : c.completions()) ... d.done_ps ...
//
// Time: requests carry picoseconds; internally everything is in DRAM cycles of
// spec.timing.tCK_ps. A request arriving at `arrival_ps` can have its first command
// issued in cycle ceil(arrival_ps / tCK). It completes when its last data beat has
// crossed the data bus (reads: RD + CL + BL/2; writes: WR + CWL + BL/2).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "heatvit/ddr/address_mapper.hpp"
#include "heatvit/ddr/spec.hpp"
#include "heatvit/ddr/timing.hpp"

namespace heatvit::ddr {

/// One memory request (an AXI burst, a DMA block...). Bursts of 64 B (one column
/// command each) are made from [address, address + bytes) rounded out to burst
/// boundaries; `bytes` may be anything from 1 to several MB.
struct Request {
  std::uint64_t id = 0;          ///< caller's tag, echoed in the Completion
  std::uint64_t address = 0;     ///< byte address
  std::uint32_t bytes = 0;       ///< > 0
  bool is_write = false;
  std::uint64_t arrival_ps = 0;  ///< when the controller sees it
};

struct Completion {
  std::uint64_t id = 0;
  std::uint64_t arrival_ps = 0;
  std::uint64_t done_ps = 0;  ///< last data beat transferred
  std::uint32_t bytes = 0;
  bool is_write = false;
};

/// Counters of committed activity (what happened up to the last advance_to()).
struct ControllerStats {
  std::uint64_t read_requests = 0, write_requests = 0;  ///< completed requests
  std::uint64_t read_bytes = 0, write_bytes = 0;        ///< of completed requests
  std::uint64_t read_bursts = 0, write_bursts = 0;      ///< column commands
  std::uint64_t row_hits = 0;       ///< bursts served by an already open row
  std::uint64_t row_misses = 0;     ///< bursts that needed an ACT on a closed bank
  std::uint64_t row_conflicts = 0;  ///< bursts that needed PRE (other row open) + ACT
  std::uint64_t activates = 0, precharges = 0, refreshes = 0;
  std::uint64_t rw_turnarounds = 0;       ///< changes of data-bus direction
  std::uint64_t data_bus_busy_cycles = 0; ///< BL/2 per column command
  std::uint64_t read_latency_ps_sum = 0, write_latency_ps_sum = 0;  ///< arrival -> done
  Cycle cycles = 0;  ///< cycles simulated (the controller's clock)

  double avg_read_latency_ns() const {
    return read_requests ? double(read_latency_ps_sum) / double(read_requests) / 1000.0 : 0.0;
  }
  double avg_write_latency_ns() const {
    return write_requests ? double(write_latency_ps_sum) / double(write_requests) / 1000.0 : 0.0;
  }
  /// Data-bus utilization over the simulated cycles (0..1).
  double bus_utilization() const { return cycles ? double(data_bus_busy_cycles) / double(cycles) : 0.0; }
};

/// Stats as a JSON object (named counters plus derived figures).
json to_json(const ControllerStats& s, const DdrSpec& spec);

class Controller {
 public:
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

  /// `spec` is copied. Throws InputError if its address mapping is invalid or it has
  /// more than 64 banks.
  explicit Controller(const DdrSpec& spec);

  /// Adds a request. Its arrival may lie in the future; an arrival earlier than the
  /// time already simulated (see now_ps()) is treated as arriving now.
  /// Throws InputError for bytes == 0.
  void enqueue(const Request& r);

  /// Commits every command issued before `ps` and reports completions with
  /// done_ps <= ps (through the callback and completions()). `ps` must not go back.
  void advance_to(std::uint64_t ps);

  /// Time at which the next request will complete if no other request is enqueued
  /// before then; kNever when nothing is pending. Simulates ahead speculatively and
  /// keeps the result, so a following advance_to() up to that time costs nothing.
  std::uint64_t next_completion_ps();

  /// True while the last next_completion_ps() still holds: nothing was committed since,
  /// and no request enqueued since can take part in anything that prediction decided
  /// (so it cannot change the predicted time). A caller sleeping until that time need
  /// not wake for such a request.
  bool prediction_holds() const { return pred_valid_; }

  /// Runs until every enqueued request has completed. Returns the last done_ps.
  std::uint64_t run_until_idle();

  /// Completions reported so far (oldest first), until clear_completions().
  const std::vector<Completion>& completions() const { return completed_; }
  void clear_completions() { completed_.clear(); }
  /// Optional: called for each completion as it is reported (in addition to the list).
  void set_completion_callback(std::function<void(const Completion&)> cb) { callback_ = std::move(cb); }

  bool idle() const { return st().live_requests == 0; }
  std::uint64_t now_ps() const { return std::uint64_t(st().now) * tck_; }
  const ControllerStats& stats() const { return st().stats; }
  const DdrSpec& spec() const { return spec_; }
  const AddressMapper& mapper() const { return mapper_; }

 private:
  /// Bursts in the scheduling window, as runs: consecutive bursts of one bank's queue
  /// (FIFO, oldest first) that belong to one request and one row, with ages in steps of
  /// `stride`. A request's bursts on one bank arrive as one run (the address mapping
  /// spreads its consecutive bursts over the banks in a fixed pattern), so admitting
  /// and issuing a burst mostly just counts. The scheduler only ever serves the first
  /// burst of a run: the bursts of a run are alike except for age.
  struct Run {
    std::uint64_t seq;     // age of the first burst: smaller = older
    std::uint32_t req;     // slot in reqs
    std::uint32_t row;
    std::uint32_t bank;
    std::uint32_t count;   // bursts in the run (>= 1)
    std::uint64_t stride;  // age step from one burst to the next (count >= 2)
    std::int32_t next;     // next run of the same bank (FIFO), -1 = none
    bool is_write;
    std::uint8_t caused;   // of the first burst: 0 none, 1 ACT issued for it, 2 PRE+ACT issued for it
  };
  struct ReqState {
    Request r;
    std::uint64_t next_burst_addr;  // next burst to admit (byte address, burst aligned)
    std::uint64_t hi_key;           // burst index >> kLoBits of the cached hi_bank/hi_row
    std::uint32_t hi_bank, hi_row;  // mapping of the burst index's bits above kLoBits
    std::uint32_t bursts_left_to_admit;
    std::uint32_t bursts_left_to_issue;
    Cycle arrival_cycle;
    Cycle done_cycle;
    bool live;
  };
  struct BankQueue {
    std::int32_t head = -1, tail = -1;
    std::uint32_t count = 0;
    std::uint32_t writes = 0;  // of count, write bursts
  };
  /// A bank's FR-FCFS candidate for the column directions allowed (`mode`: 1 reads,
  /// 2 writes, 3 both; 0 = not computed): the burst (the first of run `e`, after run
  /// `prev` in the bank's queue) and command, with the bank's own
  /// timing constraint for it (group and rank constraints change with every command
  /// elsewhere and are applied when banks are compared). Kept until the bank's queue,
  /// row or timing changes.
  struct BankCand {
    Cycle bank_t = 0;
    std::uint64_t seq = 0;
    std::int32_t e = -1, prev = -1;  // e < 0: no candidate in this mode
    Command cmd = Command::ACT;
    std::uint8_t mode = 0;
    std::uint8_t kind = 0;   // cmd as a TimingState kind (kKindAct ...): indexes the per-kind constraints
    std::uint8_t group = 0;  // the bank's group (TimingState::group_of), kept here for the scan
  };
  struct InFlight {
    Cycle done;
    std::uint32_t req;
  };
  /// A burst of the window, in the window's age order (see State::order).
  struct Aged {
    std::uint64_t seq;
    std::uint32_t bank;
  };
  /// Everything that changes while simulating; copyable so that next_completion_ps()
  /// can simulate ahead on a copy.
  struct State {
    TimingState timing;
    Cycle now = 0;  // cycles < now are decided
    std::vector<ReqState> reqs;
    std::vector<std::uint32_t> free_reqs;
    std::vector<std::uint32_t> arrivals;  // request slots not fully admitted, by arrival
    std::size_t arrivals_head = 0;
    std::vector<Run> runs;
    std::vector<std::int32_t> free_runs;
    std::uint32_t window_bursts = 0;  // bursts in the window (at most queue_depth)
    // The window's bursts oldest first: a ring of order_mask + 1 entries from
    // order_head, window_bursts long. Its first entry is the oldest burst, which is at the
    // head of its bank's queue: while it can be issued as early as any command could,
    // stream() takes it without comparing the banks.
    std::vector<Aged> order;
    std::uint32_t order_head = 0;
    std::vector<BankQueue> bank_q;
    std::vector<BankCand> cand;  // per bank
    std::uint64_t nonempty_banks = 0;  // bit per bank
    std::uint64_t head_hit = 0;        // bit per bank whose oldest burst hits its open row
    std::uint64_t read_banks = 0, write_banks = 0;  // bit per bank with queued reads / writes
    std::uint32_t window_reads = 0, window_writes = 0;
    std::uint64_t seq = 0;
    std::vector<InFlight> inflight;  // fully issued, not yet reported
    std::uint32_t live_requests = 0;
    Cycle next_refresh = 0;
    bool refresh_pending = false;
    bool dir_write = false;         // current data-bus direction
    std::uint32_t dir_bursts = 0;   // bursts since the last direction change
    bool any_column_issued = false;
    ControllerStats stats;
    explicit State(const DdrSpec& s) : timing(s) {}
  };

  static constexpr int kLoBits = 10;  // low burst-index bits mapped through tables

  static std::uint32_t insert(State& s, const ReqState& q);
  void find_candidate(State& s, std::uint32_t bank, std::uint8_t mode) const;
  __attribute__((always_inline)) inline void admit(State& s) const;
  /// Issues at most one command before `limit`; returns false (with s.now = limit)
  /// when nothing can be issued before `limit`.
  bool step(State& s, Cycle limit) const;
  /// The FR-FCFS (or FCFS) choice of the next command in the window: false when the
  /// window offers none.
  bool select(State& s, Cycle& t, std::int32_t& e, std::int32_t& prev, Command& cmd) const;
  /// The streaming case: FR-FCFS with open pages, every bank with queued bursts has its
  /// oldest burst hitting its open row, and the window holds one direction, or both in
  /// separate banks once a column command has set the bus direction. Then the command is
  /// a column command of the direction the scheduler allows (`write`), and each bank
  /// holding that direction offers its oldest burst; stream() issues commands by a
  /// shorter search (checked against select() in builds without NDEBUG) while the case
  /// lasts.
  bool streaming(const State& s, bool& write) const;
  /// Issues commands of direction `w` from s.now (admission and refresh check done,
  /// `horizon` computed) until the streaming case or the direction ends, a request's
  /// last burst is issued or the horizon is reached; returns how many (0: s.now moved to
  /// the horizon).
  std::uint32_t stream(State& s, bool w, Cycle limit, Cycle horizon) const;
  void set_head_hit(State& s, std::uint32_t bank) const;
  /// Takes the burst of age `seq` out of the age ring `order` (State::order) starting at
  /// `head`, which holds `window` bursts (the burst is leaving the window).
  __attribute__((always_inline)) inline void leave_order(Aged* order, std::uint32_t& head, std::uint64_t seq,
                                                         std::uint32_t window) const;
  void run(State& s, Cycle limit) const;
  __attribute__((always_inline)) inline void issue_column(State& s, std::int32_t e, std::int32_t prev, Cycle t) const;
  void report(State& s, std::uint64_t ps);
  Cycle next_arrival_cycle(const State& s) const;

  DdrSpec spec_;
  AddressMapper mapper_;
  std::vector<std::uint32_t> lo_bank_, lo_row_;  // flat bank / row bits of a burst index's low kLoBits
  std::uint64_t tck_;
  std::uint32_t queue_depth_ = 0;  // the window's capacity in bursts
  std::uint32_t order_mask_ = 0;   // State::order's size - 1 (a power of two >= queue_depth_)
  bool streaming_path_ = false;    // FR-FCFS with open pages: stream() may apply
  // The committed state and the speculative copy ahead of it: two slots, and `cur_`
  // says which is committed, so that committing a prediction flips an index instead of
  // swapping two states' contents.
  State states_[2];
  int cur_ = 0;
  State& st() { return states_[cur_]; }
  const State& st() const { return states_[cur_]; }
  State& spec_st() { return states_[cur_ ^ 1]; }
  // The last next_completion_ps() holds (pred_valid_), at pred_ps_: simulated ahead in
  // the speculative state (spec_valid_ too), or read off the requests in flight with no
  // simulation ahead (spec_valid_ false).
  bool pred_valid_ = false, spec_valid_ = false;
  std::uint64_t pred_ps_ = kNever;
  std::vector<Completion> completed_;
  std::function<void(const Completion&)> callback_;
};

}  // namespace heatvit::ddr
