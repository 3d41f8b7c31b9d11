// DDR4 command timing state of one rank: per bank, per bank group and rank-wide
// "next allowed cycle" for every command, plus the row-buffer state of each bank.
//
// Plain C++ (no SystemC). The controller asks earliest() and calls issue(); unit
// tests drive it directly to check every timing parameter as a tight gate.
// Rules modelled (JESD79-4, AL = 0, 1 nCK preambles, single rank, BL8 only):
//   ACT->ACT same bank tRC, same group tRRD_L, other group tRRD_S, 5th ACT >= 1st + tFAW
//   ACT->RD/WR tRCD; ACT->PRE tRAS; PRE->ACT tRP; RD->PRE tRTP; WR->PRE CWL+BL/2+tWR
//   RD->RD, WR->WR tCCD_L same group / tCCD_S other group
//   RD->WR CL+BL/2+2-CWL; WR->RD CWL+BL/2+tWTR_L same group / tWTR_S other group
//   PRE->REF tRP (all banks closed); REF->ACT tRFC; one command per clock on the
//   command bus.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "heatvit/ddr/spec.hpp"

namespace heatvit::ddr {

using Cycle = std::int64_t;  ///< DRAM clock cycle (nCK) since time 0

enum class Command : std::uint8_t { ACT, PRE, PREA, RD, WR, REF };
const char* to_string(Command c);

/// Flat bank index in [0, banks): bank_group * banks_per_group + bank.
struct BankId {
  std::uint32_t value = 0;
  friend bool operator==(BankId a, BankId b) { return a.value == b.value; }
};

class TimingState {
 public:
  explicit TimingState(const DdrSpec& spec);

  BankId bank_id(std::uint32_t bank_group, std::uint32_t bank) const {
    return BankId{bank_group * banks_per_group_ + bank};
  }
  std::uint32_t group_of(BankId b) const { return banks_[b.value].group; }
  std::uint32_t banks() const { return static_cast<std::uint32_t>(banks_.size()); }

  /// Earliest cycle at which `cmd` to bank `b` satisfies every timing constraint
  /// (ignores whether the bank state allows it; PREA and REF ignore `b`).
  Cycle earliest(Command cmd, BankId b) const {
    const Bank& k = banks_[b.value];
    switch (cmd) {
      case Command::ACT: {
        const Group& g = groups_[group_of(b)];
        return max4(k.next_act, g.by_kind[kKindAct], next_act_, next_cmd_);
      }
      case Command::RD: {
        const Group& g = groups_[group_of(b)];
        return max4(k.next_rd, g.by_kind[kKindRd], next_rd_, next_cmd_);
      }
      case Command::WR: {
        const Group& g = groups_[group_of(b)];
        return max4(k.next_wr, g.by_kind[kKindWr], next_wr_, next_cmd_);
      }
      case Command::PRE:
        return k.next_pre > next_cmd_ ? k.next_pre : next_cmd_;
      case Command::PREA:
        return earliest_prea();
      case Command::REF:
        return next_ref_ > next_cmd_ ? next_ref_ : next_cmd_;
    }
    return next_cmd_;
  }

  /// Command kinds indexing the per-group constraints (PRE has none: always 0).
  static constexpr int kKindAct = 0, kKindPre = 1, kKindRd = 2, kKindWr = 3;

  /// earliest() split in three for ACT, PRE, RD and WR: the constraints of bank `b`
  /// alone, of its bank group (by command kind), and the rank-wide ones (command bus
  /// included); earliest(cmd, b) == max(bank_earliest, group_earliest, rank_earliest). A
  /// scheduler that compares many banks keeps the bank part and computes the rank part
  /// once.
  Cycle bank_earliest(Command cmd, BankId b) const {
    const Bank& k = banks_[b.value];
    switch (cmd) {
      case Command::ACT: return k.next_act;
      case Command::RD: return k.next_rd;
      case Command::WR: return k.next_wr;
      default: return k.next_pre;
    }
  }
  Cycle group_earliest(int kind, std::uint32_t group) const { return groups_[group].by_kind[kind]; }
  /// bank_earliest() of a RD (`write` false) or WR.
  Cycle column_bank_earliest(bool write, BankId b) const {
    const Bank& k = banks_[b.value];
    return write ? k.next_wr : k.next_rd;
  }
  Cycle rank_earliest(Command cmd) const {
    switch (cmd) {
      case Command::ACT: return max2(next_act_, next_cmd_);
      case Command::RD: return max2(next_rd_, next_cmd_);
      case Command::WR: return max2(next_wr_, next_cmd_);
      default: return next_cmd_;
    }
  }

  /// True when `cmd` is allowed at cycle `t`: bank state (ACT needs a closed bank,
  /// RD/WR the row `row` open, PRE an open bank, REF all banks closed) and timing.
  bool can_issue(Command cmd, BankId b, std::uint32_t row, Cycle t) const;

  /// Applies `cmd` at cycle `t`. Throws InternalError when can_issue() is false.
  void issue(Command cmd, BankId b, std::uint32_t row, Cycle t);
  /// issue() for a caller that has established can_issue() itself (the controller):
  /// checked only in builds without NDEBUG (the Debug/sanitizer build).
  void issue_trusted(Command cmd, BankId b, std::uint32_t row, Cycle t) {
#ifndef NDEBUG
    issue(cmd, b, row, t);
#else
    apply(cmd, b, row, t);
#endif
  }
  /// issue_trusted() of a RD (`write` false) or WR to the open row of bank `b`: the
  /// controller's most frequent command, applied inline.
  void issue_column_trusted(bool write, BankId b, std::uint32_t row, Cycle t) {
#ifndef NDEBUG
    issue(write ? Command::WR : Command::RD, b, row, t);
#else
    (void)row;
    apply_column(write, b, t);
#endif
  }

  /// Auto-precharge (RDA/WRA): closes bank `b` internally at the earliest cycle the
  /// last column command allows, without using the command bus. Returns that cycle.
  Cycle auto_precharge(BankId b);

  bool is_open(BankId b) const { return banks_[b.value].open_row >= 0; }
  std::int64_t open_row(BankId b) const { return banks_[b.value].open_row; }  ///< -1 when closed
  int open_banks() const { return open_count_; }

  /// Data-bus interval of a column command issued at `t`: [t + latency, t + latency + BL/2).
  Cycle read_data_end(Cycle t) const { return t + spec_cl_ + burst_; }
  Cycle write_data_end(Cycle t) const { return t + spec_cwl_ + burst_; }

 private:
  struct Bank {
    Cycle next_act = 0, next_pre = 0, next_rd = 0, next_wr = 0;
    std::int64_t open_row = -1;
    std::uint32_t group = 0;  ///< bank group (kept here: no division per command)
  };
  struct Group {
    Cycle by_kind[4] = {0, 0, 0, 0};  ///< next ACT, (PRE: no group constraint), RD, WR
  };
  void apply(Command cmd, BankId b, std::uint32_t row, Cycle t);
  void apply_column(bool write, BankId b, Cycle t) {
    next_cmd_ = t + 1;
    Bank& k = banks_[b.value];
    Group& g = groups_[k.group];
    if (write) {
      raise(k.next_pre, t + wr_to_pre_);
      raise(g.by_kind[kKindWr], t + t_.tCCD_L);
      raise(g.by_kind[kKindRd], t + wr_to_rd_l_);
      raise(next_wr_, t + t_.tCCD_S);
      raise(next_rd_, t + wr_to_rd_s_);
    } else {
      raise(k.next_pre, t + t_.tRTP);
      raise(g.by_kind[kKindRd], t + t_.tCCD_L);
      raise(g.by_kind[kKindWr], t + t_.tCCD_L);
      raise(next_rd_, t + t_.tCCD_S);
      raise(next_wr_, t + rd_to_wr_);
    }
  }
  static Cycle max2(Cycle a, Cycle b) { return a > b ? a : b; }
  static Cycle max4(Cycle a, Cycle b, Cycle c, Cycle d) {
    const Cycle x = a > b ? a : b;
    const Cycle y = c > d ? c : d;
    return x > y ? x : y;
  }
  Cycle earliest_prea() const;
  // An unconditional store, compiled to a conditional move: which constraint binds
  // changes from command to command, and a mispredicted branch costs more.
  static void raise(Cycle& v, Cycle t) { v = t > v ? t : v; }

  DdrTiming t_;
  std::uint32_t banks_per_group_;
  Cycle burst_, spec_cl_, spec_cwl_, rd_to_wr_, wr_to_rd_l_, wr_to_rd_s_, wr_to_pre_;
  std::vector<Bank> banks_;
  std::vector<Group> groups_;
  Cycle next_act_ = 0, next_rd_ = 0, next_wr_ = 0, next_ref_ = 0, next_cmd_ = 0;
  std::array<Cycle, 4> act_window_;  ///< cycles of the last four ACTs (ring)
  int act_pos_ = 0;
  int open_count_ = 0;
};

}  // namespace heatvit::ddr
