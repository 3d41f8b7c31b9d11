#pragma once

#include <string>
#include <vector>

#include "cli.hpp"
#include "heatvit/models/workload.hpp"

namespace heatvit::cli {

int run_workload(const std::vector<std::string>& args);
int run_demo(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
#ifdef HEATVIT_HAVE_SIM
int run_sim(const std::vector<std::string>& args);
#endif

/// The workload selected by --model, --schedule and --tokens.
Workload workload_from_options(RunConfig& rc, const po::variables_map& vm, ModelShape& model,
                               Schedule& sched);

}  // namespace heatvit::cli
