// The JSON config reader with --set overrides: parse_json_text, parse_override,
// apply_overrides and the typed ConfigReader, driven through the model section.
// Input: JSON text, then optionally NUL and --set texts one per line
// ("model.depth=6").
#include "fuzz_common.hpp"
#include "heatvit/models/workload.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::split_nul(fuzz::as_string(data, size));
  try {
    json doc = {{"model", parse_json_text(parts[0], "fuzz.json")}};
    std::vector<Override> sets;
    if (parts.size() > 1)
      for (const auto& l : fuzz::lines(parts[1])) sets.push_back(parse_override(l));
    auto prov = std::make_shared<Provenance>();
    prov->set("model", "fuzz.json");
    apply_overrides(doc, sets, *prov);
    ConfigReader root(doc, prov);
    ConfigReader& r = root.child("model");
    const ModelShape m = parse_model(r);
    (void)r.resolved().dump();
    (void)build_dense_workload(m).total_macs();
  } catch (const InputError&) {
  }
  return 0;
}
