// heatvit workload: the operation list of a model for given tokens per block.
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "commands.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/models/workload.hpp"

namespace heatvit::cli {

namespace {

/// --schedule as `sim` and `eval` read it: "dense" (or absent) is no selector,
/// "default" the model's default schedule in the HeatViT hw config, else a file.
std::string workload_schedule_path(const ModelShape& model, const std::string& opt) {
  if (opt.empty() || opt == "dense") return "";
  if (opt != "default") return opt;
  const std::string hw = project_root() + "/configs/hw/zcu102-heatvit.json";
  const json root = load_json_file(hw);
  const auto ds = root.find("default_schedules");
  if (ds == root.end() || !ds->is_object() || !ds->contains(model.name) || !(*ds)[model.name].is_string())
    throw InputError("--schedule", "", "there is no default schedule for " + model.name + " (in " + hw + ")");
  return resolve_relative(dir_of(hw), (*ds)[model.name].get<std::string>());
}

}  // namespace

Workload workload_from_options(RunConfig& rc, const po::variables_map& vm, ModelShape& model,
                               Schedule& sched) {
  model = rc.load_model(rc.option(vm, "model"));
  sched = rc.load_schedule(workload_schedule_path(model, rc.option(vm, "schedule")), model);
  const std::string tok = rc.option(vm, "tokens");
  if (tok.empty()) return build_schedule_workload(model, sched);
  std::vector<int> tokens = parse_int_list(tok, "--tokens");
  validate_tokens(model, tokens, "--tokens");
  std::vector<int> blocks;
  for (const auto& p : sched.selectors) blocks.push_back(p.block);
  return build_workload(model, tokens, blocks);
}

int run_workload(const std::vector<std::string>& args) {
  po::options_description desc("workload options");
  desc.add_options()
      ("model", po::value<std::string>(), "model preset name or JSON path (deit-tiny, deit-small, "
                                          "deit-base, lvvit-s, lvvit-m, deit-micro)")
      ("tokens", po::value<std::string>(), "tokens entering each block, comma separated (CLS and "
                                           "package token included), one per block")
      ("schedule", po::value<std::string>(), "pruning schedule JSON (selector blocks and keep rates), 'default' "
                                             "(the model's default in zcu102-heatvit) or 'dense' (also when omitted)")
      ("bits", po::value<int>()->default_value(8), "bits per element for byte counts (8 or 16)")
      ("json", "print the JSON report (default: a readable summary)")
      ("report", po::value<std::string>(), "also write the JSON report to this file (with its "
                                           "resolved config next to it)");
  add_config_options(desc);
  po::variables_map vm;
  if (!parse_args("workload", args, desc, vm, "--model M [--tokens N0,N1,...] [--schedule S] --json"))
    return 0;
  RunConfig rc(vm);
  if (vm.count("report")) check_report_paths(vm["report"].as<std::string>());
  const int bits = vm["bits"].as<int>();
  if (bits != 8 && bits != 16) throw InputError("--bits", "", "must be 8 or 16");
  ModelShape model;
  Schedule sched;
  Workload w = workload_from_options(rc, vm, model, sched);
  rc.check_overrides_used();
  rc.reader("model").finish();
  json j = workload_to_json(w, bits);
  rc.extra()["options"] = {{"tokens", w.tokens}, {"bits", bits}};
  if (vm.count("report")) write_report(vm["report"].as<std::string>(), j, rc.resolved());
  if (vm.count("json")) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("model %s: depth %d, D %d, heads %d, MLP ratio %d, %d patch tokens + CLS\n",
              model.name.c_str(), model.depth, model.embed_dim, model.heads, model.mlp_ratio,
              model.patch_tokens());
  std::printf("tokens per block:");
  for (int t : w.tokens) std::printf(" %d", t);
  std::printf("\nbackbone %.4f GMACs, selectors %.4f GMACs, total %.4f GMACs",
              w.backbone_macs() / 1e9, w.selector_macs() / 1e9, w.total_macs() / 1e9);
  if (model.published_gmacs > 0) std::printf(" (published dense: %.1f)", model.published_gmacs);
  std::printf("\nweights %.2f MB at %d bits; %zu operations\n", w.weight_elements() * bits / 8 / 1e6,
              bits, w.ops.size());
  return 0;
}

}  // namespace heatvit::cli
