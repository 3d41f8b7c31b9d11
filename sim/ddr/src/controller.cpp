#include "heatvit/ddr/controller.hpp"

#include <algorithm>
#include <string>

#include "heatvit/core/error.hpp"

namespace heatvit::ddr {

namespace {
constexpr Cycle kInf = std::numeric_limits<Cycle>::max() / 4;

inline int lowest_bit(std::uint64_t v) { return __builtin_ctzll(v); }
}  // namespace

Controller::Controller(const DdrSpec& spec)
    : spec_(spec), mapper_(spec.org, spec.ctrl.address_mapping), tck_(std::uint64_t(spec.timing.tCK_ps)),
      states_{State(spec), State(spec)} {
  if (spec.org.banks() > 64)
    throw InputError("DDR spec " + spec.name, "organization", "at most 64 banks are supported");
  const auto depth = static_cast<std::size_t>(spec.ctrl.queue_depth);
  queue_depth_ = static_cast<std::uint32_t>(depth);
  // A run holds at least one burst: queue_depth runs always suffice.
  st().runs.resize(depth);
  st().free_runs.reserve(depth);
  for (std::size_t i = depth; i-- > 0;) st().free_runs.push_back(static_cast<std::int32_t>(i));
  std::uint32_t ring = 1;
  while (ring < queue_depth_) ring <<= 1;
  order_mask_ = ring - 1;
  st().order.resize(ring);
  st().bank_q.resize(static_cast<std::size_t>(spec.org.banks()));
  st().cand.resize(static_cast<std::size_t>(spec.org.banks()));
  for (std::size_t b = 0; b < st().cand.size(); ++b)
    st().cand[b].group = static_cast<std::uint8_t>(st().timing.group_of(BankId{static_cast<std::uint32_t>(b)}));
  // The mapping is a bit permutation (each address bit lands in one field bit), so a
  // burst index maps as the OR of the mappings of its low and high bits.
  lo_bank_.resize(std::size_t(1) << kLoBits);
  lo_row_.resize(std::size_t(1) << kLoBits);
  for (std::uint64_t i = 0; i < (std::uint64_t(1) << kLoBits); ++i) {
    const DramAddress d = mapper_.map(i << mapper_.offset_bits());
    lo_bank_[i] = mapper_.flat_bank(d);
    lo_row_[i] = d.row;
  }
  st().next_refresh = spec.timing.tREFI;
  streaming_path_ = spec.ctrl.scheduler == SchedulerKind::FrFcfs && spec.ctrl.page_policy == PagePolicy::Open;
  st().reqs.reserve(64);
  st().arrivals.reserve(64);
  st().inflight.reserve(64);
  spec_st() = st();
}

void Controller::enqueue(const Request& r) {
  if (r.bytes == 0) throw InputError("ddr request", "bytes", "must be positive (request id " + std::to_string(r.id) + ")");
  const std::uint64_t bpb = std::uint64_t(spec_.org.bytes_per_burst());
  const std::uint64_t first = r.address & ~(bpb - 1);
  const std::uint64_t last = (r.address + r.bytes - 1) & ~(bpb - 1);
  ReqState q;
  q.r = r;
  q.next_burst_addr = first;
  q.hi_key = ~std::uint64_t(0);
  q.hi_bank = q.hi_row = 0;
  q.bursts_left_to_admit = static_cast<std::uint32_t>((last - first) / bpb + 1);
  q.bursts_left_to_issue = q.bursts_left_to_admit;
  q.arrival_cycle = static_cast<Cycle>((r.arrival_ps + tck_ - 1) / tck_);
  if (q.arrival_cycle < st().now) q.arrival_cycle = st().now;
  q.done_cycle = 0;
  q.live = true;

  // A prediction simulated ahead stays valid when the request cannot take part in
  // anything it decided: it arrives after all of it, or it queues for the window behind
  // a request that the prediction still had not admitted in full (admission is first
  // come, first served, so the new one was not admitted before the prediction's end
  // either, and cannot complete before the predicted completion). Then it is added to
  // both states.
  if (spec_valid_) {
    const State& sp = spec_st();
    const bool behind_pending = sp.arrivals_head < sp.arrivals.size() &&
                                sp.reqs[sp.arrivals[sp.arrivals_head]].arrival_cycle <= q.arrival_cycle;
    if (q.arrival_cycle >= sp.now || behind_pending) {
      const std::uint32_t a = insert(st(), q);
      const std::uint32_t b = insert(spec_st(), q);
      HEATVIT_CHECK(a == b, "DDR controller: speculative state out of step");
      return;
    }
    spec_valid_ = pred_valid_ = false;
  }
  // A prediction read off the requests already in flight (pred_valid_ without a
  // speculative state: next_completion_ps() simulated nothing ahead) stays valid for any
  // new request: its first command is issued at its arrival cycle, no earlier than now,
  // and its data end CL or CWL plus a burst later, which is no earlier than that
  // prediction.
  insert(st(), q);
}

std::uint32_t Controller::insert(State& s, const ReqState& q) {
  std::uint32_t slot;
  if (!s.free_reqs.empty()) {
    slot = s.free_reqs.back();
    s.free_reqs.pop_back();
    s.reqs[slot] = q;
  } else {
    slot = static_cast<std::uint32_t>(s.reqs.size());
    s.reqs.push_back(q);
  }
  ++s.live_requests;
  // Keep the arrival list sorted by arrival cycle (stable); arrivals nearly always
  // come in order, so search from the back.
  auto& a = s.arrivals;
  std::size_t pos = a.size();
  while (pos > s.arrivals_head && s.reqs[a[pos - 1]].arrival_cycle > q.arrival_cycle) --pos;
  a.insert(a.begin() + static_cast<std::ptrdiff_t>(pos), slot);
  return slot;
}

Cycle Controller::next_arrival_cycle(const State& s) const {
  if (s.window_bursts >= queue_depth_ || s.arrivals_head >= s.arrivals.size()) return kInf;
  return s.reqs[s.arrivals[s.arrivals_head]].arrival_cycle;
}

void Controller::admit(State& s) const {
  const std::uint64_t bpb = std::uint64_t(spec_.org.bytes_per_burst());
  Run* const runs = s.runs.data();
  while (s.window_bursts < queue_depth_ && s.arrivals_head < s.arrivals.size()) {
    const std::uint32_t slot = s.arrivals[s.arrivals_head];
    ReqState& q = s.reqs[slot];
    if (q.arrival_cycle > s.now) break;
    const std::uint64_t burst = q.next_burst_addr >> mapper_.offset_bits();
    if ((burst >> kLoBits) != q.hi_key) {
      q.hi_key = burst >> kLoBits;
      const DramAddress d = mapper_.map((q.hi_key << kLoBits) << mapper_.offset_bits());
      q.hi_bank = mapper_.flat_bank(d);
      q.hi_row = d.row;
    }
    const std::size_t lo = static_cast<std::size_t>(burst & ((std::uint64_t(1) << kLoBits) - 1));
    const std::uint32_t bank = q.hi_bank | lo_bank_[lo];
    const std::uint32_t row = q.hi_row | lo_row_[lo];
    const std::uint64_t seq = s.seq++;
    const bool w = q.r.is_write;
    s.order[(s.order_head + s.window_bursts) & order_mask_] = {seq, bank};
    ++s.window_bursts;
    ++(w ? s.window_writes : s.window_reads);
    BankQueue& bq = s.bank_q[bank];
    bool appended = false;
    if (bq.tail >= 0) {
      // The youngest run of the bank takes the burst when it is the same request's and
      // row's and the ages keep their step.
      Run& t = runs[bq.tail];
      if (t.req == slot && t.row == row) {
        if (t.count == 1) {
          t.stride = seq - t.seq;
          t.count = 2;
          appended = true;
        } else if (seq == t.seq + std::uint64_t(t.count) * t.stride) {
          ++t.count;
          appended = true;
        }
      }
    }
    if (!appended) {
      const std::int32_t e = s.free_runs.back();
      s.free_runs.pop_back();
      Run& r = runs[e];
      r.seq = seq;
      r.req = slot;
      r.row = row;
      r.bank = bank;
      r.count = 1;
      r.stride = 0;
      r.next = -1;
      r.is_write = w;
      r.caused = 0;
      if (bq.tail >= 0) {
        runs[bq.tail].next = e;
      } else {
        bq.head = e;
        if (std::int64_t(row) == s.timing.open_row(BankId{bank})) s.head_hit |= std::uint64_t(1) << bank;
        else s.head_hit &= ~(std::uint64_t(1) << bank);
      }
      bq.tail = e;
    }
    // The youngest burst changes the bank's candidate only when the bank was empty or
    // had no allowed row hit and this burst hits the open row.
    BankCand& c = s.cand[bank];
    if (bq.count == 0 || ((c.e < 0 || c.cmd == Command::PRE) && std::int64_t(row) == s.timing.open_row(BankId{bank})))
      c.mode = 0;
    ++bq.count;
    if (w) {
      ++bq.writes;
      s.write_banks |= std::uint64_t(1) << bank;
    } else {
      s.read_banks |= std::uint64_t(1) << bank;
    }
    s.nonempty_banks |= std::uint64_t(1) << bank;
    q.next_burst_addr += bpb;
    if (--q.bursts_left_to_admit == 0) {
      // Admitted slots leave the list when all are admitted, or once they are half of it
      // (the speculative copy in next_completion_ps() copies the whole list).
      ++s.arrivals_head;
      if (s.arrivals_head == s.arrivals.size()) {
        s.arrivals.clear();
        s.arrivals_head = 0;
      } else if (s.arrivals_head >= 16 && s.arrivals_head * 2 > s.arrivals.size()) {
        s.arrivals.erase(s.arrivals.begin(), s.arrivals.begin() + static_cast<std::ptrdiff_t>(s.arrivals_head));
        s.arrivals_head = 0;
      }
    }
  }
}

void Controller::find_candidate(State& s, std::uint32_t bank, std::uint8_t mode) const {
  BankCand& c = s.cand[bank];
  c.mode = mode;
  const BankId b{bank};
  const BankQueue& bq = s.bank_q[bank];
  const std::int64_t open = s.timing.open_row(b);
  std::int32_t e = bq.head, prev = -1;
  Command cmd = Command::ACT;
  if (open >= 0) {
    // The oldest row hit of an allowed direction (FIFO order is age order); else close
    // the row, but only when nothing in the window still hits it.
    bool any_hit = false;
    for (; e >= 0; prev = e, e = s.runs[static_cast<std::size_t>(e)].next) {
      const Run& en = s.runs[static_cast<std::size_t>(e)];
      if (std::int64_t(en.row) != open) continue;
      any_hit = true;
      if (mode & (en.is_write ? 2 : 1)) break;
    }
    if (e >= 0) {
      cmd = s.runs[static_cast<std::size_t>(e)].is_write ? Command::WR : Command::RD;
    } else if (!any_hit) {
      cmd = Command::PRE;
      e = bq.head;
      prev = -1;
    }
  }
  c.e = e;
  c.prev = prev;
  c.cmd = cmd;
  c.kind = static_cast<std::uint8_t>(cmd == Command::ACT   ? TimingState::kKindAct
                                     : cmd == Command::PRE ? TimingState::kKindPre
                                     : cmd == Command::RD  ? TimingState::kKindRd
                                                           : TimingState::kKindWr);
  if (e >= 0) {
    c.seq = s.runs[static_cast<std::size_t>(e)].seq;
    c.bank_t = s.timing.bank_earliest(cmd, b);
  }
}

void Controller::leave_order(Aged* o, std::uint32_t& head, std::uint64_t seq, std::uint32_t window) const {
  const std::uint32_t h = head;
  if (o[h].seq != seq) {
    // Issued ahead of older bursts: close the gap by moving the older ones up by one.
    std::uint32_t i = 1;
    while (i < window && o[(h + i) & order_mask_].seq != seq) ++i;
    HEATVIT_CHECK(i < window, "DDR controller: an issued burst is not in the window");
    for (; i > 0; --i) o[(h + i) & order_mask_] = o[(h + i - 1) & order_mask_];
  }
  head = (h + 1) & order_mask_;
}

void Controller::issue_column(State& s, std::int32_t e, std::int32_t prev, Cycle t) const {
  Run& en = s.runs[static_cast<std::size_t>(e)];
  const std::uint32_t bank = en.bank;
  const BankId b{bank};
  const bool w = en.is_write;
  const std::uint32_t row = en.row;
  s.timing.issue_column_trusted(w, b, row, t);
  s.cand[bank].mode = 0;

  ControllerStats& st = s.stats;
  if (w != s.dir_write) {
    if (s.any_column_issued) ++st.rw_turnarounds;
    s.dir_bursts = 0;
  }
  s.dir_write = w;
  s.any_column_issued = true;
  ++s.dir_bursts;
  if (w) ++st.write_bursts;
  else ++st.read_bursts;
  if (en.caused == 0) ++st.row_hits;
  else if (en.caused == 1) ++st.row_misses;
  else ++st.row_conflicts;
  st.data_bus_busy_cycles += std::uint64_t(spec_.burst_cycles());

  ReqState& q = s.reqs[en.req];
  const Cycle end = w ? s.timing.write_data_end(t) : s.timing.read_data_end(t);
  if (end > q.done_cycle) q.done_cycle = end;
  if (--q.bursts_left_to_issue == 0) s.inflight.push_back({q.done_cycle, en.req});

  // The run's first burst leaves the window.
  leave_order(s.order.data(), s.order_head, en.seq, s.window_bursts);
  BankQueue& bq = s.bank_q[bank];
  --bq.count;
  if (w) {
    if (--bq.writes == 0) s.write_banks &= ~(std::uint64_t(1) << bank);
  } else if (bq.count == bq.writes) {
    s.read_banks &= ~(std::uint64_t(1) << bank);
  }
  --s.window_bursts;
  --(w ? s.window_writes : s.window_reads);
  en.caused = 0;
  if (--en.count > 0) {
    en.seq += en.stride;
  } else {
    if (prev >= 0) s.runs[static_cast<std::size_t>(prev)].next = en.next;
    else bq.head = en.next;
    if (bq.tail == e) bq.tail = prev;
    s.free_runs.push_back(e);
  }

  if (bq.count == 0) s.nonempty_banks &= ~(std::uint64_t(1) << bank);
  if (spec_.ctrl.page_policy == PagePolicy::Closed) {
    bool more = false;
    for (std::int32_t i = bq.head; i >= 0; i = s.runs[static_cast<std::size_t>(i)].next)
      if (s.runs[static_cast<std::size_t>(i)].row == row) {
        more = true;
        break;
      }
    if (!more) {
      s.timing.auto_precharge(b);
      ++st.precharges;
    }
  }
  set_head_hit(s, bank);
}

bool Controller::select(State& s, Cycle& best_t, std::int32_t& best_e, std::int32_t& best_prev,
                        Command& best_cmd) const {
  const DdrControllerConfig& cc = spec_.ctrl;
  // Which column direction may be served now (FR-FCFS only): keep the current
  // direction while it has work, up to rw_switch_bursts when the other waits.
  bool allow_rd = true, allow_wr = true;
  const bool frfcfs = cc.scheduler == SchedulerKind::FrFcfs;
  if (frfcfs && s.any_column_issued) {
    const std::uint32_t n_same = s.dir_write ? s.window_writes : s.window_reads;
    const std::uint32_t n_other = s.dir_write ? s.window_reads : s.window_writes;
    const bool keep = n_same > 0 && (n_other == 0 || s.dir_bursts < std::uint32_t(cc.rw_switch_bursts));
    if (keep) {
      if (s.dir_write) allow_rd = false;
      else allow_wr = false;
    } else if (n_other > 0) {
      if (s.dir_write) allow_wr = false;
      else allow_rd = false;
    }
  }

  // Candidates: per bank, the oldest allowed row hit (column command), else the
  // command the oldest burst needs (PRE on a conflict, ACT on a closed bank).
  best_t = kInf;
  std::uint64_t best_seq = ~std::uint64_t(0);
  best_e = -1;
  best_prev = -1;
  best_cmd = Command::ACT;

  if (!frfcfs) {
    // FCFS: only the oldest burst in the window may be served.
    std::int32_t oldest = -1;
    for (std::uint64_t m = s.nonempty_banks; m; m &= m - 1) {
      const std::int32_t h = s.bank_q[static_cast<std::size_t>(lowest_bit(m))].head;
      if (oldest < 0 || s.runs[static_cast<std::size_t>(h)].seq < s.runs[static_cast<std::size_t>(oldest)].seq)
        oldest = h;
    }
    if (oldest >= 0) {
      const Run& en = s.runs[static_cast<std::size_t>(oldest)];
      const std::int64_t open = s.timing.open_row(BankId{en.bank});
      best_cmd = open == std::int64_t(en.row) ? (en.is_write ? Command::WR : Command::RD)
                 : open >= 0                  ? Command::PRE
                                              : Command::ACT;
      best_t = std::max(s.now, s.timing.earliest(best_cmd, BankId{en.bank}));
      best_e = oldest;
    }
    return best_e >= 0;
  }
  // The rank-wide constraints are the same for every bank: computed once per command.
  const Cycle rank_t[4] = {std::max(s.now, s.timing.rank_earliest(Command::ACT)),
                           std::max(s.now, s.timing.rank_earliest(Command::PRE)),
                           std::max(s.now, s.timing.rank_earliest(Command::RD)),
                           std::max(s.now, s.timing.rank_earliest(Command::WR))};
  // Comparison key: earlier time first, then column commands, then the older burst.
  std::uint64_t best_key = ~std::uint64_t(0);
  auto search = [&](bool rd_ok, bool wr_ok) {
    const auto mode = static_cast<std::uint8_t>((rd_ok ? 1 : 0) | (wr_ok ? 2 : 0));
    for (std::uint64_t m = s.nonempty_banks; m; m &= m - 1) {
      const auto bank = static_cast<std::uint32_t>(lowest_bit(m));
      BankCand& c = s.cand[bank];
      if (c.mode != mode) find_candidate(s, bank, mode);
      if (c.e < 0) continue;
      const Cycle t = std::max(std::max(c.bank_t, rank_t[c.kind]), s.timing.group_earliest(c.kind, c.group));
      const std::uint64_t key = (std::uint64_t(t) << 1) | (c.kind < 2 ? 1u : 0u);
      if (key < best_key || (key == best_key && c.seq < best_seq)) {
        best_key = key;
        best_seq = c.seq;
        best_e = c.e;
        best_prev = c.prev;
        best_cmd = c.cmd;
      }
    }
  };
  search(allow_rd, allow_wr);
  // The preferred direction may be stuck behind rows held open for the other one.
  if (best_e < 0 && !(allow_rd && allow_wr)) search(true, true);
  if (best_e >= 0) best_t = static_cast<Cycle>(best_key >> 1);
  return best_e >= 0;
}

bool Controller::streaming(const State& s, bool& write) const {
  if (!streaming_path_ || s.nonempty_banks == 0 || (s.nonempty_banks & ~s.head_hit) != 0) return false;
  if (s.window_reads == 0 || s.window_writes == 0) {
    write = s.window_writes != 0;
    return true;
  }
  // Both directions, in separate banks: select() allows one, the current one while it
  // has had fewer than rw_switch_bursts bursts (it has work: both have), else the other.
  // Banks of the other direction have no candidate then (their rows are hit).
  if (!s.any_column_issued || (s.read_banks & s.write_banks) != 0) return false;
  write = s.dir_bursts < std::uint32_t(spec_.ctrl.rw_switch_bursts) ? s.dir_write : !s.dir_write;
  return true;
}

std::uint32_t Controller::stream(State& s, bool w, Cycle limit, Cycle horizon) const {
  const Command col = w ? Command::WR : Command::RD;
  const int kind = w ? TimingState::kKindWr : TimingState::kKindRd;
  const Cycle data_latency = Cycle(w ? spec_.timing.CWL : spec_.timing.CL) + spec_.burst_cycles();
  const std::uint64_t bpb = std::uint64_t(spec_.org.bytes_per_burst());
  const int offset_bits = mapper_.offset_bits();
  const Cycle next_refresh = spec_.ctrl.refresh ? s.next_refresh : kInf;
  const auto rw_switch = std::uint32_t(spec_.ctrl.rw_switch_bursts);
  Run* const runs = s.runs.data();
  BankQueue* const queues = s.bank_q.data();
  BankCand* const cand = s.cand.data();
  ReqState* const reqs = s.reqs.data();
  Aged* const order = s.order.data();

  // What changes with every command, in locals (stored back on leaving, and around the
  // general admission).
  Cycle now = s.now;
  std::uint64_t nonempty = s.nonempty_banks, head_hit = s.head_hit, seq = s.seq;
  std::uint64_t read_banks = s.read_banks, write_banks = s.write_banks;
  std::uint32_t window = s.window_bursts, window_dir = w ? s.window_writes : s.window_reads;
  bool dir_write = s.dir_write, any_column = s.any_column_issued;
  std::uint32_t dir_bursts = s.dir_bursts;
  std::uint32_t order_head = s.order_head;
  std::uint64_t bursts = 0, misses = 0, conflicts = 0, turnarounds = 0;
  auto store = [&] {
    s.now = now;
    s.nonempty_banks = nonempty;
    s.head_hit = head_hit;
    s.read_banks = read_banks;
    s.write_banks = write_banks;
    s.seq = seq;
    s.window_bursts = window;
    (w ? s.window_writes : s.window_reads) = window_dir;
    s.dir_write = dir_write;
    s.any_column_issued = any_column;
    s.dir_bursts = dir_bursts;
    s.order_head = order_head;
    ControllerStats& st = s.stats;
    (w ? st.write_bursts : st.read_bursts) += bursts;
    st.row_hits += bursts - misses - conflicts;
    st.row_misses += misses;
    st.row_conflicts += conflicts;
    st.rw_turnarounds += turnarounds;
    st.data_bus_busy_cycles += bursts * std::uint64_t(spec_.burst_cycles());
    bursts = misses = conflicts = turnarounds = 0;
  };
  auto load = [&] {
    nonempty = s.nonempty_banks;
    head_hit = s.head_hit;
    read_banks = s.read_banks;
    write_banks = s.write_banks;
    seq = s.seq;
    window = s.window_bursts;
    window_dir = w ? s.window_writes : s.window_reads;
    order_head = s.order_head;
  };

  // Set when the banks' state leaves the streaming case (it changes only when a run
  // leaves the window or on the general admission).
  bool ended = false;
  auto banks_ended = [&] {
    return nonempty == 0 || (nonempty & ~head_hit) != 0 || (read_banks & write_banks) != 0;
  };
  std::uint32_t issued = 0;
  for (;;) {
    // Every bank queuing the direction offers its oldest burst, a row hit: the earliest
    // of them wins, the older on a tie. No command can be earlier than the rank-wide
    // constraint, so when the window's oldest burst is of the direction and can go
    // then, it wins; otherwise the banks are compared.
    const Cycle rank = std::max(now, s.timing.rank_earliest(col));
    const std::uint64_t dir_banks = w ? write_banks : read_banks;
    const Aged& oldest = order[order_head];
    Cycle best_t = kInf;
    std::uint64_t best_seq = ~std::uint64_t(0);
    std::uint32_t best = 0;
    if ((dir_banks >> oldest.bank) & 1) {
      best_t = std::max(std::max(rank, s.timing.column_bank_earliest(w, BankId{oldest.bank})),
                        s.timing.group_earliest(kind, cand[oldest.bank].group));
      best_seq = oldest.seq;
      best = oldest.bank;
    }
    if (best_t != rank) {
      for (std::uint64_t m = dir_banks; m; m &= m - 1) {
        const auto b = static_cast<std::uint32_t>(lowest_bit(m));
        const std::uint64_t sq = runs[queues[b].head].seq;
        const Cycle tb = std::max(std::max(rank, s.timing.column_bank_earliest(w, BankId{b})),
                                  s.timing.group_earliest(kind, cand[b].group));
        if (tb < best_t || (tb == best_t && sq < best_seq)) {
          best_t = tb;
          best_seq = sq;
          best = b;
        }
      }
    }
#ifndef NDEBUG
    {
      store();
      Cycle t;
      std::int32_t e, prev;
      Command cmd;
      const bool any = select(s, t, e, prev, cmd);
      HEATVIT_CHECK(any && e == queues[best].head && prev == -1 && t == best_t && cmd == col,
                    "DDR controller: the streaming choice differs from the general one");
    }
#endif
    if (best_t >= horizon) {
      // Nothing goes before the horizon: move to it. After commands were issued this
      // saves the caller a step() that would only find the same (its admission, refresh
      // check and horizon at this `now` are the loop's, and the limit moves only when a
      // request's last burst is issued, which returned above).
      now = horizon;
      store();
      return issued;
    }

    // Issue the first burst of the bank's oldest run.
    const std::int32_t e = queues[best].head;
    Run& r = runs[e];
    leave_order(order, order_head, r.seq, window);
    s.timing.issue_column_trusted(w, BankId{best}, r.row, best_t);
    cand[best].mode = 0;
    if (w != dir_write) {
      if (any_column) ++turnarounds;
      dir_bursts = 0;
      dir_write = w;
    }
    any_column = true;
    ++dir_bursts;
    ++bursts;
    if (r.caused != 0) {  // the first burst after an ACT (1) or PRE + ACT (2); rare
      misses += r.caused == 1;
      conflicts += r.caused == 2;
      r.caused = 0;
    }
    ReqState& q = reqs[r.req];
    q.done_cycle = std::max(q.done_cycle, best_t + data_latency);
    const bool request_issued = --q.bursts_left_to_issue == 0;
    if (request_issued) s.inflight.push_back({q.done_cycle, r.req});
    BankQueue& bq = queues[best];
    --bq.count;
    --window;
    --window_dir;
    if (w) --bq.writes;
    if (--r.count > 0) {
      r.seq += r.stride;
    } else {
      bq.head = r.next;
      if (bq.tail == e) bq.tail = -1;
      s.free_runs.push_back(e);
      const std::uint64_t bit = std::uint64_t(1) << best;
      // The bank queues one direction: it is out of it when it is empty.
      if (bq.head < 0) {
        nonempty &= ~bit;
        read_banks &= ~bit;
        write_banks &= ~bit;
      }
      if (bq.head >= 0 && std::int64_t(runs[bq.head].row) == s.timing.open_row(BankId{best})) head_hit |= bit;
      else head_hit &= ~bit;
      ended = banks_ended();
    }
    now = best_t + 1;
    ++issued;
    // A request whose last burst was issued ends the run: the caller may move its limit.
    if (request_issued || now >= limit) {
      store();
      return issued;
    }

    // What step() does before its next choice. Admission: a burst that extends its
    // bank's youngest run is counted here; anything else goes through admit().
    while (window < queue_depth_ && s.arrivals_head < s.arrivals.size()) {
      const std::uint32_t slot = s.arrivals[s.arrivals_head];
      ReqState& a = reqs[slot];
      if (a.arrival_cycle > now) break;
      const std::uint64_t burst = a.next_burst_addr >> offset_bits;
      bool fast = (burst >> kLoBits) == a.hi_key && a.bursts_left_to_admit > 1;
      std::uint32_t bank = 0, row = 0;
      if (fast) {
        const std::size_t lo = static_cast<std::size_t>(burst & ((std::uint64_t(1) << kLoBits) - 1));
        bank = a.hi_bank | lo_bank_[lo];
        row = a.hi_row | lo_row_[lo];
        const BankQueue& aq = queues[bank];
        fast = aq.tail >= 0;
        if (fast) {
          const Run& t = runs[aq.tail];
          fast = t.req == slot && t.row == row && (t.count == 1 || seq == t.seq + std::uint64_t(t.count) * t.stride);
        }
      }
      if (!fast) {
        store();
        admit(s);
        load();
        ended = banks_ended();
        break;
      }
      BankQueue& aq = queues[bank];
      Run& t = runs[aq.tail];
      order[(order_head + window) & order_mask_] = {seq, bank};
      if (t.count == 1) t.stride = seq - t.seq;
      ++t.count;
      ++seq;
      ++window;
      if (a.r.is_write == w) ++window_dir;
      else ++(w ? s.window_reads : s.window_writes);
      ++aq.count;
      if (a.r.is_write) ++aq.writes;
      // As in admit(): the bank's candidate changes only if it had no allowed row hit
      // and this burst hits the open row.
      BankCand& c = cand[bank];
      if ((c.e < 0 || c.cmd == Command::PRE) && std::int64_t(row) == s.timing.open_row(BankId{bank})) c.mode = 0;
      a.next_burst_addr += bpb;
      --a.bursts_left_to_admit;
    }
    // The case lasts while every queued bank's oldest burst hits, no bank queues both
    // directions, and select() would keep this direction: it has work, and the other
    // has none or this one has had fewer than rw_switch_bursts bursts.
    if (ended || now >= next_refresh || window_dir == 0 ||
        (dir_bursts >= rw_switch && (w ? s.window_reads : s.window_writes) != 0)) {
      store();
      return issued;
    }
    const Cycle arrival =
        window < queue_depth_ && s.arrivals_head < s.arrivals.size() ? reqs[s.arrivals[s.arrivals_head]].arrival_cycle : kInf;
    horizon = std::min(std::min(limit, arrival), next_refresh);
  }
}

bool Controller::step(State& s, Cycle limit) const {
  const DdrControllerConfig& cc = spec_.ctrl;
  for (;;) {
    if (s.now >= limit) return false;
    admit(s);
    if (cc.refresh && !s.refresh_pending && s.now >= s.next_refresh) s.refresh_pending = true;

    if (s.refresh_pending) {
      const bool any_open = s.timing.open_banks() > 0;
      const Command cmd = any_open ? Command::PREA : Command::REF;
      Cycle t = std::max(s.now, s.timing.earliest(cmd, BankId{0}));
      if (t >= limit) {
        s.now = limit;
        return false;
      }
      s.timing.issue_trusted(cmd, BankId{0}, 0, t);
      if (any_open) {
        for (BankCand& c : s.cand) c.mode = 0;
        s.head_hit = 0;
        ++s.stats.precharges;
      } else {
        ++s.stats.refreshes;
        s.next_refresh += spec_.timing.tREFI;
        s.refresh_pending = false;
      }
      s.now = t + 1;
      return true;
    }

    Cycle horizon = std::min(limit, next_arrival_cycle(s));
    if (cc.refresh) horizon = std::min(horizon, s.next_refresh);

    bool w;
    if (streaming(s, w)) {
      if (stream(s, w, limit, horizon) > 0) return true;
      continue;  // stream() moved to the horizon
    }

    Cycle best_t;
    std::int32_t best_e, best_prev;
    Command best_cmd;
    if (!select(s, best_t, best_e, best_prev, best_cmd) || best_t >= horizon) {
      if (horizon >= kInf) {
        // Nothing to do and nothing will arrive: only possible with an empty window.
        s.now = limit;
        return false;
      }
      s.now = horizon;
      continue;
    }

    const Cycle t = best_t;
    Run& en = s.runs[static_cast<std::size_t>(best_e)];
    switch (best_cmd) {
      case Command::RD:
      case Command::WR:
        issue_column(s, best_e, best_prev, t);
        break;
      case Command::PRE:
        s.timing.issue_trusted(Command::PRE, BankId{en.bank}, 0, t);
        s.cand[en.bank].mode = 0;
        s.head_hit &= ~(std::uint64_t(1) << en.bank);
        en.caused = 2;
        ++s.stats.precharges;
        break;
      case Command::ACT:
        s.timing.issue_trusted(Command::ACT, BankId{en.bank}, en.row, t);
        s.cand[en.bank].mode = 0;
        set_head_hit(s, en.bank);
        if (en.caused == 0) en.caused = 1;
        ++s.stats.activates;
        break;
      default:
        break;
    }
    s.now = t + 1;
    return true;
  }
}

void Controller::set_head_hit(State& s, std::uint32_t bank) const {
  const BankQueue& bq = s.bank_q[bank];
  const std::uint64_t bit = std::uint64_t(1) << bank;
  if (bq.head >= 0 && std::int64_t(s.runs[static_cast<std::size_t>(bq.head)].row) == s.timing.open_row(BankId{bank}))
    s.head_hit |= bit;
  else
    s.head_hit &= ~bit;
}

void Controller::run(State& s, Cycle limit) const {
  while (step(s, limit)) {
  }
  s.stats.cycles = s.now;
}

void Controller::report(State& s, std::uint64_t ps) {
  const std::size_t first = completed_.size();
  auto& inf = s.inflight;
  for (std::size_t i = 0; i < inf.size();) {
    const std::uint64_t done_ps = std::uint64_t(inf[i].done) * tck_;
    if (done_ps > ps) {
      ++i;
      continue;
    }
    ReqState& q = s.reqs[inf[i].req];
    Completion c;
    c.id = q.r.id;
    c.arrival_ps = q.r.arrival_ps;
    c.done_ps = done_ps;
    c.bytes = q.r.bytes;
    c.is_write = q.r.is_write;
    completed_.push_back(c);
    ControllerStats& st = s.stats;
    const std::uint64_t lat = done_ps > c.arrival_ps ? done_ps - c.arrival_ps : 0;
    if (c.is_write) {
      ++st.write_requests;
      st.write_bytes += c.bytes;
      st.write_latency_ps_sum += lat;
    } else {
      ++st.read_requests;
      st.read_bytes += c.bytes;
      st.read_latency_ps_sum += lat;
    }
    q.live = false;
    s.free_reqs.push_back(inf[i].req);
    --s.live_requests;
    inf[i] = inf.back();
    inf.pop_back();
  }
  std::sort(completed_.begin() + static_cast<std::ptrdiff_t>(first), completed_.end(),
            [](const Completion& a, const Completion& b) { return a.done_ps < b.done_ps; });
  if (callback_)
    for (std::size_t i = first; i < completed_.size(); ++i) callback_(completed_[i]);
}

void Controller::advance_to(std::uint64_t ps) {
  const Cycle target = static_cast<Cycle>((ps + tck_ - 1) / tck_);
  if (spec_valid_ && spec_st().now <= target && spec_st().now >= st().now) cur_ ^= 1;
  spec_valid_ = pred_valid_ = false;
  if (target > st().now) run(st(), target);
  report(st(), ps);
}

std::uint64_t Controller::next_completion_ps() {
  if (pred_valid_) return pred_ps_;
  if (st().live_requests == 0) return kNever;
  const Cycle min_lat = std::min(spec_.timing.CL, spec_.timing.CWL) + spec_.burst_cycles();
  auto min_done = [](const State& s) {
    Cycle d = kInf;
    for (const InFlight& f : s.inflight) d = std::min(d, f.done);
    return d;
  };
  // Already decided: an in-flight request finishing before anything not yet issued could.
  Cycle d = min_done(st());
  if (d <= st().now + min_lat) {
    pred_valid_ = true;
    pred_ps_ = std::uint64_t(d) * tck_;
    return pred_ps_;
  }

  spec_st() = st();
  State& s = spec_st();
  d = min_done(s);
  while (d >= kInf) {
    HEATVIT_CHECK(s.live_requests > s.inflight.size(), "DDR controller: live requests without work");
    step(s, kInf);
    d = min_done(s);
  }
  while (s.now < d) {
    if (!step(s, d)) break;
    d = std::min(d, min_done(s));
  }
  s.stats.cycles = s.now;
  spec_valid_ = pred_valid_ = true;
  pred_ps_ = std::uint64_t(d) * tck_;
  return pred_ps_;
}

std::uint64_t Controller::run_until_idle() {
  std::uint64_t last = now_ps();
  while (!idle()) {
    const std::uint64_t t = next_completion_ps();
    HEATVIT_CHECK(t != kNever, "DDR controller: pending requests but no completion");
    advance_to(t);
    last = t;
  }
  return last;
}

json to_json(const ControllerStats& s, const DdrSpec& spec) {
  json j;
  j["read_requests"] = s.read_requests;
  j["write_requests"] = s.write_requests;
  j["read_bytes"] = s.read_bytes;
  j["write_bytes"] = s.write_bytes;
  j["read_bursts"] = s.read_bursts;
  j["write_bursts"] = s.write_bursts;
  j["row_hits"] = s.row_hits;
  j["row_misses"] = s.row_misses;
  j["row_conflicts"] = s.row_conflicts;
  j["activates"] = s.activates;
  j["precharges"] = s.precharges;
  j["refreshes"] = s.refreshes;
  j["rw_turnarounds"] = s.rw_turnarounds;
  j["data_bus_busy_cycles"] = s.data_bus_busy_cycles;
  j["cycles"] = s.cycles;
  j["tCK_ps"] = spec.timing.tCK_ps;
  j["bus_utilization"] = s.bus_utilization();
  j["avg_read_latency_ns"] = s.avg_read_latency_ns();
  j["avg_write_latency_ns"] = s.avg_write_latency_ns();
  const double secs = double(s.cycles) * double(spec.timing.tCK_ps) * 1e-12;
  j["bandwidth_GBps"] = secs > 0 ? double(s.read_bytes + s.write_bytes) / secs / 1e9 : 0.0;
  return j;
}

}  // namespace heatvit::ddr
