// heatvit eval: the bit-accurate integer model of deit-micro on the Fashion-MNIST test
// set (accuracy, predictions, tokens per block, MACs), optionally with per-image masks.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "commands.hpp"
#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/core/progress.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/models/hvt_file.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/models/workload.hpp"

namespace heatvit::cli {

namespace {

/// The schedule named by --schedule: "" or "dense" (no selectors), "default" (the
/// exported default next to the weights), else a JSON file.
Schedule load_eval_schedule(RunConfig& rc, const std::string& opt, const std::string& weights,
                            const ModelShape& model, std::string& path) {
  if (opt.empty() || opt == "dense") {
    Schedule s;
    s.name = "dense";
    path.clear();
    return s;
  }
  path = opt == "default" ? dir_of(weights) + "/schedule-default.json" : opt;
  rc.add_section("schedule", load_json_file(path), path);
  Schedule s = parse_schedule(rc.reader("schedule"), model);
  if (s.name.empty()) s.name = path;
  return s;
}

std::string masks_file(const func::EvalResult& r, const func::FuncModel& m, const ImageSet& data,
                       const Schedule& sched, func::Calibration calib) {
  const auto n = static_cast<std::int64_t>(r.images);
  constexpr int P = func::Shape::kPatches;
  std::vector<std::pair<std::string, HvtOutTensor>> t;
  HvtOutTensor labels{HvtDtype::Uint8, {n}, {}}, pred{HvtDtype::Int32, {n}, {}};
  HvtOutTensor tokens{HvtDtype::Int16, {n, func::Shape::kDepth}, {}};
  for (int i = 0; i < r.images; ++i) {
    const auto ii = static_cast<std::size_t>(i);
    labels.values.push_back(r.labels[ii]);
    pred.values.push_back(r.predictions[ii]);
    for (int v : r.tokens_per_block[ii]) tokens.values.push_back(v);
  }
  t.emplace_back("labels", std::move(labels));
  t.emplace_back("pred", std::move(pred));
  t.emplace_back("tokens", std::move(tokens));
  json thresholds = json::array();
  for (std::size_t s = 0; s < r.selectors.size(); ++s) {
    const int b = r.selectors[s].block;
    HvtOutTensor mask{HvtDtype::Uint8, {n, P}, {}}, score{HvtDtype::Int32, {n, P}, {}};
    for (int i = 0; i < r.images; ++i) {
      const auto ii = static_cast<std::size_t>(i);
      for (int p = 0; p < P; ++p) {
        mask.values.push_back((r.kept_masks[ii][s] >> p) & 1u);
        score.values.push_back(r.scores[ii][s * P + static_cast<std::size_t>(p)]);
      }
    }
    t.emplace_back("mask.b" + std::to_string(b), std::move(mask));
    t.emplace_back("score.b" + std::to_string(b), std::move(score));
    thresholds.push_back({{"block", b}, {"threshold", r.selectors[s].threshold}});
  }
  json meta = {
      {"model", "deit-micro"},
      {"weights", m.path()},
      {"dataset", "fashion-mnist t10k"},
      {"images_file", data.images_path},
      {"images", r.images},
      {"schedule", schedule_to_json(sched)["selectors"]},
      {"thresholds", thresholds},
      {"calibration", func::calibration_name(calib)},
      {"mask_semantics", "mask.bB[i, p] = 1 iff patch token p (absolute index 0..48, p = row*7+col) is kept "
                         "after the selector before block B; progressive (a 0 stays 0 at later selectors)"},
      {"score_semantics", "score.bB = selector score S (Q8 log-odds) of each patch token reaching the selector; "
                          "INT32_MIN for tokens pruned earlier"},
      {"tokens", "tokens entering each block (CLS and package token included)"},
      {"accuracy", r.accuracy()},
      {"producer", "heatvit eval"}};
  return encode_hvt("token-masks", meta, t);
}

}  // namespace

int run_eval(const std::vector<std::string>& args) {
  po::options_description desc("eval options");
  desc.add_options()
      ("model", po::value<std::string>(), "model: deit-micro (preset name or JSON path of the same shape)")
      ("weights", po::value<std::string>(), "exported integer model (.hvt, kind deit-micro-int8); default "
                                            "models/deit-micro/export/deit-micro-int8.hvt")
      ("data", po::value<std::string>(), "Fashion-MNIST directory (default $HEATVIT_FMNIST or "
                                         "/usr/share/datasets/fashion-mnist)")
      ("schedule", po::value<std::string>(), "pruning schedule JSON, 'default' (schedule-default.json next to "
                                             "the weights) or 'dense' (the default: no selectors)")
      ("calibration", po::value<std::string>(), "how keep rates become thresholds: 'sequential' (the default: "
                                                "selector by selector on the export's calibration images, earlier "
                                                "selectors active) or 'table' (the stored dense-pass tables)")
      ("limit", po::value<int>(), "evaluate only the first K test images")
      ("threads", po::value<int>(), "worker threads (default: all hardware threads)")
      ("masks-out", po::value<std::string>(), "also write per-image token masks, scores, tokens and predictions "
                                              "(.hvt, kind token-masks, the layout of masks-default.hvt)")
      ("logits-out", po::value<std::string>(), "also write per-image integer logits, predictions and tokens "
                                               "(JSON; used by scripts/check_bitexact.sh)")
      ("report", po::value<std::string>(), "JSON report to write (its resolved config goes next to it)")
      ("quiet,q", "no summary on stdout");
  add_config_options(desc);
  po::variables_map vm;
  if (!parse_args("eval", args, desc, vm, "--model deit-micro [--schedule S] [--limit K] --report R.json"))
    return 0;
  RunConfig rc(vm);
  const std::string report_path = rc.option(vm, "report");
  if (report_path.empty()) throw InputError("--report", "", "is required");
  // Every output path is checked before the evaluation starts.
  check_report_paths(report_path);
  for (const char* o : {"masks-out", "logits-out"})
    if (vm.count(o)) check_output_path(vm[o].as<std::string>());
  const ModelShape model = rc.load_model(rc.option(vm, "model"));
  const std::string weights_opt = rc.option(vm, "weights");
  const std::string weights = weights_opt.empty() ? trained_model_path() : weights_opt;
  const std::string data_opt = rc.option(vm, "data");
  const std::string data_dir = data_opt.empty() ? default_fashion_mnist_dir() : data_opt;
  const int limit = rc.int_option(vm, "limit", 0, 1, 100000000);
  const int threads = rc.int_option(vm, "threads", 0, 1, 1024);
  const std::string calib_opt = rc.option(vm, "calibration");
  const func::Calibration calib =
      func::parse_calibration(calib_opt.empty() ? "sequential" : calib_opt, "--calibration");
  std::string sched_path;
  const Schedule sched = load_eval_schedule(rc, rc.option(vm, "schedule"), weights, model, sched_path);
  rc.check_overrides_used();
  rc.reader("model").finish();

  const func::FuncModel fm = func::FuncModel::load(weights, model);
  const auto selectors = func::schedule_thresholds(fm, sched, sched_path.empty() ? "--schedule" : sched_path,
                                                  calib, data_dir, threads, func::default_threshold_cache_dir());
  const ImageSet data = load_fashion_mnist(data_dir, "t10k", func::Shape::kImage, func::Shape::kImage,
                                           func::Shape::kClasses);
  const auto t0 = std::chrono::steady_clock::now();
  const int todo = limit > 0 && limit < data.count ? limit : data.count;
  Progress progress("eval", "images", todo, vm.count("quiet") > 0);
  const func::EvalResult r = func::evaluate(fm, selectors, data, limit, threads, &progress);
  progress.finish();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::int64_t dense_macs = build_dense_workload(model).total_macs();
  int correct = 0;
  for (int i = 0; i < r.images; ++i)
    correct += r.predictions[static_cast<std::size_t>(i)] == r.labels[static_cast<std::size_t>(i)];
  json sel = json::array();
  for (std::size_t s = 0; s < r.selectors.size(); ++s) {
    const auto& st = r.selectors[s];
    json e = {{"block", st.block},
              {"keep", st.keep},
              {"threshold", st.threshold},
              {"achieved_keep", r.achieved_keep(static_cast<int>(s))}};
    if (calib == func::Calibration::Table) {
      e["cum_keep_milli"] = st.cum_keep_milli;
      e["table_index"] = st.table_index;
    }
    sel.push_back(e);
  }
  const int used_threads = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  json report = {
      {"model", model.name},
      {"weights", weights},
      {"dataset", {{"name", "fashion-mnist"}, {"split", "t10k"}, {"images_file", data.images_path},
                   {"labels_file", data.labels_path}}},
      {"schedule", {{"name", sched.name}, {"calibration", func::calibration_name(calib)}, {"selectors", sel}}},
      {"images", r.images},
      {"accuracy", r.accuracy()},
      {"correct", correct},
      {"predictions", r.predictions},
      {"tokens_mean", r.tokens_mean()},
      {"macs_per_image", r.macs_mean()},
      {"dense_macs_per_image", dense_macs},
      {"mac_reduction", dense_macs > 0 ? 1.0 - r.macs_mean() / static_cast<double>(dense_macs) : 0.0},
      {"threads", used_threads},
      {"wall_s", wall},
      {"images_per_s", wall > 0 ? r.images / wall : 0.0}};
  rc.extra()["options"] = {{"weights", weights}, {"data", data_dir}, {"limit", limit}, {"threads", used_threads},
                           {"calibration", func::calibration_name(calib)},
                           {"schedule", sched_path.empty() ? json("dense") : json(sched_path)}};

  // All outputs replace the old ones together, or none does.
  OutputSet out;
  if (vm.count("masks-out")) out.add(vm["masks-out"].as<std::string>(), masks_file(r, fm, data, sched, calib));
  if (vm.count("logits-out")) {
    json lj = {{"weights", weights}, {"images", r.images}, {"calibration", func::calibration_name(calib)}, {"schedule", schedule_to_json(sched)},
               {"thresholds", json::array()}, {"logits", r.logits}, {"pred", r.predictions},
               {"tokens", r.tokens_per_block}};
    for (const auto& st : r.selectors) lj["thresholds"].push_back({{"block", st.block}, {"threshold", st.threshold}});
    out.add(vm["logits-out"].as<std::string>(), lj.dump() + "\n");
  }
  out.add(report_path, report.dump(2) + "\n");
  out.add(sibling_path(report_path, ".config.json"), rc.resolved().dump(2) + "\n");
  out.commit();
  if (!vm.count("quiet")) {
    std::printf("deit-micro int8, %s: %d images, accuracy %.4f, %.3f MMACs/image (dense %.3f), %.2f s on %d threads\n",
                sched.name.c_str(), r.images, r.accuracy(), r.macs_mean() / 1e6, dense_macs / 1e6, wall, used_threads);
    std::printf("tokens per block (mean):");
    for (double t : r.tokens_mean()) std::printf(" %.2f", t);
    std::printf("\n");
  }
  return 0;
}

}  // namespace heatvit::cli
