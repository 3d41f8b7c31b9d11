#include <gtest/gtest.h>

#include <random>

#include "heatvit/core/error.hpp"
#include "heatvit/ddr/address_mapper.hpp"

using namespace heatvit;
using namespace heatvit::ddr;

namespace {
DdrOrganization org() { return DdrOrganization{}; }  // x64, 4x4 banks, 65536 rows, 1024 columns, BL8
}  // namespace

TEST(AddressMapper, BankGroupInterleaved) {
  const AddressMapper m(org(), "RoBaCoBg");
  EXPECT_EQ(m.offset_bits(), 6);
  DramAddress d = m.map(0);
  EXPECT_EQ(d.bank_group, 0u);
  EXPECT_EQ(d.row, 0u);
  d = m.map(64);  // next burst: next bank group
  EXPECT_EQ(d.bank_group, 1u);
  EXPECT_EQ(d.column, 0u);
  d = m.map(256);  // after 4 bursts: next column burst
  EXPECT_EQ(d.bank_group, 0u);
  EXPECT_EQ(d.column, 8u);
  d = m.map(100);  // inside the second burst
  EXPECT_EQ(d.bank_group, 1u);
  d = m.map(std::uint64_t(1) << 15);  // 4 groups x 8 KB rows
  EXPECT_EQ(d.bank, 1u);
  EXPECT_EQ(d.row, 0u);
  d = m.map(std::uint64_t(1) << 17);
  EXPECT_EQ(d.bank, 0u);
  EXPECT_EQ(d.row, 1u);
  EXPECT_EQ(m.flat_bank(DramAddress{3, 2, 0, 0}), 14u);
}

TEST(AddressMapper, RowBankColumn) {
  const AddressMapper m(org(), "RoBaBgCo");
  EXPECT_EQ(m.map(64).column, 8u);
  EXPECT_EQ(m.map(64).bank_group, 0u);
  EXPECT_EQ(m.map(8192).bank_group, 1u);  // a whole 8 KB row is contiguous
  EXPECT_EQ(m.map(8192 * 4).bank, 1u);
  EXPECT_EQ(m.map(std::uint64_t(8192) * 16).row, 1u);
}

TEST(AddressMapper, SplitField) {
  const AddressMapper m(org(), "RoBaCo5BgCo2");
  EXPECT_EQ(m.map(64).column, 8u);
  EXPECT_EQ(m.map(192).column, 24u);
  EXPECT_EQ(m.map(256).bank_group, 1u);
  EXPECT_EQ(m.map(256).column, 0u);
  EXPECT_EQ(m.map(1024).column, 32u);  // next part of the column
  EXPECT_EQ(m.map(1024).bank_group, 0u);
  // Same layout, counts written on both parts.
  const AddressMapper m2(org(), "RoBaCo5BgCo");
  for (std::uint64_t a = 0; a < (1u << 20); a += 4160) {
    EXPECT_EQ(m.map(a).column, m2.map(a).column);
    EXPECT_EQ(m.map(a).bank_group, m2.map(a).bank_group);
  }
}

TEST(AddressMapper, UnmapInvertsMap) {
  std::mt19937_64 rng(7);
  for (const char* scheme : {"RoBaBgCo", "RoBaCoBg", "RoCoBaBg", "RoBaCo5BgCo2", "BaRoBgCo"}) {
    const AddressMapper m(org(), scheme);
    for (int i = 0; i < 2000; ++i) {
      const std::uint64_t a = (rng() % (std::uint64_t(8) << 30)) & ~std::uint64_t(63);
      EXPECT_EQ(m.unmap(m.map(a)), a) << scheme;
    }
  }
}

TEST(AddressMapper, WrapsAtCapacity) {
  const AddressMapper m(org(), "RoBaCoBg");
  const std::uint64_t cap = std::uint64_t(8) << 30;
  EXPECT_EQ(m.map(cap + 64).bank_group, m.map(64).bank_group);
  EXPECT_EQ(m.map(cap + 64).row, 0u);
}

TEST(AddressMapper, RejectsBadSchemes) {
  for (const char* bad : {"", "RoBaCo", "RoBaBgCoX", "RoBaBgCoCo", "Ro3BaBgCo", "RoBaBgCo9", "RoBaBgCo0", "roBaBgCo"}) {
    EXPECT_THROW(AddressMapper(org(), bad), InputError) << bad;
  }
}

TEST(AddressMapper, SingleBankGroupMayOmitBg) {
  DdrOrganization o;
  o.bank_groups = 1;
  const AddressMapper m(o, "RoBaCo");
  EXPECT_EQ(m.map(64).column, 8u);
  const AddressMapper m2(o, "RoBaBgCo");  // naming the empty field is fine too
  EXPECT_EQ(m2.map(8192).bank, 1u);
}
