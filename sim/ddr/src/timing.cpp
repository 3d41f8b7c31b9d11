#include "heatvit/ddr/timing.hpp"

#include <string>

#include "heatvit/core/error.hpp"

namespace heatvit::ddr {

const char* to_string(Command c) {
  switch (c) {
    case Command::ACT: return "ACT";
    case Command::PRE: return "PRE";
    case Command::PREA: return "PREA";
    case Command::RD: return "RD";
    case Command::WR: return "WR";
    case Command::REF: return "REF";
  }
  return "?";
}

TimingState::TimingState(const DdrSpec& spec)
    : t_(spec.timing),
      banks_per_group_(static_cast<std::uint32_t>(spec.org.banks_per_group)),
      burst_(spec.burst_cycles()),
      spec_cl_(spec.timing.CL),
      spec_cwl_(spec.timing.CWL),
      rd_to_wr_(spec.read_to_write()),
      wr_to_rd_l_(spec.write_to_read_same_bg()),
      wr_to_rd_s_(spec.write_to_read_diff_bg()),
      wr_to_pre_(spec.write_to_precharge()),
      banks_(static_cast<std::size_t>(spec.org.banks())),
      groups_(static_cast<std::size_t>(spec.org.bank_groups)) {
  // No ACT history yet: the window imposes nothing.
  act_window_.fill(-(Cycle(1) << 40));
  for (std::size_t i = 0; i < banks_.size(); ++i) banks_[i].group = static_cast<std::uint32_t>(i) / banks_per_group_;
}

Cycle TimingState::earliest_prea() const {
  Cycle e = next_cmd_;
  for (const Bank& k : banks_)
    if (k.open_row >= 0 && k.next_pre > e) e = k.next_pre;
  return e;
}

bool TimingState::can_issue(Command cmd, BankId b, std::uint32_t row, Cycle t) const {
  if (b.value >= banks_.size()) return false;
  const Bank& k = banks_[b.value];
  switch (cmd) {
    case Command::ACT:
      if (k.open_row >= 0) return false;
      break;
    case Command::RD:
    case Command::WR:
      if (k.open_row != std::int64_t(row)) return false;
      break;
    case Command::PRE:
      if (k.open_row < 0) return false;
      break;
    case Command::PREA:
      break;
    case Command::REF:
      if (open_count_ != 0) return false;
      break;
  }
  return t >= earliest(cmd, b);
}

void TimingState::issue(Command cmd, BankId b, std::uint32_t row, Cycle t) {
  HEATVIT_CHECK(can_issue(cmd, b, row, t), std::string("illegal DDR command ") + to_string(cmd) + " to bank " +
                                               std::to_string(b.value) + " at cycle " + std::to_string(t));
  apply(cmd, b, row, t);
}

void TimingState::apply(Command cmd, BankId b, std::uint32_t row, Cycle t) {
  next_cmd_ = t + 1;
  switch (cmd) {
    case Command::ACT: {
      Bank& k = banks_[b.value];
      Group& g = groups_[group_of(b)];
      k.open_row = row;
      ++open_count_;
      raise(k.next_act, t + t_.tRC);
      raise(k.next_pre, t + t_.tRAS);
      raise(k.next_rd, t + t_.tRCD);
      raise(k.next_wr, t + t_.tRCD);
      raise(g.by_kind[kKindAct], t + t_.tRRD_L);
      raise(next_act_, t + t_.tRRD_S);
      // Four-activate window: the ACT after this one waits for the oldest of the
      // last four (this one included) plus tFAW.
      act_window_[static_cast<std::size_t>(act_pos_)] = t;
      act_pos_ = (act_pos_ + 1) & 3;
      raise(next_act_, act_window_[static_cast<std::size_t>(act_pos_)] + t_.tFAW);
      break;
    }
    case Command::PRE: {
      Bank& k = banks_[b.value];
      k.open_row = -1;
      --open_count_;
      raise(k.next_act, t + t_.tRP);
      raise(next_ref_, t + t_.tRP);
      break;
    }
    case Command::PREA:
      for (Bank& k : banks_) {
        if (k.open_row < 0) continue;
        k.open_row = -1;
        raise(k.next_act, t + t_.tRP);
      }
      open_count_ = 0;
      raise(next_ref_, t + t_.tRP);
      break;
    case Command::RD:
    case Command::WR:
      apply_column(cmd == Command::WR, b, t);
      break;
    case Command::REF:
      raise(next_act_, t + t_.tRFC);
      raise(next_ref_, t + t_.tRFC);
      break;
  }
}

Cycle TimingState::auto_precharge(BankId b) {
  Bank& k = banks_[b.value];
  HEATVIT_CHECK(k.open_row >= 0, "auto-precharge of a closed bank");
  const Cycle at = k.next_pre;
  k.open_row = -1;
  --open_count_;
  raise(k.next_act, at + t_.tRP);
  raise(next_ref_, at + t_.tRP);
  return at;
}

}  // namespace heatvit::ddr
