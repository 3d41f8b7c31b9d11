// The schedule reader against a preset model, then the token counts and workload the
// schedule implies. Input: schedule JSON text.
#include "fuzz_common.hpp"
#include "heatvit/models/schedule.hpp"
#include "heatvit/models/workload.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const json j = parse_json_text(fuzz::as_string(data, size), "fuzz-schedule.json");
    for (const char* name : {"deit-small", "deit-micro"}) {
      const ModelShape& m = fuzz::preset(name);
      ConfigReader r(j, "fuzz-schedule.json");
      const Schedule s = parse_schedule(r, m);
      const std::vector<int> tokens = expected_tokens(m, s);
      validate_tokens(m, tokens, "fuzz");
      (void)build_schedule_workload(m, s).total_macs();
      (void)schedule_to_json(s).dump();
    }
  } catch (const InputError&) {
  }
  return 0;
}
