// Tight timing gates: for every DDR4 timing parameter, the constrained command is
// illegal one cycle before the constraint expires and legal exactly at it. The spec
// uses distinct values so that the parameter under test is the binding one.
#include <gtest/gtest.h>

#include "heatvit/core/error.hpp"
#include "heatvit/ddr/timing.hpp"

using namespace heatvit;
using namespace heatvit::ddr;

namespace {

DdrSpec gate_spec() {
  DdrSpec s;
  DdrTiming& t = s.timing;
  t.tCK_ps = 1000;
  t.CL = 11;
  t.CWL = 9;
  t.tRCD = 13;
  t.tRP = 12;
  t.tRAS = 30;
  t.tRC = 47;  // > tRAS + tRP so that tRC can bind
  t.tRRD_S = 4;
  t.tRRD_L = 7;
  t.tFAW = 25;  // > 3 x tRRD_S so that the window binds the 5th ACT
  t.tCCD_S = 4;
  t.tCCD_L = 6;
  t.tWR = 15;
  t.tRTP = 8;
  t.tWTR_S = 3;
  t.tWTR_L = 8;
  t.tRFC = 100;
  t.tREFI = 2000;
  return s;
}

class Gates : public ::testing::Test {
 protected:
  DdrSpec spec = gate_spec();
  TimingState ts{spec};
  BankId b(std::uint32_t group, std::uint32_t bank) const { return ts.bank_id(group, bank); }

  // Blocked at t-1, allowed at t, and earliest() says t.
  void gate(Command c, BankId bank, std::uint32_t row, Cycle t) {
    EXPECT_FALSE(ts.can_issue(c, bank, row, t - 1)) << to_string(c) << " allowed at " << t - 1;
    EXPECT_TRUE(ts.can_issue(c, bank, row, t)) << to_string(c) << " blocked at " << t;
    EXPECT_EQ(ts.earliest(c, bank), t) << to_string(c);
  }
};

}  // namespace

TEST_F(Gates, tRCD_ActToRead) {
  ts.issue(Command::ACT, b(0, 0), 5, 0);
  gate(Command::RD, b(0, 0), 5, 13);
}

TEST_F(Gates, tRCD_ActToWrite) {
  ts.issue(Command::ACT, b(0, 0), 5, 0);
  gate(Command::WR, b(0, 0), 5, 13);
}

TEST_F(Gates, tRAS_ActToPre) {
  ts.issue(Command::ACT, b(1, 2), 5, 0);
  gate(Command::PRE, b(1, 2), 0, 30);
}

TEST_F(Gates, tRP_PreToAct) {
  ts.issue(Command::ACT, b(0, 0), 5, 0);
  ts.issue(Command::PRE, b(0, 0), 0, 40);
  gate(Command::ACT, b(0, 0), 6, 52);  // tRC alone would allow 47
}

TEST_F(Gates, tRC_ActToActSameBank) {
  ts.issue(Command::ACT, b(0, 0), 5, 0);
  ts.issue(Command::PRE, b(0, 0), 0, 30);
  gate(Command::ACT, b(0, 0), 6, 47);  // tRP alone would allow 42
}

TEST_F(Gates, tRRD_S_DifferentBankGroup) {
  ts.issue(Command::ACT, b(0, 0), 5, 0);
  gate(Command::ACT, b(1, 0), 5, 4);
}

TEST_F(Gates, tRRD_L_SameBankGroup) {
  ts.issue(Command::ACT, b(0, 0), 5, 0);
  gate(Command::ACT, b(0, 1), 5, 7);
}

TEST_F(Gates, tFAW_FifthActivate) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(1, 0), 1, 4);
  ts.issue(Command::ACT, b(2, 0), 1, 8);
  ts.issue(Command::ACT, b(3, 0), 1, 12);
  gate(Command::ACT, b(1, 1), 1, 25);  // tRRD_S alone would allow 16
  ts.issue(Command::ACT, b(1, 1), 1, 25);
  gate(Command::ACT, b(2, 1), 1, 29);  // window now starts at the ACT of cycle 4
}

TEST_F(Gates, tCCD_S_ReadToReadOtherGroup) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(1, 0), 1, 4);
  ts.issue(Command::RD, b(0, 0), 1, 20);
  gate(Command::RD, b(1, 0), 1, 24);
}

TEST_F(Gates, tCCD_L_ReadToReadSameGroup) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(0, 1), 1, 7);
  ts.issue(Command::RD, b(0, 0), 1, 20);
  gate(Command::RD, b(0, 1), 1, 26);
  gate(Command::RD, b(0, 0), 1, 26);  // same bank too
}

TEST_F(Gates, tCCD_S_and_L_WriteToWrite) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(1, 0), 1, 4);
  ts.issue(Command::ACT, b(0, 1), 1, 8);
  ts.issue(Command::WR, b(0, 0), 1, 30);
  gate(Command::WR, b(1, 0), 1, 34);
  gate(Command::WR, b(0, 1), 1, 36);
}

TEST_F(Gates, tRTP_ReadToPre) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::RD, b(0, 0), 1, 25);
  gate(Command::PRE, b(0, 0), 0, 33);  // tRAS alone would allow 30
}

TEST_F(Gates, tWR_WriteToPre) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::WR, b(0, 0), 1, 13);
  gate(Command::PRE, b(0, 0), 0, 13 + 9 + 4 + 15);  // CWL + BL/2 + tWR
}

TEST_F(Gates, tWTR_S_WriteToReadOtherGroup) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(1, 0), 1, 4);
  ts.issue(Command::WR, b(0, 0), 1, 20);
  gate(Command::RD, b(1, 0), 1, 20 + 9 + 4 + 3);  // CWL + BL/2 + tWTR_S
}

TEST_F(Gates, tWTR_L_WriteToReadSameGroup) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(0, 1), 1, 7);
  ts.issue(Command::WR, b(0, 0), 1, 20);
  gate(Command::RD, b(0, 1), 1, 20 + 9 + 4 + 8);  // CWL + BL/2 + tWTR_L
}

TEST_F(Gates, CL_CWL_ReadToWriteTurnaround) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(1, 0), 1, 4);
  ts.issue(Command::RD, b(0, 0), 1, 20);
  gate(Command::WR, b(1, 0), 1, 20 + 11 + 4 + 2 - 9);  // CL + BL/2 + 2 - CWL
}

TEST_F(Gates, CL_CWL_DataTiming) {
  EXPECT_EQ(ts.read_data_end(100), 100 + 11 + 4);
  EXPECT_EQ(ts.write_data_end(100), 100 + 9 + 4);
}

TEST_F(Gates, tRP_PreToRefresh_and_tRFC_RefreshToAct) {
  ts.issue(Command::ACT, b(2, 3), 1, 0);
  EXPECT_FALSE(ts.can_issue(Command::REF, b(0, 0), 0, 500));  // a bank is open
  ts.issue(Command::PRE, b(2, 3), 0, 30);
  gate(Command::REF, b(0, 0), 0, 42);
  ts.issue(Command::REF, b(0, 0), 0, 42);
  gate(Command::ACT, b(0, 0), 1, 142);
  gate(Command::ACT, b(2, 3), 1, 142);
  gate(Command::REF, b(0, 0), 0, 142);
}

TEST_F(Gates, PrechargeAll) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::ACT, b(1, 0), 1, 4);
  ts.issue(Command::RD, b(1, 0), 1, 30);
  gate(Command::PREA, b(0, 0), 0, 38);  // RD + tRTP on the second bank binds
  ts.issue(Command::PREA, b(0, 0), 0, 38);
  EXPECT_EQ(ts.open_banks(), 0);
  gate(Command::REF, b(0, 0), 0, 50);
}

TEST_F(Gates, OneCommandPerClock) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::RD, b(0, 0), 1, 20);
  gate(Command::ACT, b(2, 0), 1, 21);  // only the command bus blocks cycle 20
}

TEST_F(Gates, BankStateRules) {
  EXPECT_FALSE(ts.can_issue(Command::RD, b(0, 0), 1, 100));   // closed bank
  EXPECT_FALSE(ts.can_issue(Command::PRE, b(0, 0), 0, 100));  // nothing to close
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  EXPECT_FALSE(ts.can_issue(Command::ACT, b(0, 0), 2, 100));  // already open
  EXPECT_FALSE(ts.can_issue(Command::RD, b(0, 0), 2, 100));   // other row
  EXPECT_THROW(ts.issue(Command::RD, b(0, 0), 1, 12), InternalError);
}

TEST_F(Gates, AutoPrechargeAfterRead) {
  ts.issue(Command::ACT, b(0, 0), 1, 0);
  ts.issue(Command::RD, b(0, 0), 1, 13);
  EXPECT_EQ(ts.auto_precharge(b(0, 0)), 30);  // tRAS binds (13 + tRTP = 21)
  EXPECT_FALSE(ts.is_open(b(0, 0)));
  gate(Command::ACT, b(0, 0), 2, 47);  // max(30 + tRP, tRC)
}
