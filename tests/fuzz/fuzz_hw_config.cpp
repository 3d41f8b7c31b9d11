// Hardware config composition and validation, then what a valid config feeds:
// resources, the plan of deit-micro and its analytic timing. Input: NUL-separated
// parts: root config, device, ddr, accelerator (each JSON; an empty part keeps the
// root's own value), then --set texts one per line ("hw.frequency_mhz=200").
#include "fuzz_common.hpp"
#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/resources.hpp"
#include "heatvit/sim/timing.hpp"
#include "heatvit/models/workload.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::split_nul(fuzz::as_string(data, size));
  try {
    auto prov = std::make_shared<Provenance>();
    json root = parse_json_text(parts[0], "root.json");
    if (!root.is_object()) throw InputError("root.json", "", "must be a JSON object");
    prov->set("hw", "root.json");
    const char* keys[] = {"device", "ddr", "accelerator"};
    for (std::size_t i = 0; i < 3; ++i) {
      if (parts.size() <= i + 1 || parts[i + 1].empty()) continue;
      const std::string origin = std::string(keys[i]) + ".json";
      root[keys[i]] = parse_json_text(parts[i + 1], origin);
      prov->set(std::string("hw.") + keys[i], origin);
    }
    json doc = {{"hw", root}};
    std::vector<Override> sets;
    if (parts.size() > 4)
      for (const auto& l : fuzz::lines(parts[4])) sets.push_back(parse_override(l));
    apply_overrides(doc, sets, *prov);
    ConfigReader top(doc, prov);
    ConfigReader& r = top.child("hw");
    const sim::HwConfig hw = sim::parse_hw_config(r);
    r.finish();
    const sim::ResourceReport res = sim::estimate_resources(hw);
    sim::check_fits(hw, res);
    const sim::Plan plan = sim::make_plan(build_dense_workload(fuzz::preset("deit-micro")), hw);
    (void)sim::AnalyticModel(hw).time_plan(plan).cycles();
  } catch (const InputError&) {
  }
  return 0;
}
