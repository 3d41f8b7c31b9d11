// The DSE space reader (heatvit dse --space) against deit-micro's selector bank, then
// what a run derives from a space before any evaluation: counts, the first schedules
// and hw points, schedule keys parsed back. Input: space JSON text.
#include "fuzz_common.hpp"
#include "heatvit/dse/space.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const json j = parse_json_text(fuzz::as_string(data, size), "fuzz-space.json");
    const dse::Space sp = dse::parse_space(j, "fuzz-space.json", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 12);
    if (sp.schedule_count() <= 20000) {
      const auto all = sp.schedules();
      if (all.size() != sp.schedule_count()) __builtin_trap();
      for (std::size_t i = 0; i < all.size() && i < 64; ++i)
        if (dse::parse_schedule_key(all[i].key(), "fuzz").key() != all[i].key()) __builtin_trap();
    }
    for (std::uint64_t h = 0; h < sp.hw_count() && h < 16; ++h) (void)sp.hw_values(h);
    (void)sp.resolved.dump();
  } catch (const InputError&) {
  }
  return 0;
}
