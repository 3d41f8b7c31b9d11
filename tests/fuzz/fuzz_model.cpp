// The model shape reader, then the dense workload and its JSON (the MAC counts of
// every op must not overflow). Input: model JSON text.
#include "fuzz_common.hpp"
#include "heatvit/models/workload.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const json j = parse_json_text(fuzz::as_string(data, size), "fuzz-model.json");
    ConfigReader r(j, "fuzz-model.json");
    const ModelShape m = parse_model(r);
    const Workload w = build_dense_workload(m);
    (void)workload_to_json(w, 8).dump();
  } catch (const InputError&) {
  }
  return 0;
}
