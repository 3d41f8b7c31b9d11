// heatvit demo: a readable summary of what the tool does, on embedded defaults.
#include <cstdio>

#include "commands.hpp"
#include "heatvit/models/workload.hpp"

namespace heatvit::cli {

int run_demo(const std::vector<std::string>& args) {
  po::options_description desc("demo options");
  po::variables_map vm;
  if (!parse_args("demo", args, desc, vm, "")) return 0;
  std::printf("== Dense workloads (224x224 ImageNet shapes; deit-micro: 28x28 Fashion-MNIST)\n");
  std::printf("%-11s %6s %5s %6s %10s %10s\n", "model", "depth", "D", "tokens", "GMACs", "published");
  for (const auto& name : builtin_model_names()) {
    const ModelShape m = load_model(name);
    const Workload w = build_dense_workload(m);
    char pub[32] = "-";
    if (m.published_gmacs > 0) std::snprintf(pub, sizeof pub, "%.1f", m.published_gmacs);
    std::printf("%-11s %6d %5d %6d %10.3f %10s\n", m.name.c_str(), m.depth, m.embed_dim,
                m.dense_tokens(), w.total_macs() / 1e9, pub);
  }
  return 0;
}

}  // namespace heatvit::cli
