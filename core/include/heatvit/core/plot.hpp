// Plots drawn by the project's matplotlib scripts (scripts/plot_*.py, Debian's
// python3-matplotlib): the inputs are written to a scratch directory, the script draws
// a PNG there, and its bytes come back, so the caller adds them to the run's
// OutputSet and nothing appears in the user's directory before every output is ready.
#pragma once

#include <map>
#include <string>

namespace heatvit {

/// Runs `/usr/bin/python3 <project>/scripts/<script> SCRATCH SCRATCH/plot.png` after
/// writing `inputs` (file name -> content) into SCRATCH; returns the PNG. Throws
/// std::runtime_error (exit 1: the environment, not the user's input) with the
/// script's output when it fails.
std::string render_plot(const std::string& script, const std::map<std::string, std::string>& inputs);

}  // namespace heatvit
