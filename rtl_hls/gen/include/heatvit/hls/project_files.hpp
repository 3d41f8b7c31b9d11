// The build files (hls_config.cfg, run_hls.tcl, Makefile), README.md and design.json
// of an emitted project.
#pragma once

#include <map>
#include <string>

#include "heatvit/hls/hls.hpp"

namespace heatvit::hls {

void add_build_files(std::map<std::string, std::string>& files, const DesignPoint& dp, const json& report);

}  // namespace heatvit::hls
