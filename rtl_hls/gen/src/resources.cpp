// DSP and BRAM of an emitted engine, from its source (docs/hls.md, "Resources").
#include <map>
#include <regex>
#include <stdexcept>

#include "heatvit/hls/hls.hpp"

namespace heatvit::hls {

EmittedResources emitted_resources(const std::string& top, const std::string& defines, int macs_per_dsp) {
  std::map<std::string, std::int64_t> def;
  {
    static const std::regex d(R"(#define\s+(\w+)\s+(-?\d+))");
    for (std::sregex_iterator it(defines.begin(), defines.end(), d), e; it != e; ++it)
      def[(*it)[1]] = std::stoll((*it)[2]);
  }
  auto value = [&](const std::string& name) -> std::int64_t {
    const auto it = def.find(name);
    if (it == def.end()) throw std::logic_error("hls: " + name + " is not in defines.h");
    return it->second;
  };
  EmittedResources r;
  // The MAC loops of pe_array: pe_th x pe_to x pe_ti, all unrolled (it runs once per
  // iteration of a pipelined loop).
  std::int64_t macs = 1;
  std::string dims;
  for (const char* label : {"pe_th", "pe_to", "pe_ti"}) {
    const std::regex re(std::string(label) + R"(:\s*for \(int \w+ = 0; \w+ < (\w+);)");
    std::smatch m;
    if (!std::regex_search(top, m, re)) throw std::logic_error(std::string("hls: no loop ") + label + " in the top");
    macs *= value(m[1]);
    dims += (dims.empty() ? "" : " x ") + std::string(m[1]) + " (" + label + ")";
  }
  // Instances of the array: one when the top limits pe_array to one instance
  // (ALLOCATION), else one per call site (each unrolled copy would get its own DSPs).
  std::int64_t instances = 0;
  {
    static const std::regex call(R"(\bpe_array\s*\()");
    for (std::sregex_iterator it(top.begin(), top.end(), call), e; it != e; ++it) ++instances;
    --instances;  // the definition
    static const std::regex alloc(R"(ALLOCATION function instances=pe_array limit=1)");
    if (std::regex_search(top, alloc)) instances = 1;
    if (instances < 1) throw std::logic_error("hls: pe_array is never called in the top");
  }
  r.dsp = instances * ((macs + macs_per_dsp - 1) / macs_per_dsp);
  r.dsp_from = dims + " = " + std::to_string(macs) + " unrolled MACs / " + std::to_string(macs_per_dsp) +
               " per DSP48E2, x " + std::to_string(instances) + " instance(s) of pe_array";
  // Buffers: static T name[2][SIZE] with ARRAY_PARTITION dim=2 cyclic factor=F. A BRAM36
  // holds 4 KiB of data (the parity bits carry the 9th bit of a 9-bit operand) and
  // gives a 64-bit data port: per half max(ceil(bytes / 4096), ceil(F x bits / 64)).
  const std::pair<const char*, const char*> bufs[] = {
      {"in_buf", "buffer.input"}, {"w_buf", "buffer.weight"}, {"out_buf", "buffer.output"}, {"att_buf", "buffer.attention"}};
  const std::map<std::string, int> bits = {{"hv_ain_t", 8}, {"hv_w8_t", 8}, {"i32", 32}};
  for (const auto& [name, item_name] : bufs) {
    const std::regex decl(std::string(R"(static\s+(\w+)\s+)") + name + R"(\[2\]\[(\w+)\];)");
    const std::regex part(std::string(R"(ARRAY_PARTITION variable=)") + name + R"( dim=2 cyclic factor=(\w+))");
    std::smatch dm, pm;
    if (!std::regex_search(top, dm, decl) || !std::regex_search(top, pm, part))
      throw std::logic_error(std::string("hls: buffer ") + name + " not declared as expected in the top");
    const auto bt = bits.find(dm[1]);
    if (bt == bits.end()) throw std::logic_error("hls: unknown element type " + std::string(dm[1]));
    const std::int64_t elems = value(dm[2]), factor = value(pm[1]);
    const std::int64_t bytes = elems * bt->second / 8;
    const std::int64_t half = std::max((bytes + 4095) / 4096, (factor * bt->second + 63) / 64);
    EmittedBuffer b;
    b.item = item_name;
    b.bram36 = 2 * half;
    b.from = std::string(name) + "[2][" + std::string(dm[2]) + "] of " + std::string(dm[1]) + " (" +
             std::to_string(bytes) + " bytes per half), " + std::string(pm[1]) + " = " + std::to_string(factor) +
             " banks of " + std::to_string(bt->second) + " bits";
    r.buffers.push_back(b);
  }
  return r;
}

}  // namespace heatvit::hls
