// heatvit hls: one design point -> a Vitis HLS project (docs/hls.md).
#ifdef HEATVIT_HAVE_HLS
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/hls/design.hpp"
#include "heatvit/hls/hls.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/sim/resources.hpp"

namespace heatvit::cli {

namespace fs = std::filesystem;

namespace {

/// Writes every file of the project into a fresh directory next to `out`, then moves it
/// into place: `out` appears complete or not at all, and an existing `out` (with
/// --force) is replaced only once the new project is complete.
void write_project(const hls::Project& p, const std::string& out, bool force) {
  const fs::path dst(out);
  const fs::path parent = dst.has_parent_path() ? dst.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) throw InputError("--out", "", "parent directory " + parent.string() + " does not exist");
  const std::string tag = ".heatvit-hls-" + std::to_string(::getpid());
  const fs::path tmp = parent / (dst.filename().string() + tag + ".new");
  const fs::path old = parent / (dst.filename().string() + tag + ".old");
  fs::remove_all(tmp, ec);
  try {
    for (const auto& [rel, content] : p.files) {
      const fs::path f = tmp / rel;
      fs::create_directories(f.parent_path());
      std::ofstream os(f, std::ios::binary);
      os.write(content.data(), static_cast<std::streamsize>(content.size()));
      os.close();
      if (!os) throw InputError(f.string(), "", "cannot write");
    }
    if (fs::exists(dst)) {
      if (!force) throw InputError("--out", "", out + " exists (use --force to replace it)");
      fs::rename(dst, old);
    }
    fs::rename(tmp, dst);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    if (fs::exists(old, ec) && !fs::exists(dst, ec)) fs::rename(old, dst, ec);
    throw InputError(out, "", std::string("cannot write the project: ") + e.code().message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    if (fs::exists(old, ec) && !fs::exists(dst, ec)) fs::rename(old, dst, ec);
    throw;
  }
  fs::remove_all(old, ec);
}

void print_summary(const hls::Project& p, const hls::DesignPoint& dp, const std::string& out) {
  const json& r = p.report;
  std::printf("heatvit hls: %s on %s -> %s (%zu files)\n", dp.model.name.c_str(), dp.hw.name.c_str(), out.c_str(),
              p.files.size());
  std::printf("  layer program: %d passes; weights %lld bytes; testbench: %d images (%s)\n",
              r["design"]["passes"].get<int>(), r["design"]["w_bytes"].get<long long>(),
              r["design"]["tb_images"].get<int>(), r["design"]["reference"]["images"].get<std::string>().c_str());
  std::printf("  lint: %s (%zu issues); resources (DSP/BRAM vs resource model): %s\n",
              r["lint"]["pass"].get<bool>() ? "pass" : "FAIL", r["lint"]["issues"].size(),
              r["resources"]["pass"].get<bool>() ? "match" : "MISMATCH");
  std::printf("  C simulation: make -C %s csim\n", out.c_str());
}

}  // namespace

int run_hls(const std::vector<std::string>& args) {
  po::options_description desc("hls options");
  desc.add_options()
      ("design", po::value<std::string>(), "a design point: winner.json of heatvit dse (model, resolved hw config, "
                                           "schedule, thresholds)")
      ("model", po::value<std::string>(), "model (without --design): deit-micro")
      ("hw", po::value<std::string>(), "hardware config (without --design): configs/hw/<name>.json or a path")
      ("schedule", po::value<std::string>(), "pruning schedule (without --design): JSON path, 'default' (the hw "
                                             "config's for this model) or 'dense'")
      ("calibration", po::value<std::string>(), "thresholds from keep rates when the design point has none: "
                                                "'sequential' (default, as heatvit eval) or 'table'")
      ("images", po::value<int>(), "golden test images of the testbench (default 100)")
      ("weights", po::value<std::string>(), "deit-micro export (default models/deit-micro/export/deit-micro-int8.hvt)")
      ("data", po::value<std::string>(), "Fashion-MNIST directory (default $HEATVIT_FMNIST or "
                                         "/usr/share/datasets/fashion-mnist)")
      ("out", po::value<std::string>(), "project directory to create")
      ("force", "replace the project directory when it exists")
      ("quiet,q", "no summary on stdout");
  po::variables_map vm;
  if (!parse_args("hls", args, desc, vm, "(--design winner.json | --model M --hw H --schedule S) --out DIR [--force]"))
    return 0;
  RunConfig rc(vm);
  std::string out = rc.option(vm, "out");
  if (out.empty()) throw InputError("--out", "", "is required");
  out = fs::path(out).lexically_normal().string();  // "prj/" names the directory prj
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  const bool force = vm.count("force") > 0;
  std::error_code ec;  // a path the OS cannot examine (a name too long) fails when written, naming --out
  const bool out_exists = fs::exists(out, ec);
  if (out_exists && !force) throw InputError("--out", "", out + " exists (use --force to replace it)");
  if (out_exists && !fs::is_directory(out, ec)) throw InputError("--out", "", out + " exists and is not a directory");
  const int images = rc.int_option(vm, "images", 100, 1, 10000);
  const std::string weights_opt = rc.option(vm, "weights");
  const std::string weights = weights_opt.empty() ? trained_model_path() : weights_opt;
  const std::string data_opt = rc.option(vm, "data");
  const std::string data_dir = data_opt.empty() ? default_fashion_mnist_dir() : data_opt;
  const std::string calib_opt = rc.option(vm, "calibration");
  const func::Calibration calib = func::parse_calibration(calib_opt.empty() ? "sequential" : calib_opt, "--calibration");

  hls::DesignPoint dp;
  std::vector<std::int32_t> given_thresholds;
  std::string sched_origin;
  const std::string design = rc.option(vm, "design");
  if (!design.empty()) {
    for (const char* o : {"model", "hw", "schedule"})
      if (vm.count(o)) throw InputError("--" + std::string(o), "", "cannot be combined with --design");
    hls::DesignFile f = hls::parse_design(load_json_file(design), design);
    dp.model = std::move(f.model);
    dp.hw = std::move(f.hw);
    dp.hw_json = std::move(f.hw_resolved);
    dp.schedule = std::move(f.schedule);
    given_thresholds = std::move(f.thresholds);
    sched_origin = design;
    dp.origin = {{"design", design}};
  } else {
    dp.model = rc.load_model(rc.option(vm, "model"));
    dp.hw = load_hw(rc, rc.option(vm, "hw"));
    const std::string so = rc.option(vm, "schedule");
    // without --schedule: the hw config's default, which must exist (no silent dense run)
    const std::string sp = schedule_path(dp.hw, dp.model, so.empty() ? "default" : so);
    dp.schedule = rc.load_schedule(sp, dp.model);
    if (dp.schedule.name.empty()) dp.schedule.name = sp.empty() ? "dense" : sp;
    sched_origin = sp.empty() ? "--schedule" : sp;
    dp.origin = {{"model", rc.option(vm, "model")}, {"hw", rc.option(vm, "hw")},
                 {"schedule", so.empty() ? "default" : so}};
  }
  if (design.empty()) {
    rc.check_overrides_used();
    rc.reader("model").finish();
    rc.reader("hw").finish();
    dp.hw_json = rc.reader("hw").resolved();
  }
  dp.hw_json.erase("default_schedules");  // not part of the design (and machine-specific paths)
  sim::check_fits(dp.hw, sim::estimate_resources(dp.hw));
  // What the engine cannot build, before any calibration or reference run.
  hls::check_engine_support(dp.hw, dp.schedule);
  hls::EmitOptions eo;
  eo.tb_images = images;
  hls::Project p;
  if (!uses_trained_model(dp.model)) {
    // DeiT shapes: seeded synthetic weights and images, thresholds calibrated on them.
    if (!given_thresholds.empty())
      throw InputError(design, "thresholds", "a " + dp.model.name + " design runs on synthetic weights; its "
                                             "thresholds are calibrated by heatvit hls (give none)");
    if (!vm.count("images")) eo.tb_images = 1;
    p = hls::emit_project_synthetic(dp, eo);
    write_project(p, out, force);
    if (!vm.count("quiet")) print_summary(p, dp, out);
    return 0;
  }

  const func::FuncModel fm = func::FuncModel::load(weights, dp.model);
  if (!given_thresholds.empty()) {
    dp.thresholds = fm.resolve(dp.schedule, sched_origin);  // validates the blocks against the bank
    for (std::size_t i = 0; i < dp.thresholds.size(); ++i) dp.thresholds[i].threshold = given_thresholds[i];
    dp.calibration = "given by the design point";
  } else {
    dp.thresholds =
        func::schedule_thresholds(fm, dp.schedule, sched_origin, calib, data_dir, 0, func::default_threshold_cache_dir());
    dp.calibration = func::calibration_name(calib);
  }
  dp.origin["weights"] = weights_opt.empty() ? "models/deit-micro/export/deit-micro-int8.hvt" : weights_opt;
  dp.origin["tb_images"] = images;
  const ImageSet data = load_fashion_mnist(data_dir, "t10k", func::Shape::kImage, func::Shape::kImage,
                                           func::Shape::kClasses);
  p = hls::emit_project(dp, fm, data, eo);
  write_project(p, out, force);
  if (!vm.count("quiet")) print_summary(p, dp, out);
  return 0;
}

}  // namespace heatvit::cli

namespace heatvit::cli {

json demo_hls(const std::string& design, const std::string& out_dir) {
  std::printf("\nHLS project of the winner (heatvit hls --design %s --out %s)\n", design.c_str(), out_dir.c_str());
  run_hls({"--design", design, "--out", out_dir, "--force", "--images", "20", "-q"});
  json r = load_json_file(out_dir + "/hls_report.json");
  std::printf("  %d passes, lint %s, DSP/BRAM %s the resource model\n", r["design"]["passes"].get<int>(),
              r["lint"]["pass"].get<bool>() ? "clean" : "FAILED",
              r["resources"]["pass"].get<bool>() ? "equal to" : "DIFFERENT FROM");
  json out = {{"out", out_dir}, {"lint", r["lint"]["pass"]}, {"resources_match", r["resources"]["pass"]}};
  // C simulation with g++ (the project's Makefile); its summary lines are the result.
  const std::string cmd = "make -s -C '" + out_dir + "' csim 2>&1";
  std::FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string log;
  if (pipe) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) log += buf;
    const int rc = ::pclose(pipe);
    out["csim_exit"] = rc;
    out["csim_pass"] = rc == 0;
    std::istringstream ls(log);
    std::string line;
    while (std::getline(ls, line))
      if (line.rfind("heatvit csim:", 0) == 0) std::printf("  %s\n", line.c_str());
  } else {
    std::printf("  (C simulation not run: %s)\n", cmd.c_str());
  }
  return out;
}

}  // namespace heatvit::cli

#endif  // HEATVIT_HAVE_HLS
