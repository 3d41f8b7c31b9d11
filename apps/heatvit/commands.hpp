#pragma once

#include <string>
#include <vector>

#include "cli.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/models/workload.hpp"
#ifdef HEATVIT_HAVE_SIM
#include "heatvit/sim/hw_config.hpp"
#endif

namespace heatvit::cli {

int run_workload(const std::vector<std::string>& args);
int run_demo(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
#ifdef HEATVIT_HAVE_SIM
int run_sim(const std::vector<std::string>& args);
/// Composes the hw config named by --hw (preset name or path) into section "hw" of rc.
sim::HwConfig load_hw(RunConfig& rc, const std::string& name_or_path);
/// The schedule file a --schedule value names: "" for "dense", the hw config's default
/// for "default" (InputError when it has none) or "" (the default when there is one),
/// else the value itself.
std::string schedule_path(const sim::HwConfig& hw, const ModelShape& model, const std::string& opt);
#endif
#ifdef HEATVIT_HAVE_DSE
int run_dse(const std::vector<std::string>& args);
int run_calibrate(const std::vector<std::string>& args);
/// The demo's short DSE run (configs/dse/demo.json on deit-micro) into `out_dir`.
json demo_dse(const std::string& out_dir);
#endif

#ifdef HEATVIT_HAVE_HLS
int run_hls(const std::vector<std::string>& args);
/// The demo's last step: the DSE winner `design` as an HLS project in `out_dir`, and its
/// C simulation (g++, make) when the tools are there.
json demo_hls(const std::string& design, const std::string& out_dir);
#endif

/// The trained deit-micro export (models/deit-micro/export/deit-micro-int8.hvt).
std::string trained_model_path();
/// True when per-image token counts of `model` come from the trained model.
bool uses_trained_model(const ModelShape& model);

/// Runs the trained integer model on the first `images` test images with `sched`
/// (per-image predictions and tokens per block). InputError when the export is missing.
/// Progress on stderr unless `quiet`.
func::EvalResult trained_model_tokens(const ModelShape& model, const Schedule& sched, int images,
                                      bool quiet = false);

/// The workload selected by --model, --schedule and --tokens.
Workload workload_from_options(RunConfig& rc, const po::variables_map& vm, ModelShape& model,
                               Schedule& sched);

}  // namespace heatvit::cli
