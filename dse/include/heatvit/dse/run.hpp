// A whole `heatvit dse` run: space -> strategy over store-backed evaluations -> front on
// validation -> test-set accuracy and SystemC latency of every front point -> winner
// -> outputs (points.csv, front.csv, front.json, winner.json, report.md, pareto.png,
// the resolved space) written together into the output directory.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/model.hpp"

namespace heatvit::dse {

struct RunOptions {
  std::string space_path;
  std::string out_dir;
  std::string strategy = "exhaustive";
  std::uint64_t seed = 1;
  std::int64_t budget = 0;   ///< 0: the strategy's default
  int threads = 0;           ///< <= 0: hardware concurrency
  bool allow_large = false;  ///< exhaustive beyond kExhaustiveLimit
  bool quiet = false;
  bool plot = true;
  std::string model_weights;  ///< deit-micro export (empty: the trained one)
  std::string data_dir;       ///< Fashion-MNIST directory
  double unit_seconds = 8;    ///< MPI runs: the evaluation time a unit of work aims at
};

/// The model, the composed base hw config with its provenance, and names for reports.
struct RunInputs {
  ModelShape model;
  json hw_composed;
  Provenance hw_prov;
  std::string hw_name;   ///< as given
  json model_resolved;   ///< the model shape as read
};

/// Set by SIGINT: the run stops after the batch in flight (everything so far stored).
extern std::atomic<bool> g_interrupted;

/// Runs the DSE; returns the summary (what the CLI prints). Throws InputError for bad
/// input, Interrupted when stopped by the user.
json run_dse(const RunInputs& in, const RunOptions& opt);

#ifdef HEATVIT_HAVE_MPI
class MpiSession;
/// The same run over the ranks of an MPI job: rank 0 searches, stores and writes every
/// output (its summary is returned); the other ranks evaluate the units rank 0 sends
/// them and return {"worker": rank, "failed": whether their setup failed}.
json run_dse(const RunInputs& in, const RunOptions& opt, MpiSession& session);
#endif

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

}  // namespace heatvit::dse
