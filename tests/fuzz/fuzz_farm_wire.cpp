// The wire form of the MPI farm (dse/farm.hpp): what rank 0 reads from a worker
// (decode_result, decode_sim_result) and a worker reads from rank 0 (decode_unit). Any text must either
// decode or throw a std::exception (a worker turns it into an ERROR message, rank 0
// into a stopped job), never crash; what decodes must encode back to the same thing.
// Input: a unit or result JSON text.
#include <stdexcept>

#include "fuzz_common.hpp"
#include "heatvit/dse/farm.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = fuzz::as_string(data, size);
  try {
    const dse::WireUnit u = dse::decode_unit(text);
    const dse::WireUnit v = dse::decode_unit(dse::encode_unit(u.id, u.split, u.images, u.cands, u.added_base, u.added));
    if (v.id != u.id || v.split != u.split || v.images != u.images || !(v.cands == u.cands) ||
        v.added_base != u.added_base || v.added != u.added)
      __builtin_trap();
  } catch (const std::exception&) {
  }
  try {
    const dse::WireResult r = dse::decode_result(text);
    const dse::WireResult s = dse::decode_result(dse::encode_result(r));
    if (s.metrics.size() != r.metrics.size() || s.id != r.id || s.state != json::parse(r.state.dump())) __builtin_trap();
    for (std::size_t i = 0; i < r.metrics.size(); ++i) {
      if (dse::metrics_to_json(s.metrics[i]) != dse::metrics_to_json(r.metrics[i])) __builtin_trap();
      if (s.metrics[i].correct_bits != r.metrics[i].correct_bits) __builtin_trap();
      // what successive halving reads: every image's bit is inside the vector
      const dse::Metrics& m = r.metrics[i];
      if (!m.correct_bits.empty())
        for (int k = 0; k < m.images; k += 97) (void)m.correct_at(k);
    }
  } catch (const std::exception&) {
  }
  try {
    const dse::SimWireResult r = dse::decode_sim_result(text);
    const dse::SimWireResult s = dse::decode_sim_result(dse::encode_sim_result(r.id, r.result, r.image_runs));
    if (s.id != r.id || s.image_runs != r.image_runs || s.result != json::parse(r.result.dump())) __builtin_trap();
    // what rank 0 reads of it
    (void)r.result.at("latency_ms").at("mean").get<double>();
    (void)r.result.at("disagreement").get<double>();
  } catch (const std::exception&) {
  }
  return 0;
}
