// The DDR controller as it was before its speed work: the straightforward FR-FCFS
// scheduler (a scan of every non-empty bank's queue per command). Kept, test-only, as the
// oracle of tests/ddr/test_controller_equivalence.cpp: the production Controller must
// make exactly the same decisions on every request stream.
#pragma once

#include "heatvit/ddr/controller.hpp"

namespace heatvit::ddr::reference {

class ReferenceController {
 public:
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

  /// `spec` is copied. Throws InputError if its address mapping is invalid or it has
  /// more than 64 banks.
  explicit ReferenceController(const DdrSpec& spec);

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

  /// Runs until every enqueued request has completed. Returns the last done_ps.
  std::uint64_t run_until_idle();

  /// Completions reported so far (oldest first), until clear_completions().
  const std::vector<Completion>& completions() const { return completed_; }
  void clear_completions() { completed_.clear(); }
  /// Optional: called for each completion as it is reported (in addition to the list).
  void set_completion_callback(std::function<void(const Completion&)> cb) { callback_ = std::move(cb); }

  bool idle() const { return st_.live_requests == 0; }
  std::uint64_t now_ps() const { return std::uint64_t(st_.now) * tck_; }
  const ControllerStats& stats() const { return st_.stats; }
  const DdrSpec& spec() const { return spec_; }
  const AddressMapper& mapper() const { return mapper_; }

 private:
  struct Entry {       // one burst in the scheduling window
    std::uint32_t req;   // slot in reqs
    std::uint32_t row;
    std::uint32_t bank;
    std::int32_t next;   // next entry of the same bank (FIFO), -1 = none
    std::uint64_t seq;   // age: smaller = older
    bool is_write;
    std::uint8_t caused; // 0 none, 1 ACT issued for it, 2 PRE+ACT issued for it
  };
  struct ReqState {
    Request r;
    std::uint64_t next_burst_addr;  // next burst to admit (byte address, burst aligned)
    std::uint32_t bursts_left_to_admit;
    std::uint32_t bursts_left_to_issue;
    Cycle arrival_cycle;
    Cycle done_cycle;
    bool live;
  };
  struct BankQueue {
    std::int32_t head = -1, tail = -1;
    std::uint32_t count = 0;
  };
  struct InFlight {
    Cycle done;
    std::uint32_t req;
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
    std::vector<Entry> entries;
    std::vector<std::int32_t> free_entries;
    std::vector<BankQueue> bank_q;
    std::uint64_t nonempty_banks = 0;  // bit per bank
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

  static std::uint32_t insert(State& s, const ReqState& q);
  void admit(State& s) const;
  /// Issues at most one command before `limit`; returns false (with s.now = limit)
  /// when nothing can be issued before `limit`.
  bool step(State& s, Cycle limit) const;
  void run(State& s, Cycle limit) const;
  void issue_column(State& s, std::int32_t e, std::int32_t prev, Cycle t) const;
  void report(State& s, std::uint64_t ps);
  Cycle next_arrival_cycle(const State& s) const;

  DdrSpec spec_;
  AddressMapper mapper_;
  std::uint64_t tck_;
  State st_;
  State spec_st_;        // speculative copy ahead of st_
  bool spec_valid_ = false;
  std::uint64_t spec_next_ps_ = kNever;
  std::vector<Completion> completed_;
  std::function<void(const Completion&)> callback_;
};

}  // namespace heatvit::ddr::reference
