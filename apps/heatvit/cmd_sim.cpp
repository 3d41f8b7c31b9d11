// heatvit sim: cycle-level simulation of a model on a hardware configuration.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/core/plot.hpp"
#include "heatvit/core/progress.hpp"
#include "heatvit/sim/job.hpp"
#include "heatvit/sim/masks.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/func/parallel.hpp"
#include "heatvit/models/idx.hpp"

namespace heatvit::cli {

namespace {
// Images per run: each is a latency sample kept in memory; a million is far beyond
// the 10k test images of the trained model and any useful distribution.
constexpr int kMaxImages = 1000000;
}  // namespace

sim::HwConfig load_hw(RunConfig& rc, const std::string& name_or_path) {
  if (name_or_path.empty()) throw InputError("--hw", "", "is required");
  if (name_or_path == RunConfig::kInline) {  // composed already (a resolved config)
    rc.add_section("hw", rc.inline_section("hw"), rc.config_path() + " (hw)");
    sim::HwConfig hw = sim::parse_hw_config(rc.reader("hw"));
    hw.name += " (as resolved in " + rc.config_path() + ")";
    return hw;
  }
  std::string path = name_or_path;
  if (path.find('/') == std::string::npos && path.find(".json") == std::string::npos) {
    path = resolve_relative(project_root(), "configs/hw/" + path + ".json");
    std::error_code ec;  // a name the OS rejects (too long) is an unknown config too
    if (!std::filesystem::exists(path, ec)) {
      std::vector<std::string> names;
      for (const auto& e : std::filesystem::directory_iterator(project_root() + "/configs/hw", ec))
        if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
      std::sort(names.begin(), names.end());
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw InputError("--hw", "", "unknown hardware config '" + name_or_path + "' (known: " + list +
                                       "; or give a path to a JSON file)");
    }
  }
  Provenance inner;
  json composed = sim::compose_hw_config(path, inner);
  rc.add_section("hw", std::move(composed), path, inner);
  return sim::parse_hw_config(rc.reader("hw"));
}

/// The report's per-layer table as CSV (one header row, one row per layer).
std::string layers_csv(const json& layers) {
  static const char* cols[] = {"name", "block", "phase", "kind", "cycles", "compute_cycles", "stall_cycles",
                               "ddr_bytes", "ddr_read_bytes", "ddr_write_bytes", "macs", "analytic_cycles"};
  auto cell = [](const json& v) {
    std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    if (s.find_first_of(",\"\n") != std::string::npos) {
      std::string q = "\"";
      for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      s = q + "\"";
    }
    return s;
  };
  std::string out;
  for (const char* c : cols) out += std::string(out.empty() ? "" : ",") + c;
  out += "\n";
  for (const auto& l : layers) {
    std::string row;
    for (const char* c : cols) row += (row.empty() ? "" : ",") + (l.contains(c) ? cell(l[c]) : std::string());
    out += row + "\n";
  }
  return out;
}

std::string schedule_path(const sim::HwConfig& hw, const ModelShape& model, const std::string& opt) {
  if (opt == "dense") return "";
  if (opt.empty() || opt == "default") {
    auto it = hw.default_schedules.find(model.name);
    if (it == hw.default_schedules.end()) {
      if (opt == "default")
        throw InputError("--schedule", "", "hw config " + hw.name + " has no default schedule for " + model.name);
      return "";
    }
    return it->second;
  }
  return opt;
}

std::string trained_model_path() { return project_root() + "/models/deit-micro/export/deit-micro-int8.hvt"; }

bool uses_trained_model(const ModelShape& model) { return model.name == "deit-micro"; }

namespace {

/// The trained model, the test images and the schedule's thresholds (sequential
/// calibration), with every bad-input check done before any image runs.
struct TrainedRun {
  std::shared_ptr<const func::FuncModel> model;
  std::shared_ptr<const ImageSet> data;
  std::shared_ptr<const std::vector<func::SelectorThreshold>> thresholds;
};

TrainedRun load_trained_run(const ModelShape& model, const Schedule& sched, int images) {
  const std::string weights = trained_model_path();
  std::error_code ec;
  if (!std::filesystem::exists(weights, ec))
    throw InputError(weights, "", "not found: per-image token counts of deit-micro come from the trained model "
                                  "(make train), or give --tokens or --masks");
  TrainedRun t;
  t.model = std::make_shared<const func::FuncModel>(func::FuncModel::load(weights, model));
  t.data = std::make_shared<const ImageSet>(load_fashion_mnist(default_fashion_mnist_dir(), "t10k"));
  if (images > t.data->count)
    throw InputError("--images", "", "the test set has " + std::to_string(t.data->count) + " images");
  t.thresholds = std::make_shared<const std::vector<func::SelectorThreshold>>(func::schedule_thresholds(
      *t.model, sched, sched.name, func::Calibration::Sequential, default_fashion_mnist_dir(), 0,
      func::default_threshold_cache_dir()));
  return t;
}

}  // namespace

func::EvalResult trained_model_tokens(const ModelShape& model, const Schedule& sched, int images, bool quiet) {
  const TrainedRun t = load_trained_run(model, sched, images);
  Progress progress("integer model", "images", images, quiet);
  return func::evaluate(*t.model, *t.thresholds, *t.data, images, 0, &progress);
}

namespace {

/// The trained model's tokens for the first `images` test images under `sched`, fed to
/// the job image by image while the SystemC model simulates (the integer model runs in
/// chunks; everything that can be bad input is checked before the job starts).
void stream_trained_model_tokens(sim::SimJob& job, const Schedule& sched, int images, bool quiet) {
  const TrainedRun t = load_trained_run(job.model, sched, images);
  job.stream = [fm = t.model, data = t.data, th = t.thresholds, images, quiet](const sim::SimJob::Emit& emit) {
    Progress progress("integer model", "images", images, quiet);
    // Images per integer-model batch, then fed to the simulation. The simulation runs in
    // its own process meanwhile: leave it a core. Until the first batch is fed it has
    // nothing to simulate, so that batch is small and takes every core; the batches then
    // double up to kChunk, each taking the integer model less time than the simulation
    // takes for the one before (a new token vector costs the simulation about 1 ms, an
    // image the integer model about 0.3 ms on a core), so that it is never kept waiting.
    constexpr int kFirstChunk = 16, kChunk = 256;
    const int workers = std::max(1, func::thread_count(0) - 1);
    int next_chunk = kFirstChunk;
    ImageSet chunk;  // the test set's description, with one chunk's pixels and labels
    chunk.images_path = data->images_path;
    chunk.labels_path = data->labels_path;
    chunk.rows = data->rows;
    chunk.cols = data->cols;
    const std::size_t pixels = static_cast<std::size_t>(data->rows * data->cols);
    for (int first = 0; first < images;) {
      const int n = std::min(next_chunk, images - first);
      next_chunk = std::min(2 * next_chunk, kChunk);
      chunk.count = n;
      chunk.pixels.assign(data->image(first), data->image(first) + static_cast<std::size_t>(n) * pixels);
      chunk.labels.assign(data->labels.begin() + first, data->labels.begin() + first + n);
      const func::EvalResult r = func::evaluate(*fm, *th, chunk, n, first == 0 ? 0 : workers, &progress);
      for (int i = 0; i < n; ++i) {
        const auto ii = static_cast<std::size_t>(i);
        std::vector<int> kept;
        for (std::uint64_t m : r.kept_masks[ii]) kept.push_back(__builtin_popcountll(m));
        emit(r.tokens_per_block[ii], std::move(kept), r.predictions[ii]);
      }
      first += n;
    }
  };
}

}  // namespace

int run_sim(const std::vector<std::string>& args) {
  po::options_description desc("sim options");
  desc.add_options()
      ("model", po::value<std::string>(), "model preset name or JSON path")
      ("hw", po::value<std::string>(), "hardware config: configs/hw/<name>.json or a path")
      ("schedule", po::value<std::string>(), "pruning schedule JSON, 'default' (the hw config's for "
                                             "this model; also used when omitted) or 'dense'")
      ("tokens", po::value<std::string>(), "tokens entering each block (overrides the schedule's "
                                           "expected counts; selectors still run where it says)")
      ("masks", po::value<std::string>(), "per-image token masks (token-masks container: the trained "
                                          "model's export, heatvit eval --masks-out, or "
                                          "python3 -m training import-masks); "
                                          "each image is simulated with its own token counts")
      ("images", po::value<int>(), "images to simulate (default 1; with --masks: all in the file)")
      ("report", po::value<std::string>(), "write the JSON report here (resolved config next to it)")
      ("vcd", po::value<std::string>(), "write a VCD trace (busy signals, queue depths) of the run")
      ("timeline", po::value<std::string>(), "write a Chrome trace-event JSON of the first image's "
                                             "passes and load/compute/store phases (Perfetto)")
      ("latency-table", po::value<std::string>(), "write the per-block latency vs tokens table instead")
      ("analytic-table", "with --latency-table: use the analytic model instead of SystemC")
      ("csv", po::value<std::string>(), "also write the per-layer table (first image) as CSV: name, block, "
                                        "cycles, compute and stall cycles, DDR bytes, MACs, analytic cycles")
      ("plot", po::value<std::string>(), "also draw the run as a PNG: per-block compute and stall cycles, PE "
                                         "and DDR utilization, resources, per-image latency histogram")
      ("quiet,q", "no summary on stdout");
  add_config_options(desc);
  po::variables_map vm;
  if (!parse_args("sim", args, desc, vm,
                  "--model M --hw H [--schedule S] [--images K] --report R.json"))
    return 0;
  RunConfig rc(vm);
  // Every output path is checked before minutes of simulation.
  const std::string report_path = rc.option(vm, "report");
  if (!report_path.empty()) check_report_paths(report_path);
  if (vm.count("latency-table")) check_report_paths(vm["latency-table"].as<std::string>());
  for (const char* o : {"timeline", "vcd", "csv", "plot"})
    if (vm.count(o)) check_output_path(vm[o].as<std::string>());
  const bool quiet = vm.count("quiet") > 0;
  sim::SimJob job;
  job.options.quiet = quiet;
  job.options.progress = !quiet;
  job.model = rc.load_model(rc.option(vm, "model"));
  job.hw_name = rc.option(vm, "hw");
  job.hw = load_hw(rc, job.hw_name);
  job.hw.name += rc.overrides_note("hw");  // the report must not claim the unchanged preset

  if (vm.count("latency-table")) {
    rc.check_overrides_used();
    rc.reader("model").finish();
    rc.reader("hw").finish();
    const std::string out = vm["latency-table"].as<std::string>();
    const json t = sim::latency_table(job.model, job.hw, !vm.count("analytic-table"), job.options);
    write_report(out, t, rc.resolved());
    if (!vm.count("quiet")) std::printf("wrote %s (%zu token counts)\n", out.c_str(), t["blocks"][0]["rows"].size());
    return 0;
  }

  const std::string masks_path = rc.option(vm, "masks");
  if (!masks_path.empty() && (rc.has_option(vm, "schedule") || rc.has_option(vm, "tokens")))
    throw InputError("--masks", "", "cannot be combined with --schedule or --tokens (the masks define both)");
  const Schedule sched = masks_path.empty()
                             ? rc.load_schedule(schedule_path(job.hw, job.model, rc.option(vm, "schedule")), job.model)
                             : Schedule{};
  rc.check_overrides_used();
  rc.reader("model").finish();
  rc.reader("hw").finish();
  for (const auto& p : sched.selectors) job.selector_blocks.push_back(p.block);
  std::vector<int> tokens = expected_tokens(job.model, sched);
  const std::string tok = rc.option(vm, "tokens");
  if (!tok.empty()) {
    tokens = parse_int_list(tok, "--tokens");
    validate_tokens(job.model, tokens, "--tokens");
  }
  const bool images_given = rc.has_option(vm, "images");
  int images = rc.int_option(vm, "images", 1, 1, kMaxImages);
  std::string schedule_name = sched.name + (masks_path.empty() ? rc.overrides_note("schedule") : "");
  if (!masks_path.empty()) {
    const sim::TokenMasks masks = sim::load_token_masks(masks_path, job.model);
    if (!images_given) images = masks.images;
    if (images > masks.images)
      throw InputError("--images", "", std::to_string(images) + " requested but " + masks_path + " holds " +
                                           std::to_string(masks.images));
    job.selector_blocks = masks.selector_blocks;
    for (int i = 0; i < images; ++i) {
      job.images.push_back(sim::tokens_for_image(job.model, masks, i));
      job.kept.push_back(sim::kept_for_image(masks, i));
    }
    if (!masks.predictions.empty())
      job.predicted_class.assign(masks.predictions.begin(), masks.predictions.begin() + images);
    tokens = job.images[0];
    schedule_name = "masks:" + masks_path;
  } else if (tok.empty() && !sched.empty() && uses_trained_model(job.model)) {
    // The trained model decides each image's tokens: run the integer model on the
    // first K test images with this schedule.
    stream_trained_model_tokens(job, sched, images, quiet);
  } else {
    job.images.assign(static_cast<std::size_t>(images), tokens);
  }
  if (vm.count("vcd")) job.options.vcd_path = vm["vcd"].as<std::string>();
  job.options.trace_events = vm.count("timeline") > 0;

  const sim::JobResult res = sim::run_job(job);
  if (job.stream) tokens = res.report["tokens"].get<std::vector<int>>();  // the first image's
  // All outputs of the run replace the old ones together, or none does.
  OutputSet out;
  if (!res.vcd_file.empty()) out.add_file(job.options.vcd_path, res.vcd_file);
  json report = res.report;
  report["schedule"] = schedule_name;
  rc.extra()["options"] = {{"images", images}, {"tokens", tokens}, {"schedule", schedule_to_json(sched)},
                           {"masks", masks_path}, {"tokens_option", tok}};
  if (!report_path.empty()) {
    out.add(report_path, report.dump(2) + "\n");
    out.add(sibling_path(report_path, ".config.json"), rc.resolved().dump(2) + "\n");
  }
  if (vm.count("timeline")) out.add(vm["timeline"].as<std::string>(), sim::timeline_json(res.trace).dump() + "\n");
  if (vm.count("csv")) out.add(vm["csv"].as<std::string>(), layers_csv(report["layers"]));
  if (vm.count("plot")) out.add(vm["plot"].as<std::string>(), render_plot("plot_sim.py", {{"report.json", report.dump()}}));
  out.commit();
  if (!vm.count("quiet")) {
    const auto& L = report["latency_ms"];
    std::printf("%s on %s (%s): %.3f ms mean (p50 %.3f, p99 %.3f) = %.1f FPS over %d image(s)\n",
                job.model.name.c_str(), job.hw.name.c_str(), schedule_name.c_str(), L["mean"].get<double>(),
                L["p50"].get<double>(), L["p99"].get<double>(), report["fps"].get<double>(), images);
    std::printf("  %.3f GMACs/image, PE utilization %.1f%%, DDR bandwidth utilization %.1f%%\n",
                report["macs_per_image"].get<double>() / 1e9, 100 * report["pe_utilization"].get<double>(),
                100 * report["ddr_bandwidth_utilization"].get<double>());
    std::printf("  analytic model, first image: %.3f ms (%+.2f%% vs SystemC)\n", report["analytic"]["latency_ms"].get<double>(),
                100 * report["analytic"]["disagreement"].get<double>());
    const auto& r = report["resources"];
    const auto& d = report["device"];
    std::printf("  resources: DSP %lld/%lld, BRAM36 %lld/%lld, LUT %lld/%lld, FF %lld/%lld\n",
                r["dsp"].get<long long>(), d["dsp"].get<long long>(), r["bram36"].get<long long>(),
                d["bram36"].get<long long>(), r["lut"].get<long long>(), d["lut"].get<long long>(),
                r["ff"].get<long long>(), d["ff"].get<long long>());
    const auto& e = report["energy"];
    if (e.value("modelled", false)) {
      std::printf("  energy: %.3f mJ/image, %.2f W average (dynamic %.2f W, static %.2f W)\n",
                  e["mj_per_image"].get<double>(), e["average_power_w"].get<double>(), e["dynamic_w"].get<double>(),
                  e["static_w"].get<double>());
    } else {
      std::printf("  energy: not modelled (the hw config has no \"power\" section)\n");
    }
  }
  return 0;
}

}  // namespace heatvit::cli
