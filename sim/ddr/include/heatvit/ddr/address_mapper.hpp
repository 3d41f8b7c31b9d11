// Byte address -> DRAM coordinates (bank group, bank, row, column).
//
// A mapping is a string of fields from the most to the least significant address
// bit, above the byte-in-burst offset (log2(bytes_per_burst) bits, 6 for x64 BL8):
//   Ro = row, Ba = bank (within its group), Bg = bank group, Co = burst column
// A field may be split: a field name followed by a number takes that many bits;
// the lower occurrence holds the lower bits. At most one occurrence of a split field
// may omit its number (it takes the remaining bits). Fields of width 0 may be left out.
// Examples for x64, 4 BG x 4 banks, 65536 rows, 1024 columns (7 burst-column bits):
//   "RoBaBgCo"      row:bank:group:column; a row (8 KB) is contiguous (like the Zynq
//                   DDRC's ROW_BANK_COL); sequential bursts hit one bank group (tCCD_L).
//   "RoBaCoBg"      bank group in the lowest bits: consecutive 64 B bursts rotate over
//                   the 4 bank groups (tCCD_S spacing); 32 KB share one row index.
//   "RoCoBaBg"      consecutive bursts rotate over all 16 banks.
//   "RoBaCo5BgCo2"  bank group changes every 4 bursts (256 B).
// Address bits above the mapped ones are ignored (the address wraps at capacity).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/ddr/spec.hpp"

namespace heatvit::ddr {

/// DRAM coordinates of one burst.
struct DramAddress {
  std::uint32_t bank_group = 0;
  std::uint32_t bank = 0;     ///< bank within its group
  std::uint32_t row = 0;
  std::uint32_t column = 0;   ///< first column of the burst (multiple of burst_length)
};

class AddressMapper {
 public:
  /// Throws InputError (naming the mapping string) when `mapping` does not parse or
  /// does not cover the geometry of `org` exactly. Geometry sizes must be powers of 2.
  AddressMapper(const DdrOrganization& org, const std::string& mapping);

  DramAddress map(std::uint64_t byte_address) const {
    std::uint64_t a = byte_address >> offset_bits_;
    std::uint32_t f[4] = {0, 0, 0, 0};
    for (const Segment& s : segments_) {
      f[s.field] |= static_cast<std::uint32_t>(a & s.mask) << s.field_shift;
      a >>= s.bits;
    }
    return DramAddress{f[kBg], f[kBa], f[kRo], f[kCo] * burst_length_};
  }

  /// Flat bank index: bank_group * banks_per_group + bank.
  std::uint32_t flat_bank(const DramAddress& d) const { return d.bank_group * banks_per_group_ + d.bank; }

  /// Inverse of map() for the first byte of a burst (used by tests and generators).
  std::uint64_t unmap(const DramAddress& d) const;

  const std::string& mapping() const { return mapping_; }
  int offset_bits() const { return offset_bits_; }

 private:
  enum Field : std::uint8_t { kRo = 0, kBa = 1, kBg = 2, kCo = 3 };
  struct Segment {
    Field field;
    std::uint8_t bits;
    std::uint8_t field_shift;  ///< position of this segment's lowest bit inside the field
    std::uint64_t mask;
  };
  std::vector<Segment> segments_;  ///< from the least significant address bit upwards
  int offset_bits_ = 6;
  std::uint32_t burst_length_ = 8;
  std::uint32_t banks_per_group_ = 4;
  std::string mapping_;
};

}  // namespace heatvit::ddr
