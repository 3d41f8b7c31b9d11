// heatvit dse: design-space exploration over pruning schedules and hardware knobs.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/dse/mpi_farm.hpp"
#include "heatvit/dse/run.hpp"
#include "heatvit/dse/strategy.hpp"
#include "heatvit/models/idx.hpp"

namespace heatvit::cli {

namespace {
extern "C" void on_sigint(int) { dse::g_interrupted = true; }

// Rank 0 of an MPI job: Open MPI ends the whole job when any rank is lost (it sends
// SIGTERM, then SIGKILL), so the message says what is kept and how to go on.
char g_term_message[1024];
pid_t g_rank0_pid = 0;
extern "C" void on_sigterm(int) {
  if (getpid() == g_rank0_pid) {  // not in a SystemC child forked by rank 0
    const ssize_t r = write(2, g_term_message, std::strlen(g_term_message));
    (void)r;
  }
  _exit(143);
}
/// Rank 0's SIGTERM message for the life of the run only.
struct TermMessage {
  explicit TermMessage(const std::string& out_dir) {
    std::snprintf(g_term_message, sizeof g_term_message,
                  "heatvit dse: the MPI job was stopped (a rank was lost, or the job was cancelled); every "
                  "finished evaluation is in %s/dse.sqlite: run the same command again, with any number of "
                  "ranks, to resume\n",
                  out_dir.c_str());
    g_rank0_pid = getpid();
    std::signal(SIGTERM, on_sigterm);
  }
  ~TermMessage() { std::signal(SIGTERM, SIG_DFL); }
};
}  // namespace

namespace {

void print_summary(const json& s, const std::string& model, const std::string& hw, const std::string& strategy,
                   const std::string& out_dir) {
  std::printf("dse %s on %s, %s: %lld candidates (%lld schedules x %lld hw points), %lld evaluated in full, "
              "%lld infeasible, %.1f s\n",
              model.c_str(), hw.c_str(), strategy.c_str(), s["candidates"].get<long long>(),
              s["schedules"].get<long long>(), s["hw_points"].get<long long>(), s["evaluated_full"].get<long long>(),
              s["infeasible"].get<long long>(), s["seconds"].get<double>());
  std::printf("front (%zu points; validation accuracy, analytic mean latency | test accuracy, SystemC mean):\n",
              s["front"].size());
  auto pct = [](const json& v) {
    char b[16];
    if (v.is_null()) return std::string("-");
    std::snprintf(b, sizeof b, "%.2f%%", 100 * v.get<double>());
    return std::string(b);
  };
  for (const auto& p : s["front"]) {
    const std::string key = p["schedule_key"].get<std::string>();
    std::printf("  %-24s %-28s acc %7s  %8.4f ms | acc %7s  %8.4f ms\n", key.empty() ? "dense" : key.c_str(),
                p["hw"].dump().c_str(), pct(p["accuracy_val"]).c_str(), p["latency_ms_mean"].get<double>(),
                pct(p["accuracy_test"]).c_str(), p["latency_ms_systemc"]["mean"].get<double>());
  }
  const std::string w = s["winner"].get<std::string>();
  std::printf("winner: %s -> %s/winner.json (report.md, pareto.png, points.csv beside it)\n",
              w.empty() ? "dense" : w.c_str(), out_dir.c_str());
}

}  // namespace

json demo_dse(const std::string& out_dir) {
  RunConfig rc{po::variables_map()};
  dse::RunInputs in;
  in.model = load_model("deit-micro");
  in.hw_name = "zcu102-heatvit";
  load_hw(rc, in.hw_name);
  rc.reader("hw").finish();
  in.hw_composed = rc.reader("hw").resolved();
  in.model_resolved = in.model.name;
  in.hw_prov.set("", in.hw_name);
  dse::RunOptions opt;
  opt.space_path = project_root() + "/configs/dse/demo.json";
  opt.out_dir = out_dir;
  // The demo always runs afresh: its store may hold an earlier demo space or model.
  std::error_code ec;
  for (const char* f : {"dse.sqlite", "dse.sqlite-wal", "dse.sqlite-shm"}) std::filesystem::remove(out_dir + "/" + f, ec);
  opt.data_dir = default_fashion_mnist_dir();
  const json s = dse::run_dse(in, opt);
  print_summary(s, in.model.name, in.hw_name, opt.strategy, opt.out_dir);
  return s;
}

int run_dse(const std::vector<std::string>& args) {
  po::options_description desc("dse options");
  desc.add_options()
      ("model", po::value<std::string>(), "model preset name or JSON path (deit-micro: accuracy from the trained "
                                          "integer model; others: latency, MACs and resources only, or accuracy "
                                          "from evaluation.accuracy_csv)")
      ("hw", po::value<std::string>(), "base hardware config: configs/hw/<name>.json or a path; the space's hw "
                                       "knobs are applied on top")
      ("space", po::value<std::string>(), "space file (JSON: schedule, hw, constraints, objectives, evaluation)")
      ("strategy", po::value<std::string>(), "exhaustive (default; successive halving), greedy (HeatViT's "
                                             "latency-aware stages), random, nsga2 (pagmo2)")
      ("seed", po::value<long long>(), "random seed (random, nsga2); default 1")
      ("budget", po::value<long long>(), "candidates to evaluate (random: default 1000; nsga2: default 10% of "
                                         "the space)")
      ("threads", po::value<int>(), "worker threads (default: all hardware threads)")
      ("out", po::value<std::string>(), "output directory (default results/dse/<model>-<strategy>); a directory "
                                        "holding a run of the same space resumes it")
      ("weights", po::value<std::string>(), "deit-micro export (default models/deit-micro/export/deit-micro-int8.hvt)")
      ("data", po::value<std::string>(), "Fashion-MNIST directory (default $HEATVIT_FMNIST or "
                                         "/usr/share/datasets/fashion-mnist)")
      ("unit-seconds", po::value<double>(), "under mpirun: the evaluation time a unit of work sent to a rank aims "
                                            "at, in (0, 3600] (default 8); docs/scale-out.md")
      ("allow-large", "let exhaustive run over more than 250,000 candidates")
      ("no-plot", "do not draw pareto.png")
      ("quiet,q", "no progress on stderr, no summary on stdout");
  add_config_options(desc);
  po::variables_map vm;
  if (!parse_args("dse", args, desc, vm, "--model M --hw H --space S.json [--strategy exhaustive|greedy|random|nsga2] "
                                         "[--seed K] [--budget N] --out DIR"))
    return 0;
  RunConfig rc(vm);
  dse::RunInputs in;
  in.model = rc.load_model(rc.option(vm, "model"));
  in.hw_name = rc.option(vm, "hw");
  load_hw(rc, in.hw_name);
  rc.check_overrides_used();
  rc.reader("model").finish();
  rc.reader("hw").finish();
  in.hw_composed = rc.reader("hw").resolved();
  in.model_resolved = rc.reader("model").resolved();
  in.hw_prov.set("", in.hw_name);

  dse::RunOptions opt;
  opt.space_path = rc.option(vm, "space");
  if (opt.space_path.empty()) throw InputError("--space", "", "is required");
  opt.strategy = rc.option(vm, "strategy");
  if (opt.strategy.empty()) opt.strategy = "exhaustive";
  dse::make_strategy(opt.strategy);  // a bad name fails before any work
  if (vm.count("seed")) {
    const long long s = vm["seed"].as<long long>();
    if (s < 0) throw InputError("--seed", "", "must be >= 0");
    opt.seed = static_cast<std::uint64_t>(s);
  }
  if (vm.count("budget")) {
    const long long b = vm["budget"].as<long long>();
    if (b < 1 || b > (1LL << 40)) throw InputError("--budget", "", "must be in [1, 2^40]");
    opt.budget = b;
  }
  opt.threads = rc.int_option(vm, "threads", 0, 1, 1024);
  opt.out_dir = rc.option(vm, "out");
  if (opt.out_dir.empty()) opt.out_dir = "results/dse/" + in.model.name + "-" + opt.strategy;
  opt.allow_large = vm.count("allow-large") > 0;
  if (vm.count("unit-seconds")) {
    opt.unit_seconds = vm["unit-seconds"].as<double>();
    if (!(opt.unit_seconds > 0 && opt.unit_seconds <= 3600)) throw InputError("--unit-seconds", "", "must be in (0, 3600]");
  }
  opt.plot = vm.count("no-plot") == 0;
  opt.quiet = vm.count("quiet") > 0;
  opt.model_weights = vm.count("weights") ? vm["weights"].as<std::string>() : std::string();
  opt.data_dir = vm.count("data") ? vm["data"].as<std::string>() : default_fashion_mnist_dir();

  std::signal(SIGINT, on_sigint);
  const int world = dse::launcher_world_size();
  if (world > 1 && !dse::mpi_available())
    throw InputError("mpirun", "", "this heatvit was built without MPI (install openmpi-bin, libopenmpi-dev and "
                                   "libboost-mpi-dev, then rebuild); it will not run " + std::to_string(world) +
                                   " independent copies into one output directory");
  json s;
  try {
#ifdef HEATVIT_HAVE_MPI
    if (world > 0) {
      dse::MpiSession session;
      std::unique_ptr<TermMessage> term;
      if (session.rank() == 0) term = std::make_unique<TermMessage>(opt.out_dir);
      s = dse::run_dse(in, opt, session);
      // A worker whose setup failed exits 0: rank 0 reports its error and exits 2 (a
      // non-zero worker would make mpirun stop rank 0 before it could say why).
      if (session.rank() != 0) return 0;
    } else {
      s = dse::run_dse(in, opt);
    }
#else
    s = dse::run_dse(in, opt);
#endif
  } catch (const dse::Interrupted&) {
    std::fprintf(stderr, "heatvit dse: interrupted; every finished evaluation is in %s/dse.sqlite: run the same "
                         "command again to resume\n", opt.out_dir.c_str());
    return 130;
  }
  if (!opt.quiet) print_summary(s, in.model.name, in.hw_name, opt.strategy, opt.out_dir);
  return 0;
}

}  // namespace heatvit::cli
