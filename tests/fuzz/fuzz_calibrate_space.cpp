// heatvit calibrate's space reader (dse::load_calibration_space, --space), then the run's
// first step on a space that loads: each preset's base hw config composed and its knobs
// (with the shared ones) applied at their first and last values. The input is written to
// <scratch>/calibrate/space.json beside links to the project's config folders, so the
// committed space's relative references (../hw/..., ../schedules/...) resolve as they do
// in configs/calibrate. Input: calibration-space JSON text.
#include "fuzz_common.hpp"
#include "heatvit/dse/calibrate.hpp"
#include "heatvit/sim/hw_config.hpp"

using namespace heatvit;

namespace {

std::string space_path() {
  namespace fs = std::filesystem;
  const fs::path dir = fuzz::scratch_dir();
  fs::create_directories(dir / "calibrate");
  const fs::path configs = fs::path(project_root()) / "configs";
  for (const char* d : {"hw", "accel", "ddr", "device", "power", "schedules", "published"})
    if (fs::exists(configs / d)) fs::create_directory_symlink(configs / d, dir / d);
  return (dir / "calibrate" / "space.json").string();
}

void apply(const dse::CalPreset& p, const std::vector<dse::CalKnob>& shared, const std::string& origin) {
  // The non-throwing form: a base path the reader accepted may still be no file name
  // the system takes (longer than NAME_MAX, say), which the run itself reports as bad
  // input (exit 2: "cannot open file: File name too long").
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p.base, ec)) return;
  Provenance prov;
  const json base = sim::compose_hw_config(p.base, prov);
  std::vector<const dse::CalKnob*> knobs;
  for (const auto& k : p.knobs) knobs.push_back(&k);
  for (const auto& k : shared) knobs.push_back(&k);
  for (bool last : {false, true}) {
    std::vector<json> values;
    for (const auto* k : knobs) {
      if (k->values.empty()) __builtin_trap();  // the reader requires 1 to 64 values
      values.push_back(last ? k->values.back() : k->values.front());
    }
    try {
      json resolved;
      (void)dse::apply_knobs(base, prov, knobs, values, origin, &resolved);
    } catch (const InputError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = space_path();
  fuzz::write_file(path, fuzz::as_string(data, size));
  try {
    const dse::CalibrationSpace sp = dse::load_calibration_space(path);
    if (sp.models.empty() || sp.schedules.size() != sp.models.size()) __builtin_trap();
    if (sp.heatvit.name == sp.baseline.name) __builtin_trap();
    apply(sp.heatvit, sp.shared, path);
    apply(sp.baseline, sp.shared, path);
    (void)sp.raw.dump();
  } catch (const InputError&) {
  }
  return 0;
}
