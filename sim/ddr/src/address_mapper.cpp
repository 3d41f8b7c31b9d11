#include "heatvit/ddr/address_mapper.hpp"

#include <cctype>

#include "heatvit/core/error.hpp"

namespace heatvit::ddr {

namespace {

int log2_exact(std::int64_t v, const std::string& what, const std::string& mapping) {
  if (v <= 0 || (v & (v - 1)) != 0)
    throw InputError("address mapping \"" + mapping + "\"", "", what + " must be a power of two, got " + std::to_string(v));
  int b = 0;
  while ((std::int64_t(1) << b) < v) ++b;
  return b;
}

}  // namespace

AddressMapper::AddressMapper(const DdrOrganization& org, const std::string& mapping) : mapping_(mapping) {
  auto bad = [&](const std::string& what) -> InputError {
    return InputError("address mapping \"" + mapping + "\"", "", what);
  };
  offset_bits_ = log2_exact(org.bytes_per_burst(), "bytes per burst", mapping);
  burst_length_ = static_cast<std::uint32_t>(org.burst_length);
  banks_per_group_ = static_cast<std::uint32_t>(org.banks_per_group);
  const int width[4] = {log2_exact(org.rows, "rows", mapping), log2_exact(org.banks_per_group, "banks_per_group", mapping),
                        log2_exact(org.bank_groups, "bank_groups", mapping),
                        log2_exact(org.bursts_per_row(), "columns / burst_length", mapping)};
  static const char* names[4] = {"Ro", "Ba", "Bg", "Co"};

  // Tokenize, most significant first.
  struct Tok {
    Field f;
    int bits;  // -1: remainder
  };
  std::vector<Tok> toks;
  for (std::size_t i = 0; i < mapping.size();) {
    if (i + 2 > mapping.size()) throw bad("trailing character at position " + std::to_string(i));
    const std::string name = mapping.substr(i, 2);
    int f = -1;
    for (int k = 0; k < 4; ++k)
      if (name == names[k]) f = k;
    if (f < 0) throw bad("unknown field '" + name + "' at position " + std::to_string(i) + " (use Ro, Ba, Bg, Co)");
    i += 2;
    int bits = -1;
    if (i < mapping.size() && std::isdigit(static_cast<unsigned char>(mapping[i]))) {
      bits = 0;
      while (i < mapping.size() && std::isdigit(static_cast<unsigned char>(mapping[i]))) {
        bits = bits * 10 + (mapping[i] - '0');
        if (bits > 64) throw bad("bit count too large");
        ++i;
      }
      if (bits == 0) throw bad("a bit count must be positive");
    }
    toks.push_back({static_cast<Field>(f), bits});
  }

  // Resolve the implicit counts.
  for (int k = 0; k < 4; ++k) {
    int explicit_sum = 0, implicit = 0, count = 0;
    for (const Tok& t : toks)
      if (t.f == k) {
        ++count;
        if (t.bits < 0) ++implicit;
        else explicit_sum += t.bits;
      }
    if (count == 0 && width[k] > 0) throw bad(std::string("field ") + names[k] + " is missing");
    if (implicit > 1) throw bad(std::string("field ") + names[k] + " is split but more than one part has no bit count");
    if (implicit == 1) {
      const int rest = width[k] - explicit_sum;
      if (rest < 0 || (rest == 0 && explicit_sum > 0))
        throw bad(std::string("field ") + names[k] + " has " + std::to_string(width[k]) +
                  " bits; explicit parts already take " + std::to_string(explicit_sum));
      for (Tok& t : toks)
        if (t.f == k && t.bits < 0) t.bits = rest;
    } else if (count > 0 && explicit_sum != width[k]) {
      throw bad(std::string("field ") + names[k] + " parts sum to " + std::to_string(explicit_sum) + " bits, need " +
                std::to_string(width[k]));
    }
  }
  // Zero-width fields named without a count (e.g. "Bg" with one bank group) take no bits.
  int shift[4] = {0, 0, 0, 0};
  for (auto it = toks.rbegin(); it != toks.rend(); ++it) {
    if (it->bits == 0) continue;
    Segment s;
    s.field = it->f;
    s.bits = static_cast<std::uint8_t>(it->bits);
    s.field_shift = static_cast<std::uint8_t>(shift[it->f]);
    s.mask = (std::uint64_t(1) << it->bits) - 1;
    shift[it->f] += it->bits;
    segments_.push_back(s);
  }
}

std::uint64_t AddressMapper::unmap(const DramAddress& d) const {
  const std::uint32_t f[4] = {d.row, d.bank, d.bank_group, d.column / burst_length_};
  std::uint64_t a = 0;
  int pos = 0;
  for (const Segment& s : segments_) {
    a |= ((std::uint64_t(f[s.field]) >> s.field_shift) & s.mask) << pos;
    pos += s.bits;
  }
  return a << offset_bits_;
}

}  // namespace heatvit::ddr
