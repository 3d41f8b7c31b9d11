#include "heatvit/hls/design.hpp"

#include <climits>

#include "heatvit/core/error.hpp"

namespace heatvit::hls {

DesignFile parse_design(const json& d, const std::string& origin) {
  if (!d.is_object()) throw InputError(origin, "", "must be a JSON object");
  for (const char* k : {"model", "hw", "schedule"})
    if (!d.contains(k)) throw InputError(origin, k, "missing");
  if (!d["model"].is_string()) throw InputError(origin, "model", "must be a model name");
  if (!d["hw"].is_object()) throw InputError(origin, "hw", "must be the resolved hw config (an object)");
  if (!d["schedule"].is_object()) throw InputError(origin, "schedule", "must be a schedule object");
  DesignFile f;
  f.model = load_model(d["model"].get<std::string>());
  ConfigReader hr(d["hw"], origin + " (hw)");
  f.hw = sim::parse_hw_config(hr);
  hr.finish();
  f.hw_resolved = hr.resolved();
  ConfigReader sr(d["schedule"], origin + " (schedule)");
  f.schedule = parse_schedule(sr, f.model);
  if (f.schedule.name.empty()) f.schedule.name = origin;
  if (d.contains("thresholds") && !(d["thresholds"].is_array() && d["thresholds"].empty())) {
    const json& t = d["thresholds"];
    if (!t.is_array() || t.size() != f.schedule.selectors.size())
      throw InputError(origin, "thresholds", "must list one integer threshold per selector of the schedule (" +
                                                 std::to_string(f.schedule.selectors.size()) +
                                                 "), in ascending block order");
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (!t[i].is_number_integer() || (t[i].is_number_unsigned() && t[i].get<std::uint64_t>() > INT32_MAX) ||
          t[i].get<std::int64_t>() < INT32_MIN || t[i].get<std::int64_t>() > INT32_MAX)
        throw InputError(origin, "thresholds[" + std::to_string(i) + "]", "must be a 32-bit integer");
      f.thresholds.push_back(static_cast<std::int32_t>(t[i].get<std::int64_t>()));
    }
  }
  return f;
}

}  // namespace heatvit::hls
