// heatvit calibrate: fit the physical parameters of the HeatViT and baseline presets to
// the published hardware figures, and print every figure's residual.
#include <csignal>
#include <cstdio>

#include "commands.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/dse/calibrate.hpp"

namespace heatvit::cli {

namespace {
// The first Ctrl-C ends the search (the best point so far is reported); a second one
// ends the program.
extern "C" void on_calibrate_sigint(int) {
  dse::g_calibrate_interrupted = true;
  std::signal(SIGINT, SIG_DFL);
}

void print_table(const json& doc) {
  std::printf("%-34s %-10s %-13s %-10s %-10s %s\n", "figure", "model", "published", "ours", "residual", "");
  for (const auto& r : doc["figures"]) {
    char pub[40], ours[24] = "-", res[24] = "-";
    if (r["published"].is_array())
      std::snprintf(pub, sizeof pub, "%.4g-%.4g", r["published"][0].get<double>(), r["published"][1].get<double>());
    else
      std::snprintf(pub, sizeof pub, "%.4g", r["published"].get<double>());
    if (r["ours"].is_number()) std::snprintf(ours, sizeof ours, "%.4g", r["ours"].get<double>());
    if (r["residual"].is_number()) {
      const double v = 100 * r["residual"].get<double>();
      std::snprintf(res, sizeof res, r["residual_kind"] == "points" ? "%+.1f pts" : "%+.1f%%", v);
    }
    const char* mark = r["within"].get<bool>() ? "ok" : (r["fit"].get<bool>() ? "OUT" : "out (not fitted)");
    std::printf("%-34s %-10s %-13s %-10s %-10s %s\n", r["id"].get<std::string>().c_str(),
                r["model"].get<std::string>().c_str(), pub, ours, res, mark);
  }
  std::printf("fitted figures within tolerance: %d of %d; objective %.4g\n", doc["fitted_within_tolerance"].get<int>(),
              doc["fitted_rows"].get<int>(), doc["objective"].get<double>());
  for (const auto& [role, p] : doc["presets"].items())
    std::printf("%s preset %s: %s\n", role.c_str(), p["name"].get<std::string>().c_str(), p["resources"].dump().c_str());
}
}  // namespace

int run_calibrate(const std::vector<std::string>& args) {
  po::options_description desc("calibrate options");
  desc.add_options()
      ("space", po::value<std::string>(), "calibration space (JSON: models, published schedules, the two presets' "
                                          "bases and physical knobs, shared knobs, search budget); default "
                                          "configs/calibrate/zcu102.json")
      ("published", po::value<std::string>(), "published-figures file (default: the space's 'published')")
      ("out", po::value<std::string>(), "output directory: residuals.json/.csv, report.md, calibration.png, "
                                        "search.csv (default results/calibration)")
      ("presets-dir", po::value<std::string>(), "where the calibrated presets are written (default: --out); "
                                                "configs/hw installs them")
      ("evaluate", "no search: time the presets already in --presets-dir and write the residual table")
      ("budget", po::value<long long>(), "points to evaluate (default: the space's search.budget)")
      ("seed", po::value<long long>(), "random seed of the restarts (default: the space's)")
      ("restarts", po::value<int>(), "coordinate-descent starts (default: the space's search.restarts)")
      ("threads", po::value<int>(), "worker threads (default: all hardware threads)")
      ("no-systemc", "skip the SystemC check and time the table with the analytic model (fast; the table of "
                     "record uses SystemC)")
      ("no-plot", "do not draw calibration.png")
      ("quiet,q", "no progress on stderr, no table on stdout");
  po::variables_map vm;
  if (!parse_args("calibrate", args, desc, vm,
                  "[--space S.json] [--published P.json] [--evaluate] [--presets-dir D] --out DIR"))
    return 0;
  RunConfig rc(vm);
  dse::CalibrateOptions opt;
  opt.space_path = rc.option(vm, "space");
  if (opt.space_path.empty()) opt.space_path = project_root() + "/configs/calibrate/zcu102.json";
  opt.published_path = rc.option(vm, "published");
  opt.out_dir = rc.option(vm, "out");
  if (opt.out_dir.empty()) opt.out_dir = "results/calibration";
  opt.presets_dir = rc.option(vm, "presets-dir");
  opt.evaluate_only = vm.count("evaluate") > 0;
  if (vm.count("budget")) {
    const long long b = vm["budget"].as<long long>();
    if (b < 1 || b > 100000000) throw InputError("--budget", "", "must be in [1, 1e8]");
    opt.budget = b;
  }
  if (vm.count("seed")) {
    const long long s = vm["seed"].as<long long>();
    if (s < 1 || s > 2147483647) throw InputError("--seed", "", "must be in [1, 2^31)");
    opt.seed = static_cast<std::uint64_t>(s);
  }
  opt.threads = rc.int_option(vm, "threads", 0, 1, 1024);
  opt.restarts = rc.int_option(vm, "restarts", 0, 1, 100000);
  opt.plot = vm.count("no-plot") == 0;
  opt.systemc = vm.count("no-systemc") == 0;
  opt.quiet = vm.count("quiet") > 0;
  std::signal(SIGINT, on_calibrate_sigint);
  const json doc = dse::run_calibrate(opt);
  if (!opt.quiet) {
    print_table(doc);
    std::printf("-> %s/residuals.json (residuals.csv, report.md, calibration.png beside it)\n", opt.out_dir.c_str());
  }
  return 0;
}

}  // namespace heatvit::cli
