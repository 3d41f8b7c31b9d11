#include "commands.hpp"

namespace heatvit::cli {

const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> list = {
      {"workload", "operation list and MAC counts of a model for given tokens per block", run_workload},
#ifdef HEATVIT_HAVE_SIM
      {"sim", "cycle-level simulation of a model on a hardware config", run_sim},
#endif
#ifdef HEATVIT_HAVE_DSE
      {"dse", "design-space exploration of pruning schedules x hardware knobs (accuracy, latency, resources)",
       run_dse},
      {"calibrate", "fit the physical parameters of the HeatViT and baseline presets to the published figures; "
                    "residual per figure",
       run_calibrate},
#endif
#ifdef HEATVIT_HAVE_HLS
      {"hls", "emit a design point as a Vitis HLS project (layer program, packed weights, bit-exact testbench)",
       run_hls},
#endif
      {"eval", "bit-accurate integer model of deit-micro on the Fashion-MNIST test set", run_eval},
      {"demo", "the main job on embedded defaults, with a readable summary", run_demo},
  };
  return list;
}

}  // namespace heatvit::cli
