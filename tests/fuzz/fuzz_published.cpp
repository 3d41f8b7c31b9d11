// heatvit calibrate's published-figures reader (dse::load_published, --published and
// the space's "published"): the input is written to a file and loaded, then the figures
// are evaluated against made-up timing and resources of both presets (every metric's
// arithmetic on what the reader let through). Input: published-figures JSON text.
#include <cmath>

#include "fuzz_common.hpp"
#include "heatvit/dse/calibrate.hpp"

using namespace heatvit;

namespace {

/// Both presets fitted, every model timed dense and with its schedule.
dse::PresetResult result(double scale, bool ok) {
  dse::PresetResult r;
  r.ok = ok;
  r.res.dsp = static_cast<std::int64_t>(2000 * scale);
  r.res.lut = static_cast<std::int64_t>(150000 * scale);
  double ms = 1.0;
  for (const char* m : {"deit-tiny", "deit-small", "deit-base", "lvvit-s", "lvvit-m"}) {
    r.dense_ms[m] = ms * scale;
    r.sched_ms[m] = 0.7 * ms * scale;
    r.dense_macs[m] = 1e9 * ms;
    r.sched_macs[m] = 0.6e9 * ms;
    ms *= 2.5;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = (fuzz::scratch_dir() / "published.json").string();
  fuzz::write_file(path, fuzz::as_string(data, size));
  try {
    const dse::PublishedSet pub = dse::load_published(path);
    if (pub.figures.empty()) __builtin_trap();  // the reader requires at least one
    static const dse::PresetResult h = result(1.0, true), b = result(2.0, true), none = result(1.0, false);
    const auto rs = dse::residuals(pub, h, b);
    std::size_t rows = 0;
    for (const auto& f : pub.figures) rows += f.models.size();
    if (rs.size() != rows) __builtin_trap();
    (void)dse::objective(rs);
    // A preset that did not fit: every residual of its figures is infinite, none throws.
    for (const auto& r : dse::residuals(pub, none, b))
      if (r.fig->preset == "heatvit" && std::isfinite(r.residual)) __builtin_trap();
    (void)pub.raw.dump();
  } catch (const InputError&) {
  }
  return 0;
}
