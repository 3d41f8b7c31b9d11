// `heatvit hls --design` files: the design-point reader (model, hw config, schedule,
// thresholds), then what the generator checks before any work on a valid point: the
// device fit and the plan of the largest token counts. Input: one JSON text.
#include "fuzz_common.hpp"
#include "heatvit/hls/design.hpp"
#include "heatvit/hls/hls.hpp"
#include "heatvit/sim/resources.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const json d = parse_json_text(fuzz::as_string(data, size), "design.json");
    const hls::DesignFile f = hls::parse_design(d, "design.json");
    sim::check_fits(f.hw, sim::estimate_resources(f.hw));
    std::vector<int> blocks;
    for (const auto& s : f.schedule.selectors) blocks.push_back(s.block);
    (void)hls::program_plan(f.model, f.hw, blocks);
  } catch (const InputError&) {
  }
  return 0;
}
